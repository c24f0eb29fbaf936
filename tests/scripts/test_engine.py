"""Engine rules that hold for any script: events before/after the call, barge-in,
determinism, machines, the run-time never-disclose check, missing account values."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import MappingProxyType

import pytest

from scripts.actions import End, Listen, OutcomeKind, Say, StopSpeaking
from scripts.engine import Conversation
from scripts.errors import ConversationError, VariablesMissing
from scripts.events import BargeIn, CallAnswered, HungUp, MachineDetected, MachineKind, Silence
from scripts.values import Amount, Case, spoken_text, weekday_word
from tests.scripts.conversation_kit import ACCOUNT, FRIDAY, run, said, script


def test_same_events_same_actions() -> None:
    events = [
        said("confirm"),
        said("financial_hardship"),
        said("deny"),
        said("promise_to_pay", date=FRIDAY),
        said("confirm"),
    ]
    assert run("warning", events).batches == run("warning", events).batches


def test_turn_before_the_call_is_answered_is_an_error() -> None:
    conversation = Conversation(script("soft_reminder"), ACCOUNT)
    with pytest.raises(ConversationError, match="до того, как на звонок ответили"):
        conversation.handle(said("confirm"))


def test_answering_twice_is_an_error() -> None:
    conversation = Conversation(script("soft_reminder"), ACCOUNT)
    conversation.handle(CallAnswered())
    with pytest.raises(ConversationError, match="уже начат"):
        conversation.handle(CallAnswered())


def test_nothing_happens_after_the_end() -> None:
    result = run("soft_reminder", [said("wrong_person")])
    assert result.conversation.handle(HungUp()) == []
    assert result.conversation.handle(said("confirm")) == []
    assert result.conversation.asked is None


def test_barge_in_stops_interruptible_speech_only() -> None:
    result = run("soft_reminder", [])
    assert result.conversation.handle(BargeIn()) == [StopSpeaking()]
    # the opening (who calls, automatic, recorded) is never cut
    opening = result.batches[0][0]
    assert isinstance(opening, Say)
    assert not opening.interruptible


def test_barge_in_after_a_non_interruptible_batch_does_nothing() -> None:
    loaded = script("soft_reminder")
    identity = loaded.nodes["identity"]
    lines = tuple(dataclasses.replace(line, interruptible=False) for line in identity.say)
    nodes = dict(loaded.nodes)
    nodes["identity"] = dataclasses.replace(identity, say=lines)
    strict = dataclasses.replace(loaded, nodes=MappingProxyType(nodes))
    conversation = Conversation(strict, ACCOUNT)
    conversation.handle(CallAnswered())
    assert conversation.handle(BargeIn()) == []


@pytest.mark.parametrize("kind", list(MachineKind))
def test_machine_hangs_up_at_once_saying_nothing(kind: MachineKind) -> None:
    conversation = Conversation(script("pre_court"), ACCOUNT)
    conversation.handle(CallAnswered())
    actions = conversation.handle(MachineDetected(kind))
    assert len(actions) == 1
    assert isinstance(actions[0], End)
    assert actions[0].outcome.kind is OutcomeKind.NO_DIALOGUE
    assert actions[0].outcome.machine == kind.value


def test_listen_carries_what_was_asked_and_the_timeout() -> None:
    result = run("soft_reminder", [said("confirm")])
    listen = result.batches[-1][-1]
    assert isinstance(listen, Listen)
    assert listen.asked.value == "reason"
    assert listen.timeout_s == 6.0
    assert result.conversation.asked is listen.asked


def test_amounts_stay_typed_with_the_case_of_the_template() -> None:
    result = run("soft_reminder", [said("confirm"), said("promise_to_pay", date=FRIDAY)])
    readback = [a for a in result.batches[-1] if isinstance(a, Say)][0]
    assert Amount(ACCOUNT.debt_total, "acc") in readback.parts
    assert spoken_text(readback.parts).startswith("Итак, вы оплатите <amount 12480.50 acc>")


def test_run_time_check_refuses_details_before_identity() -> None:
    # A script built by hand (bypassing the loader's static check) still cannot leak.
    loaded = script("soft_reminder")
    nodes = dict(loaded.nodes)
    nodes["hello"] = dataclasses.replace(loaded.nodes["hello"], say=loaded.nodes["reminder"].say)
    leaky = dataclasses.replace(loaded, nodes=MappingProxyType(nodes))
    conversation = Conversation(leaky, ACCOUNT)
    with pytest.raises(ConversationError, match="до подтверждения личности"):
        conversation.handle(CallAnswered())


def test_relative_never_hears_details() -> None:
    result = run("warning", [said("deny")])
    assert result.outcome.kind is OutcomeKind.NOT_DEBTOR
    assert "12480" not in result.text
    assert ACCOUNT.address not in result.text
    assert not result.outcome.phone_wrong


def test_silence_counts_as_misunderstood() -> None:
    result = run("soft_reminder", [said("confirm"), Silence(6), Silence(6)])
    assert result.outcome.kind is OutcomeKind.ESCALATED


def test_account_without_the_values_a_script_needs() -> None:
    bare = dataclasses.replace(ACCOUNT, promises=(), last_payment=None)
    with pytest.raises(VariablesMissing, match="promised_date"):
        Conversation(script("broken_promise"), bare)
    with pytest.raises(VariablesMissing, match="last_payment_amount, last_payment_date"):
        Conversation(script("thanks"), bare)
    Conversation(script("soft_reminder"), bare)  # needs neither


def test_outcome_lists_reasons_heard_in_order() -> None:
    events = [
        said("confirm"),
        said("financial_hardship"),
        said("deny"),
        said("promise_to_pay", date=FRIDAY),
        said("confirm"),
    ]
    outcome = run("soft_reminder", events).outcome
    assert outcome.reasons == (
        *(t for t in (said("financial_hardship").classification.tags)),
        *(t for t in said("promise_to_pay").classification.tags),
    )
    assert outcome.turns == 5
    assert run("soft_reminder", events).conversation.trail[:3] == ("hello", "identity", "reminder")


@pytest.mark.parametrize(
    ("day", "case", "word"),
    [
        (FRIDAY, "gen", "пятницы"),
        (FRIDAY, "acc", "пятницу"),
        (FRIDAY.replace(day=25), "gen", "среды"),
        (FRIDAY.replace(day=29), "nom", "воскресенье"),
        (FRIDAY.replace(day=23), "ins", "понедельником"),
    ],
)
def test_weekday_words(day: dt.date, case: Case, word: str) -> None:
    assert weekday_word(day, case) == word


def test_a_time_for_the_callback_is_no_promise() -> None:
    # «после семи» to «когда перезвонить?» may be tagged promise_to_pay: not a payment promise.
    before = run("warning", [said("callback_later"), said("promise_to_pay")]).outcome
    assert before.kind is OutcomeKind.CALLBACK
    assert before.promise is None
    after = run(
        "warning", [said("confirm"), said("callback_later"), said("promise_to_pay")]
    ).outcome
    assert after.kind is OutcomeKind.CALLBACK
    assert after.promise is None


def test_the_identity_reprompt_says_again_who_calls() -> None:
    result = run("soft_reminder", [said()])
    assert "Вам звонит УК «Уютный дом». Подскажите, это Иванов Иван Петрович?" in result.text
