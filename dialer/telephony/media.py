"""The asyncio side of a call, shared by the adapters.

An adapter subclasses :class:`MediaCall`, hands received frames and digits to
:meth:`MediaCall.deliver_frame` / :meth:`MediaCall.deliver_digit` on the event loop, reports
the end with :meth:`MediaCall.finish`, and implements three hooks: ``_write_frame`` (queue
one frame for sending), ``_flush_tx`` (drop what is queued) and ``_send_hangup``.

Playback is paced by deadlines on the loop's clock, :data:`LEAD_FRAMES` frames ahead of
the wire, so a barge-in never has more than ~60 ms of robot audio left to play.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Final

from dialer.telephony.errors import CallNotActive, TransferUnsupported
from dialer.telephony.port import (
    FRAME_BYTES,
    FRAME_MS,
    TRANSFER_TIMEOUT_S,
    TRANSFERRED,
    Audio,
    CallResult,
    HangupBy,
    Outcome,
    outcome_for_status,
)

__all__ = ["LEAD_FRAMES", "MediaCall", "iter_frames"]

logger = logging.getLogger(__name__)

#: Frames written ahead of the transmit clock: with the one on the wire, ≤ 60 ms queued.
LEAD_FRAMES: Final = 2
_FRAME_S: Final = FRAME_MS / 1000
#: Received audio kept for a slow reader (10 s); older frames are dropped first.
_RX_QUEUE_FRAMES: Final = 500
_HANGUP_CONFIRM_S: Final = 5.0
_END: Final = b""


async def iter_frames(audio: Audio) -> AsyncIterator[bytes]:
    """Cut any accepted audio into 320-byte frames; a short tail is padded with silence."""
    rest = b""
    if isinstance(audio, bytes | bytearray | memoryview):
        chunks: Iterable[bytes] | AsyncIterable[bytes] = (bytes(audio),)
    else:
        chunks = audio
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            rest += chunk
            while len(rest) >= FRAME_BYTES:
                yield rest[:FRAME_BYTES]
                rest = rest[FRAME_BYTES:]
    else:
        for chunk in chunks:
            rest += chunk
            while len(rest) >= FRAME_BYTES:
                yield rest[:FRAME_BYTES]
                rest = rest[FRAME_BYTES:]
    if rest:
        yield rest.ljust(FRAME_BYTES, b"\x00")


class MediaCall:
    """Queues, playback pacing and the end of a call, independent of the SIP stack."""

    def __init__(self, call_id: str) -> None:
        self._call_id = call_id
        self._result = CallResult(Outcome.FAILED, None, "dialling")
        self._rx: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_RX_QUEUE_FRAMES)
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._ended = asyncio.Event()
        self._play_lock = asyncio.Lock()
        self._play_generation = 0
        self._played_frames = 0
        self._answered_at: float | None = None
        self._hangup_requested = False
        self._end_callbacks: list[Callable[[MediaCall], None]] = []
        self.rx_dropped_frames = 0

    # -- the port ---------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        """An identifier for logs."""
        return self._call_id

    @property
    def result(self) -> CallResult:
        """The outcome so far (final once ``result.ended`` or never answered)."""
        return self._result

    async def frames(self) -> AsyncIterator[bytes]:
        """Received 20 ms frames until the call ends."""
        while True:
            if self._ended.is_set() and self._rx.empty():
                return
            frame = await self._rx.get()
            if frame is _END or not frame:
                return
            yield frame

    async def dtmf(self) -> AsyncIterator[str]:
        """The far end's digits until the call ends."""
        while True:
            if self._ended.is_set() and self._digits.empty():
                return
            digit = await self._digits.get()
            if not digit:
                return
            yield digit

    @property
    def played_frames(self) -> int:
        """Frames the last finished ``play()`` sent (see :class:`~dialer.telephony.port.Call`)."""
        return self._played_frames

    async def play(self, audio: Audio) -> bool:
        """Send audio paced in real time; False when stopped or the call ended."""
        async with self._play_lock:
            generation = self._play_generation
            loop = asyncio.get_running_loop()
            start = loop.time()
            sent = 0
            try:
                async for frame in iter_frames(audio):
                    if generation != self._play_generation or self._ended.is_set():
                        return False
                    due = start + (sent - LEAD_FRAMES) * _FRAME_S
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    elif delay < -LEAD_FRAMES * _FRAME_S:
                        # The source fell behind (streamed synthesis): re-anchor instead of
                        # bursting the backlog onto the wire.
                        start = loop.time() - (sent - LEAD_FRAMES) * _FRAME_S
                    if generation != self._play_generation or self._ended.is_set():
                        return False
                    self._write_frame(frame)
                    sent += 1
                return True
            finally:
                self._played_frames = sent

    def stop_playback(self) -> None:
        """Stop the current playback and drop the audio queued for the wire."""
        self._play_generation += 1
        if not self._ended.is_set():
            self._flush_tx()

    async def hangup(self) -> CallResult:
        """End the call and wait (bounded) for the stack to confirm."""
        if self._ended.is_set():
            return self._result
        self._hangup_requested = True
        self.stop_playback()
        await self._send_hangup()
        try:
            await asyncio.wait_for(self._ended.wait(), _HANGUP_CONFIRM_S)
        except TimeoutError:
            logger.warning(
                "call %s: hang-up not confirmed in %.0f s", self._call_id, _HANGUP_CONFIRM_S
            )
            self.finish_answered("robot", "hang-up not confirmed")
        return self._result

    async def wait_ended(self) -> CallResult:
        """Wait for the end of the call."""
        await self._ended.wait()
        return self._result

    async def blind_transfer(
        self, target_uri: str, timeout_s: float = TRANSFER_TIMEOUT_S
    ) -> CallResult:
        """Hand the call to ``target_uri`` (REFER); the final result once it is handed over."""
        if not target_uri or any(c in target_uri for c in ' <>"\r\n'):
            raise ValueError("адрес перевода содержит недопустимые символы")
        if not self.answered or self._ended.is_set():
            raise CallNotActive(f"call {self._call_id}: перевести можно только идущий звонок")
        self.stop_playback()
        await self._transfer(target_uri, timeout_s)
        self.finish_answered("robot", TRANSFERRED)
        return self._result

    # -- for adapters -----------------------------------------------------------------

    def mark_answered(self, status: int = 200, reason: str = "OK") -> None:
        """The far end answered: audio may flow."""
        self._answered_at = time.monotonic()
        self._result = CallResult(Outcome.ANSWERED, status, reason)

    def deliver_frame(self, frame: bytes) -> None:
        """Hand one received 320-byte frame to the reader (on the event loop)."""
        if self._ended.is_set():
            return
        if self._rx.full():
            self._rx.get_nowait()
            self.rx_dropped_frames += 1
        self._rx.put_nowait(frame)

    def deliver_digit(self, digit: str) -> None:
        """Hand one received DTMF digit to the reader (on the event loop)."""
        if not self._ended.is_set() and digit:
            self._digits.put_nowait(digit)

    def finish_failed(
        self, status: int | None, reason: str, outcome: Outcome | None = None
    ) -> None:
        """The call ended without an answer."""
        chosen = outcome if outcome is not None else outcome_for_status(status)
        self._finish(CallResult(chosen, status, reason, ended=True))

    def finish_answered(self, by: HangupBy, reason: str = "") -> None:
        """An answered call ended; ``by`` says who ended it."""
        if self._ended.is_set():
            return
        if self._hangup_requested and by == "remote":
            by = "robot"  # the far end's confirmation of our own BYE
        duration = time.monotonic() - self._answered_at if self._answered_at else 0.0
        status = self._result.sip_status if self._result.outcome is Outcome.ANSWERED else None
        self._finish(
            CallResult(
                Outcome.ANSWERED, status, reason, ended=True, hangup_by=by, duration_s=duration
            )
        )

    def add_end_callback(self, callback: Callable[[MediaCall], None]) -> None:
        """Call ``callback(call)`` on the loop when the call ends (at once if it has)."""
        if self._ended.is_set():
            callback(self)
        else:
            self._end_callbacks.append(callback)

    @property
    def answered(self) -> bool:
        """Whether the far end answered."""
        return self._answered_at is not None

    @property
    def is_ended(self) -> bool:
        """Whether the call is over."""
        return self._ended.is_set()

    def _finish(self, result: CallResult) -> None:
        if self._ended.is_set():
            return
        self._result = result
        self._play_generation += 1
        self._ended.set()
        if self._rx.full():
            self._rx.get_nowait()
        self._rx.put_nowait(_END)
        self._digits.put_nowait("")
        self._on_finished()
        for callback in self._end_callbacks:
            callback(self)
        self._end_callbacks.clear()

    # -- hooks --------------------------------------------------------------------------

    def _write_frame(self, frame: bytes) -> None:
        raise NotImplementedError

    def _flush_tx(self) -> None:
        raise NotImplementedError

    async def _send_hangup(self) -> None:
        raise NotImplementedError

    async def _transfer(self, target_uri: str, timeout_s: float) -> None:
        """Send the REFER and wait for the outcome; raise a ``TransferError`` on failure."""
        raise TransferUnsupported(
            f"{type(self).__name__}: перевод звонка (REFER) не поддерживается; "
            "соедините через робота (dialer.telephony.bridge)"
        )

    def _on_finished(self) -> None:
        """Release adapter resources after the end (optional)."""
