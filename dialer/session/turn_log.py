"""The turns of one call as they happen, and their storage one short transaction each.

A turn is heard (the debtor's words, tags, promise) and then answered: the first frame of the
robot's reply closes its latency, measured from the frame that closed the utterance and
split stage by stage (:class:`~dialer.session.report.TurnTimings`). Writes go through one
writer task per call, in order, in a worker thread; storage trouble is logged and the call
goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from classifier.contract import Asked, Classification
from dialer.session.hearing import Recognised
from dialer.session.ports import CallLog
from dialer.session.report import TurnRecord, TurnTimings
from dialer.session.speaking import Line
from speech.recognition import FinalResult

__all__ = ["TurnLog"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _PendingTurn:
    """A turn heard and waiting for the robot's reply; the clock marks of its stages."""

    record: TurnRecord
    heard_at: float  # the closing frame arrived (the latency starts here)
    endpoint_s: float  # silence the endpointer waited before that frame
    decode_started: float
    decoded_at: float
    picked_at: float  # the dialogue loop took the result
    classified_at: float


class TurnLog:
    """Numbers, times and stores the turns of one call."""

    def __init__(
        self,
        log: CallLog | None,
        call_id: int | None,
        *,
        ref: str,
        on_stored: Callable[[TurnRecord], None],
    ) -> None:
        self._log = log
        self._call_id = call_id
        self._ref = ref
        self._on_stored = on_stored
        self._writes: asyncio.Queue[Callable[[], None] | None] = asyncio.Queue()
        self._pending: _PendingTurn | None = None
        self._index = 0
        self.turns: list[TurnRecord] = []

    def heard(
        self,
        robot_said: list[str],
        text: str,
        asked: Asked,
        classification: Classification,
        item: Recognised,
        final: FinalResult,
        picked_at: float,
        classified_at: float,
    ) -> TurnRecord:
        """The debtor answered ``robot_said``; the turn waits for the robot's reply."""
        if self._pending is not None:  # the robot never answered the previous turn
            self._store(self._pending.record)
        record = TurnRecord(
            index=self._index,
            robot_text=" ".join(robot_said),
            debtor_text=text,
            asked=asked.value,
            tags=MappingProxyType({t.value: c for t, c in classification.tags.items()}),
            promise_date=classification.promise_date,
            promise_amount=classification.promise_amount,
            recognition_ms=item.decode_ms,
        )
        self._index += 1
        self._pending = _PendingTurn(
            record,
            heard_at=item.arrived_at,
            endpoint_s=final.trailing_silence_s,
            decode_started=item.decode_started,
            decoded_at=item.decoded_at,
            picked_at=picked_at,
            classified_at=classified_at,
        )
        return record

    def replied(self, line: Line, first_frame_at: float) -> None:
        """The first frame of a reply went out: the waiting turn is complete."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            self._store(_replied(pending, line, first_frame_at))

    def close(self, robot_said: list[str]) -> None:
        """The call ended: store the turn left waiting and what the robot said after it."""
        if self._pending is not None:
            self._store(self._pending.record)
            self._pending = None
        if robot_said:
            self._store(TurnRecord(index=self._index, robot_text=" ".join(robot_said)))

    def _store(self, record: TurnRecord) -> None:
        self.turns.append(record)
        self._on_stored(record)
        if self._log is not None and self._call_id is not None:
            self.write(self._log.add_turn, self._call_id, record)

    # --- the writer -------------------------------------------------------------------

    def write(self, func: Callable[..., None], *args: object) -> None:
        """Queue one storage call (run in order by :meth:`writer`)."""
        self._writes.put_nowait(lambda: func(*args))

    def end_writes(self) -> None:
        """No more writes: the writer returns once the queued ones are done."""
        self._writes.put_nowait(None)

    async def writer(self) -> None:
        """The writer task."""
        while True:
            job = await self._writes.get()
            if job is None:
                return
            try:
                await asyncio.to_thread(job)
            except Exception:  # storage trouble is logged; the call itself goes on
                logger.error("call %s: storing failed", self._ref, exc_info=True)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _replied(pending: _PendingTurn, line: Line, first_frame_at: float) -> TurnRecord:
    """The turn with its latency and where it went (see :class:`TurnTimings`)."""
    said_at = max(line.queued_at, pending.classified_at)
    ready_at = line.first_ready_at if line.first_ready_at is not None else first_frame_at
    timings = TurnTimings(
        endpoint_ms=_ms(pending.endpoint_s),
        queue_ms=_ms(pending.decode_started - pending.heard_at),
        recognition_ms=_ms(pending.decoded_at - pending.decode_started),
        dispatch_ms=_ms(pending.picked_at - pending.decoded_at),
        classify_ms=_ms(pending.classified_at - pending.picked_at),
        script_ms=_ms(said_at - pending.classified_at),
        synthesis_ms=_ms(ready_at - said_at),
        playout_ms=_ms(first_frame_at - max(ready_at, said_at)),
    )
    latency = _ms(first_frame_at - pending.heard_at)
    return dataclasses.replace(pending.record, latency_ms=latency, timings=timings)
