"""Nothing is made at answer time: every sentence before dialling, values from number words."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from decimal import Decimal

from classifier.contract import Classification, Tag
from dialer.runner import ScriptBook
from dialer.session.phrasing import RussianPhrasing
from dialer.session.speaker import Speaker, sentences, text_pieces
from dialer.session.voicebank import VoiceBank
from scripts.actions import Say
from scripts.engine import Conversation
from scripts.events import CallAnswered, Heard
from scripts.values import WEEKDAY_WORDS, AccountVariables, weekday_word
from speech.russian import amount_words, count_words, date_words, spoken_vocabulary
from tests.dialer.session.standins import ToneVoice

ACCOUNT = AccountVariables(
    organisation="УК Уютный дом",
    addressed_as="Иван Петрович",
    full_name="Иванов Иван Петрович",
    address="улица Ленина, дом пять",
    debt_total=Decimal("12480.50"),
)
VOCABULARY = spoken_vocabulary() | WEEKDAY_WORDS


class SlowVoice(ToneVoice):
    """A tone voice that takes ``seconds`` per sentence, like Festival on a busy machine."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> bytes:
        time.sleep(self.seconds)
        with self._lock:
            return super().synthesize(text)


def _said(actions: list[object]) -> list[Say]:
    return [a for a in actions if isinstance(a, Say)]


async def test_after_prepare_no_line_of_the_call_is_synthesised() -> None:
    voice = SlowVoice(0.01)
    bank = VoiceBank(voice, VOCABULARY)
    conversation = Conversation(ScriptBook().get("soft_reminder"), ACCOUNT)
    speaker = Speaker(bank, RussianPhrasing())
    made = await speaker.prepare(conversation.script_lines())
    assert made == len(set(voice.lines) - VOCABULARY) > 10
    before = len(voice.lines)
    # The call: the opening, «да, это я», «забыл», then a date: the read-back names a weekday,
    # a date and a sum nobody knew before the call.
    lines = _said(conversation.handle(CallAnswered()))
    lines += _said(conversation.handle(Heard("да", Classification({Tag.CONFIRM: 0.9}))))
    lines += _said(conversation.handle(Heard("забыл", Classification({Tag.UNAWARE: 0.9}))))
    promise = Classification(
        {Tag.PROMISE_TO_PAY: 0.9},
        promise_date=dt.date(2026, 11, 25),
        promise_amount=Decimal("4231.41"),
    )
    lines += _said(conversation.handle(Heard("двадцать пятого", promise)))
    assert any("Итак" in RussianPhrasing().render(s.parts) for s in lines)
    for say in lines:
        pieces = speaker.line(say.parts)
        assert all(piece.done() for piece in pieces), RussianPhrasing().render(say.parts)
        assert all(len(piece.result()) > 0 for piece in pieces)
    assert len(voice.lines) == before  # nothing synthesised during the call
    bank.close()


async def test_a_sentence_is_made_once_for_every_call_of_the_process() -> None:
    voice = ToneVoice()
    bank = VoiceBank(voice, ())
    conversation = Conversation(ScriptBook().get("soft_reminder"), ACCOUNT)
    first = await Speaker(bank, RussianPhrasing()).prepare(conversation.script_lines())
    other = AccountVariables(
        organisation="УК Уютный дом",
        addressed_as="Анна Сергеевна",
        full_name="Петрова Анна Сергеевна",
        address="улица Мира, дом два",
        debt_total=Decimal("900"),
    )
    second_conversation = Conversation(ScriptBook().get("soft_reminder"), other)
    second = await Speaker(bank, RussianPhrasing()).prepare(second_conversation.script_lines())
    # Only the sentences naming the second debtor are new.
    assert 0 < second < first
    assert len(voice.lines) == len(set(voice.lines))
    bank.close()


def test_the_script_lines_cut_at_what_the_debtor_has_yet_to_say() -> None:
    conversation = Conversation(ScriptBook().get("soft_reminder"), ACCOUNT)
    texts = text_pieces(conversation.script_lines())
    assert "Итак, вы оплатите" in texts  # the read-back's words around the promised values
    assert "Верно?" in texts
    assert "Подскажите, пожалуйста, это Иванов Иван Петрович?" in texts
    assert not any("{" in t or "<" in t for t in texts)
    assert sentences("Добрый день. Это проверка!  Верно?") == [
        "Добрый день.",
        "Это проверка!",
        "Верно?",
    ]


def test_every_amount_date_weekday_and_count_is_said_from_words_made_once() -> None:
    rng = random.Random(7)
    cases = ("nom", "gen", "dat", "acc", "ins", "loc")
    day0 = dt.date(2026, 1, 1)
    for _ in range(3000):
        case = rng.choice(cases)
        amount = Decimal(rng.choice([rng.randrange(0, 10**4), rng.randrange(0, 10**8)])) / 100
        day = day0 + dt.timedelta(days=rng.randrange(0, 3 * 366))
        said = " ".join(
            [
                amount_words(amount, case),  # type: ignore[arg-type]
                date_words(day, case),  # type: ignore[arg-type]
                weekday_word(day, case),  # type: ignore[arg-type]
                count_words(rng.randrange(0, 400), "месяц", case),  # type: ignore[arg-type]
            ]
        )
        missing = set(said.split()) - VOCABULARY
        assert not missing, (said, missing)


async def test_number_words_are_joined_without_synthesis() -> None:
    voice = ToneVoice()
    bank = VoiceBank(voice, VOCABULARY)
    bank.start().result(timeout=60)
    count = len(voice.lines)
    audio = bank.words("двадцать пятого ноября")
    assert len(audio) > 0
    assert len(voice.lines) == count
    assert bank.knows("среду")
    bank.close()
