"""The turn-taking rules of :mod:`dialer.session.turn_taking`, one test each."""

from __future__ import annotations

import pytest

from dialer.session.turn_taking import TurnKind, TurnTaking, is_line_check, is_pickup_greeting


def _rules() -> TurnTaking:
    rules = TurnTaking()
    rules.robot_first_sentence(started_s=0.1, duration_s=1.0)  # «Здравствуйте!» till 1.1 s
    return rules


@pytest.mark.parametrize("text", ["Алло", "Да?", "Слушаю", "Алло, слушаю.", "Алло, кто это?"])
def test_rule_1_a_pickup_greeting_is_not_an_answer(text: str) -> None:
    kind = _rules().classify(
        text, started_s=0.2, robot_speaking=True, robot_interruptible=False, robot_waiting=False
    )
    assert kind is TurnKind.IGNORE


@pytest.mark.parametrize("text", ["Да, это я.", "да", "слушаю", "Нет, это его жена."])
def test_rule_2_an_answer_over_the_opening_is_held(text: str) -> None:
    kind = _rules().classify(
        text, started_s=2.0, robot_speaking=True, robot_interruptible=False, robot_waiting=False
    )
    assert kind is TurnKind.HOLD


@pytest.mark.parametrize("text", ["Алло? Алло?", "Кто это?", "Вас не слышно", "алюму алюму"])
def test_rule_3_checking_the_line_into_silence_is_a_hello(text: str) -> None:
    rules = _rules()
    waiting = rules.classify(
        text, started_s=9.0, robot_speaking=False, robot_interruptible=False, robot_waiting=True
    )
    speaking = rules.classify(
        text, started_s=9.0, robot_speaking=True, robot_interruptible=True, robot_waiting=False
    )
    assert waiting is TurnKind.HELLO
    assert speaking is TurnKind.IGNORE


def test_an_answer_while_the_robot_listens_or_can_be_interrupted_is_an_answer() -> None:
    rules = _rules()
    for speaking, interruptible in ((False, False), (True, True)):
        kind = rules.classify(
            "Я просто забыл заплатить.",
            started_s=12.0,
            robot_speaking=speaking,
            robot_interruptible=interruptible,
            robot_waiting=not speaking,
        )
        assert kind is TurnKind.ANSWER


@pytest.mark.parametrize(
    ("text", "check", "pickup"),
    [
        ("Да, это я.", False, False),
        ("это не я", False, False),
        ("Алло, да, это я", False, False),
        ("Добрый день, кто это звонит?", True, True),
        ("Нет", False, False),
        # how Whisper heard a quiet «Алло? Алло?» on CI and here
        ("алину", True, True),
        ("Алму, Алму", True, True),
        ("Аллуно", True, True),
        ("это Алла", False, False),  # a name, not a line check
        ("Алексей", False, False),
    ],
)
def test_what_checks_the_line(text: str, check: bool, pickup: bool) -> None:
    assert is_line_check(text) is check
    assert is_pickup_greeting(text) is pickup
