"""Text-to-speech engines for the robot's lines: Festival's Russian voice, espeak-ng.

Festival with Debian's ``festvox-ru`` (a unit-selection voice cut from real recordings) is
the default when installed: on a phone line Whisper base transcribes it word for word,
while espeak-ng's Russian mostly comes back as noise (measured here; see README, speech).
espeak-ng is always there and says anything, so it is the fallback.
"""

from __future__ import annotations

import atexit
import io
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
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
        """Say ``text`` with a warm Festival (else ``text2wave``); a line it cannot say
        (Latin letters, symbols) goes to espeak-ng."""
        spoken = _FESTIVAL_UNSAYABLE.sub(" ", _DASHES.sub(",", text)).strip()
        try:
            if not spoken or _LATIN.search(text):
                raise SynthesisError("festival не читает латиницу")
            return self._festival(spoken)
        except SynthesisError:
            return EspeakTts().render(text)

    def _festival(self, text: str) -> Audio:
        warm = _WARM.take(self.festival_voice)
        if warm is not None:
            try:
                audio = warm.say(text, self.timeout_s)
            except (OSError, SpeechError, TimeoutError, ValueError):
                # A process in an unknown state is not reused; text2wave says it below.
                _WARM.discard(self.festival_voice, warm)
            else:
                _WARM.give_back(self.festival_voice, warm)
                return audio
        return self._text2wave(text)

    def _text2wave(self, text: str) -> Audio:
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


_WARM_UP = (
    "Здравствуйте. Итак, вы оплатите четыре тысячи двести тридцать один рубль сорок одну "
    "копейку до среды, двадцать пятого ноября. Верно? Ноль, два, три, пять, шесть, семь, "
    "восемь, девять, десять, одиннадцать, двенадцать, двадцать, тридцать, сорок, пятьдесят, "
    "шестьдесят, семьдесят, восемьдесят, девяносто, сто, двести, триста, пятьсот, тысяча. "
    "Января, февраля, марта, апреля, мая, июня, июля, августа, сентября, октября, декабря. "
    "Понедельник, вторник, четверг, пятница, суббота, воскресенье. Спасибо, всего доброго!"
)


class _WarmFestival:
    """One ``festival --pipe`` process with the voice loaded, used by one thread at a time.

    ``text2wave`` starts Festival and loads the voice for every sentence: ≈0.45 s of a
    0.65 s sentence here, while a warm process says the same sentence in 0.05–0.2 s.
    """

    def __init__(self, voice: str, timeout_s: float) -> None:
        self._work = tempfile.TemporaryDirectory(prefix="napomni-festival-")
        self._process = subprocess.Popen(
            ["festival", "--pipe"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C there reaches the whole group, and
            # festival takes SIGINT as "abandon the command" without a reply, so a render in
            # flight waited out its timeout and interpreter exit waited for it. Festival ends
            # when its stdin closes, so it never outlives its owner.
            start_new_session=True,
        )
        self._count = 0
        self._run(f"({voice})", timeout_s)
        # The voice loads its units lazily: the first long sentence in a new process takes
        # 0.5–0.8 s more than the next ones (measured). Say a rich one before any real line.
        self.say(_WARM_UP, timeout_s)

    def say(self, text: str, timeout_s: float) -> Audio:
        target = Path(self._work.name) / "speech.wav"
        target.unlink(missing_ok=True)
        # ``text`` holds Cyrillic letters, spaces and .,?! only (_FESTIVAL_UNSAYABLE).
        self._run(
            f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{target}" \'riff)', timeout_s
        )
        return read_wav(target)

    def _run(self, command: str, timeout_s: float) -> None:
        process = self._process
        if process.stdin is None or process.stdout is None or process.poll() is not None:
            raise SynthesisError("festival завершился")
        self._count += 1
        marker = f"napomni-done-{self._count}".encode()
        process.stdin.write(
            f'{command}\n(format t "%s\\n" "{marker.decode()}")(fflush nil)\n'.encode()
        )
        process.stdin.flush()
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([process.stdout], [], [], left)[0]:
                raise TimeoutError("festival не ответил вовремя")
            line = process.stdout.readline()
            if not line:
                raise SynthesisError("festival завершился")
            if line.strip() == marker:
                return

    def close(self) -> None:
        process = self._process
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        self._work.cleanup()


class _WarmFestivals:
    """Warm processes by voice; a thread takes an idle one and gives it back.

    Up to ``enough`` processes are started on demand; past that a thread waits (at most
    ``wait_s``) for one to come back, which costs less than starting one (0.4 s and the
    voice's warm-up, on cores the calls need).
    """

    enough = 3
    wait_s = 1.0
    max_idle = 6

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._idle: dict[str, list[_WarmFestival]] = {}
        self._alive: dict[str, int] = {}
        self._broken = False

    def take(self, voice: str) -> _WarmFestival | None:
        with self._ready:
            deadline = time.monotonic() + self.wait_s
            idle = self._idle.setdefault(voice, [])
            while not idle and not self._broken and self._alive.get(voice, 0) >= self.enough:
                left = deadline - time.monotonic()
                if left <= 0 or not self._ready.wait(left):
                    break
            if self._broken:
                return None
            if idle:
                return idle.pop()
            self._alive[voice] = self._alive.get(voice, 0) + 1
        try:
            return _WarmFestival(voice, timeout_s=30.0)
        except (OSError, SpeechError, TimeoutError):
            with self._ready:
                self._alive[voice] -= 1
                self._broken = True  # this Festival cannot run in pipe mode: text2wave only
            return None

    def give_back(self, voice: str, warm: _WarmFestival) -> None:
        with self._ready:
            idle = self._idle.setdefault(voice, [])
            if len(idle) < self.max_idle:
                idle.append(warm)
                self._ready.notify()
                return
        self.discard(voice, warm)

    def discard(self, voice: str, warm: _WarmFestival) -> None:
        warm.close()
        with self._ready:
            self._alive[voice] -= 1
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            for idle in self._idle.values():
                for warm in idle:
                    warm.close()
            self._idle.clear()
            self._alive.clear()


_WARM = _WarmFestivals()
atexit.register(_WARM.close)


def default_tts() -> TtsEngine:
    """Festival's Russian voice when installed, else espeak-ng."""
    return FestivalTts() if FestivalTts.available() else EspeakTts()
