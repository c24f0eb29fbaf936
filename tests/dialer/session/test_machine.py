"""Voicemail and operator announcements told from a person, by words and by a monologue."""

from __future__ import annotations

import pytest

from dialer.session.machine import MachineDetector, detect_announcement
from scripts.events import MachineKind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Абонент не может ответить. Оставьте сообщение после сигнала", MachineKind.VOICEMAIL),
        ("оставьте ваше сообщение", MachineKind.VOICEMAIL),
        ("говорите после звукового сигнала", MachineKind.VOICEMAIL),
        ("вы позвонили на автоответчик", MachineKind.VOICEMAIL),
        ("абонент сейчас не может ответить", MachineKind.ANNOUNCEMENT),
        (
            "аппарат абонента выключен или находится вне зоны действия сети",
            MachineKind.ANNOUNCEMENT,
        ),
        ("Абонент временно недоступен, перезвоните позднее", MachineKind.ANNOUNCEMENT),
        ("номер набран неверно", MachineKind.ANNOUNCEMENT),
    ],
)
def test_announcements_are_recognised(text: str, kind: MachineKind) -> None:
    assert detect_announcement(text) is kind


@pytest.mark.parametrize(
    "text",
    ["алло", "да это я", "я не могу сейчас говорить", "оплачу после зарплаты", "", "сигнал плохой"],
)
def test_people_are_not_machines(text: str) -> None:
    assert detect_announcement(text) is None


def test_long_first_monologue_is_a_machine_while_it_goes_on() -> None:
    detector = MachineDetector(monologue_s=5.0)
    detector.speech_started(10.0)
    assert detector.still_talking(14.0) is None
    assert detector.still_talking(15.5) is MachineKind.VOICEMAIL


def test_only_the_first_utterance_can_be_a_monologue() -> None:
    detector = MachineDetector(monologue_s=5.0)
    detector.speech_started(0.0)
    assert detector.utterance("алло", 0.8) is None
    detector.speech_started(3.0)
    assert detector.still_talking(20.0) is None
    assert detector.utterance("я тут долго рассказываю про свою жизнь", 9.0) is None


def test_an_utterance_the_recogniser_lost_still_counts() -> None:
    detector = MachineDetector(monologue_s=5.0)
    detector.speech_started(0.0)
    detector.speech_lost()
    detector.speech_started(8.0)
    assert detector.still_talking(20.0) is None


def test_once_a_person_answered_nothing_is_a_machine() -> None:
    detector = MachineDetector()
    detector.person_confirmed()
    assert detector.utterance("оставьте сообщение после сигнала", 1.0) is None
