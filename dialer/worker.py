"""The worker: claims due attempts, runs their calls through a :class:`CallRunner`, records
the outcomes; several workers (processes, machines) share one database safely.

Each claimed call holds a lease, renewed every third of its length while the call goes
on. A worker killed outright stops renewing; its attempts return to the queue when the
lease runs out (``reap_expired``, run by every worker). On a graceful stop (SIGTERM) the
worker claims nothing more, lets calls in flight finish for ``stop_grace_s``, then cancels
the rest and hands them back.

Database work is synchronous SQLAlchemy run in a thread (``asyncio.to_thread``) with a
session made in that thread; the event loop never blocks on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.attempts import AttemptOutcome, ClaimedAttempt
from dialer.campaigns.errors import LeaseLost
from dialer.campaigns.queue import (
    claim_attempts,
    complete_attempt,
    reap_expired,
    release_attempt,
    renew_lease,
)
from dialer.compliance import CallOutcome, ProductionCalendar

__all__ = [
    "AttemptOutcome",
    "CallRunner",
    "ClaimedAttempt",
    "Clock",
    "Worker",
    "WorkerConfig",
    "WorkerStats",
    "system_clock",
]

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """Now, zone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class CallRunner(Protocol):
    """Places and conducts one call for a claimed attempt (the call session implements it).

    Obligations: store the ``calls`` row (``dialer.campaigns.call_log``) before dialling and
    mark it answered as soon as someone picks up, so a crash is counted safely; return
    how the call ended; never raise for what a phone line does (busy, hang-up, silence) —
    an exception is recorded as a failed call. Cancellation (worker stopping) must hang up
    promptly.
    """

    async def run(self, attempt: ClaimedAttempt) -> AttemptOutcome:
        """Run the call; return its outcome."""
        ...


#: ``napomni worker``'s least time between two new calls (s): one call a second fills 16 lines
#: in 16 s and refills 30 lines of 30 s calls; a trunk that allows more takes ``--dial-interval``.
DEFAULT_DIAL_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How one worker behaves."""

    worker_id: str
    concurrency: int = 4
    lease: dt.timedelta = dt.timedelta(minutes=2)
    poll_interval_s: float = 1.0
    stop_grace_s: float = 30.0
    calendar: ProductionCalendar = field(default_factory=ProductionCalendar)
    campaign_ids: frozenset[int] | None = None  # None: every active campaign
    # Least time between two new calls (s); 0 dials every free line at once. A trunk limits
    # new calls per second, and lines filled one by one keep the debtors' answers — the
    # recognisers' work — spread over time instead of arriving in the same seconds.
    dial_interval_s: float = 0.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.lease < dt.timedelta(seconds=3):
            raise ValueError("a lease shorter than 3 s cannot be renewed reliably")
        if self.dial_interval_s < 0:
            raise ValueError("dial_interval_s cannot be negative")


@dataclass(slots=True)
class WorkerStats:
    """What one worker did."""

    claimed: int = 0
    completed: int = 0
    handed_back: int = 0
    leases_lost: int = 0
    failed_calls: int = 0


class Worker:
    """Claims and runs calls until told to stop."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        runner: CallRunner,
        config: WorkerConfig,
        clock: Clock = system_clock,
    ) -> None:
        self._factory = factory
        self._runner = runner
        self._config = config
        self._clock = clock
        self.stats = WorkerStats()

    async def run(self, stop: asyncio.Event) -> WorkerStats:
        """Work until ``stop`` is set, then finish or hand back the calls in flight."""
        calls: set[asyncio.Task[None]] = set()
        changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        pace = self._config.dial_interval_s
        next_dial = loop.time()
        while not stop.is_set():
            await asyncio.to_thread(self._reap)
            free = self._config.concurrency - len(calls)
            if pace > 0 and free > 0:
                # One call at a time, claimed only when it may be dialled: an attempt is
                # never held in this worker waiting for its turn.
                free = 1
                if (wait := next_dial - loop.time()) > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), wait)
                    continue
            claimed = await asyncio.to_thread(self._claim, free) if free > 0 else []
            for attempt in claimed:
                task = asyncio.create_task(
                    self._call(attempt), name=f"attempt-{attempt.attempt_id}"
                )
                calls.add(task)
                task.add_done_callback(calls.discard)
                task.add_done_callback(lambda _t: changed.set())
                next_dial = loop.time() + pace
            if claimed and len(calls) < self._config.concurrency:
                continue  # there may be more due right now
            changed.clear()
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(changed.wait())]
            await asyncio.wait(
                waiters, timeout=self._config.poll_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if calls:
            log.info("worker %s stopping: %d calls in flight", self._config.worker_id, len(calls))
            _done, pending = await asyncio.wait(set(calls), timeout=self._config.stop_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        return self.stats

    # ---- one call ------------------------------------------------------------------------

    async def _call(self, attempt: ClaimedAttempt) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(attempt))
        try:
            try:
                outcome = await self._runner.run(attempt)
            except asyncio.CancelledError:
                await asyncio.shield(asyncio.to_thread(self._release, attempt))
                raise
            except Exception as err:  # the per-call boundary: record a failed call, go on
                log.exception("attempt %s: the call runner failed", attempt.attempt_id)
                self.stats.failed_calls += 1
                outcome = AttemptOutcome(
                    CallOutcome.FAILED, failure_reason=f"{type(err).__name__}: runner failed"
                )
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        await asyncio.shield(asyncio.to_thread(self._complete, attempt, outcome))

    async def _heartbeat(self, attempt: ClaimedAttempt) -> None:
        period = self._config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            held = await asyncio.to_thread(self._renew, attempt)
            if not held:
                log.warning("attempt %s: lease lost during the call", attempt.attempt_id)
                return

    # ---- database work (in threads) ------------------------------------------------------

    def _reap(self) -> None:
        with self._factory.begin() as session:
            reap_expired(session, now=self._clock())

    def _claim(self, want: int) -> list[ClaimedAttempt]:
        with self._factory.begin() as session:
            claimed = claim_attempts(
                session,
                worker_id=self._config.worker_id,
                now=self._clock(),
                want=want,
                lease=self._config.lease,
                calendar=self._config.calendar,
                campaign_ids=self._config.campaign_ids,
            )
        self.stats.claimed += len(claimed)
        return claimed

    def _renew(self, attempt: ClaimedAttempt) -> bool:
        with self._factory.begin() as session:
            return renew_lease(
                session,
                attempt.attempt_id,
                self._config.worker_id,
                self._clock() + self._config.lease,
            )

    def _complete(self, attempt: ClaimedAttempt, outcome: AttemptOutcome) -> None:
        try:
            with self._factory.begin() as session:
                complete_attempt(
                    session,
                    attempt_id=attempt.attempt_id,
                    worker_id=self._config.worker_id,
                    outcome=outcome,
                    now=self._clock(),
                    calendar=self._config.calendar,
                )
        except LeaseLost:
            self.stats.leases_lost += 1
            log.warning("attempt %s: lease lost, outcome not recorded", attempt.attempt_id)
            return
        self.stats.completed += 1

    def _release(self, attempt: ClaimedAttempt) -> None:
        try:
            with self._factory.begin() as session:
                release_attempt(
                    session,
                    attempt_id=attempt.attempt_id,
                    worker_id=self._config.worker_id,
                    now=self._clock(),
                    calendar=self._config.calendar,
                )
        except LeaseLost:
            self.stats.leases_lost += 1
            return
        self.stats.handed_back += 1
