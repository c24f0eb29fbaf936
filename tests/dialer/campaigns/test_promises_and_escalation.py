"""Promises decided daily; broken → one broken_promise call, then a collector; one open case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.attempts import AttemptOutcome, EscalationRequest, PromiseMade
from dialer.campaigns.promises import decide_promises
from dialer.campaigns.queue import claim_attempts, complete_attempt
from dialer.compliance import CallOutcome, ProductionCalendar
from dialer.escalation import EscalationRules
from storage.models.campaigns import Attempt, EscalationCase, Promise, StopFlagRecord
from storage.models.ledger import Payment
from tests.dialer.campaigns.builders import build_book, started_campaign

CALENDAR = ProductionCalendar()
NOON = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def _call(
    factory: sessionmaker[Session], campaign: int, now: dt.datetime, outcome: AttemptOutcome
) -> int:
    with factory.begin() as session:
        (claimed,) = claim_attempts(
            session, worker_id="w", now=now, want=1, lease=dt.timedelta(minutes=5),
            calendar=CALENDAR, campaign_ids=[campaign],
        )  # fmt: skip
        complete_attempt(
            session, attempt_id=claimed.attempt_id, worker_id="w", outcome=outcome, now=now,
            calendar=CALENDAR,
        )  # fmt: skip
        return claimed.account_id


def test_a_broken_promise_calls_once_then_escalates(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 1, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON)
    promise = AttemptOutcome(
        CallOutcome.CONVERSATION, promise=PromiseMade(dt.date(2026, 11, 25), Decimal("5000"))
    )
    account = _call(session_factory, campaign, NOON, promise)
    with session_factory.begin() as session:
        early = decide_promises(
            session,
            now=NOON + dt.timedelta(days=4),
            calendar=CALENDAR,
            organisation_id=book.organisation_id,
        )
        assert (early.kept, early.broken) == (0, 0)  # within the grace days
    later = NOON + dt.timedelta(days=6)
    with session_factory.begin() as session:
        first = decide_promises(
            session, now=later, calendar=CALENDAR, organisation_id=book.organisation_id
        )
    assert (first.broken, first.broken_promise_calls, first.escalated) == (1, 1, 0)
    with session_factory() as session:
        queued = session.scalars(
            sa.select(Attempt).where(Attempt.account_id == account, Attempt.status == "pending")
        ).one()
    assert (str(queued.purpose), queued.script) == ("broken_promise", "broken_promise")
    # The broken_promise call brings a new promise, broken again: now a collector.
    _call(
        session_factory,
        campaign,
        later,
        AttemptOutcome(CallOutcome.CONVERSATION, promise=PromiseMade(later.date())),
    )
    end = later + dt.timedelta(days=10)
    with session_factory.begin() as session:
        second = decide_promises(
            session, now=end, calendar=CALENDAR, organisation_id=book.organisation_id
        )
        again = decide_promises(
            session, now=end, calendar=CALENDAR, organisation_id=book.organisation_id
        )
    assert (second.broken, second.broken_promise_calls, second.escalated) == (1, 0, 1)
    assert again.broken == 0  # decided once
    with session_factory() as session:
        case = session.scalars(
            sa.select(EscalationCase).where(EscalationCase.account_id == account)
        ).one()
    assert case.reasons == ["broken_promise"]


def test_a_kept_promise_is_decided_kept(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 1, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON)
    account = _call(
        session_factory,
        campaign,
        NOON,
        AttemptOutcome(
            CallOutcome.CONVERSATION, promise=PromiseMade(dt.date(2026, 11, 30), Decimal("3000"))
        ),
    )
    with session_factory.begin() as session:
        session.add(
            Payment(
                organisation_id=book.organisation_id,
                account_id=account,
                paid_on=dt.date(2026, 11, 28),
                amount=Decimal("3000"),
            )
        )
    with session_factory.begin() as session:
        result = decide_promises(
            session,
            now=NOON + dt.timedelta(days=5),
            calendar=CALENDAR,
            organisation_id=book.organisation_id,
        )
    assert result.kept >= 1
    with session_factory() as session:
        assert (
            str(
                session.scalars(
                    sa.select(Promise.status).where(Promise.account_id == account)
                ).one()
            )
            == "kept"
        )


def test_reasons_join_one_open_case_and_a_dispute_stops_calls(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 1, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON)
    account = _call(
        session_factory,
        campaign,
        NOON,
        AttemptOutcome(
            CallOutcome.CONVERSATION, requests=frozenset({EscalationRequest.INSTALLMENT_REQUEST})
        ),
    )
    # No re-reminder after an escalation; queue another call by restarting tomorrow's chain.
    with session_factory.begin() as session:
        session.add(Attempt(campaign_id=campaign, account_id=account, script="reminder", due_at=NOON + dt.timedelta(days=1),
                            debt_snapshot=Decimal("12480.50"), debt_as_of=NOON, time_zone="Europe/Moscow"))  # fmt: skip
    _call(
        session_factory,
        campaign,
        NOON + dt.timedelta(days=1),
        AttemptOutcome(CallOutcome.CONVERSATION, requests=frozenset({EscalationRequest.DISPUTE})),
    )
    with session_factory() as session:
        case = session.scalars(
            sa.select(EscalationCase).where(EscalationCase.account_id == account)
        ).one()
        flags = session.scalars(
            sa.select(StopFlagRecord.flag).where(StopFlagRecord.account_id == account)
        ).all()
    assert case.reasons == ["installment_request", "dispute"]
    assert case.priority == EscalationRules().priority([], Decimal("12480.50")) + 80
    assert flags == ["dispute_under_review"]
