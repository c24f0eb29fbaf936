"""What the call session needs from the parts it wires together, as small Protocols.

The recogniser (:class:`speech.recognition.RecognitionEngine`) and the classifier
(:class:`classifier.contract.TurnClassifier`) have their own ports; the three below are the
session's: how text is spoken, how typed values become Russian words, and where the call
is written down. Unit tests stand in for each with a real small class, never a mock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from dialer.session.report import CallOpening, TurnRecord
from dialer.telephony.port import CallResult
from scripts.values import Part

__all__ = ["CallClosing", "CallLog", "Notice", "Observer", "Phrasing", "Voice"]


class Voice(Protocol):
    """Text to speech for the telephone.

    Returns 8 kHz signed 16-bit little-endian mono PCM. CPU and disk work: the session calls
    it from a worker thread, so it must be thread-safe.
    """

    def synthesize(self, text: str) -> bytes:
        """The audio of ``text``."""
        ...


class Phrasing(Protocol):
    """Renders a script's line (text and typed amounts, dates, counts) into Russian words."""

    def render(self, parts: tuple[Part, ...]) -> str:
        """The line as it should be spoken."""
        ...


@dataclass(frozen=True, slots=True)
class CallClosing:
    """Everything written in the call's final short transaction."""

    ended_at: dt.datetime
    result: CallResult
    outcome: str
    recording_path: str | None
    failure_reason: str | None
    promise_due: dt.date | None = None
    promise_amount: Decimal | None = None
    debt: Decimal | None = None
    first_word_ms: int | None = None  # the answer → the robot's first frame on the wire
    # The message kinds the script asked for (scripts.actions.MessageKind values), at most
    # one per call; written to the outbox in the same transaction as the call's end.
    messages: tuple[str, ...] = ()


class CallLog(Protocol):
    """Where calls are written: each method is one short transaction (called from a thread).

    A crash mid-call loses at most the turn being written; a call never closed keeps
    ``ended_at`` empty, which tells a reader it was cut short.
    """

    def open_call(self, opening: CallOpening) -> int:
        """Insert the call; return its id."""
        ...

    def mark_answered(self, call_id: int, at: dt.datetime) -> None:
        """The far end answered."""
        ...

    def add_turn(self, call_id: int, turn: TurnRecord) -> None:
        """Append one turn."""
        ...

    def close_call(self, call_id: int, account_id: int, closing: CallClosing) -> None:
        """Outcome, SIP cause, recording, failure reason, and the promise if one was made."""
        ...


NoticeKind = Literal["robot", "debtor", "event"]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth showing on a console as the call goes (the text is personal data:
    observers print it for the operator, loggers must not)."""

    call_ref: str
    kind: NoticeKind
    text: str
    tags: tuple[str, ...] = ()
    latency_ms: int | None = None


class Observer(Protocol):
    """Gets the conversation as it happens (``napomni call``, the demo's live view)."""

    def notice(self, notice: Notice) -> None:
        """Called on the event loop; must not block."""
        ...
