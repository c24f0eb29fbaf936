"""Workers against a real database: every account called once, retries, payments, leases."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.attempts import AttemptOutcome, ClaimedAttempt
from dialer.compliance import CallOutcome
from dialer.worker import Worker, WorkerConfig
from storage.models import ContactEvent, ContactKind
from storage.models.campaigns import Attempt, Call, ContactLedger
from storage.models.ledger import Payment
from tests.dialer.campaigns.builders import build_book, started_campaign
from tests.dialer.campaigns.standins import ScriptedTelephone

# Monday 2026-11-23, 12:00 Moscow: inside the window in every Russian zone used here.
NOON = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def run_until_idle(
    workers: list[Worker], factory: sessionmaker[Session], campaign: int
) -> None:
    """Run workers until the campaign has no due pending or claimed attempt left."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        for _ in range(400):
            await asyncio.sleep(0.05)
            with factory() as session:
                busy = session.scalar(
                    sa.select(sa.func.count()).where(
                        Attempt.campaign_id == campaign,
                        Attempt.status == "claimed",
                    )
                )
                due = session.scalar(
                    sa.select(sa.func.count()).where(
                        Attempt.campaign_id == campaign,
                        Attempt.status == "pending",
                        Attempt.due_at <= workers[0]._clock(),
                    )
                )
            if not busy and not due:
                break
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def config(name: str, campaign: int, **kw: object) -> WorkerConfig:
    return WorkerConfig(
        worker_id=name,
        concurrency=4,
        poll_interval_s=0.02,
        campaign_ids=frozenset({campaign}),
        **kw,  # type: ignore[arg-type]
    )


