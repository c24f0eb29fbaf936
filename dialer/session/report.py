"""What a call session produces: its turns as they happen and the report at the end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from dialer.session.transfer import TransferOutcome
from dialer.telephony.port import CallResult
from scripts.actions import Escalate, MessageKind, Outcome

__all__ = ["CallOpening", "CallReport", "TurnRecord", "TurnTimings"]


@dataclass(frozen=True, slots=True)
class CallOpening:
    """The facts known when a call is placed (the ``calls`` row is written with them)."""

    account_id: int
    script: str
    started_at: dt.datetime
    attempt_id: int | None = None
    phone_id: int | None = None


@dataclass(frozen=True, slots=True)
class TurnTimings:
    """Where one turn's latency went, in milliseconds, stage by stage.

    ``endpoint_ms`` is the silence the endpointer waited after the debtor's last voiced frame
    (audio time, before ``latency_ms`` starts). The rest add up to ``latency_ms``:
    ``queue_ms`` the closing frame waiting for the recogniser (batching, a backlog),
    ``recognition_ms`` the final decode, ``dispatch_ms`` the result waiting for the dialogue
    loop, ``classify_ms``, ``script_ms`` the engine's step and the reply rendered into words
    (amounts, dates), ``synthesis_ms`` the reply's first
    sentence being made (0 when cached or made ahead), ``playout_ms`` the ready audio waiting
    for the player and the wire.
    """

    endpoint_ms: int = 0
    queue_ms: int = 0
    recognition_ms: int = 0
    dispatch_ms: int = 0
    classify_ms: int = 0
    script_ms: int = 0
    synthesis_ms: int = 0
    playout_ms: int = 0


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One exchange: what the robot said, what the debtor answered, and how fast the robot replied.

    ``latency_ms`` is the turn latency: from the end of the debtor's utterance (the moment
    the endpointer closed it) to the first frame of the robot's reply on the wire; None when
    the robot did not reply (the call ended).
    """

    index: int
    robot_text: str
    debtor_text: str | None = None
    asked: str | None = None
    tags: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    promise_date: dt.date | None = None
    promise_amount: Decimal | None = None
    latency_ms: int | None = None
    recognition_ms: int | None = None  # the part of the latency spent decoding
    timings: TurnTimings | None = None  # the latency stage by stage (when the robot replied)


@dataclass(frozen=True, slots=True)
class CallReport:
    """How one call went, for storage, the worker and the console.

    ``outcome`` is the conversation's outcome (None when nobody answered, or when the
    script failed before it could end); ``failure_reason`` says why a call failed.
    """

    call_id: int | None
    result: CallResult
    outcome: Outcome | None
    turns: tuple[TurnRecord, ...]
    recording_path: str | None
    failure_reason: str | None = None
    escalation: Escalate | None = None
    messages: tuple[MessageKind, ...] = ()
    operator_pressed: bool = False
    do_not_call: bool = False
    misunderstood_in_a_row: int = 0
    barge_in_ms: tuple[int, ...] = ()  # speech onset received → robot stopped, per barge-in
    first_word_ms: int | None = None  # the answer → the robot's first frame on the wire
    transfer: TransferOutcome | None = None  # the live transfer to a collector, if offered

    @property
    def latencies_ms(self) -> list[int]:
        """The turn latencies measured in this call."""
        return [t.latency_ms for t in self.turns if t.latency_ms is not None]
