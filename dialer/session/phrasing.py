"""Russian words for a script's lines and the robot's voice, from :mod:`speech`."""

from __future__ import annotations

from pathlib import Path

from scripts.values import Amount, Count, DateValue, Part, Weekday, weekday_word
from speech.russian import amount_words, count_words, date_words
from speech.synthesis import Synthesizer
from speech.tts import default_tts

__all__ = ["RussianPhrasing", "SynthesizerVoice"]


class RussianPhrasing:
    """Renders amounts, dates and counts in the case the script's template asked for."""

    def render(self, parts: tuple[Part, ...]) -> str:
        """The line in words («долг — двенадцать тысяч рублей»)."""
        out: list[str] = []
        for part in parts:
            match part:
                case str():
                    out.append(part)
                case Amount(value=value, case=case):
                    out.append(amount_words(value, case))
                case DateValue(value=value, case=case):
                    out.append(date_words(value, case))
                case Count(value=value, noun=noun, case=case):
                    out.append(count_words(value, noun, case))
                case Weekday(value=value, case=case):
                    out.append(weekday_word(value, case))
        return "".join(out)


class SynthesizerVoice:
    """The robot's voice: :class:`speech.synthesis.Synthesizer` (prompts, espeak-ng, disk cache)."""

    def __init__(self, synthesizer: Synthesizer) -> None:
        self._synthesizer = synthesizer

    @classmethod
    def default(cls, cache_dir: Path) -> SynthesizerVoice:
        """Festival (else espeak-ng) for whole lines, cached on disk.

        Asterisk's recorded fragments are not mixed in: a line spliced from two voices is
        harder to follow than one synthetic voice (recorded whole prompts still win).
        """
        # Festival's warm processes start on first use, not here: started at load (three
        # processes loading the voice at once) they took the two cores just as the calls were
        # set up, and in 2 of 2 demo runs one or two answered calls' 200 OK was never handled
        # (no_answer at the 30 s ring timeout); without it 2 of 2 runs were right. The opening
        # is made ahead while the phone rings anyway.
        return cls(Synthesizer(default_tts(), None, cache_dir))

    def synthesize(self, text: str) -> bytes:
        """8 kHz s16le mono audio of ``text``."""
        return self._synthesizer.synthesize(text)
