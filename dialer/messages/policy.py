"""May a message go to this debtor's phone now? The law, the debtor's will, the number.

Checked in order, the first reason wins and is stored on a refused message:

- ``no_payee`` — the organisation has no bank details to send;
- ``no_phone`` / ``landline`` / ``not_mobile`` — SMS needs a mobile number: a number whose
  range is a fixed line (``phonenumbers``' number type, or the phone's stored kind) is
  never sent to;
- ``opt_out`` — the debtor said «не присылайте» (``message_opt_outs``), for the account or
  this phone; ``stop_flag`` — a stop flag blocks every contact; ``phone_status`` — the
  number is wrong or marked «не звонить»;
- ``cap_day`` / ``cap_week`` / ``cap_month`` — 230-ФЗ art. 7 ч.5: at most 2 / 4 / 16
  messages a day / week / month per person (the organisation may be stricter), counted in
  the person's contact ledger in the debtor's local calendar.

Hours are not a refusal: a message outside the debtor's legal hours waits in the outbox
until they open (:func:`next_send_at`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import sqlalchemy as sa
from phonenumbers import PhoneNumberType
from sqlalchemy.orm import Session

from dialer.campaigns.policies import load_organisation_rules
from dialer.campaigns.queue import ledger_account, ledger_state
from dialer.compliance import ContactKind, ProductionCalendar, next_callable_at
from storage.models import Account, Phone, PhoneKind, PhoneStatus
from storage.models.campaigns import ContactLedger, StopFlagRecord
from storage.models.messages import MessageOptOut, OrganisationPayee

__all__ = [
    "MessageCheck",
    "can_send_message",
    "check_message",
    "is_mobile",
    "next_send_at",
    "number_refusal",
]

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_FIXED_TYPES = {PhoneNumberType.FIXED_LINE, PhoneNumberType.VOIP, PhoneNumberType.TOLL_FREE}


@dataclass(frozen=True, slots=True)
class MessageCheck:
    """The answer: ``reason`` is ``None`` when a message may be sent."""

    reason: str | None
    organisation_id: int | None = None

    @property
    def allowed(self) -> bool:
        """Whether nothing forbids the message."""
        return self.reason is None


def number_refusal(number: str, stored_kind: PhoneKind = PhoneKind.UNKNOWN) -> str | None:
    """``landline`` / ``not_mobile`` for a number that cannot take SMS, else ``None``."""
    if stored_kind is PhoneKind.LANDLINE:
        return "landline"
    try:
        parsed = phonenumbers.parse(number, "RU")
    except phonenumbers.NumberParseException:
        return "not_mobile"
    kind = phonenumbers.number_type(parsed)
    if kind in _MOBILE_TYPES:
        return None
    return "landline" if kind in _FIXED_TYPES else "not_mobile"


def is_mobile(number: str) -> bool:
    """Whether the number's range is a mobile one (SMS can reach it)."""
    return number_refusal(number) is None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Moscow")


def _opted_out(session: Session, account_id: int, phone_id: int) -> bool:
    found = session.scalar(
        sa.select(MessageOptOut.id)
        .where(
            MessageOptOut.account_id == account_id,
            MessageOptOut.lifted_at.is_(None),
            sa.or_(MessageOptOut.phone_id.is_(None), MessageOptOut.phone_id == phone_id),
        )
        .limit(1)
    )
    return found is not None


def _stopped(session: Session, account_id: int) -> bool:
    found = session.scalar(
        sa.select(StopFlagRecord.id)
        .where(StopFlagRecord.account_id == account_id, StopFlagRecord.lifted_at.is_(None))
        .limit(1)
    )
    return found is not None


def _cap_refusal(
    session: Session, account: Account, now: dt.datetime, calendar: ProductionCalendar
) -> str | None:
    rules = load_organisation_rules(session, account.organisation_id, calendar)
    limits = rules.calls.caps.message
    row = session.get(ContactLedger, ledger_account(session, account.id))
    today = now.astimezone(_zone(account.time_zone)).date()
    counts = ledger_state(row).counts(ContactKind.MESSAGE, today)
    if counts.day >= limits.per_day:
        return "cap_day"
    if counts.week >= limits.per_week:
        return "cap_week"
    if counts.month >= limits.per_month:
        return "cap_month"
    return None


def check_message(
    session: Session,
    account_id: int,
    phone_id: int | None,
    now: dt.datetime,
    calendar: ProductionCalendar | None = None,
    *,
    caps: bool = True,
) -> MessageCheck:
    """Whether a message may go to ``phone_id`` of the account now, and if not, why.

    ``caps=False`` leaves the caps out: a queued message has its place in them already, and
    the sender checks the rest again before it sends.
    """
    account = session.get(Account, account_id)
    if account is None:
        return MessageCheck("no_account")
    org = account.organisation_id
    if session.get(OrganisationPayee, org) is None:
        return MessageCheck("no_payee", org)
    phone = session.get(Phone, phone_id) if phone_id is not None else None
    if phone is None or phone.account_id != account_id:
        return MessageCheck("no_phone", org)
    refusal = number_refusal(phone.number, phone.kind)
    if refusal is not None:
        return MessageCheck(refusal, org)
    if _opted_out(session, account_id, phone.id):
        return MessageCheck("opt_out", org)
    if _stopped(session, account_id):
        return MessageCheck("stop_flag", org)
    if phone.status is not PhoneStatus.OK or phone.former_at is not None:
        return MessageCheck("phone_status", org)
    if not caps:
        return MessageCheck(None, org)
    return MessageCheck(_cap_refusal(session, account, now, calendar or ProductionCalendar()), org)


def can_send_message(
    session: Session,
    account_id: int,
    phone_id: int | None,
    now: dt.datetime,
    calendar: ProductionCalendar | None = None,
) -> bool:
    """Whether the robot may promise «пришлём СМС» in this call (nothing forbids it now).

    Read-only; the call's final transaction checks again when it writes the message.
    """
    return check_message(session, account_id, phone_id, now, calendar).allowed


def next_send_at(
    session: Session, account: Account, now: dt.datetime, calendar: ProductionCalendar
) -> dt.datetime:
    """``now`` inside the debtor's legal hours (the organisation's), else when they open."""
    rules = load_organisation_rules(session, account.organisation_id, calendar)
    opens = next_callable_at(now, _zone(account.time_zone), rules.calls.calendar, rules.calls.hours)
    return opens if opens is not None else now + dt.timedelta(days=1)
