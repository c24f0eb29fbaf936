"""What happens on the line, as the call session tells the conversation.

Events carry no clock: the session measures silences and passes their length.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from classifier.contract import Classification

__all__ = [
    "CallAnswered",
    "Heard",
    "Hello",
    "Silence",
    "BargeIn",
    "Dtmf",
    "MachineKind",
    "MachineDetected",
    "HungUp",
    "Event",
]


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The callee picked up: the conversation starts."""


@dataclass(frozen=True, slots=True)
class Heard:
    """One debtor turn: the recognised text and the classifier's result for it."""

    text: str
    classification: Classification


@dataclass(frozen=True, slots=True)
class Hello:
    """The debtor only checked the line («Алло? Алло?», «Кто это?») while the robot was silent:
    they did not hear the robot, so it says its greeting (or its question) again."""


@dataclass(frozen=True, slots=True)
class Silence:
    """The debtor said nothing for ``seconds`` after the robot's question."""

    seconds: float


@dataclass(frozen=True, slots=True)
class BargeIn:
    """The debtor started speaking while the robot was talking."""


@dataclass(frozen=True, slots=True)
class Dtmf:
    """A key pressed on the phone: ``0``–``9``, ``*`` or ``#``."""

    digit: str


class MachineKind(StrEnum):
    """Not a person on the line."""

    VOICEMAIL = "voicemail"  # автоответчик, голосовая почта
    ANNOUNCEMENT = "announcement"  # «абонент недоступен», operator's recorded message


@dataclass(frozen=True, slots=True)
class MachineDetected:
    """Voicemail or an operator announcement answered instead of a person."""

    kind: MachineKind


@dataclass(frozen=True, slots=True)
class HungUp:
    """The other side hung up."""


Event = CallAnswered | Heard | Hello | Silence | BargeIn | Dtmf | MachineDetected | HungUp
