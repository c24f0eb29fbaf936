"""The outbox: writing a message in the call's final transaction, claiming due ones for a
sender, recording the gateway's answer and delivery reports.

Every function runs inside the caller's transaction and takes ``now`` from the caller.
A message is counted in the person's contact ledger when it is written (a reservation:
two calls cannot both take the last free message of the day); a refused message counts
nothing. Claiming takes a lease with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has
a single writer), so two senders never hold one message; the lease's owner is the only
one whose answer is recorded.

Never twice: a message goes to the gateway only from ``queued``; after the gateway took
it, it is ``sent`` and stays so. A try whose answer was lost (the gateway died while
answering) is retried — unless a delivery report for the message has arrived meanwhile,
which proves the gateway had it; reports carry the outbox id.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.campaigns.queue import ensure_ledgers, ledger_account, ledger_state
from dialer.compliance import ContactKind, ProductionCalendar
from dialer.messages.content import PaymentDetails, new_page_token, render_message
from dialer.messages.payee import Payee
from dialer.messages.policy import check_message, next_send_at
from dialer.messages.port import Accepted, OutgoingSms
from storage.models import Account, Phone
from storage.models.campaigns import Call, ContactLedger
from storage.models.enums import ContactKind as HistoryKind
from storage.models.history import ContactEvent
from storage.models.ledger import DebtLine
from storage.models.messages import (
    MessageOptOut,
    MessageReport,
    MessageStatus,
    OrganisationPayee,
    OutboxMessage,
)

__all__ = [
    "MessageRequest",
    "claim_due",
    "enqueue_after_call",
    "load_payee",
    "message_by_gateway_ref",
    "payment_details",
    "record_accepted",
    "record_delivery_report",
    "record_failure",
    "record_opt_out",
    "retry_failed",
]

log = logging.getLogger(__name__)

# Kannel's report types (%d): what each does to the message.
DLR_DELIVERED = 1
DLR_FAILED = 2
DLR_BUFFERED = 4
DLR_SMSC_ACCEPTED = 8
DLR_SMSC_REJECTED = 16
_FINAL = (MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.REFUSED)


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """What the script asked for in a call: message kinds, the sum agreed and by when."""

    kinds: tuple[str, ...]
    amount: Decimal | None = None
    due_on: dt.date | None = None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Moscow")


def load_payee(row: OrganisationPayee) -> Payee:
    """The validated payee of a stored row (raises ``PayeeError`` if it was edited badly)."""
    return Payee(
        name=row.name,
        inn=row.inn,
        bank_name=row.bank_name,
        bic=row.bic,
        settlement_account=row.settlement_account,
        correspondent_account=row.correspondent_account,
        kpp=row.kpp,
    )


def _current_debt(session: Session, account_id: int) -> Decimal:
    total = session.scalar(
        sa.select(sa.func.sum(DebtLine.debt + DebtLine.peni)).where(
            DebtLine.account_id == account_id
        )
    )
    return Decimal(str(total or 0)).quantize(Decimal("0.01"))


def _count_message(session: Session, account: Account, now: dt.datetime) -> None:
    person = ledger_account(session, account.id)
    query = sa.select(ContactLedger).where(ContactLedger.account_id == person).with_for_update()
    row = session.scalars(query).first()
    if row is None:
        ensure_ledgers(session, sa.select(sa.literal(account.id)), now)
        row = session.scalars(query.execution_options(populate_existing=True)).one()
    state = ledger_state(row).recorded(
        ContactKind.MESSAGE, now.astimezone(_zone(account.time_zone)).date()
    )
    row.day, row.week, row.month = state.day, state.week, state.month
    row.day_messages, row.week_messages = state.day_messages, state.week_messages
    row.month_messages = state.month_messages
    row.day_conversations = state.day_conversations
    row.week_conversations = state.week_conversations
    row.month_conversations = state.month_conversations
    row.updated_at = now


def enqueue_after_call(
    session: Session,
    *,
    call_id: int,
    request: MessageRequest,
    now: dt.datetime,
    calendar: ProductionCalendar | None = None,
) -> OutboxMessage | None:
    """Write the message a call asked for: ``queued`` (and counted) or ``refused`` with the
    reason. ``None`` when the call asked for none or already has one (one per call)."""
    if not request.kinds:
        return None
    if session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.call_id == call_id)):
        return None
    calendar = calendar or ProductionCalendar()
    call = session.get_one(Call, call_id)
    account = session.get_one(Account, call.account_id)
    check = check_message(session, account.id, call.phone_id, now, calendar)
    amount = request.amount if request.amount is not None else _current_debt(session, account.id)
    message = OutboxMessage(
        organisation_id=account.organisation_id,
        account_id=account.id,
        phone_id=call.phone_id,
        call_id=call_id,
        kind=str(request.kinds[0]),
        amount=amount,
        due_on=request.due_on,
        created_at=now,
        updated_at=now,
        tries=0,
        page_opens=0,
        text="",
        channel="sms",
    )
    if check.allowed:
        payee_row = session.get_one(OrganisationPayee, account.organisation_id)
        _count_message(session, account, now)
        message.status = MessageStatus.QUEUED
        message.next_try_at = next_send_at(session, account, now, calendar)
        message.page_token = new_page_token()
        message.page_expires_at = now + dt.timedelta(days=payee_row.link_ttl_days)
        summary = "СМС с реквизитами и ссылкой на оплату: в очереди"
    else:
        message.status = MessageStatus.REFUSED
        message.reason = check.reason
        summary = f"СМС не отправляется: {check.reason}"
    session.add(message)
    session.flush()
    session.add(
        ContactEvent(
            organisation_id=account.organisation_id,
            account_id=account.id,
            phone_id=call.phone_id,
            kind=HistoryKind.MESSAGE,
            occurred_at=now,
            actor="robot",
            summary=summary,
            ref_table="messages",
            ref_id=message.id,
            details={"call": call_id, "status": message.status.value, "reason": message.reason},
        )
    )
    log.debug("message %s for call %s: %s", message.id, call_id, message.status.value)
    return message


def payment_details(session: Session, message: OutboxMessage) -> PaymentDetails:
    """The payee, ЛС, sum and date of a message (what its text and page show)."""
    account = session.get_one(Account, message.account_id)
    payee = load_payee(session.get_one(OrganisationPayee, message.organisation_id))
    return PaymentDetails(
        payee=payee,
        account_number=account.number,
        amount=message.amount or Decimal("0.00"),
        due_on=message.due_on,
        address=account.address,
    )


def _has_report(session: Session, message_id: int) -> bool:
    return (
        session.scalar(
            sa.select(MessageReport.id).where(MessageReport.message_id == message_id).limit(1)
        )
        is not None
    )


def _reap_expired(session: Session, now: dt.datetime) -> None:
    """A sender died holding a lease: its message goes back to the queue (or, if a report
    proves the gateway had it, counts as sent)."""
    stale = session.scalars(
        sa.select(OutboxMessage)
        .where(
            OutboxMessage.status == MessageStatus.SENDING,
            OutboxMessage.lease_expires_at < now,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for message in stale:
        message.lease_owner = None
        if _has_report(session, message.id):
            message.status = MessageStatus.SENT
            message.sent_at = message.sent_at or now
        else:
            message.status = MessageStatus.QUEUED
            message.next_try_at = now


def claim_due(
    session: Session,
    *,
    worker_id: str,
    now: dt.datetime,
    want: int,
    lease: dt.timedelta,
    page_base_url: str,
    calendar: ProductionCalendar | None = None,
    organisation_ids: Collection[int] | None = None,
) -> list[OutgoingSms]:
    """Take up to ``want`` due queued messages with a lease; render their text on first try.

    A message whose debtor is outside legal hours now is moved to when they open instead.
    ``organisation_ids`` limits the claim to those organisations' messages (a gateway per
    organisation); ``None`` takes any.
    """
    calendar = calendar or ProductionCalendar()
    _reap_expired(session, now)
    query = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.status == MessageStatus.QUEUED, OutboxMessage.next_try_at <= now)
        .order_by(OutboxMessage.next_try_at, OutboxMessage.id)
        .limit(want)
        .with_for_update(skip_locked=True)
    )
    if organisation_ids is not None:
        query = query.where(OutboxMessage.organisation_id.in_(list(organisation_ids)))
    rows = session.scalars(query).all()
    claimed: list[OutgoingSms] = []
    for message in rows:
        if message.tries > 0 and _has_report(session, message.id):
            # Our last try heard no answer, but a report proves the gateway had it.
            message.status, message.sent_at = MessageStatus.SENT, message.sent_at or now
            message.error_code = None
            continue
        # What changed since the call (a stop flag, an opt-out, a phone marked) still counts.
        check = check_message(
            session, message.account_id, message.phone_id, now, calendar, caps=False
        )
        if not check.allowed:
            message.status, message.reason, message.updated_at = (
                MessageStatus.REFUSED,
                check.reason,
                now,
            )
            continue
        account = session.get_one(Account, message.account_id)
        opens = next_send_at(session, account, now, calendar)
        if opens > now:
            message.next_try_at = opens
            continue
        phone = session.get(Phone, message.phone_id) if message.phone_id is not None else None
        payee_row = session.get(OrganisationPayee, message.organisation_id)
        if phone is None or payee_row is None:
            message.status, message.reason = MessageStatus.FAILED, "no_phone_or_payee"
            continue
        if not message.text:
            link = f"{page_base_url.rstrip('/')}/pay/{message.page_token}"
            message.text = render_message(
                payee_row.template, payment_details(session, message), link
            )
        message.status = MessageStatus.SENDING
        message.lease_owner = worker_id
        message.lease_expires_at = now + lease
        message.tries += 1
        message.updated_at = now
        claimed.append(OutgoingSms(message.id, phone.number, payee_row.sender, message.text))
    return claimed


def _held(session: Session, message_id: int, worker_id: str) -> OutboxMessage | None:
    message = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    ).first()
    if message is None or message.lease_owner != worker_id:
        return None
    return message


def record_accepted(
    session: Session, message_id: int, worker_id: str, accepted: Accepted, now: dt.datetime
) -> None:
    """The gateway took the message: ``sent`` (a report that came first keeps its status)."""
    message = _held(session, message_id, worker_id)
    if message is None:
        return
    message.lease_owner = None
    message.error_code = None  # an earlier try's failure is history now
    message.gateway, message.gateway_ref = accepted.gateway, accepted.ref[:64]
    message.sent_at = message.sent_at or now
    message.updated_at = now
    if message.status is MessageStatus.SENDING:
        message.status = MessageStatus.SENT


def record_failure(
    session: Session,
    message_id: int,
    worker_id: str,
    *,
    code: str,
    retry_at: dt.datetime | None,
    now: dt.datetime,
) -> None:
    """The gateway did not take it: back to the queue at ``retry_at``, or ``failed`` for
    good (``retry_at`` is ``None``) with the code."""
    message = _held(session, message_id, worker_id)
    if message is None or message.status is not MessageStatus.SENDING:
        return
    message.lease_owner = None
    message.error_code = code[:32]
    message.updated_at = now
    if retry_at is None:
        message.status, message.reason = MessageStatus.FAILED, "rejected"
    else:
        message.status, message.next_try_at = MessageStatus.QUEUED, retry_at


def message_by_gateway_ref(session: Session, gateway: str, ref: str) -> int | None:
    """The outbox id of the message the gateway accepted under ``ref`` (the SMSC's message
    id that :func:`record_accepted` stored); ``None`` if no message has it."""
    if not ref:
        return None
    return session.scalar(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.gateway == gateway, OutboxMessage.gateway_ref == ref[:64])
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )


def record_delivery_report(
    session: Session, message_id: int, status: int, detail: str, now: dt.datetime
) -> bool:
    """Store one delivery report and move the message on; ``False`` for an unknown message."""
    message = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    ).first()
    if message is None or message.status is MessageStatus.REFUSED:
        return False
    session.add(MessageReport(message_id=message_id, status=status, detail=detail[:200],
                              received_at=now))  # fmt: skip
    message.updated_at = now
    if status == DLR_DELIVERED:
        message.status, message.delivered_at = MessageStatus.DELIVERED, now
        message.sent_at, message.error_code = message.sent_at or now, None
    elif status in (DLR_FAILED, DLR_SMSC_REJECTED):
        if message.status is not MessageStatus.DELIVERED:
            message.status, message.reason = MessageStatus.FAILED, "not_delivered"
            message.error_code = f"dlr:{status}"
    elif message.status in (MessageStatus.QUEUED, MessageStatus.SENDING):
        # Buffered or accepted by the SMSC: the gateway had it, whatever our try heard.
        message.status, message.sent_at = MessageStatus.SENT, message.sent_at or now
    return True


def retry_failed(
    session: Session, now: dt.datetime, message_ids: Sequence[int] | None = None
) -> int:
    """Put failed (not refused) messages back in the queue; how many."""
    query = sa.select(OutboxMessage).where(OutboxMessage.status == MessageStatus.FAILED)
    if message_ids is not None:
        query = query.where(OutboxMessage.id.in_(list(message_ids)))
    count = 0
    for message in session.scalars(query.with_for_update()).all():
        if message.delivered_at is not None or not message.page_token:
            continue
        message.status, message.reason, message.next_try_at = MessageStatus.QUEUED, None, now
        message.updated_at = now
        count += 1
    return count


def record_opt_out(
    session: Session, account_id: int, phone_id: int | None, source: str, now: dt.datetime
) -> None:
    """The debtor's «не присылайте»: no more messages to the account (or that phone), and
    the queued ones are refused."""
    session.add(MessageOptOut(account_id=account_id, phone_id=phone_id, source=source, set_at=now))
    queued = sa.select(OutboxMessage).where(
        OutboxMessage.account_id == account_id,
        OutboxMessage.status == MessageStatus.QUEUED,
    )
    if phone_id is not None:
        queued = queued.where(OutboxMessage.phone_id == phone_id)
    for message in session.scalars(queued.with_for_update()).all():
        message.status, message.reason, message.updated_at = MessageStatus.REFUSED, "opt_out", now