async def test_two_workers_call_every_account_once(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    clock = FixedClock(NOON)
    book = build_book(session_factory, unique_name, 12)
    campaign = started_campaign(session_factory, book, NOON)
    phone = ScriptedTelephone(session_factory, clock)
    workers = [Worker(session_factory, phone, config(f"w{i}", campaign), clock) for i in range(2)]
    await run_until_idle(workers, session_factory, campaign)
    called = sorted(number for number, _, _ in phone.placed)
    assert called == sorted(n for numbers in book.phones.values() for n in numbers)
    with session_factory() as session:
        ledgers = session.scalars(
            sa.select(ContactLedger).where(ContactLedger.account_id.in_(book.account_ids))
        ).all()
        assert sorted(row.day_conversations for row in ledgers) == [1] * 12
        assert all(row.active_attempt_id is None for row in ledgers)
        # A re-reminder is queued a week later for each (no promise, no payment).
        later = session.scalars(
            sa.select(Attempt.due_at).where(
                Attempt.campaign_id == campaign, Attempt.status == "pending"
            )
        ).all()
        assert len(later) == 12
        assert all(d == NOON + dt.timedelta(days=7) for d in later)


async def test_no_answer_retries_on_the_next_phone_and_then_stops(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    clock = FixedClock(NOON)
    book = build_book(
        session_factory, unique_name, 1, phones_per_account=2, zones=("Europe/Moscow",)
    )
    campaign = started_campaign(session_factory, book, NOON, max_attempts=3, retry_no_answer_min=30)
    no_answer = AttemptOutcome(CallOutcome.NO_ANSWER)
    phone = ScriptedTelephone(session_factory, clock, default=no_answer)
    worker = Worker(session_factory, phone, config("w", campaign), clock)
    for _ in range(4):
        await run_until_idle([worker], session_factory, campaign)
        clock.now += dt.timedelta(minutes=31)
    numbers = [n for n, _, _ in phone.placed]
    first, second = book.phones[book.account_ids[0]]
    assert numbers == [first, second, first]  # three tries, alternating phones
    with session_factory() as session:
        ledger = session.get_one(ContactLedger, book.account_ids[0])
        assert (ledger.day_conversations, ledger.day_messages) == (0, 0)  # no answer counts nothing


async def test_a_paid_account_is_not_called_and_thanked(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    clock = FixedClock(NOON)
    book = build_book(session_factory, unique_name, 2, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON, thanks_script="thanks")
    paid_account = book.account_ids[0]
    with session_factory.begin() as session:
        session.add(
            Payment(
                organisation_id=book.organisation_id,
                account_id=paid_account,
                paid_on=NOON.date(),
                amount=Decimal("12480.50"),
                document="webhook-1",
            )
        )
    phone = ScriptedTelephone(session_factory, clock)
    await run_until_idle(
        [Worker(session_factory, phone, config("w", campaign), clock)], session_factory, campaign
    )
    with session_factory() as session:
        rows = session.execute(
            sa.select(Attempt.purpose, Attempt.status, Attempt.reason, Attempt.script)
            .where(Attempt.account_id == paid_account)
            .order_by(Attempt.id)
        ).all()
    assert [tuple(map(str, r[:3])) for r in rows[:2]] == [
        ("reminder", "cancelled", "paid"),
        ("thanks", "done", "None"),
    ]
    scripts = {n: s for n, s in ((n, a) for n, a, _ in phone.placed)}
    assert len(scripts) == 2  # the paid debtor got the thanks call, the other the reminder


async def test_a_killed_workers_attempt_returns_after_the_lease_without_double_counting(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    clock = FixedClock(NOON)
    book = build_book(session_factory, unique_name, 2, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON)
    from dialer.campaigns.queue import claim_attempts, reap_expired
    from dialer.compliance import ProductionCalendar

    with session_factory.begin() as session:
        claimed = claim_attempts(
            session, worker_id="dead", now=NOON, want=2, lease=dt.timedelta(minutes=2),
            calendar=ProductionCalendar(), campaign_ids=[campaign],
        )  # fmt: skip
    assert len(claimed) == 2
    # The dead worker had dialled the first account, and it answered; the second never rang.
    from dialer.campaigns.call_log import mark_answered, open_call

    call_id = open_call(session_factory, claimed[0], NOON)
    mark_answered(session_factory, call_id, NOON)
    clock.now = NOON + dt.timedelta(minutes=3)
    with session_factory.begin() as session:
        assert reap_expired(session, now=clock.now) >= 2
    phone = ScriptedTelephone(session_factory, clock)
    await run_until_idle(
        [Worker(session_factory, phone, config("alive", campaign), clock)],
        session_factory,
        campaign,
    )
    with session_factory() as session:
        answered = session.get_one(ContactLedger, claimed[0].account_id)
        silent = session.get_one(ContactLedger, claimed[1].account_id)
    # The answered call was counted once, as a conversation; so no second call today.
    assert (answered.day_conversations, answered.active_attempt_id) == (1, None)
    # The one that never rang was called by the live worker and counted once.
    assert silent.day_conversations == 1
    assert [a for _, a, _ in phone.placed] == [claimed[1].attempt_id]
    # The dead worker's call is closed as interrupted and in the history, as the ledger
    # counts it: reports see the conversation the ledger counted (issue 14, item 4).
    with session_factory() as session:
        call = session.get_one(Call, call_id)
        events = session.scalars(
            sa.select(ContactEvent).where(
                ContactEvent.account_id == claimed[0].account_id,
                ContactEvent.kind == ContactKind.CALL,
            )
        ).all()
    assert (call.outcome, call.counted_as, call.ended_at is not None) == (
        "interrupted", "conversation", True,
    )  # fmt: skip
    assert len(events) == 1
    assert events[0].details["outcome"] == "interrupted"


def test_a_lease_whose_call_is_being_written_is_not_reaped_and_nothing_deadlocks(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    """A worker past its lease but alive holds its call row while it ends the call, then
    takes the attempt; the reaper takes the attempt, then the call. On PostgreSQL that was a
    deadlock (CI, the property test): the reaper now skips an attempt whose call is held."""
    import sqlalchemy as sa

    from dialer.campaigns.call_log import mark_answered, open_call
    from dialer.campaigns.queue import claim_attempts, reap_expired
    from dialer.compliance import ProductionCalendar

    book = build_book(session_factory, unique_name, 1, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON)
    with session_factory.begin() as session:
        (claimed,) = claim_attempts(
            session, worker_id="slow", now=NOON, want=1, lease=dt.timedelta(minutes=2),
            calendar=ProductionCalendar(), campaign_ids=[campaign],
        )  # fmt: skip
    call_id = open_call(session_factory, claimed, NOON)
    mark_answered(session_factory, call_id, NOON)
    later = NOON + dt.timedelta(minutes=3)
    with session_factory() as writer:
        # The live worker is ending its call: the row is held until it commits.
        writer.execute(sa.update(Call).where(Call.id == call_id).values(outcome="promise"))
        if session_factory.kw["bind"].dialect.name == "postgresql":
            with session_factory.begin() as reaper:
                assert reap_expired(reaper, now=later) == 0  # skipped at once, no wait
        writer.commit()
    with session_factory.begin() as reaper:
        assert reap_expired(reaper, now=later) == 1  # once the row is free, it is reaped
    with session_factory() as session:
        call = session.get_one(Call, call_id)
        assert (call.outcome, call.ended_at is not None) == ("promise", True)


class _StartTimes:
    """Wraps a runner, noting on the loop's clock when each call started."""

    def __init__(self, inner: ScriptedTelephone) -> None:
        self._inner = inner
        self.starts: list[float] = []

    async def run(self, attempt: ClaimedAttempt) -> AttemptOutcome:
        self.starts.append(asyncio.get_running_loop().time())
        return await self._inner.run(attempt)


async def test_a_paced_worker_fills_its_lines_one_call_at_a_time(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    clock = FixedClock(NOON)
    book = build_book(session_factory, unique_name, 4)
    campaign = started_campaign(session_factory, book, NOON)
    # Calls last longer than the pacing: all four lines end up busy at once, filled apart.
    phone = _StartTimes(ScriptedTelephone(session_factory, clock, call_seconds=1.0))
    worker = Worker(session_factory, phone, config("w", campaign, dial_interval_s=0.15), clock)
    await run_until_idle([worker], session_factory, campaign)
    assert len(phone.starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(phone.starts)]
    assert all(gap >= 0.14 for gap in gaps), gaps
    assert phone.starts[-1] - phone.starts[0] < 1.0  # all four lines busy together


async def test_an_unpaced_worker_dials_every_free_line_at_once(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    clock = FixedClock(NOON)
    book = build_book(session_factory, unique_name, 4)
    campaign = started_campaign(session_factory, book, NOON)
    phone = _StartTimes(ScriptedTelephone(session_factory, clock, call_seconds=0.5))
    worker = Worker(session_factory, phone, config("w", campaign), clock)
    await run_until_idle([worker], session_factory, campaign)
    assert len(phone.starts) == 4
    assert phone.starts[-1] - phone.starts[0] < 0.1


def test_the_worker_command_paces_as_the_worker_module_says() -> None:
    from dialer.worker import DEFAULT_DIAL_INTERVAL_S
    from napomni.commands.worker import worker as worker_command

    option = next(p for p in worker_command.params if p.name == "dial_interval")
    assert option.default == DEFAULT_DIAL_INTERVAL_S
