"""The classifier's contract (``../shared/spec/tags.md``): what other packages import.

``scripts`` and ``dialer`` import only this module of ``classifier``: the tag names, the
turn context and the result. The trained model, the promise parser and the training code
stay behind :class:`TurnClassifier`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

__all__ = ["Tag", "Asked", "TurnContext", "Classification", "TurnClassifier", "TAGS"]


class Tag(StrEnum):
    """The fifteen tags of the spec, exactly as reports and outside evaluations name them."""

    PROMISE_TO_PAY = "promise_to_pay"
    ALREADY_PAID = "already_paid"
    FINANCIAL_HARDSHIP = "financial_hardship"
    DISPUTE_AMOUNT = "dispute_amount"
    SERVICE_COMPLAINT = "service_complaint"
    WRONG_PERSON = "wrong_person"
    UNAWARE = "unaware"
    AWAY = "away"
    REFUSAL = "refusal"
    CALLBACK_LATER = "callback_later"
    OPERATOR_REQUEST = "operator_request"
    INSTALLMENT_REQUEST = "installment_request"
    PAYMENT_QUESTION = "payment_question"
    CONFIRM = "confirm"
    DENY = "deny"


TAGS: tuple[Tag, ...] = tuple(Tag)


class Asked(StrEnum):
    """What the robot had just asked when the debtor answered."""

    IDENTITY = "identity"  # a yes/no question: «Вы Иванов Иван Петрович?»
    REASON = "reason"  # «Почему возникла задолженность?»
    PROMISE_DATE = "promise_date"  # «Когда вы сможете оплатить?»
    OPEN = "open"  # «Остались ли у вас вопросы?»


@dataclass(frozen=True, slots=True)
class TurnContext:
    """The context that comes with a turn: the question, the call's date, the debt."""

    asked: Asked
    today: dt.date
    debt: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    """Tags asserted for one turn with their confidences, and the promise if any.

    ``tags`` holds only the asserted tags, each with a confidence in [0, 1].
    ``promise_date`` and ``promise_amount`` are set only when ``promise_to_pay`` is asserted
    and the debtor said them (the spec's date and amount rules).
    """

    tags: Mapping[Tag, float] = field(default_factory=lambda: MappingProxyType({}))
    promise_date: dt.date | None = None
    promise_amount: Decimal | None = None

    def has(self, tag: Tag) -> bool:
        """Whether the turn carries ``tag``."""
        return tag in self.tags

    @property
    def is_empty(self) -> bool:
        """No tag at all: noise, silence or off topic."""
        return not self.tags

    def to_json(self) -> dict[str, object]:
        """The JSON shape of ``napomni classify``'s output line."""
        return {
            "tags": {tag.value: round(conf, 4) for tag, conf in self.tags.items()},
            "promise_date": self.promise_date.isoformat() if self.promise_date else None,
            "promise_amount": float(self.promise_amount)
            if self.promise_amount is not None
            else None,
        }


class TurnClassifier(Protocol):
    """Classifies one debtor turn.

    Obligations: pure and thread-safe for concurrent calls (a live call classifies off the
    event loop), deterministic for the same text and context, and fast (≤ 2 ms p99).
    """

    def classify(self, text: str, context: TurnContext) -> Classification:
        """Tag ``text`` (recogniser output or typed text) in ``context``."""
        ...
