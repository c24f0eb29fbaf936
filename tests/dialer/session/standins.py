"""Stand-ins for one part at a time, as real adapter classes (never mocks).

- :class:`ScriptedEngine` — a recognition engine whose endpointing is the real
  :mod:`speech.vad`, and whose "words" for each utterance come from a list: the session's
  logic is tested on exactly the events a real engine emits, without a model's guesses.
- :class:`ToneVoice` — a voice that says every line as a tone, 60 ms per character.
- :class:`FarEnd` — the debtor's side of a loopback call: hears the robot by energy, speaks
  tone bursts, presses keys, hangs up.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Iterable

import numpy as np

from dialer.telephony.loopback import LoopbackCall
from dialer.telephony.port import FRAME_BYTES
from speech.recognition import FinalResult, RecognitionEvent, SpeechStarted
from speech.vad import EndpointConfig, Endpointer, VadState, frame_dbfs

SAMPLE_RATE = 8000


def tone(seconds: float, hz: float = 440.0, level: int = 8000) -> bytes:
    """A sine of ``seconds``: loud enough to be speech for the VAD."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    return (np.sin(2 * math.pi * hz * t) * level).astype("<i2").tobytes()


def noise(seconds: float, level: int = 6000, seed: int = 1) -> bytes:
    """White noise of ``seconds`` (a bad line, wind, a TV)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    return rng.integers(-level, level, n).astype("<i2").tobytes()


class ScriptedStream:
    """Real endpointing; each utterance's text is the next of the list ('' says nothing)."""

    def __init__(self, texts: deque[str | None], endpoint: EndpointConfig) -> None:
        self._texts = texts
        self._endpointer = Endpointer(endpoint)
        self._received_s = 0.0
        self._start_s = 0.0

    def accept(self, frame: bytes) -> list[RecognitionEvent]:
        events: list[RecognitionEvent] = []
        for i in range(0, len(frame), FRAME_BYTES):
            self._received_s += 0.02
            match self._endpointer.push(frame[i : i + FRAME_BYTES]):
                case VadState.SPEECH_STARTED:
                    self._start_s = self._received_s
                    events.append(SpeechStarted(at_s=self._start_s))
                case VadState.SPEECH_ENDED:
                    events += self._final()
        return events

    def _final(self) -> list[RecognitionEvent]:
        text = self._texts.popleft() if self._texts else ""
        if text is None:  # the recogniser returns nothing at all for this utterance
            return []
        return [
            FinalResult(
                text=text,
                words=(),
                start_s=self._start_s,
                end_s=self._received_s,
                trailing_silence_s=self._endpointer.last_trailing_s,
            )
        ]

    def flush(self) -> list[RecognitionEvent]:
        if not self._endpointer.in_speech:
            return []
        self._endpointer.reset()
        return self._final()


class ScriptedEngine:
    """A recognition engine that 'hears' the given texts, one per utterance, in order."""

    name = "scripted"

    def __init__(self, texts: Iterable[str | None], endpoint: EndpointConfig | None = None) -> None:
        self.texts: deque[str | None] = deque(texts)
        self.endpoint = endpoint or EndpointConfig(trailing_silence_s=0.5)

    def open_stream(self) -> ScriptedStream:
        return ScriptedStream(self.texts, self.endpoint)


class ToneVoice:
    """Says each line as a 300 Hz tone, 60 ms per character (max 4 s); counts the lines."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.lines: list[str] = []

    def synthesize(self, text: str) -> bytes:
        if self.fail_on is not None and self.fail_on in text:
            raise RuntimeError("синтез недоступен")
        self.lines.append(text)
        return tone(min(4.0, 0.06 * len(text)), hz=300.0)


class FarEnd:
    """The debtor's side of a loopback call."""

    def __init__(self, call: LoopbackCall) -> None:
        self.call = call
        self.heard = bytearray()
        self._voiced = 0
        self._silent = 0
        self._in_speech = False
        self.robot_turns = 0
        self._turn = asyncio.Event()
        self._speech_started = asyncio.Event()
        self.closed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        async for frame in self.call.frames():
            self.heard += frame
            if frame_dbfs(frame) > -40:
                self._voiced += 1
                self._silent = 0
                if self._voiced >= 3:
                    self._in_speech = True
                    self._speech_started.set()
            else:
                self._voiced = 0
                self._silent += 1
                if self._in_speech and self._silent >= 30:  # 0.6 s of quiet: robot's turn over
                    self._in_speech = False
                    self.robot_turns += 1
                    self._turn.set()
        self.closed.set()
        self._turn.set()

    async def robot_turn(self, timeout_s: float = 30.0) -> bool:
        """Wait until the robot has spoken and fallen silent; False if the call ended."""
        self._turn.clear()
        await asyncio.wait_for(self._turn.wait(), timeout_s)
        return not self.closed.is_set()

    async def robot_speaking(self, timeout_s: float = 30.0) -> None:
        """Wait until the robot's audio is arriving now."""
        self._speech_started.clear()
        if not self._in_speech:
            await asyncio.wait_for(self._speech_started.wait(), timeout_s)

    async def say(self, seconds: float = 0.8) -> None:
        """Speak a burst (the scripted engine turns it into the next text)."""
        await self.call.play(tone(seconds))

    def heard_seconds_after(self, offset_s: float) -> float:
        """Seconds of robot audio heard after ``offset_s`` into the call."""
        start = int(offset_s * SAMPLE_RATE) * 2
        pcm = bytes(self.heard[start - start % FRAME_BYTES :])
        frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        return sum(0.02 for f in frames if len(f) == FRAME_BYTES and frame_dbfs(f) > -40)

    async def finished(self) -> None:
        await asyncio.wait_for(self.closed.wait(), 60)
        await self._task
