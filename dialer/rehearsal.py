"""A rehearsal of a script without a call: typed answers in, the robot's lines and voice out.

It runs what a call runs on each turn — the real classifier on the answer, in the context of
what the script asked, today's date and the debt, then the real engine — on a made-up
account, so a collection team hears an edited script before a debtor does. Nothing is dialled
and nothing is stored. The rehearsal is stateless: the answers so far are replayed from the
start each time (the engine and the classifier are deterministic), so any web process can
serve the next turn.

Loading the classifier and synthesising are slow, blocking work: callers run
:meth:`RehearsalStage.run` and :meth:`RehearsalStage.wav` in a worker thread.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Final, Literal

from classifier.contract import TurnClassifier, TurnContext
from classifier.errors import ClassifierError
from classifier.model import load_classifier
from dialer.session.phrasing import RussianPhrasing, SynthesizerVoice
from dialer.session.speaker import sentences
from dialer.session.voicebank import VoiceBank
from scripts.actions import Action, End, Escalate, Listen, Say, SendMessage
from scripts.engine import Conversation
from scripts.errors import ScriptError
from scripts.events import CallAnswered, Event, Heard, Silence
from scripts.model import Script
from scripts.values import AccountVariables, LastPayment, PastPromise, ServiceDebt
from speech.audio import TELEPHONY
from speech.errors import SpeechError

__all__ = [
    "MAX_ANSWERS",
    "RehearsalLine",
    "RehearsalResult",
    "RehearsalStage",
    "RehearsalUnavailable",
    "rehearse",
]

MAX_ANSWERS: Final = 40
_OUTCOMES: Final = {
    "promise": "обещание оплатить",
    "refused": "отказ",
    "wrong_person": "не тот человек — номер помечен неверным",
    "not_debtor": "ответил не должник",
    "callback_requested": "просит перезвонить",
    "escalated": "передано специалисту",
    "completed": "разговор завершён",
    "hung_up": "абонент положил трубку",
    "no_dialogue": "разговора не было",
}


class RehearsalUnavailable(RuntimeError):
    """The classifier or the voice cannot be loaded on this machine (the message says why)."""


@dataclass(frozen=True, slots=True)
class RehearsalLine:
    """One line of the rehearsal: the robot's words, the debtor's answer, or an event."""

    speaker: Literal["robot", "debtor", "event"]
    text: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RehearsalResult:
    """The rehearsal so far: its lines, what the robot waits for (None: the call ended)."""

    lines: tuple[RehearsalLine, ...]
    asked: str | None
    outcome: str | None


def demo_account(today: dt.date, *, paid_days_ago: int = 40) -> AccountVariables:
    """A made-up account on which every variable of the shipped scripts is set (also for
    ``napomni script rehearse``, whose last payment is recent)."""
    return AccountVariables(
        organisation="управляющая компания «Уютный дом»",
        addressed_as="Иван Петрович",
        full_name="Иванов Иван Петрович",
        address="улица Ленина, дом 5, квартира 12",
        debt_total=Decimal("12480.50"),
        debt_by_service=(
            ServiceDebt("отопление", Decimal("7300.00")),
            ServiceDebt("горячая вода", Decimal("3180.50")),
            ServiceDebt("содержание дома", Decimal("2000.00")),
        ),
        months_overdue=3,
        peni=Decimal("412.30"),
        last_payment=LastPayment(today - dt.timedelta(days=paid_days_ago), Decimal("5000")),
        promises=(
            PastPromise(
                made_on=today - dt.timedelta(days=14),
                due=today - dt.timedelta(days=4),
                amount=Decimal("5000"),
                kept=False,
            ),
        ),
        payment_link="https://pay.example/ls/12345",
    )


def _describe(action: Action, phrasing: RussianPhrasing) -> RehearsalLine | None:
    match action:
        case Say(parts=parts):
            return RehearsalLine("robot", phrasing.render(parts))
        case Escalate(reason=reason, transfer=transfer):
            how = "соединить сейчас" if transfer else "в очередь специалистов"
            return RehearsalLine("event", f"передать специалисту: {reason} ({how})")
        case SendMessage(kind=kind):
            return RehearsalLine("event", f"сообщение должнику: {kind.value}")
        case End(outcome=outcome):
            words = _OUTCOMES.get(outcome.kind.value, outcome.kind.value)
            return RehearsalLine("event", f"звонок завершён: {words}")
        case _:
            return None


def rehearse(
    script: Script, answers: Sequence[str], classifier: TurnClassifier, today: dt.date
) -> RehearsalResult:
    """Replay the call with ``answers`` (an empty one is silence) and return every line."""
    variables = demo_account(today)
    conversation = Conversation(script, variables)
    phrasing = RussianPhrasing()
    lines: list[RehearsalLine] = []
    listen: Listen | None = None

    def perform(actions: list[Action]) -> None:
        nonlocal listen
        listen = None
        for action in actions:
            if isinstance(action, Listen):
                listen = action
            line = _describe(action, phrasing)
            if line is not None:
                lines.append(line)

    try:
        perform(conversation.handle(CallAnswered()))
        for answer in answers[:MAX_ANSWERS]:
            if conversation.ended or listen is None:
                break
            text = answer.strip()
            event: Event
            if not text:
                lines.append(RehearsalLine("debtor", f"(молчит {listen.timeout_s:g} с)"))
                event = Silence(listen.timeout_s)
            else:
                context = TurnContext(asked=listen.asked, today=today, debt=variables.debt_total)
                result = classifier.classify(text, context)
                lines.append(RehearsalLine("debtor", text, tuple(t.value for t in result.tags)))
                event = Heard(text, result)
            perform(conversation.handle(event))
    except ScriptError as err:
        lines.append(RehearsalLine("event", f"ошибка сценария: {err}"))
    outcome = conversation.outcome
    return RehearsalResult(
        lines=tuple(lines),
        asked=listen.asked.value if listen is not None and not conversation.ended else None,
        outcome=outcome.kind.value if outcome is not None else None,
    )


class RehearsalStage:
    """The classifier and the voice a rehearsal needs, loaded on first use and kept.

    Thread-safe; one per web process. Synthesis is serialised: a rehearsal is one person
    listening, and the machine's cores belong to the calls.
    """

    def __init__(self, models_dir: Path, voice_cache_dir: Path) -> None:
        self._models_dir = models_dir
        self._voice_cache_dir = voice_cache_dir
        self._lock = threading.Lock()
        self._voice_lock = threading.Lock()
        self._classifier: TurnClassifier | None = None
        self._bank: VoiceBank | None = None

    def classifier(self) -> TurnClassifier:
        """The trained classifier (loaded once)."""
        with self._lock:
            if self._classifier is None:
                try:
                    self._classifier = load_classifier(self._models_dir)
                except ClassifierError as err:
                    raise RehearsalUnavailable(f"классификатор не загружен: {err}") from err
            return self._classifier

    def run(self, script: Script, answers: Sequence[str], today: dt.date) -> RehearsalResult:
        """:func:`rehearse` with the stage's classifier (blocking)."""
        return rehearse(script, answers, self.classifier(), today)

    def wav(self, text: str) -> bytes:
        """The robot's voice saying ``text``: a WAV file, 8 kHz 16-bit mono (blocking)."""
        with self._voice_lock:
            if self._bank is None:
                self._voice_cache_dir.mkdir(parents=True, exist_ok=True)
                voice = SynthesizerVoice.default(self._voice_cache_dir)
                self._bank = VoiceBank(voice, threads=1, max_texts=256)
            bank = self._bank
        # Sentence by sentence, as a call says them (Festival drops a long multi-sentence text).
        try:
            pcm = b"".join(
                bank.render(s).result() for s in sentences(text) if any(c.isalpha() for c in s)
            )
        except SpeechError as err:
            raise RehearsalUnavailable(f"голос не синтезирован: {err}") from err
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(TELEPHONY.sample_rate_hz)
            wav.writeframes(pcm)
        return out.getvalue()

    def close(self) -> None:
        """Stop the voice's rendering threads."""
        with self._voice_lock:
            if self._bank is not None:
                self._bank.close()
