"""Several concurrent workers and a moving clock: no cap is exceeded, nobody called out of hours."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.attempts import AttemptOutcome
from dialer.compliance import (
    DEFAULT_COUNTING,
    LEGAL_CAPS,
    CallOutcome,
    ContactKind,
    HoursPolicy,
    Periods,
    ProductionCalendar,
    is_callable_at,
)
from dialer.worker import Worker, WorkerConfig
from storage.models.campaigns import Attempt
from tests.dialer.campaigns.builders import build_book, started_campaign
from tests.dialer.campaigns.standins import ScriptedTelephone

START = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)  # a Friday, before opening in Moscow
OUTCOMES = st.sampled_from(
    [
        CallOutcome.CONVERSATION,
        CallOutcome.VOICEMAIL,
        CallOutcome.NO_ANSWER,
        CallOutcome.BUSY,
        CallOutcome.THIRD_PARTY,
    ]
)


class MovingClock:
    """A clock a background task moves forward in steps while workers run."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def _run(factory: sessionmaker[Session], phone: ScriptedTelephone, clock: MovingClock,
               campaign: int, steps: int, step: dt.timedelta, workers: int) -> None:  # fmt: skip
    crew = [
        Worker(
            factory,
            phone,
            WorkerConfig(
                worker_id=f"prop-{i}",
                concurrency=2,
                poll_interval_s=0.005,
                lease=dt.timedelta(minutes=30),
                campaign_ids=frozenset({campaign}),
            ),  # fmt: skip
            clock,
        )
        for i in range(workers)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in crew]
    try:
        for _ in range(steps):
            await asyncio.sleep(0.02)
            clock.now += step
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    scripts=st.lists(st.lists(OUTCOMES, min_size=1, max_size=30), min_size=4, max_size=4),
    step_min=st.sampled_from([17, 41, 73, 131]),
    workers=st.integers(2, 3),
)
def test_concurrent_workers_never_break_a_cap_or_the_hours(
    session_factory: sessionmaker[Session],
    scripts: list[list[CallOutcome]],
    step_min: int,
    workers: int,
) -> None:
    book = build_book(session_factory, f"prop-{uuid.uuid4().hex[:10]}", 4)
    campaign = started_campaign(
        session_factory, book, START, retry_no_answer_min=5, retry_busy_min=5,
        rereminder_days=1, max_attempts=50,
    )  # fmt: skip
    numbers = [book.phones[a][0] for a in book.account_ids]
    clock = MovingClock(START)
    phone = ScriptedTelephone(
        session_factory,
        clock,
        {n: [AttemptOutcome(o) for o in s] for n, s in zip(numbers, scripts, strict=True)},
    )
    asyncio.run(
        _run(session_factory, phone, clock, campaign, 90, dt.timedelta(minutes=step_min), workers)
    )

    calendar, hours = ProductionCalendar(), HoursPolicy()
    with session_factory() as session:
        rows = session.execute(
            sa.select(
                Attempt.account_id, Attempt.time_zone, Attempt.claimed_at, Attempt.outcome
            ).where(Attempt.campaign_id == campaign, Attempt.status == "done")
        ).all()
    assert rows, "the workers made no call at all"
    counts: Counter[tuple[int, ContactKind, str, dt.date]] = Counter()
    for account, zone_name, claimed_at, outcome in rows:
        zone = ZoneInfo(zone_name)
        assert is_callable_at(claimed_at, zone, calendar, hours), (account, claimed_at)
        kind = (
            ContactKind.CONVERSATION
            if outcome == "interrupted"
            else DEFAULT_COUNTING.kind_of(CallOutcome(outcome))
        )
        if kind is ContactKind.NONE:
            continue
        periods = Periods.of(claimed_at.astimezone(zone).date())
        for name in ("day", "week", "month"):
            counts[(account, kind, name, getattr(periods, name))] += 1
    for (_, kind, name, _), count in counts.items():
        limit = getattr(LEGAL_CAPS.limits(kind), f"per_{name}")
        assert count <= limit, (kind, name, count)
