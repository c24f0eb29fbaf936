"""Text-to-speech engines for the robot's lines: Festival's Russian voice, espeak-ng.

Festival with Debian's ``festvox-ru`` (a unit-selection voice cut from real recordings) is
the default when installed: on a phone line Whisper base transcribes it word for word,
while espeak-ng's Russian mostly comes back as noise (measured here; see README, speech).
espeak-ng is always there and says anything, so it is the fallback.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from speech.audio import Audio, AudioFormat, read_wav
from speech.errors import SpeechError, SynthesisError

__all__ = ["EspeakTts", "FestivalTts", "TtsEngine", "default_tts"]

# Festival's Russian letter-to-sound rules know Cyrillic and punctuation only.
_DASHES = re.compile(r"[—–]")
_LATIN = re.compile(r"[A-Za-z]")
_FESTIVAL_UNSAYABLE = re.compile(r"[^а-яёА-ЯЁ .,?!]")
_FESTIVAL_RU_VOICES = Path("/usr/share/festival/voices/russian")


class TtsEngine(Protocol):
    """Renders any Russian text; ``voice`` names the voice (part of the cache key)."""

    @property
    def voice(self) -> str:
        """Stable name of the voice and its settings."""
        ...

    def render(self, text: str) -> Audio:
        """Audio of ``text`` (any format; the synthesizer converts it)."""
        ...


@dataclass(frozen=True, slots=True)
class EspeakTts:
    """espeak-ng from Debian: robotic but always there."""

    language: str = "ru"
    speed_wpm: int = 150
    timeout_s: float = 30.0

    @property
    def voice(self) -> str:
        """The espeak-ng voice and speed."""
        return f"espeak-ng:{self.language}:{self.speed_wpm}"

    def render(self, text: str) -> Audio:
        """Run espeak-ng and read the WAV it writes to stdout."""
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise SynthesisError("espeak-ng не установлен (apt-get install espeak-ng)")
        try:
            done = subprocess.run(
                [binary, "-v", self.language, "-s", str(self.speed_wpm), "--stdout", text],
                capture_output=True,
                check=True,
                timeout=self.timeout_s,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
            raise SynthesisError(f"espeak-ng не смог озвучить фразу: {err}") from err
        return _wav_bytes(done.stdout)


def _wav_bytes(data: bytes) -> Audio:
    """espeak-ng's stdout WAV: its length fields are left unfilled, so read to the end."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            fmt = AudioFormat(wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
    except (wave.Error, EOFError) as err:
        raise SynthesisError(f"TTS вернул не WAV: {err}") from err
    data_at = data.find(b"data")
    if data_at < 0:
        raise SynthesisError("TTS вернул WAV без блока данных")
    pcm = data[data_at + 8 :]
    block = fmt.channels * fmt.sample_width_bytes
    return Audio(fmt, pcm[: len(pcm) - len(pcm) % block])


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
            _FESTIVAL_RU_VOICES.glob("msu_ru_nsh_clunits*")
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
