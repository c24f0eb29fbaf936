"""The SIP bench for tests: Kamailio, simulated debtors and sipp on 127.0.0.1.

Session-scoped and synchronous (plain processes), so every test and every adapter shares
one registrar and one debtor process; robots (async) are made per test. Ports come from the
OS. Import the fixtures into a ``conftest.py`` to use them.
"""

from __future__ import annotations

import asyncio
import shutil
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import fftconvolve

from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.sipp import Scenario, SippRun
from dialer.sandbox.voices import say_to_wav
from dialer.sandbox.wavfile import read_pcm

__all__ = [
    "SAME_SPEECH",
    "SipBench",
    "Voices",
    "best_correlation",
    "active_seconds",
    "require_sip_tools",
    "sip_bench",
    "tone_pcm",
    "tone_seconds",
    "voices",
]

GREETING_TEXT = "Алло, слушаю вас. Кто это звонит?"
ANSWER_TEXT = "Я заплачу двадцатого числа, честное слово."
PROMPT_TEXT = "Здравствуйте! Это служба напоминаний управляющей компании."

#: ``best_correlation`` above which two recordings carry the same speech. Different speech
#: scores about 0.35; a clean loopback line 0.99+; a line whose robot or debtor is starved
#: of CPU (this machine runs several jobs on 2 cores) loses 20 ms here and there: 0.75-0.95.
SAME_SPEECH = 0.75


def require_sip_tools() -> None:
    """Skip (with the reason) when the Debian SIP bench packages are missing."""
    missing = [
        tool for tool in ("kamailio", "sipp", "espeak-ng", "sox") if shutil.which(tool) is None
    ]
    if missing:
        pytest.skip(f"SIP bench tools not installed: {', '.join(missing)}")


@dataclass(frozen=True)
class Voices:
    """Russian speech WAVs used by the bench (8 kHz s16 mono)."""

    greeting: Path
    answer: Path
    prompt: Path

    def pcm(self, name: str) -> bytes:
        """The samples of one of the voices."""
        path: Path = getattr(self, name)
        return read_pcm(path)


@pytest.fixture(scope="session")
def voices(tmp_path_factory: pytest.TempPathFactory) -> Voices:
    """Synthesized once per session with espeak-ng."""
    require_sip_tools()
    cache = tmp_path_factory.mktemp("voices")
    return Voices(
        greeting=say_to_wav(GREETING_TEXT, cache),
        answer=say_to_wav(ANSWER_TEXT, cache),
        prompt=say_to_wav(PROMPT_TEXT, cache),
    )


@dataclass
class SipBench:
    """A running registrar and debtor process, with the bench's numbers."""

    kamailio: Kamailio
    debtors: DebtorPool
    workdir: Path

    @property
    def password(self) -> str:
        return self.kamailio.options.password

    def closed_calls(self, user: str) -> int:
        """How many calls of a debtor have closed so far (mark before dialling)."""
        return len(self.debtors.events("call_closed", user=user))

    async def heard_by(self, user: str, mark: int, timeout_s: float = 20.0) -> bytes:
        """What the debtor heard in its next call after ``mark`` (waits for its end)."""
        event = await asyncio.to_thread(
            self.debtors.wait_event, "call_closed", user=user, count=mark + 1, timeout_s=timeout_s
        )
        return read_pcm(Path(str(event["recording"])))

    def sipp(self, scenario: Scenario) -> SippRun:
        """A started sipp UAS for one call; dial ``sipp-<anything>`` to reach it."""
        run = SippRun(scenario, self.workdir / "sipp", self.kamailio.sipp_port)
        run.start()
        return run


DEBTORS = (
    DebtorSpec("talker"),  # greeting and answer are filled in by the fixture
    DebtorSpec("dtmf"),
    DebtorSpec("quitter"),
    DebtorSpec("listener"),
    DebtorSpec("busy", behaviour="busy"),
)


@pytest.fixture(scope="session")
def sip_bench(tmp_path_factory: pytest.TempPathFactory, voices: Voices) -> Iterator[SipBench]:
    """Kamailio (digest auth on REGISTER) and the bench debtors, for the whole session."""
    workdir = tmp_path_factory.mktemp("sip-bench")
    kamailio = Kamailio(workdir / "kamailio", KamailioOptions())
    specs = [
        DebtorSpec("talker", greeting=str(voices.greeting), answers=(str(voices.answer),)),
        DebtorSpec("dtmf", dtmf="1#5"),
        DebtorSpec("quitter", greeting=str(voices.greeting), hangup_after_greeting=True),
        DebtorSpec("listener"),
        DebtorSpec("busy", behaviour="busy"),
    ]
    try:
        kamailio.start()
        pool = DebtorPool(workdir / "debtors", kamailio.address, kamailio.options.password, specs)
        try:
            pool.start()
            yield SipBench(kamailio, pool, workdir)
        finally:
            pool.stop()
    finally:
        kamailio.stop()


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)


