"""What a script may say about an account, read from the debt book in one short transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.session.errors import AccountNotFound
from scripts.values import AccountVariables, LastPayment, PastPromise, ServiceDebt
from storage.models import Account, DebtLine, Organisation, Payment, Person, PersonRole, Phone
from storage.models.campaigns import Promise, PromiseStatus

__all__ = ["account_variables", "addressed_as", "today_in"]

_ZERO = Decimal(0)


def addressed_as(full_name: str) -> str:
    """How the robot addresses a person: «Иванов Иван Петрович» → «Иван Петрович»."""
    words = full_name.split()
    return " ".join(words[1:3]) if len(words) >= 2 else full_name


def _person(session: Session, account_id: int, phone_id: int | None) -> Person | None:
    if phone_id is not None:
        phone = session.get(Phone, phone_id)
        if phone is not None and phone.person is not None and phone.person.former_at is None:
            return phone.person
    people = session.scalars(
        sa.select(Person)
        .where(Person.account_id == account_id, Person.former_at.is_(None))
        .order_by(Person.id)
    ).all()
    owners = [p for p in people if p.role == PersonRole.OWNER]
    chosen = owners or list(people)
    return chosen[0] if chosen else None


def account_variables(
    session: Session,
    account_id: int,
    phone_id: int | None = None,
    *,
    debt: Decimal | None = None,
    now: dt.datetime | None = None,
) -> AccountVariables:
    """The account's variables: the person the phone belongs to, debt by service, history.

    ``debt``: the attempt's debt snapshot, when the campaign took one (it is what the
    robot says; the lines' sum otherwise). ``now``: the call is placed now — whether a
    payment message may follow it is decided (no gateway set up, caps reached, opt-out,
    a landline: the robot does not promise one).
    """
    account = session.get(Account, account_id)
    if account is None:
        raise AccountNotFound(f"лицевой счёт id={account_id} не найден")
    organisation = session.get_one(Organisation, account.organisation_id)
    person = _person(session, account_id, phone_id)
    lines = session.execute(
        sa.select(DebtLine.service, sa.func.sum(DebtLine.debt), sa.func.sum(DebtLine.peni))
        .where(DebtLine.account_id == account_id)
        .group_by(DebtLine.service)
        .order_by(DebtLine.service)
    ).all()
    months = session.scalar(
        sa.select(sa.func.count(sa.distinct(DebtLine.period))).where(
            DebtLine.account_id == account_id, DebtLine.debt > _ZERO
        )
    )
    by_service = tuple(
        ServiceDebt(service, Decimal(amount or 0)) for service, amount, _ in lines if amount
    )
    peni = sum((Decimal(p or 0) for _, _, p in lines), _ZERO)
    total = debt if debt is not None else sum((s.amount for s in by_service), _ZERO)
    payment = session.scalars(
        sa.select(Payment)
        .where(Payment.account_id == account_id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
        .limit(1)
    ).first()
    promises = session.scalars(
        sa.select(Promise).where(Promise.account_id == account_id).order_by(Promise.made_at)
    ).all()
    address = account.address + (f", кв. {account.flat}" if account.flat else "")
    full_name = person.full_name if person is not None else ""
    can_text = True
    if now is not None:
        from dialer.messages import can_send_message

        can_text = can_send_message(session, account_id, phone_id, now)
    return AccountVariables(
        can_text=can_text,
        organisation=organisation.name,
        addressed_as=addressed_as(full_name) if full_name else "",
        full_name=full_name,
        address=address,
        debt_total=total,
        debt_by_service=by_service,
        months_overdue=int(months or 0),
        peni=peni,
        last_payment=LastPayment(payment.paid_on, payment.amount) if payment else None,
        promises=tuple(
            PastPromise(
                made_on=p.made_at.date(),
                due=p.due_on,
                amount=p.amount,
                kept=p.status == PromiseStatus.KEPT,
            )
            for p in promises
        ),
    )


def today_in(time_zone: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the debtor lives (promise dates are relative to it) at ``now``."""
    from zoneinfo import ZoneInfo

    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(time_zone)).date()
