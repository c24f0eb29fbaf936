"""Ready-made simulated debtors for the demo: Russian answers turn by turn.

Each persona is a greeting and a list of answers (one per robot turn), synthesized with
espeak-ng into a cache directory. ``busy`` rejects with 486; ``voicemail`` answers with a
long operator announcement and stays silent, as a voicemail box does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dialer.sandbox.debtor import DebtorBehaviour, DebtorSpec
from dialer.sandbox.voices import say_to_wav

__all__ = ["PERSONAS", "Persona", "debtor_for"]


@dataclass(frozen=True, slots=True)
class Persona:
    """What a simulated debtor says and does."""

    behaviour: DebtorBehaviour
    greeting: str = ""
    answers: tuple[str, ...] = ()


PERSONAS: Mapping[str, Persona] = {
    "promise": Persona(
        "answer",
        "Алло, слушаю.",
        (
            "Да, это я.",
            "Да, знаю про долг. Заплачу двадцать пятого числа, всю сумму.",
            "Да, всё верно. До свидания.",
        ),
    ),
    "dispute": Persona(
        "answer",
        "Алло.",
        (
            "Да, я.",
            "Я не согласен с долгом, я всё оплатил в прошлом месяце, у меня есть квитанция.",
            "Нет, платить не буду, пока не сделаете перерасчёт.",
        ),
    ),
    "relative": Persona(
        "answer",
        "Алло, кто это?",
        (
            "Нет, это его жена. Его сейчас нет дома.",
            "Хорошо, я ему передам, пусть перезвонит.",
        ),
    ),
    "voicemail": Persona(
        "voicemail",
        "Абонент не может ответить на ваш звонок. Оставьте сообщение после звукового сигнала.",
    ),
    "busy": Persona("busy"),
}


def debtor_for(user: str, persona: str, voices_dir: Path) -> DebtorSpec:
    """A debtor spec for the sandbox from a persona name (answers synthesized and cached)."""
    try:
        chosen = PERSONAS[persona]
    except KeyError as err:
        raise ValueError(f"нет такого персонажа {persona!r}: {', '.join(PERSONAS)}") from err
    greeting = str(say_to_wav(chosen.greeting, voices_dir)) if chosen.greeting else None
    answers = tuple(str(say_to_wav(text, voices_dir)) for text in chosen.answers)
    return DebtorSpec(user=user, behaviour=chosen.behaviour, greeting=greeting, answers=answers)
