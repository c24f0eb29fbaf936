"""A stand-in for the call session: a real :class:`~dialer.worker.CallRunner` adapter whose
phones answer as scripted, storing calls through the same call log the session uses."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.attempts import AttemptOutcome, ClaimedAttempt
from dialer.campaigns.call_log import close_call, mark_answered, open_call
from dialer.compliance import CallOutcome
from dialer.worker import Clock

CONVERSATION = AttemptOutcome(CallOutcome.CONVERSATION)


class ScriptedTelephone:
    """Each phone number answers with the next outcome of its script (default: a conversation).

    Thread-safe; remembers every call it placed as ``(number, attempt_id, started_at)``.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        scripts: Mapping[str, Sequence[AttemptOutcome]] | None = None,
        *,
        call_seconds: float = 0.0,
        default: AttemptOutcome = CONVERSATION,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._scripts = {k: list(v) for k, v in (scripts or {}).items()}
        self._used: dict[str, int] = defaultdict(int)
        self._call_seconds = call_seconds
        self._default = default
        self._lock = threading.Lock()
        self.placed: list[tuple[str, int, dt.datetime]] = []

    def _next(self, number: str) -> AttemptOutcome:
        with self._lock:
            script = self._scripts.get(number, [])
            index = self._used[number]
            self._used[number] += 1
            return script[index] if index < len(script) else self._default

    async def run(self, attempt: ClaimedAttempt) -> AttemptOutcome:
        started = self._clock()
        with self._lock:
            self.placed.append((attempt.phone_number, attempt.attempt_id, started))
        planned = self._next(attempt.phone_number)
        call_id = await asyncio.to_thread(open_call, self._factory, attempt, started)
        if planned.result.answered:
            await asyncio.to_thread(mark_answered, self._factory, call_id, started)
        if self._call_seconds:
            await asyncio.sleep(self._call_seconds)
        await asyncio.to_thread(
            close_call, self._factory, call_id, ended_at=self._clock(), outcome=planned.result.value
        )
        return AttemptOutcome(
            planned.result,
            call_id=call_id,
            promise=planned.promise,
            requests=planned.requests,
            do_not_call=planned.do_not_call,
            wrong_number=planned.wrong_number,
        )


def run_worker_process(url: str, worker_id: str, campaign_id: int, call_seconds: float) -> None:
    """Entry point of a worker *process* (spawned by tests): stand-in phone, stop on SIGTERM."""
    import signal

    from dialer.worker import Worker, WorkerConfig, system_clock
    from storage.database import make_engine, make_session_factory

    engine = make_engine(url)
    factory = make_session_factory(engine)

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        phone = ScriptedTelephone(factory, system_clock, call_seconds=call_seconds)
        config = WorkerConfig(
            worker_id=worker_id,
            concurrency=3,
            poll_interval_s=0.05,
            stop_grace_s=10.0,
            campaign_ids=frozenset({campaign_id}),
        )
        await Worker(factory, phone, config).run(stop)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
