"""The robot's lines made ahead of time: each sentence once per call, shared with the live line."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from dialer.runner import ScriptBook
from dialer.session.phrasing import RussianPhrasing
from dialer.session.speaker import Speaker, sentences
from scripts.engine import Conversation
from scripts.events import CallAnswered
from scripts.values import AccountVariables
from tests.dialer.session.standins import ToneVoice

ACCOUNT = AccountVariables(
    organisation="УК Уютный дом",
    addressed_as="Иван Петрович",
    full_name="Иванов Иван Петрович",
    address="улица Ленина, дом пять",
    debt_total=Decimal("12480.50"),
)


class SlowVoice(ToneVoice):
    """A tone voice that takes ``seconds`` per sentence, like Festival starting up."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> bytes:
        time.sleep(self.seconds)
        with self._lock:
            return super().synthesize(text)


async def test_the_next_lines_are_made_while_the_debtor_speaks() -> None:
    voice = SlowVoice(0.05)
    conversation = Conversation(ScriptBook().get("soft_reminder"), ACCOUNT)
    conversation.handle(CallAnswered())
    with ThreadPoolExecutor(2) as pool:
        speaker = Speaker(voice, RussianPhrasing(), pool)
        speaker.prepare(conversation.upcoming_lines())
        for _ in range(400):
            await asyncio.sleep(0.05)
            if speaker._ahead is None or speaker._ahead.done():
                break
        made = list(voice.lines)
        # The debt line follows «да, это я»: its words (the account's sum) are made already.
        debt_line = next(t for t in made if "двенадцать тысяч" in t)
        audio = speaker.sentence(debt_line)
        assert audio.done()
        assert len(await audio) > 0
        assert voice.lines == made  # nothing made twice
        assert len(made) == len(set(made)) == speaker.made_ahead


async def test_a_line_said_before_it_is_made_waits_for_the_same_rendering() -> None:
    voice = SlowVoice(0.3)
    with ThreadPoolExecutor(1) as pool:
        speaker = Speaker(voice, RussianPhrasing(), pool)
        speaker.prepare([("Добрый день. Это проверка.",)])
        await asyncio.sleep(0.05)  # the first sentence is being made ahead
        first, second = (speaker.sentence(s) for s in sentences("Добрый день. Это проверка."))
        first.cancel()  # a barge-in cuts the line: the shared rendering goes on
        await asyncio.sleep(0.4)
        assert speaker.sentence("Добрый день.").done()
        assert len(await second) > 0
        speaker.close()
    assert sorted(voice.lines) == ["Добрый день.", "Это проверка."]


def test_the_opening_then_the_answers_branches_are_known_ahead() -> None:
    conversation = Conversation(ScriptBook().get("soft_reminder"), ACCOUNT)
    phrasing = RussianPhrasing()
    opening = [phrasing.render(line) for line in conversation.upcoming_lines()]
    assert any("Иванов Иван Петрович" in text for text in opening)
    conversation.handle(CallAnswered())
    ahead = [phrasing.render(line) for line in conversation.upcoming_lines()]
    assert any("двенадцать тысяч" in text for text in ahead)
    assert any("не расслышала" in text for text in ahead)  # the repeat
    assert not any("{" in text for text in ahead)
