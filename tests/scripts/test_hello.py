"""«Алло? Алло?» into the robot's silence: greet again (or ask again), never «не расслышала»."""

from __future__ import annotations

from decimal import Decimal

from classifier.contract import Classification, Tag
from scripts.actions import Listen, Say
from scripts.engine import Conversation
from scripts.events import CallAnswered, Heard, Hello
from scripts.loader import library_script, load_script
from scripts.values import AccountVariables, spoken_text

ACCOUNT = AccountVariables(
    organisation="УК Уютный дом",
    addressed_as="Иван Петрович",
    full_name="Иванов Иван Петрович",
    address="улица Ленина, дом пять",
    debt_total=Decimal("1200"),
)


def _texts(actions: list[object]) -> list[str]:
    return [spoken_text(a.parts) for a in actions if isinstance(a, Say)]


def test_before_identity_the_robot_greets_again_and_asks_again() -> None:
    conversation = Conversation(load_script(library_script("soft_reminder")), ACCOUNT)
    conversation.handle(CallAnswered())
    again = conversation.handle(Hello())
    texts = _texts(again)
    assert texts[0].startswith("Здравствуйте!")
    assert "это Иванов Иван Петрович?" in texts[-1]
    assert isinstance(again[-1], Listen)
    # Not counted as misunderstood: two hellos and a non-answer do not give up.
    conversation.handle(Hello())
    after = conversation.handle(Heard("ммм", Classification()))
    assert not any("не удаётся" in t for t in _texts(after))


def test_after_identity_the_robot_asks_its_question_again() -> None:
    conversation = Conversation(load_script(library_script("soft_reminder")), ACCOUNT)
    conversation.handle(CallAnswered())
    conversation.handle(Heard("да", Classification({Tag.CONFIRM: 0.9})))
    texts = _texts(conversation.handle(Hello()))
    assert not any(t.startswith("Здравствуйте") for t in texts)
    assert any("помешало" in t for t in texts)


def test_endless_hellos_end_as_misunderstood() -> None:
    conversation = Conversation(load_script(library_script("soft_reminder")), ACCOUNT)
    conversation.handle(CallAnswered())
    texts: list[str] = []
    for _ in range(6):
        texts += _texts(conversation.handle(Hello()))
    assert any("не удаётся" in t for t in texts)
