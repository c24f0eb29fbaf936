"""Turn-taking: which of the debtor's utterances answer the robot, and when.

The script engine answers whatever it is given against the question it is at; this module
decides what it is given. The rules (each has a test in ``tests/dialer/session``):

1. **The pickup greeting is not an answer.** A greeting said before the robot's first
   sentence has ended («Алло», «Да?», «Слушаю», «Алло, кто это?») was said before they heard
   who calls: it is ignored — a «да» at pickup must never confirm identity and let the debt
   be told to whoever picked up.
2. **Nothing said is dropped.** An utterance that ends while a line that cannot be
   interrupted is playing (who calls, that the call is recorded) is *held*; when that line
   ends, before the robot says anything more, it is handled as the answer to the question
   the robot was about to ask. So «да, это я» said into the opening answers the identity
   question, and the robot does not ask it again.
3. **Checking the line is not an answer.** An utterance that only checks the line («Алло?
   Алло?», «Кто это?», «Вас не слышно») while the robot is silent and waiting gets the
   greeting again before identity is confirmed, the current question again afterwards
   (:class:`scripts.events.Hello`) — never a «не расслышала» and never counted as
   misunderstood. Said while the robot is speaking, it is ignored: they hear it now.
4. **The robot does not start over the debtor.** Before a line (other than the first, which
   goes out at answer) the robot waits while the debtor is speaking — at most
   ``yield_max_s`` — so a late answer lands as the answer to the question it follows, not
   to a line the robot started over it.
5. **Barge-in** stops an interruptible line at once (``stop_playback()``); the answer then
   answers the question the engine is at. Debt details are never said before identity is
   confirmed (the engine's rule, unchanged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["TurnKind", "TurnTaking", "is_line_check", "is_pickup_greeting"]

_WORD: Final = re.compile(r"[а-яё]+")
# Words of «is anyone there?»: hello, who is it, I cannot hear you.
_LINE_CHECK: Final = frozenset(
    {
        "алло", "ало", "алле", "алё", "але", "аллё", "алло-алло",
        "здравствуйте", "здрасьте", "здрасте", "здравствуй", "добрый", "день", "вечер", "утро",
        "кто", "это", "звонит", "говорит", "вас", "тебя", "не", "ничего", "слышно", "слышу",
        "плохо", "говорите", "ау", "эй", "есть", "там",
    }
)  # fmt: skip
# Said on picking up before hearing anything; «да» and «слушаю» answer only after that.
_PICKUP: Final = _LINE_CHECK | {"да", "слушаю", "слушаем", "ну", "на", "связи", "вам"}
# «Алло» as recognisers hear it on a phone line: Whisper base made of a quiet «Алло? Алло?»
# «алюму», «аллуно», «алму», «алма», «алину», «алле», «ало-ало» — any short «ал…» word. Names
# that look like it stay names («это Алла» answers who is there).
_ALLO: Final = re.compile(r"^ал+[а-яё]{0,4}$")
_NAMES_LIKE_ALLO: Final = frozenset({"алла", "алина", "алиса", "алик", "алан", "алсу"})
# «кто это?» checks the line; «это я» answers who they are.
_SELF: Final = re.compile(r"\bэто\s+я\b|\bя\s+слушаю\b")


def _words(text: str) -> list[str]:
    words = _WORD.findall(text.lower().replace("ё", "е"))
    return [
        "алло" if _ALLO.match(word) and word not in _NAMES_LIKE_ALLO else word for word in words
    ]


def is_line_check(text: str) -> bool:
    """Whether ``text`` only checks the line («Алло? Алло?», «Кто это?», «Вас не слышно»)."""
    words = _words(text)
    normal = " ".join(words)
    return bool(words) and set(words) <= _LINE_CHECK and not _SELF.search(normal)


def is_pickup_greeting(text: str) -> bool:
    """Whether ``text`` is what people say on picking up («Алло, слушаю», «Да?»)."""
    words = _words(text)
    normal = " ".join(words)
    return bool(words) and set(words) <= _PICKUP and not _SELF.search(normal)


class TurnKind(StrEnum):
    """What a final utterance is to the dialogue."""

    ANSWER = "answer"  # classify it and give it to the engine now
    HOLD = "hold"  # keep it until the line that cannot be interrupted has ended
    HELLO = "hello"  # the debtor checks the line into the robot's silence
    IGNORE = "ignore"  # a pickup greeting, or a line check while the robot speaks


@dataclass(slots=True)
class TurnTaking:
    """The rules above for one call; fed the robot's state, asked about each utterance.

    Times are seconds of the call's audio from the answer (stream time), so a recogniser
    that falls behind does not move them.
    """

    yield_max_s: float = 1.5
    #: When the robot's first sentence ended (stream time); None while it is still going.
    first_sentence_end_s: float | None = None

    def robot_first_sentence(self, started_s: float, duration_s: float) -> None:
        """The robot's first sentence went out at ``started_s`` and lasts ``duration_s``."""
        if self.first_sentence_end_s is None:
            self.first_sentence_end_s = started_s + duration_s

    def classify(
        self,
        text: str,
        *,
        started_s: float,
        robot_speaking: bool,
        robot_interruptible: bool,
        robot_waiting: bool,
    ) -> TurnKind:
        """What to do with an utterance heard from ``started_s`` (stream time).

        ``robot_speaking``: a line is playing (``robot_interruptible`` tells which kind);
        ``robot_waiting``: nothing is playing or queued and the script listens for an answer.
        """
        first_end = self.first_sentence_end_s
        if (first_end is None or started_s < first_end) and is_pickup_greeting(text):
            return TurnKind.IGNORE
        if is_line_check(text):
            return TurnKind.HELLO if robot_waiting else TurnKind.IGNORE
        if robot_speaking and not robot_interruptible:
            return TurnKind.HOLD
        return TurnKind.ANSWER
