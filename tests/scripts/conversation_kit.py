"""Building blocks for table-driven conversation tests: accounts, turns, a runner."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from classifier.contract import Classification, Tag
from scripts.actions import Action, End, Listen, Outcome, Say, SendMessage
from scripts.engine import Conversation
from scripts.events import CallAnswered, Event, Heard
from scripts.loader import library_script, load_script
from scripts.model import Script
from scripts.values import (
    AccountVariables,
    Amount,
    Count,
    DateValue,
    LastPayment,
    PastPromise,
    ServiceDebt,
    spoken_text,
)

TODAY = dt.date(2026, 11, 23)
FRIDAY = dt.date(2026, 11, 27)
ADDRESS = "улица Ленина, дом 5, квартира 12"

ACCOUNT = AccountVariables(
    organisation="УК «Уютный дом»",
    addressed_as="Иван Петрович",
    full_name="Иванов Иван Петрович",
    address=ADDRESS,
    debt_total=Decimal("12480.50"),
    debt_by_service=(ServiceDebt("отопление", Decimal("12480.50")),),
    months_overdue=3,
    peni=Decimal("412.30"),
    last_payment=LastPayment(dt.date(2026, 11, 21), Decimal("5000")),
    promises=(PastPromise(dt.date(2026, 11, 9), dt.date(2026, 11, 19), Decimal("5000"), False),),
    payment_link="https://pay.example/ls/1",
)


def said(*tags: str, date: dt.date | None = None, amount: Decimal | None = None) -> Heard:
    """A debtor turn the classifier tagged with ``tags`` (and a promise date/amount)."""
    classification = Classification(
        MappingProxyType({Tag(t): 0.9 for t in tags}), promise_date=date, promise_amount=amount
    )
    return Heard(" ".join(tags) or "…", classification)


NOTHING = said()


def script(name: str) -> Script:
    """A shipped script by name."""
    return load_script(library_script(name))


@dataclass
class Run:
    """What a conversation did for a list of events."""

    batches: list[list[Action]]
    conversation: Conversation

    @property
    def actions(self) -> list[Action]:
        return [a for batch in self.batches for a in batch]

    @property
    def lines(self) -> list[str]:
        return [spoken_text(a.parts) for a in self.actions if isinstance(a, Say)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def outcome(self) -> Outcome:
        ends = [a for a in self.actions if isinstance(a, End)]
        if len(ends) != 1:
            raise AssertionError(f"expected one End, got {ends!r}\n{self.text}")
        return ends[0].outcome

    @property
    def node(self) -> str | None:
        return self.conversation.node


def run(
    name_or_script: str | Script, events: list[Event], account: AccountVariables = ACCOUNT
) -> Run:
    """Answer the call, then feed ``events``; every batch is checked against the invariants."""
    loaded = script(name_or_script) if isinstance(name_or_script, str) else name_or_script
    conversation = Conversation(loaded, account)
    batches: list[list[Action]] = []
    for event in [CallAnswered(), *events]:
        batch = conversation.handle(event)
        check_invariants(conversation, batch, account)
        batches.append(batch)
    return Run(batches, conversation)


def discloses(batch: list[Action], account: AccountVariables) -> list[str]:
    """Debt details in ``batch``: typed values, the address, payment messages."""
    found: list[str] = []
    for action in batch:
        if isinstance(action, SendMessage):
            found.append("payment message")
        if isinstance(action, Say):
            for part in action.parts:
                if isinstance(part, Amount | DateValue | Count):
                    found.append(spoken_text((part,)))
                elif account.address in part:
                    found.append("address")
    return found


def check_invariants(
    conversation: Conversation, batch: list[Action], account: AccountVariables
) -> None:
    """Rules that hold after every event, whatever the script."""
    # every non-empty batch ends by listening or hanging up (a barge-in answer is one action)
    if batch and not isinstance(batch[-1], Listen | End) and len(batch) != 1:
        raise AssertionError(f"batch neither listens nor ends: {batch!r}")
    if not conversation.identity_confirmed:
        leaked = discloses(batch, account)
        if leaked:
            raise AssertionError(f"debt detail before identity was confirmed: {leaked}")
    outcome = conversation.outcome
    if outcome is not None and (outcome.kind.value == "wrong_person") != outcome.phone_wrong:
        raise AssertionError("wrong person must mark the phone wrong, and only then")