def _aligned(t: np.ndarray, s: np.ndarray) -> float:
    """Normalised cross-correlation of ``t`` at its best position inside ``s``."""
    if len(s) < len(t) or not np.any(t) or not np.any(s):
        return 0.0
    dot = fftconvolve(s, t[::-1], mode="valid")
    squares = np.concatenate(([0.0], np.cumsum(s * s)))
    energy = squares[len(t) :] - squares[: len(s) - len(t) + 1]
    norm = np.sqrt(np.maximum(energy, 1e-9)) * np.sqrt(float(np.sum(t * t)))
    return float(np.max(dot / norm))


def best_correlation(template: bytes, signal: bytes, chunk_s: float = 0.5) -> float:
    """How well ``template`` is found inside ``signal``: the median, over the template's
    voiced 0.5 s chunks, of each chunk's normalised cross-correlation at its best position.

    Chunks are aligned one by one because a phone line (a jitter buffer shrinking latency)
    may drop a 20 ms frame, which shifts everything after it; the content must still match.
    """
    t, s = _samples(template), _samples(signal)
    size = int(chunk_s * 8000)
    chunks = [t[i : i + size] for i in range(0, len(t) - size + 1, size)] or [t]
    voiced = [c for c in chunks if np.sqrt(np.mean(c * c)) > 300.0] or chunks
    return float(np.median([_aligned(c, s) for c in voiced]))


def active_seconds(pcm: bytes, threshold_rms: float = 500.0) -> float:
    """Seconds of 20 ms frames louder than ``threshold_rms``."""
    s = _samples(pcm)
    frames = len(s) // 160
    if frames == 0:
        return 0.0
    rms = np.sqrt(np.mean(s[: frames * 160].reshape(frames, 160) ** 2, axis=1))
    return float(np.count_nonzero(rms > threshold_rms)) * 0.02


def tone_pcm(freq_hz: float, seconds: float, amplitude: int = 8000) -> bytes:
    """A sine tone as 8 kHz s16le samples (a side's signature sound in a two-way test)."""
    t = np.arange(int(seconds * 8000)) / 8000.0
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype("<i2").tobytes()


def channels(path: str | Path) -> tuple[bytes, bytes]:
    """The robot's (left) and the debtor's (right) channels of a call recording."""
    with wave.open(str(path)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return frames[:, 0].tobytes(), frames[:, 1].tobytes()


def _tone_windows(pcm: bytes, freq_hz: float, tolerance_hz: float) -> list[bool]:
    """Per 100 ms window: loud (RMS > 300) with more than half its energy within
    ``tolerance_hz`` of the frequency — robust to G.711, jitter-buffer drops and the other
    side's tone being elsewhere in the spectrum."""
    s = _samples(pcm)
    size = 800
    freqs = np.fft.rfftfreq(size, 1 / 8000)
    band = np.abs(freqs - freq_hz) <= tolerance_hz
    found = []
    for i in range(len(s) // size):
        w = s[i * size : (i + 1) * size]
        if np.sqrt(np.mean(w * w)) <= 300.0:
            found.append(False)
            continue
        power = np.abs(np.fft.rfft(w * np.hanning(size))) ** 2
        found.append(bool(power[band].sum() > 0.5 * power.sum()))
    return found


def tone_seconds(pcm: bytes, freq_hz: float, tolerance_hz: float = 40.0) -> float:
    """Seconds of 100 ms windows whose sound is mostly a tone at ``freq_hz``."""
    return sum(_tone_windows(pcm, freq_hz, tolerance_hz)) * 0.1


def tone_onset_s(pcm: bytes, freq_hz: float, tolerance_hz: float = 40.0) -> float | None:
    """Where a tone at ``freq_hz`` is first heard (to 0.1 s), or None."""
    windows = _tone_windows(pcm, freq_hz, tolerance_hz)
    return windows.index(True) * 0.1 if True in windows else None


class Recording:
    """A bridge's recorder for tests: what each channel of the call recording got."""

    def __init__(self) -> None:
        self.debtor = bytearray()
        self.robot = bytearray()

    def debtor_frame(self, frame: bytes) -> None:
        self.debtor += frame

    def robot_frame(self, frame: bytes) -> None:
        self.robot += frame
