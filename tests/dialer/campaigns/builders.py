"""Test data: an organisation with debtors across time zones, and a campaign over them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.service import CampaignSpec, create_campaign, start_campaign
from storage.models import Account, Organisation, Person, Phone
from storage.models.ledger import DebtLine

ZONES = ("Europe/Moscow", "Asia/Novosibirsk", "Asia/Vladivostok", "Europe/Kaliningrad")


@dataclass(frozen=True, slots=True)
class Book:
    """What was built: the organisation, account ids and each account's phone numbers."""

    organisation: str
    organisation_id: int
    account_ids: tuple[int, ...]
    phones: dict[int, tuple[str, ...]]


def build_book(
    factory: sessionmaker[Session],
    name: str,
    accounts: int,
    *,
    zones: Sequence[str] = ZONES,
    phones_per_account: int = 1,
    debt: Decimal = Decimal("12480.50"),
    seed: int = 0,
) -> Book:
    """An organisation with ``accounts`` debtors, each with phones and two months of debt."""
    with factory.begin() as session:
        organisation = Organisation(name=name)
        session.add(organisation)
        session.flush()
        ids: list[int] = []
        phones: dict[int, tuple[str, ...]] = {}
        for index in range(accounts):
            account = Account(
                organisation_id=organisation.id,
                number=f"LS-{index:06d}",
                address=f"ул. Тестовая, д. {index}",
                time_zone=zones[index % len(zones)],
            )
            session.add(account)
            session.flush()
            person = Person(account_id=account.id, full_name=f"Должник {index}")
            session.add(person)
            session.flush()
            numbers = []
            for p in range(phones_per_account):
                number = f"+7900{seed % 100:02d}{organisation.id % 100:02d}{index:03d}{p}"[:16]
                numbers.append(number)
                session.add(Phone(account_id=account.id, person_id=person.id, number=number))
            for month in (9, 10):
                session.add(
                    DebtLine(
                        organisation_id=organisation.id,
                        account_id=account.id,
                        service="Содержание жилья",
                        period=dt.date(2026, month, 1),
                        charged=debt / 2,
                        debt=debt / 2,
                    )
                )
            ids.append(account.id)
            phones[account.id] = tuple(numbers)
        return Book(name, organisation.id, tuple(ids), phones)


def started_campaign(
    factory: sessionmaker[Session],
    book: Book,
    now: dt.datetime,
    **overrides: object,
) -> int:
    """A campaign over the whole book, started at ``now``; returns its id."""
    values: dict[str, object] = {
        "organisation": book.organisation,
        "name": f"{book.organisation}-campaign",
        "script": "soft_reminder",
        "starts_on": now.date() - dt.timedelta(days=1),
        "max_concurrent_calls": 50,
        "max_new_per_minute": 1000,
    }
    values.update(overrides)
    with factory.begin() as session:
        campaign = create_campaign(session, CampaignSpec(**values), now)  # type: ignore[arg-type]
        start_campaign(session, campaign, now)
        return campaign.id
