"""A dialogue script as validated, frozen data (see :mod:`scripts.loader` for the YAML).

A script is a graph of nodes. Entering a node says its lines, then optionally sends a
message, escalates, and either ends the call, listens for an answer (``ask``) or moves on
(``next``). An asking node's answer picks a branch: the node's own ``on`` (by tag), the
node's ``otherwise``, the script's ``on``, the script's ``otherwise``. A branch is a list of
choices, each with an optional guard; the first whose guard holds is taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from classifier.contract import Asked, Tag
from scripts.actions import MessageKind, OutcomeKind, Priority
from scripts.values import Case

__all__ = [
    "REPEAT",
    "DEFAULT_TAG_ORDER",
    "VarRef",
    "Line",
    "Guard",
    "Choice",
    "Branch",
    "EscalationSpec",
    "Node",
    "Script",
]

REPEAT = "repeat"
"""A branch target: ask the same question again (its ``reprompt``); counts as misunderstood."""

DEFAULT_TAG_ORDER: tuple[Tag, ...] = (
    Tag.WRONG_PERSON,
    Tag.OPERATOR_REQUEST,
    Tag.CALLBACK_LATER,
    Tag.ALREADY_PAID,
    Tag.DISPUTE_AMOUNT,
    Tag.SERVICE_COMPLAINT,
    Tag.PROMISE_TO_PAY,
    Tag.INSTALLMENT_REQUEST,
    Tag.FINANCIAL_HARDSHIP,
    Tag.REFUSAL,
    Tag.PAYMENT_QUESTION,
    Tag.UNAWARE,
    Tag.AWAY,
    Tag.CONFIRM,
    Tag.DENY,
)
"""When a turn carries several tags, the first in this order that has a branch decides:
"денег нет, заплачу десятого" is handled as a promise, "не согласен, платить не буду" as a
dispute."""


@dataclass(frozen=True, slots=True)
class VarRef:
    """``{name}`` or ``{name:case}`` in a template."""

    name: str
    case: Case | None


@dataclass(frozen=True, slots=True)
class Line:
    """One line the robot says: literal text and variable references."""

    template: tuple[str | VarRef, ...]
    interruptible: bool = True


class Guard(StrEnum):
    """A condition on a choice of a branch."""

    PROMISE_DATE = "promise_date"  # the answer just heard named a payment date
    FIRST_TIME = "first_time"  # this choice has not been taken before in this call


@dataclass(frozen=True, slots=True)
class Choice:
    """Go to node ``go`` (or :data:`REPEAT`) when ``when`` holds (always, if ``None``)."""

    go: str
    when: Guard | None = None


@dataclass(frozen=True, slots=True)
class Branch:
    """Ordered choices; ``where`` names the branch in the file (for errors and ``first_time``)."""

    choices: tuple[Choice, ...]
    where: str


@dataclass(frozen=True, slots=True)
class EscalationSpec:
    """Hand to a collector: why, how urgent, and whether to connect the call now."""

    reason: str
    priority: Priority
    transfer: bool


@dataclass(frozen=True, slots=True)
class Node:
    """One step of the dialogue."""

    name: str
    say: tuple[Line, ...] = ()
    reprompt: tuple[Line, ...] = ()
    ask: Asked | None = None
    timeout_s: float | None = None
    on: Mapping[Tag, Branch] | None = None
    otherwise: Branch | None = None
    silence: Branch | None = None
    dtmf: Mapping[str, Branch] | None = None
    next: Branch | None = None
    confirm_promise: bool = False
    send: MessageKind | None = None
    escalate: EscalationSpec | None = None
    end: OutcomeKind | None = None


@dataclass(frozen=True, slots=True)
class Script:
    """A validated script; build it with :func:`scripts.loader.load_script`."""

    name: str
    title: str
    source: str  # the file it came from, for messages
    start: str
    give_up: str
    max_misunderstood: int
    timeout_s: float
    nodes: Mapping[str, Node]
    on: Mapping[Tag, Branch]
    otherwise: Branch | None
    silence: Branch | None
    dtmf: Mapping[str, Branch]
    tag_order: tuple[Tag, ...] = DEFAULT_TAG_ORDER
    purpose: str = ""  # when a campaign uses it, in a sentence, for the web's script list

    @property
    def variables(self) -> frozenset[str]:
        """Every variable any line of the script uses."""
        names: set[str] = set()
        for node in self.nodes.values():
            for line in (*node.say, *node.reprompt):
                names.update(p.name for p in line.template if isinstance(p, VarRef))
        return frozenset(names)
