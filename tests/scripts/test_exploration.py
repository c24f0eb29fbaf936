"""Every shipped script explored exhaustively: every node reached, every tag answered at every
question, and the never-disclose rules checked after every single event."""

from __future__ import annotations

from collections import deque

import pytest

from classifier.contract import Tag
from scripts.actions import Listen, OutcomeKind
from scripts.events import Dtmf, Event, Silence
from scripts.loader import shipped_scripts
from tests.scripts.conversation_kit import FRIDAY, NOTHING, run, said, script

ALPHABET: list[Event] = [
    *(said(t.value) for t in Tag),
    said("promise_to_pay", date=FRIDAY),
    said("confirm", "promise_to_pay", date=FRIDAY),
    said("financial_hardship", "promise_to_pay"),
    NOTHING,
    Silence(6),
    Dtmf("0"),
]
MAX_DEPTH = 8


@pytest.mark.parametrize("name", shipped_scripts())
def test_every_node_and_every_answer_is_exercised(name: str) -> None:
    loaded = script(name)
    visited: set[str] = set()
    answered: set[tuple[str, str]] = set()
    seen_states: set[tuple[object, ...]] = set()
    queue: deque[list[Event]] = deque([[]])
    while queue:
        events = queue.popleft()
        result = run(loaded, events)  # checks the invariants after every event
        conversation = result.conversation
        node = conversation.node
        visited.update(conversation.trail)
        if conversation.ended or len(events) >= MAX_DEPTH:
            continue
        state = (
            node,
            conversation.identity_confirmed,
            result.text.count("Простите"),
            len(events) > 5,
        )
        if state in seen_states:
            continue
        seen_states.add(state)
        last = result.batches[-1][-1]
        assert isinstance(last, Listen)
        for event in ALPHABET:
            answered.add((str(node), repr(event)))
            queue.append([*events, event])
    assert visited == set(loaded.nodes), f"never reached: {set(loaded.nodes) - visited}"
    asking = {n.name for n in loaded.nodes.values() if n.ask is not None}
    for node_name in asking:
        for event in ALPHABET:
            assert (node_name, repr(event)) in answered, (node_name, event)


@pytest.mark.parametrize("name", shipped_scripts())
def test_wrong_person_marks_the_phone_wrong_everywhere(name: str) -> None:
    loaded = script(name)
    for prefix in ([], [said("confirm")]):
        outcome = run(loaded, [*prefix, said("wrong_person")]).outcome
        assert outcome.kind is OutcomeKind.WRONG_PERSON
        assert outcome.phone_wrong
