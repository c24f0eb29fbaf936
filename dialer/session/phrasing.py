"""Russian words for a script's lines and the robot's voice, from :mod:`speech`."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts.values import Amount, Count, DateValue, Part
from speech.audio import Audio, read_wav
from speech.errors import SpeechError, SynthesisError
from speech.russian import amount_words, count_words, date_words
from speech.synthesis import EspeakTts, Synthesizer, TtsEngine

# Festival's Russian letter-to-sound rules know Cyrillic and punctuation only.
_DASHES = re.compile(r"[—–]")
_LATIN = re.compile(r"[A-Za-z]")
_FESTIVAL_UNSAYABLE = re.compile(r"[^а-яёА-ЯЁ .,?!]")

__all__ = ["FestivalTts", "RussianPhrasing", "SynthesizerVoice", "default_tts"]


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
        return "".join(out)


@dataclass(frozen=True, slots=True)
class FestivalTts:
    """Festival with its Russian voice (Debian ``festvox-ru``): recorded units, far clearer
    than espeak-ng on a phone line — Whisper base transcribes it word for word, espeak-ng
    mostly not (measured on this machine; see README)."""

    festival_voice: str = "voice_msu_ru_nsh_clunits"
    timeout_s: float = 60.0

    @staticmethod
    def available() -> bool:
        """Whether ``text2wave`` and the Russian voice are installed."""
        return shutil.which("text2wave") is not None and any(
            Path("/usr/share/festival/voices/russian").glob("msu_ru_nsh_clunits*")
        )

    @property
    def voice(self) -> str:
        """The Festival voice (part of the synthesis cache key)."""
        return f"festival:{self.festival_voice}"

    def render(self, text: str) -> Audio:
        """Run ``text2wave``; a line it cannot say (Latin letters, symbols) goes to espeak-ng."""
        spoken = _FESTIVAL_UNSAYABLE.sub(" ", _DASHES.sub(",", text)).strip()
        try:
            if not spoken or _LATIN.search(text):
                raise SynthesisError("festival не читает латиницу")
            return self._festival(spoken)
        except SynthesisError:
            return EspeakTts().render(text)

    def _festival(self, text: str) -> Audio:
        with tempfile.TemporaryDirectory(prefix="napomni-festival-") as work:
            source, target = Path(work) / "text.txt", Path(work) / "speech.wav"
            source.write_text(text, encoding="utf-8")
            try:
                subprocess.run(
                    ["text2wave", "-eval", f"({self.festival_voice})", str(source), "-o",
                     str(target)],
                    check=True,
                    capture_output=True,
                    timeout=self.timeout_s,
                )  # fmt: skip
                return read_wav(target)
            except (
                subprocess.CalledProcessError,
                subprocess.TimeoutExpired,
                OSError,
                SpeechError,
            ) as err:
                raise SynthesisError(f"festival не озвучил фразу: {err}") from err


def default_tts() -> TtsEngine:
    """Festival's Russian voice when installed, else espeak-ng."""
    return FestivalTts() if FestivalTts.available() else EspeakTts()


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
        return cls(Synthesizer(default_tts(), None, cache_dir))

    def synthesize(self, text: str) -> bytes:
        """8 kHz s16le mono audio of ``text``."""
        return self._synthesizer.synthesize(text)
