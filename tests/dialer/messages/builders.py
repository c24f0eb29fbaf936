"""Test data for messages: an organisation with valid bank details, a debtor, calls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns import call_log
from dialer.messages import MessageRequest
from storage.models import Account, Organisation, Person, Phone, PhoneKind
from storage.models.campaigns import Call
from storage.models.ledger import DebtLine
from storage.models.messages import OrganisationPayee

# Sberbank's real public БИК and correspondent account; the settlement account's key is
# computed for that БИК. ИНН 7707083893 is Sberbank's (valid control digit).
PAYEE = {
    "name": "ООО «УК Тестовый дом»",
    "inn": "7707083893",
    "kpp": "773601001",
    "bank_name": "ПАО Сбербанк",
    "bic": "044525225",
    "settlement_account": "40702810938000012345",
    "correspondent_account": "30101810400000000225",
}
# A Monday 12:00 in Moscow: inside the legal hours.
MONDAY_NOON = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Debtor:
    """One account with one phone, of an organisation with a payee."""

    organisation_id: int
    account_id: int
    account_number: str
    phone_id: int
    number: str


def build_debtor(
    factory: sessionmaker[Session],
    name: str,
    *,
    number: str = "+79161234567",
    kind: PhoneKind = PhoneKind.UNKNOWN,
    payee: bool = True,
    template: str = "",
    link_ttl_days: int = 30,
) -> Debtor:
    """An organisation (with bank details unless ``payee`` is false) and one debtor."""
    with factory.begin() as session:
        organisation = Organisation(name=name)
        session.add(organisation)
        session.flush()
        if payee:
            session.add(
                OrganisationPayee(
                    organisation_id=organisation.id,
                    template=template,
                    link_ttl_days=link_ttl_days,
                    sender="UKdom",
                    **PAYEE,
                )
            )
        account = Account(
            organisation_id=organisation.id,
            number=f"77{organisation.id:06d}",
            address="г. Тверь, ул. Советская, д. 5, кв. 12",
        )
        session.add(account)
        session.flush()
        person = Person(account_id=account.id, full_name="Должник Тестовый")
        session.add(person)
        session.flush()
        phone = Phone(account_id=account.id, person_id=person.id, number=number, kind=kind)
        session.add(phone)
        session.add(
            DebtLine(
                organisation_id=organisation.id,
                account_id=account.id,
                service="Содержание жилья",
                period=dt.date(2026, 10, 1),
                charged=Decimal("5000.00"),
                debt=Decimal("5000.00"),
            )
        )
        session.flush()
        return Debtor(organisation.id, account.id, account.number, phone.id, number)


def call_with_promise(
    factory: sessionmaker[Session],
    debtor: Debtor,
    at: dt.datetime,
    *,
    amount: Decimal | None = Decimal("3500.50"),
    due: dt.date | None = dt.date(2026, 11, 30),
    kinds: tuple[str, ...] = ("payment_link",),
) -> int:
    """A call that ended with a promise and the script's message request; its id."""
    with factory.begin() as session:
        call = Call(
            account_id=debtor.account_id, phone_id=debtor.phone_id, script="t", started_at=at
        )
        session.add(call)
        session.flush()
        call_id = call.id
    call_log.close_call(
        factory,
        call_id,
        ended_at=at,
        outcome="promise",
        message=MessageRequest(kinds=kinds, amount=amount, due_on=due),
    )
    return call_id
