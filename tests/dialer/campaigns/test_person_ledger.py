"""One ledger per person: a debtor with two accounts is talked to once a day in all."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.attempts import AttemptOutcome
from dialer.campaigns.planning import left_out_rows, plan_campaign
from dialer.campaigns.queue import claim_attempts, complete_attempt
from dialer.compliance import CallOutcome, ProductionCalendar
from storage.debtors import link_debtors
from storage.models import Account, Person
from storage.models.campaigns import Attempt, Campaign, ContactLedger
from tests.dialer.campaigns.builders import build_book, started_campaign

CALENDAR = ProductionCalendar()
# Monday 2026-11-23, noon in Moscow.
NOON = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


def _same_person(factory: sessionmaker[Session], first: int, second: int, *, snils: str) -> None:
    with factory.begin() as session:
        for account in (first, second):
            person = session.scalars(sa.select(Person).where(Person.account_id == account)).one()
            person.snils = snils


def test_accounts_of_one_person_share_a_ledger_and_its_caps(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 4, zones=("Europe/Moscow",))
    a = book.account_ids
    _same_person(session_factory, a[1], a[3], snils="112-233-445 95")
    campaign_id = started_campaign(session_factory, book, NOON, max_concurrent_calls=1)
    with session_factory() as session:
        found = session.execute(
            sa.select(Account.id, Account.ledger_account_id).where(Account.id.in_(a))
        ).all()
    links = {int(account): first for account, first in found}
    assert links == {a[0]: None, a[1]: None, a[2]: None, a[3]: a[1]}

    # A conversation with the person through a[1]...
    with session_factory.begin() as session:
        session.execute(
            sa.update(Attempt)
            .where(Attempt.campaign_id == campaign_id, Attempt.account_id != a[1])
            .values(due_at=NOON + dt.timedelta(hours=1))
        )
    with session_factory.begin() as session:
        (claimed,) = claim_attempts(
            session, worker_id="w", now=NOON, want=1, lease=LEASE, calendar=CALENDAR,
            campaign_ids=[campaign_id],
        )  # fmt: skip
        assert claimed.account_id == a[1]
        # ...while it is in flight, the person's other account is "already active"...
        campaign = session.get_one(Campaign, campaign_id)
        later = NOON + dt.timedelta(hours=1, minutes=1)
        rows = {r.account_id: r.reason for r in left_out_rows(session, campaign, later, CALENDAR)}
        assert rows[a[3]] == "already_active"
        complete_attempt(
            session, attempt_id=claimed.attempt_id, worker_id="w",
            outcome=AttemptOutcome(CallOutcome.CONVERSATION), now=NOON + dt.timedelta(minutes=3),
            calendar=CALENDAR,
        )  # fmt: skip
    # ...and once it is over, the day's one conversation is spent for both accounts.
    later = NOON + dt.timedelta(hours=1, minutes=1)
    with session_factory() as session:
        campaign = session.get_one(Campaign, campaign_id)
        rows = {r.account_id: r.reason for r in left_out_rows(session, campaign, later, CALENDAR)}
        plan = plan_campaign(session, campaign, later, CALENDAR)
        ledger = session.get_one(ContactLedger, a[1])
        assert ledger.day_conversations == 1
        assert session.get(ContactLedger, a[3]) is None  # no ledger of its own
    assert rows[a[3]] == "cap"
    assert plan.left_out.get("cap") == 1
    with session_factory.begin() as session:
        claimed_now = claim_attempts(
            session, worker_id="w", now=later, want=10, lease=LEASE, calendar=CALENDAR,
            campaign_ids=[campaign_id],
        )  # fmt: skip
    assert a[3] not in {c.account_id for c in claimed_now}
    assert {c.account_id for c in claimed_now} <= {a[0], a[2]}


def test_linking_later_folds_the_contacts_already_counted(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 2, zones=("Europe/Moscow",))
    first, second = book.account_ids
    campaign_id = started_campaign(session_factory, book, NOON)
    with session_factory.begin() as session:
        # Talked to through the second account this morning, before the link was known.
        ledger = session.get_one(ContactLedger, second)
        ledger.day, ledger.week, ledger.month = NOON.date(), NOON.date(), NOON.date().replace(day=1)
        ledger.day_conversations = ledger.week_conversations = ledger.month_conversations = 1
    _same_person(session_factory, first, second, snils="112-233-445 95")
    with session_factory.begin() as session:
        report = link_debtors(session, book.organisation_id)
    assert (report.linked, report.changed) == (1, 1)
    with session_factory() as session:
        target = session.get_one(ContactLedger, first)
        assert (target.day, target.day_conversations, target.month_conversations) == (
            NOON.date(), 1, 1,
        )  # fmt: skip
        assert session.get_one(ContactLedger, second).day_conversations == 0
        campaign = session.get_one(Campaign, campaign_id)
        rows = {r.account_id: r.reason for r in left_out_rows(session, campaign, NOON, CALENDAR)}
        plan = plan_campaign(session, campaign, NOON, CALENDAR)
    # Both accounts are the same person, talked to today: neither is called again today.
    assert rows == {first: "cap", second: "cap"}
    assert plan.left_out == {"cap": 2}
    with session_factory.begin() as session:
        again = link_debtors(session, book.organisation_id)
    assert (again.linked, again.changed) == (1, 0)  # idempotent
