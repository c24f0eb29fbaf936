"""The simulated debtors of ``napomni demo`` and ``napomni bench calls``, and their voices.

Each persona answers the soft-reminder script turn by turn with its own Russian answers: a
promise, a dispute, a relative, voicemail, busy, and one who asks for a person and talks to
the demo's collector (:func:`demo_collector`, extension 201) once the robot connects them. Answers are spoken by Festival's Russian
voice (``festvox-ru``: recorded units, which recognisers understand) when it is installed,
else by espeak-ng (which Whisper base mostly mishears: measured, see README).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dialer.sandbox.debtor import DebtorBehaviour, DebtorSpec
from dialer.sandbox.errors import SandboxError
from dialer.sandbox.voices import say_to_wav
from dialer.sandbox.wavfile import read_pcm, write_pcm

__all__ = [
    "COLLECTOR_EXTENSION",
    "HELLO",
    "Persona",
    "behaviour_personas",
    "debtor_voice",
    "demo_collector",
    "personas",
    "spec_for",
]

#: The demo collector's SIP extension (their phone, registered at the demo's Kamailio).
COLLECTOR_EXTENSION = "201"

_FESTIVAL_VOICE = "voice_msu_ru_nsh_clunits"
_TIMEOUT_S = 60


def debtor_voice(text: str, cache_dir: Path) -> Path:
    """An 8 kHz s16 mono WAV of ``text`` in a human-like Russian voice (cached by text)."""
    if shutil.which("text2wave") is None or shutil.which("sox") is None:
        return say_to_wav(text, cache_dir)
    key = hashlib.sha256(f"festival|{_FESTIVAL_VOICE}|{text}".encode()).hexdigest()[:16]
    target = cache_dir / f"festival-{key}.wav"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    source = cache_dir / f"festival-{key}.txt"
    raw = cache_dir / f"festival-{key}.raw.wav"
    partial = cache_dir / f"festival-{key}.part.wav"
    source.write_text(text, encoding="utf-8")
    try:
        subprocess.run(
            ["text2wave", "-eval", f"({_FESTIVAL_VOICE})", str(source), "-o", str(raw)],
            check=True,
            capture_output=True,
            timeout=_TIMEOUT_S,
        )
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer",
             str(partial)],
            check=True,
            capture_output=True,
            timeout=_TIMEOUT_S,
        )  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        raise SandboxError(f"festival не озвучил ответ должника: {err}") from err
    finally:
        source.unlink(missing_ok=True)
        raw.unlink(missing_ok=True)
    partial.replace(target)
    return target


#: What a person says into a silent line.
HELLO = "Алло? Алло?"


@dataclass(frozen=True, slots=True)
class Persona:
    """A simulated debtor: who they are, what they say turn by turn, and how they take turns.

    Everyone answers within ``pause_s`` of a pause in the robot's speech, says «Алло?» after
    ``hello_after_s`` of silence and hangs up if the robot has said nothing
    ``hangup_silence_s`` after the answer, as people do; the behaviour personas
    (:func:`behaviour_personas`) add one habit each.
    """

    key: str
    title: str
    full_name: str
    behaviour: DebtorBehaviour
    answers: tuple[str, ...] = ()
    greeting: str | None = None
    pause_s: float = 0.3
    hello_after_s: float | None = 1.5
    hangup_silence_s: float | None = 5.0
    talk_over_s: float | None = None
    talk_over_from: int = 0
    reply_delay_s: float = 0.0
    check_line_at: int | None = None
    # Live transfer: what the debtor says once connected to a collector, after
    # ``connect_pause_s`` of silence (the robot's «Соединяю…» and the collector's ringing).
    # A collector (behaviour ``collector``) answers after ``answer_delay_s``, says its
    # greeting, listens ``listens_s`` and hangs up.
    to_collector: str | None = None
    connect_pause_s: float = 6.0
    answer_delay_s: float = 0.0
    listens_s: float = 0.0


def personas(today: dt.date) -> tuple[Persona, ...]:
    """The demo's six debtors; the promise names a day two days from ``today``."""
    from speech.russian import date_words

    day = date_words(today + dt.timedelta(days=2), "gen")
    return (
        Persona(
            "promise",
            "обещает оплатить",
            "Иванов Иван Петрович",
            "answer",
            ("Да, это я.", "Я просто забыл заплатить.", f"Заплачу {day}.", "Да, верно."),
        ),
        Persona(
            "dispute",
            "оспаривает сумму",
            "Петрова Анна Сергеевна",
            "answer",
            ("Да, это я.", "Я не согласна с суммой, это не мой долг."),
        ),
        Persona(
            "relative",
            "отвечает родственник",
            "Сидоров Павел Андреевич",
            "answer",
            ("Нет, это его сын. Отца нет дома.",),
        ),
        Persona(
            "voicemail",
            "автоответчик",
            "Козлова Мария Ивановна",
            "voicemail",
            greeting="Абонент не может ответить. Оставьте сообщение после звукового сигнала.",
        ),
        Persona("busy", "занято", "Морозов Олег Викторович", "busy"),
        Persona(
            "transfer",
            "просит специалиста",
            "Соколов Андрей Ильич",
            "answer",
            # Not «Соедините меня …»: the Festival voice says «соедините» so that Whisper base
            # hears «Сыри ни ти» and, one time in two, «аппаратуром» for «оператором»
            # (measured over G.711 at 40 onsets); this wording is heard right every time.
            ("Да, это я.", "Переключите меня на оператора, пожалуйста."),
            to_collector="Здравствуйте. Я хотел уточнить, за какие месяцы у меня долг.",
        ),
    )


