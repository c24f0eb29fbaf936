"""What pages and commands read about messages: the payment page, an account's messages,
counts for reports and the outbox's state. Each function runs in the caller's session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.messages.content import PaymentDetails, gost_payment_string
from dialer.messages.outbox import payment_details
from storage.models.messages import MessageReport, MessageStatus, OutboxMessage

__all__ = [
    "AccountMessage",
    "MessageCounts",
    "PaymentPage",
    "account_messages",
    "message_counts",
    "open_payment_page",
    "outbox_counts",
]


@dataclass(frozen=True, slots=True)
class PaymentPage:
    """What the payment page shows: the receipt's lines and the ГОСТ string of its QR."""

    details: PaymentDetails
    gost: str
    expires_at: dt.datetime


def open_payment_page(
    session: Session, token: str, now: dt.datetime, *, count_open: bool = True
) -> PaymentPage | None:
    """The page of a link token, or ``None`` when unknown or expired; counts the opening."""
    if not token or len(token) > 64:
        return None
    message = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.page_token == token)
    ).first()
    if message is None or message.page_expires_at is None or message.page_expires_at <= now:
        return None
    if count_open:
        message.page_opens += 1
        message.page_opened_at = message.page_opened_at or now
    details = payment_details(session, message)
    return PaymentPage(details, gost_payment_string(details), message.page_expires_at)


@dataclass(frozen=True, slots=True)
class AccountMessage:
    """One message as the account's history shows it (no text, no number)."""

    id: int
    created_at: dt.datetime
    kind: str
    status: str
    reason: str | None
    error_code: str | None
    amount: Decimal | None
    due_on: dt.date | None
    tries: int
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    page_opens: int
    reports: int


def account_messages(session: Session, account_id: int, limit: int = 50) -> list[AccountMessage]:
    """The account's latest messages with their delivery status, newest first."""
    reports = (
        sa.select(sa.func.count(MessageReport.id))
        .where(MessageReport.message_id == OutboxMessage.id)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(OutboxMessage, reports)
        .where(OutboxMessage.account_id == account_id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    ).all()
    return [
        AccountMessage(
            id=m.id,
            created_at=m.created_at,
            kind=m.kind,
            status=m.status.value,
            reason=m.reason,
            error_code=m.error_code,
            amount=m.amount,
            due_on=m.due_on,
            tries=m.tries,
            sent_at=m.sent_at,
            delivered_at=m.delivered_at,
            page_opens=m.page_opens,
            reports=int(count or 0),
        )
        for m, count in rows
    ]


@dataclass(frozen=True, slots=True)
class MessageCounts:
    """Messages of a period: written, sent (the gateway took them), delivered, failed,
    refused, waiting, pages opened, and how many wait after a failed try."""

    total: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    refused: int = 0
    queued: int = 0
    pages_opened: int = 0
    # Queued again after the gateway failed them: the gateway is down or refusing.
    retrying: int = 0


def message_counts(
    session: Session,
    organisation_ids: Sequence[int] | None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> MessageCounts:
    """Counts of messages written in ``[since, until)`` for the organisations (all: None)."""
    status = OutboxMessage.status
    query = sa.select(
        sa.func.count(OutboxMessage.id),
        sa.func.count(OutboxMessage.sent_at),
        sa.func.count(OutboxMessage.delivered_at),
        sa.func.sum(sa.case((status == MessageStatus.FAILED, 1), else_=0)),
        sa.func.sum(sa.case((status == MessageStatus.REFUSED, 1), else_=0)),
        sa.func.sum(
            sa.case((status.in_([MessageStatus.QUEUED, MessageStatus.SENDING]), 1), else_=0)
        ),
        sa.func.count(OutboxMessage.page_opened_at),
        sa.func.sum(
            sa.case((sa.and_(status == MessageStatus.QUEUED, OutboxMessage.tries > 0), 1), else_=0)
        ),
    )
    if organisation_ids is not None:
        query = query.where(OutboxMessage.organisation_id.in_(list(organisation_ids)))
    if since is not None:
        query = query.where(OutboxMessage.created_at >= since)
    if until is not None:
        query = query.where(OutboxMessage.created_at < until)
    row = session.execute(query).one()
    values = [int(v or 0) for v in row]
    return MessageCounts(*values)


def outbox_counts(session: Session) -> dict[str, int]:
    """Messages by status (``napomni messages status``)."""
    rows = session.execute(
        sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status.value: int(count) for status, count in rows}
