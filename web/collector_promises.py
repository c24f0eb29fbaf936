"""A collector's promise to pay, recorded on an escalation case.

The debtor tells the collector a date and an amount; the promise is stored as a
``promises`` row like the robot's (no ``call_id``, ``made_by`` the collector's actor), so the
daily run (:func:`dialer.campaigns.promises.decide_promises`) decides it kept or broken the
same way, the report triggers count it, and robot vs human shows it on the collector's side.

The checks: the date is not before today where the debtor lives (the account's time zone,
as the daily run judges it), the amount is above zero and not above what the account owes
with пени.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.campaigns.promises import local_zone
from storage.models import Account, ContactEvent, ContactKind, DebtLine, utc_now
from storage.models.campaigns import EscalationCase, Promise
from web.access import Principal
from web.errors import BadInput, NotFound

__all__ = [
    "AMOUNT_FIELD",
    "DUE_FIELD",
    "CollectorPromise",
    "has_collector_promise",
    "owed_with_peni",
    "parse_amount",
    "parse_due",
    "parse_promise",
    "record_promise",
    "rub_text",
]

DUE_FIELD = "promise_due"
AMOUNT_FIELD = "promise_amount"
_DUE_TITLE = f"{DUE_FIELD} (дата оплаты)"
_AMOUNT_TITLE = f"{AMOUNT_FIELD} (сумма обещания)"
# Ten billion roubles: above any household's debt, inside MONEY's precision.
_MAX_AMOUNT = Decimal("9999999999.99")


class CollectorPromise:
    """A promise as the collector entered it (parsed, not yet checked against the account)."""

    __slots__ = ("amount", "due_on")

    def __init__(self, due_on: dt.date, amount: Decimal) -> None:
        self.due_on = due_on
        self.amount = amount


def parse_due(value: object) -> dt.date:
    """The date from a form or JSON ("2026-11-30")."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{_DUE_TITLE}: укажите дату, например 2026-11-30")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as err:
        raise BadInput(f"{_DUE_TITLE}: дата в виде ГГГГ-ММ-ДД, например 2026-11-30") from err


def parse_amount(value: object) -> Decimal:
    """The amount from a form ("1 500,50") or JSON (1500.5 or "1500.50"), in roubles."""
    if isinstance(value, bool) or value is None:
        raise BadInput(f"{_AMOUNT_TITLE}: укажите сумму в рублях")
    if isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    else:
        raise BadInput(f"{_AMOUNT_TITLE}: ожидается число")
    if not text or len(text) > 20:
        raise BadInput(f"{_AMOUNT_TITLE}: укажите сумму в рублях")
    try:
        amount = Decimal(text)
    except InvalidOperation as err:
        raise BadInput(f"{_AMOUNT_TITLE}: ожидается число, например 1500.50") from err
    if not amount.is_finite():
        raise BadInput(f"{_AMOUNT_TITLE}: ожидается число, например 1500.50")
    if abs(amount) > _MAX_AMOUNT:  # before quantize: 1e999999 cannot be quantized
        raise BadInput(f"{_AMOUNT_TITLE}: слишком большая")
    if amount != amount.quantize(Decimal("0.01")):
        raise BadInput(f"{_AMOUNT_TITLE}: не больше двух знаков после запятой")
    if amount <= 0:
        raise BadInput(f"{_AMOUNT_TITLE}: должна быть больше нуля")
    if amount > _MAX_AMOUNT:
        raise BadInput(f"{_AMOUNT_TITLE}: слишком большая")
    return amount.quantize(Decimal("0.01"))


def parse_promise(due: object, amount: object) -> CollectorPromise:
    """Both fields, each checked on its own (the date first)."""
    return CollectorPromise(parse_due(due), parse_amount(amount))


def owed_with_peni(session: Session, account_id: int) -> Decimal:
    """What the account owes now: debt plus пени over its debt lines."""
    total = session.scalar(
        sa.select(sa.func.sum(DebtLine.debt + DebtLine.peni)).where(
            DebtLine.account_id == account_id
        )
    )
    return Decimal(str(total or 0)).quantize(Decimal("0.01"))


def record_promise(
    session: Session,
    principal: Principal,
    case: EscalationCase,
    promise: CollectorPromise,
    *,
    now: dt.datetime | None = None,
) -> Promise:
    """Check ``promise`` against the case's account and store it; the caller has checked
    that the principal works the (open) case. Noted in the account's history."""
    now = now or utc_now()
    account = session.get(Account, case.account_id)
    if account is None:
        raise NotFound("лицевой счёт не найден")
    today = now.astimezone(local_zone(account.time_zone)).date()
    if promise.due_on < today:
        raise BadInput(f"{_DUE_TITLE}: не раньше сегодняшнего дня ({today.strftime('%d.%m.%Y')})")
    owed = owed_with_peni(session, account.id)
    if owed <= 0:
        raise BadInput(f"{_AMOUNT_TITLE}: у лицевого счёта нет долга")
    if promise.amount > owed:
        raise BadInput(f"{_AMOUNT_TITLE}: не больше долга с пени ({rub_text(owed)} ₽)")
    row = Promise(
        account_id=account.id,
        call_id=None,
        due_on=promise.due_on,
        amount=promise.amount,
        debt_at_promise=owed,
        made_at=now,
        made_by=principal.actor,
    )
    session.add(row)
    session.flush()
    due_text = promise.due_on.strftime("%d.%m.%Y")
    session.add(
        ContactEvent(
            organisation_id=account.organisation_id,
            account_id=account.id,
            kind=ContactKind.PROMISE,
            actor=principal.actor,
            summary=f"Обещание оплатить {rub_text(promise.amount)} ₽ до {due_text} (взыскатель)",
            ref_table="promises",
            ref_id=row.id,
            details={
                "case": case.id,
                "due_on": promise.due_on.isoformat(),
                "amount": str(promise.amount),
            },
        )
    )
    return row


def has_collector_promise(session: Session, case: EscalationCase) -> bool:
    """Whether a person recorded a promise on the case's account since the case opened."""
    found = session.scalar(
        sa.select(Promise.id)
        .where(
            Promise.account_id == case.account_id,
            Promise.call_id.is_(None),
            Promise.made_by.is_not(None),
            Promise.made_at >= case.opened_at,
        )
        .limit(1)
    )
    return found is not None


def rub_text(amount: Decimal) -> str:
    """Roubles as the pages write them: "1\u00a0500,50"."""
    whole, _, cents = f"{amount:.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", "\u00a0")
    return f"{grouped},{cents}"
