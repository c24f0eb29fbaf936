"""Promises are decided by the debtor's local date: at one moment Vladivostok is a day
ahead of Kaliningrad."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.promises import decide_promises
from dialer.compliance import ProductionCalendar
from napomni.cli import cli
from storage.models.campaigns import Promise
from storage.models.ledger import Payment
from tests.dialer.campaigns.builders import Book, build_book

CALENDAR = ProductionCalendar()
DUE = dt.date(2026, 11, 25)
RUSSIAN_ZONES = (
    "Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
    "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok",
    "Asia/Magadan", "Asia/Kamchatka",
)  # fmt: skip


def _promises(factory: sessionmaker[Session], book: Book, due: dt.date) -> None:
    with factory.begin() as session:
        for account in book.account_ids:
            session.add(
                Promise(
                    account_id=account, due_on=due, amount=Decimal("1000.00"),
                    debt_at_promise=Decimal("12480.50"),
                    made_at=dt.datetime.combine(due - dt.timedelta(days=5), dt.time(9), dt.UTC),
                )
            )  # fmt: skip


def _statuses(factory: sessionmaker[Session], book: Book) -> list[str]:
    with factory() as session:
        found = dict(
            session.execute(
                sa.select(Promise.account_id, Promise.status).where(
                    Promise.account_id.in_(book.account_ids)
                )
            ).all()
        )
    return [str(found[a]) for a in book.account_ids]


def _local(day: dt.date, hour: int, minute: int, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(zone)).astimezone(dt.UTC)


def test_vladivostok_breaks_a_day_before_kaliningrad(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    zones = ("Asia/Vladivostok", "Europe/Kaliningrad")
    book = build_book(session_factory, unique_name, 2, zones=zones)
    _promises(session_factory, book, DUE)
    # 00:30 on the 26th in Vladivostok is still 16:30 on the 25th in Kaliningrad.
    first = _local(DUE + dt.timedelta(days=1), 0, 30, "Asia/Vladivostok")
    with session_factory.begin() as session:
        decided = decide_promises(
            session, now=first, calendar=CALENDAR, grace_days=0,
            organisation_id=book.organisation_id,
        )  # fmt: skip
    assert decided.broken == 1
    assert _statuses(session_factory, book) == ["broken", "made"]
    just_before = _local(DUE, 23, 59, "Europe/Kaliningrad")
    with session_factory.begin() as session:
        decide_promises(
            session, now=just_before, calendar=CALENDAR, grace_days=0,
            organisation_id=book.organisation_id,
        )  # fmt: skip
    assert _statuses(session_factory, book) == ["broken", "made"]
    with session_factory.begin() as session:
        decide_promises(
            session, now=just_before + dt.timedelta(minutes=1), calendar=CALENDAR,
            grace_days=0, organisation_id=book.organisation_id,
        )  # fmt: skip
    assert _statuses(session_factory, book) == ["broken", "broken"]


def test_a_payment_counts_on_the_debtors_local_day(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    zones = ("Asia/Vladivostok", "Europe/Kaliningrad")
    book = build_book(session_factory, unique_name, 2, zones=zones)
    _promises(session_factory, book, DUE + dt.timedelta(days=3))
    paid_on = DUE + dt.timedelta(days=1)
    with session_factory.begin() as session:
        for account in book.account_ids:  # both pay on the 26th, each by their own calendar
            session.add(
                Payment(
                    organisation_id=book.organisation_id, account_id=account, paid_on=paid_on,
                    amount=Decimal("1000.00"),
                )
            )  # fmt: skip
    now = _local(paid_on, 1, 0, "Asia/Vladivostok")  # the 25th, 17:00 in Kaliningrad
    with session_factory.begin() as session:
        decided = decide_promises(
            session, now=now, calendar=CALENDAR, organisation_id=book.organisation_id
        )
    assert (decided.kept, decided.broken) == (1, 0)
    assert _statuses(session_factory, book) == ["kept", "made"]


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    minutes=st.integers(0, 4 * 24 * 60),
    grace_days=st.integers(0, 2),
)
def test_each_promise_breaks_when_its_own_date_passes(
    session_factory: sessionmaker[Session], minutes: int, grace_days: int
) -> None:
    book = build_book(session_factory, f"days-{uuid.uuid4().hex[:10]}", len(RUSSIAN_ZONES),
                      zones=RUSSIAN_ZONES)  # fmt: skip
    _promises(session_factory, book, DUE)
    now = dt.datetime.combine(DUE, dt.time(0), dt.UTC) + dt.timedelta(minutes=minutes)
    with session_factory.begin() as session:
        decide_promises(
            session, now=now, calendar=CALENDAR, grace_days=grace_days,
            organisation_id=book.organisation_id,
        )  # fmt: skip
    last_day = DUE + dt.timedelta(days=grace_days)
    expected = [
        "broken" if now.astimezone(ZoneInfo(zone)).date() > last_day else "made"
        for zone in RUSSIAN_ZONES
    ]
    assert _statuses(session_factory, book) == expected


def test_the_command_takes_the_moment(database_url: str, unique_name: str) -> None:
    from storage.database import make_engine, make_session_factory

    engine = make_engine(database_url)
    try:
        factory = make_session_factory(engine)
        book = build_book(factory, unique_name, 2, zones=("Asia/Vladivostok", "Europe/Kaliningrad"))
        _promises(factory, book, DUE)
        result = CliRunner().invoke(
            cli,
            ["--database-url", database_url, "campaign", "decide-promises",
             "--now", "2026-11-26T00:30+10:00", "--grace-days", "0", "-o", unique_name],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "нарушено 1" in result.output
        assert _statuses(factory, book) == ["broken", "made"]
        wrong = CliRunner().invoke(
            cli, ["--database-url", database_url, "campaign", "decide-promises", "--now", "26.11"]
        )
        assert wrong.exit_code == 2
    finally:
        engine.dispose()
