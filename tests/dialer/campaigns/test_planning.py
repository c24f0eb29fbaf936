"""``campaign plan`` is a dry run that agrees with the claim and names every reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.planning import left_out_rows, plan_campaign
from dialer.campaigns.queue import claim_attempts
from dialer.campaigns.service import find_campaign
from dialer.compliance import ProductionCalendar
from storage.models import Phone, PhoneStatus
from storage.models.campaigns import Attempt, Campaign, ContactLedger, StopFlagRecord
from storage.models.ledger import Payment
from tests.dialer.campaigns.builders import build_book, started_campaign

CALENDAR = ProductionCalendar()
# Monday 2026-11-23 19:30 UTC: 22:30 in Moscow (closed), 06:30 Tuesday in Vladivostok
# (closed), 21:30 in Kaliningrad (open until 21:50), 02:30 Tuesday in Novosibirsk (closed).
EVENING = dt.datetime(2026, 11, 23, 18, 30, tzinfo=dt.UTC)


def test_plan_lists_claims_and_reasons_and_agrees_with_the_claim(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    zones = ("Europe/Kaliningrad",) * 6 + ("Europe/Moscow",)
    book = build_book(session_factory, unique_name, 7, zones=zones)
    # 18:30 UTC = 20:30 Kaliningrad (open), 21:30 Moscow (open until 21:50).
    campaign_id = started_campaign(session_factory, book, EVENING, max_concurrent_calls=2)
    a = book.account_ids
    with session_factory.begin() as session:
        session.add(StopFlagRecord(account_id=a[0], flag="bankrupt", source="test"))
        session.add(
            Payment(
                organisation_id=book.organisation_id,
                account_id=a[1],
                paid_on=EVENING.date(),
                amount=Decimal("12480.50"),
            )
        )
        ledger = session.get_one(ContactLedger, a[2])
        ledger.day, ledger.week, ledger.month = (
            dt.date(2026, 11, 23),
            dt.date(2026, 11, 23),
            dt.date(2026, 11, 1),
        )
        ledger.day_conversations = ledger.week_conversations = ledger.month_conversations = 1
        session.execute(
            sa.update(Phone).where(Phone.account_id == a[3]).values(status=PhoneStatus.WRONG)
        )
    with session_factory() as session:
        campaign = session.get_one(Campaign, campaign_id)
        before = session.scalars(
            sa.select(Attempt.due_at).where(Attempt.campaign_id == campaign_id).order_by(Attempt.id)
        ).all()
        plan = plan_campaign(session, campaign, EVENING, CALENDAR)
        rows = {
            row.account_id: row.reason
            for row in left_out_rows(session, campaign, EVENING, CALENDAR)
        }
        after = session.scalars(
            sa.select(Attempt.due_at).where(Attempt.campaign_id == campaign_id).order_by(Attempt.id)
        ).all()
    assert before == after  # a dry run changes nothing
    assert rows[a[0]] == "stop_flag"
    assert rows[a[1]] == "paid"
    assert rows[a[2]] == "cap"
    assert rows[a[3]] == "no_phone"
    # Three callable accounts (a[4], a[5] in Kaliningrad, a[6] in Moscow) for two free slots.
    assert len(plan.claims) == 2
    assert plan.left_out == {"stop_flag": 1, "paid": 1, "cap": 1, "no_phone": 1, "pacing": 1}
    assert sum(1 for r in rows.values() if r == "pacing") == 1
    with session_factory.begin() as session:
        claimed = claim_attempts(
            session, worker_id="w", now=EVENING, want=10, lease=dt.timedelta(minutes=2),
            calendar=CALENDAR, campaign_ids=[campaign_id],
        )  # fmt: skip
    assert sorted(c.attempt_id for c in claimed) == sorted(c.attempt_id for c in plan.claims)


def test_plan_at_night_leaves_everyone_out_for_hours(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 4)
    night = dt.datetime(2026, 11, 23, 20, 30, tzinfo=dt.UTC)  # 23:30 Moscow, 03:30 Novosibirsk…
    campaign_id = started_campaign(session_factory, book, night)
    with session_factory() as session:
        campaign = find_campaign(session, str(campaign_id))
        plan = plan_campaign(session, campaign, night, CALENDAR)
    assert plan.claims == ()
    # Kaliningrad is at 22:30: closed too.
    assert plan.left_out == {"hours": 4}


def _exact_counts(session: Session, campaign: Campaign, now: dt.datetime) -> dict[str, int]:
    """Every open attempt classified row by row from the live tables (the slow, exact way)."""
    counts: dict[str, int] = {}
    for row in left_out_rows(session, campaign, now, CALENDAR):
        counts[row.reason] = counts.get(row.reason, 0) + 1
    return counts


def test_grouped_plan_equals_the_exact_classification_as_writers_change_things(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    zones = ("Europe/Kaliningrad", "Europe/Moscow", "Asia/Vladivostok")
    book = build_book(session_factory, unique_name, 12, zones=zones)
    campaign_id = started_campaign(session_factory, book, EVENING, max_concurrent_calls=3)
    a = book.account_ids
    with session_factory.begin() as session:
        # Writers other than the queue: a stop flag, payments (full and partial), a phone
        # marked wrong, ledgers poked directly (one capped today, one counted last week).
        session.add(StopFlagRecord(account_id=a[0], flag="deceased", source="test"))
        session.add_all(
            Payment(organisation_id=book.organisation_id, account_id=account, paid_on=EVENING.date(),
                    amount=amount)
            for account, amount in ((a[1], Decimal("12480.50")), (a[2], Decimal("100")))
        )  # fmt: skip
        session.execute(
            sa.update(Phone).where(Phone.account_id == a[3]).values(status=PhoneStatus.WRONG)
        )
        for account, day in ((a[4], dt.date(2026, 11, 23)), (a[5], dt.date(2026, 11, 16))):
            ledger = session.get_one(ContactLedger, account)
            ledger.day, ledger.week, ledger.month = day, day, day.replace(day=1)
            ledger.day_conversations = ledger.week_conversations = 1
            ledger.month_conversations = 1
        session.get_one(ContactLedger, a[6]).active_attempt_id = 10**9  # a stale call elsewhere
    with session_factory() as session:
        campaign = session.get_one(Campaign, campaign_id)
        flagged = set(
            session.scalars(
                sa.select(Attempt.account_id).where(
                    Attempt.campaign_id == campaign_id, Attempt.recheck.is_(True)
                )
            )
        )
        copied = session.get_one(
            Attempt,
            session.scalar(sa.select(Attempt.id).where(Attempt.account_id == a[4])),
        )
        plan = plan_campaign(session, campaign, EVENING, CALENDAR)
        exact = _exact_counts(session, campaign, EVENING)
    # The triggers marked exactly the accounts whose stop flag, payment, phone or ledger use
    # changed, and copied the ledger onto the open attempt.
    assert flagged == {a[0], a[1], a[2], a[3], a[6]}
    assert (copied.ledger_day, copied.ledger_day_conversations) == (dt.date(2026, 11, 23), 1)
    counted = dict(plan.left_out)
    counted["pacing"] = counted.get("pacing", 0)
    exact["pacing"] = exact.get("pacing", 0)
    assert counted == exact
    reasons = ("stop_flag", "paid", "no_phone", "already_active", "cap")
    assert {r: plan.left_out.get(r) for r in reasons} == dict.fromkeys(reasons, 1)
    with session_factory.begin() as session:
        claimed = claim_attempts(
            session, worker_id="w", now=EVENING, want=10, lease=dt.timedelta(minutes=2),
            calendar=CALENDAR, campaign_ids=[campaign_id],
        )  # fmt: skip
    assert sorted(c.attempt_id for c in claimed) == sorted(c.attempt_id for c in plan.claims)
    # After the claim (ledgers now name the claimed attempts), plan and exact still agree.
    later = EVENING + dt.timedelta(minutes=1)
    with session_factory() as session:
        campaign = session.get_one(Campaign, campaign_id)
        plan = plan_campaign(session, campaign, later, CALENDAR)
        exact = _exact_counts(session, campaign, later)
    exact.pop("pacing", None)
    assert {k: v for k, v in plan.left_out.items() if k != "pacing"} == exact
