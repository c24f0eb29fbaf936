"""The debtor's side of the line: frames in, recognised speech and keys out.

Three small tasks per call put what they hear into the dialogue's inbox:

- *receiver*: the debtor's 20 ms frames → the recording and the recogniser's queue;
- *recogniser*: frames → :class:`~speech.recognition.RecognizerStream` in a worker thread of
  the session's recognition pool (never on the loop; a pool of its own, one thread per call,
  so eight calls' decodes do not queue behind each other and the database writes in the
  loop's small default pool) → :class:`Recognised` events;
- *keys*: the far end's DTMF digits → :class:`Digit`.

Time is kept on the audio: ``rx_s`` seconds received, ``stream_s`` seconds the recogniser
has taken, so a recogniser busy decoding is never taken for a silent debtor.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from dialer.session.call_audio import CallAudio
from dialer.telephony.port import FRAME_BYTES, FRAME_MS, SAMPLE_RATE_HZ, Call
from speech.recognition import RecognitionEngine, RecognitionEvent

__all__ = ["Digit", "Hearing", "LineEnded", "Recognised"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recognised:
    """A recogniser event with the clock marks of the frames behind it."""

    event: RecognitionEvent
    arrived_at: float  # clock time the frame that produced it was received
    decode_started: float  # clock time the recogniser took that frame's batch
    decoded_at: float  # clock time the recogniser returned

    @property
    def decode_ms(self) -> int:
        """Time the recogniser spent on the batch."""
        return round((self.decoded_at - self.decode_started) * 1000)


@dataclass(frozen=True, slots=True)
class Digit:
    """A key the debtor pressed."""

    digit: str


@dataclass(frozen=True, slots=True)
class LineEnded:
    """No more audio: the far end hung up (or the line died)."""


class Hearing:
    """Runs the receiver, the recogniser and the keys of one call into ``inbox``."""

    def __init__(
        self,
        call: Call,
        engine: RecognitionEngine,
        audio: CallAudio,
        inbox: asyncio.Queue[object],
        *,
        batch_frames: int,
        clock: Callable[[], float],
        ref: str,
        pool: Executor | None = None,
        on_recognition_error: Callable[[], None] | None = None,
    ) -> None:
        self._call = call
        self._engine = engine
        self._audio = audio
        self._inbox = inbox
        self._batch_frames = batch_frames
        self._clock = clock
        self._ref = ref
        self._pool = pool
        self._on_recognition_error = on_recognition_error  # counted by the worker's metrics
        self._rx: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._rx_times: deque[float] = deque()
        self.rx_s = 0.0  # seconds of the debtor's audio received
        self.stream_s = 0.0  # seconds of it the recogniser has taken
        self.last_frame_at = clock()

    def start(self) -> list[asyncio.Task[None]]:
        """The three tasks; the caller cancels them when the call ends."""
        return [
            asyncio.create_task(self._receive(), name=f"receive-{self._ref}"),
            asyncio.create_task(self._recognise(), name=f"recognise-{self._ref}"),
            asyncio.create_task(self._digits(), name=f"dtmf-{self._ref}"),
        ]

    async def _receive(self) -> None:
        async for frame in self._call.frames():
            now = self._clock()
            self.last_frame_at = now
            self.rx_s += FRAME_MS / 1000
            self._audio.debtor_frame(frame)
            self._rx.put_nowait(frame)
            self._rx_times.append(now)
        self._rx.put_nowait(None)

    async def _recognise(self) -> None:
        # Off the loop: a Vosk recogniser takes a moment to build, and eight calls answered
        # together would hold every call's audio (and the robot's first words) meanwhile.
        loop = asyncio.get_running_loop()
        stream = await loop.run_in_executor(self._pool, self._engine.open_stream)
        ended = False
        while not ended:
            frames = [await self._rx.get()]
            while len(frames) < self._batch_frames and not self._rx.empty():
                frames.append(self._rx.get_nowait())
            if frames[-1] is None:
                ended = True
            pcm = b"".join(f for f in frames if f)
            arrived = self._clock()
            for _ in range(len(pcm) // FRAME_BYTES):
                arrived = self._rx_times.popleft()
            started = self._clock()
            events = await self._decode(stream.accept, pcm) if pcm else []
            self.stream_s += len(pcm) / (2 * SAMPLE_RATE_HZ)
            if ended:
                events += await self._decode(lambda _pcm: stream.flush(), b"")
            decoded = self._clock()
            for event in events:
                self._inbox.put_nowait(Recognised(event, arrived, started, decoded))
        self._inbox.put_nowait(LineEnded())

    async def _decode(
        self, step: Callable[[bytes], list[RecognitionEvent]], pcm: bytes
    ) -> list[RecognitionEvent]:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, step, pcm)
        except Exception:  # a recogniser failing on one chunk must not end the call
            logger.warning("call %s: recogniser failed on a chunk", self._ref, exc_info=True)
            if self._on_recognition_error is not None:
                self._on_recognition_error()
            return []

    async def _digits(self) -> None:
        async for digit in self._call.dtmf():
            self._inbox.put_nowait(Digit(digit))