def demo_collector() -> Persona:
    """The demo's collector: their phone (extension 201) rings, they answer and listen."""
    return Persona(
        "collector",
        "специалист (доб. 201)",
        "Иванова Елена Сергеевна",
        "collector",
        greeting="Здравствуйте! Специалист управляющей компании, Елена. Слушаю вас.",
        hello_after_s=None,
        hangup_silence_s=None,
        answer_delay_s=1.0,
        listens_s=7.0,
    )


def behaviour_personas(today: dt.date) -> tuple[Persona, ...]:
    """One persona per way people take turns, each with the outcome it must reach.

    ``early`` confirms who they are into the opening (over the line that cannot be
    interrupted); ``checks_line`` says «Алло? Алло?» instead of answering the identity
    question (the robot greets again); ``talks_over`` answers over the robot's questions;
    ``late`` answers each question 2.5 s after it; ``impatient`` greets, then hangs up if the
    robot is silent for 5 s (it is not: the call goes on to a promise).
    """
    day = _date_words(today + dt.timedelta(days=2))
    promise = ("Я просто забыл заплатить.", f"Заплачу {day}.", "Да, верно.")
    return (
        Persona("early", "отвечает во вступлении", "Смирнов Олег Игоревич", "answer",
                ("Да, это я.", *promise), talk_over_s=1.2),
        Persona("checks_line", "переспрашивает «алло»", "Волкова Нина Павловна", "answer",
                ("Да, это я.", *promise), check_line_at=0),
        Persona("talks_over", "перебивает робота", "Орлов Денис Сергеевич", "answer",
                ("Да, это я.", "Я не согласен с суммой, это не мой долг."),
                talk_over_s=1.0, talk_over_from=1),
        Persona("late", "отвечает с задержкой", "Лебедева Ольга Викторовна", "answer",
                ("Да, это я.", *promise), reply_delay_s=2.5),
        Persona("impatient", "нетерпеливый", "Зайцев Артём Олегович", "answer",
                ("Да, это я.", *promise), greeting="Алло.", hangup_silence_s=5.0),
    )  # fmt: skip


def _date_words(day: dt.date) -> str:
    from speech.russian import date_words

    return date_words(day, "gen")


def _padded_voice(text: str, cache_dir: Path, before_s: float, after_s: float) -> Path:
    """:func:`debtor_voice` with silence before and after (cached by text and pauses)."""
    spoken = debtor_voice(text, cache_dir)
    target = spoken.with_name(f"{spoken.stem}-{before_s:g}-{after_s:g}.wav")
    if not target.exists():
        silence = bytes(int(8000 * before_s) * 2), bytes(int(8000 * after_s) * 2)
        write_pcm(target, silence[0] + read_pcm(spoken) + silence[1])
    return target


def spec_for(persona: Persona, user: str, cache_dir: Path) -> DebtorSpec:
    """The sandbox debtor (or collector) that plays ``persona`` as SIP user ``user``."""
    answers = [str(debtor_voice(a, cache_dir)) for a in persona.answers]
    if persona.to_collector:
        answers.append(
            str(_padded_voice(persona.to_collector, cache_dir, persona.connect_pause_s, 0.0))
        )
    collector = persona.behaviour == "collector"
    greeting = None
    if persona.greeting and collector:
        greeting = str(_padded_voice(persona.greeting, cache_dir, 0.3, persona.listens_s))
    elif persona.greeting:
        greeting = str(debtor_voice(persona.greeting, cache_dir))
    return DebtorSpec(
        user=user,
        behaviour=persona.behaviour,
        greeting=greeting,
        answers=tuple(answers),
        hangup_after_greeting=collector,
        answer_delay_s=persona.answer_delay_s,
        pause_s=persona.pause_s,
        hello=str(debtor_voice(HELLO, cache_dir)) if persona.behaviour == "answer" else None,
        hello_after_s=persona.hello_after_s,
        hangup_silence_s=persona.hangup_silence_s,
        talk_over_s=persona.talk_over_s,
        talk_over_from=persona.talk_over_from,
        reply_delay_s=persona.reply_delay_s,
        check_line_at=persona.check_line_at,
    )
