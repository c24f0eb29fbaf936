"""What the conversation asks the call session to do, and how the call ended."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from classifier.contract import Asked, Tag
from scripts.values import Part

__all__ = [
    "Say",
    "Listen",
    "StopSpeaking",
    "Priority",
    "Escalate",
    "MessageKind",
    "SendMessage",
    "OutcomeKind",
    "Promise",
    "Outcome",
    "End",
    "Action",
]


@dataclass(frozen=True, slots=True)
class Say:
    """Speak ``parts`` (text and typed values, rendered by ``speech.russian``).

    An ``interruptible`` line stops when the debtor starts speaking; the opening that says
    who calls and that the call is automatic and recorded is not interruptible.
    """

    parts: tuple[Part, ...]
    interruptible: bool = True


@dataclass(frozen=True, slots=True)
class Listen:
    """Wait for the debtor's answer to ``asked``; report :class:`~scripts.events.Silence`
    after ``timeout_s`` seconds without speech. The session passes ``asked`` to the classifier.
    """

    asked: Asked
    timeout_s: float


@dataclass(frozen=True, slots=True)
class StopSpeaking:
    """Barge-in: stop the interruptible line now playing and listen.

    A line marked not interruptible is played to the end regardless.
    """


class Priority(StrEnum):
    """How soon a collector should take an escalation."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Escalate:
    """Hand the case to a human collector.

    ``transfer`` asks the session to connect the call to a collector now (operator request,
    DTMF 0); when nobody is free, or when ``transfer`` is false, the case goes to the
    collectors' queue with ``reason`` and ``priority``.
    """

    reason: str
    priority: Priority
    transfer: bool = False


class MessageKind(StrEnum):
    """What to send the debtor after the call."""

    PAYMENT_DETAILS = "payment_details"  # реквизиты и сумма
    PAYMENT_LINK = "payment_link"  # ссылка на оплату / QR-код


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Send the debtor a message (SMS or messenger, as the campaign allows).

    Recorded as a request: the dialer decides the channel and checks the message limits.
    """

    kind: MessageKind
    payment_link: str | None


class OutcomeKind(StrEnum):
    """How a conversation ended, in the words reports use."""

    PROMISE = "promise"  # a confirmed promise to pay
    REFUSED = "refused"
    WRONG_PERSON = "wrong_person"  # the number does not reach the debtor: mark it wrong
    NOT_DEBTOR = "not_debtor"  # someone else answered (a relative); the number may be right
    CALLBACK = "callback_requested"
    ESCALATED = "escalated"
    COMPLETED = "completed"  # the dialogue ran to its end without a promise (thanks, informed)
    HUNG_UP = "hung_up"  # the debtor hung up in the middle
    NO_DIALOGUE = "no_dialogue"  # voicemail, an announcement, or a hang-up before any answer


@dataclass(frozen=True, slots=True)
class Promise:
    """A promise heard in this call: pay ``amount`` by ``due`` (either may be unknown)."""

    due: dt.date | None
    amount: Decimal | None
    confirmed: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one conversation, for storage and reports."""

    kind: OutcomeKind
    identity_confirmed: bool
    phone_wrong: bool = False
    promise: Promise | None = None
    reasons: tuple[Tag, ...] = ()  # every tag heard, first time each, in order
    escalation: Escalate | None = None
    messages: tuple[MessageKind, ...] = ()
    turns: int = 0
    machine: str | None = None  # voicemail / announcement


@dataclass(frozen=True, slots=True)
class End:
    """Hang up; the conversation is over with ``outcome``."""

    outcome: Outcome


Action = Say | Listen | StopSpeaking | Escalate | SendMessage | End
