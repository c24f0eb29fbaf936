"""A bridge through the robot: two answered calls relay each other's audio, paced.

For lines that refuse a blind transfer (``TransferRefused``/``TransferUnsupported``): the
robot dials the collector itself and :func:`bridge` joins that leg to the debtor's.

Each direction has its own small queue and its own 20 ms clock on the event loop (deadlines
from one start, so no drift): a received frame waits at most ``max_backlog_frames`` ticks,
and when the far end's clock runs faster than ours, or the reader stalls and catches up in
a burst, the oldest frames are dropped — latency stays bounded instead of growing through a
long conversation (audio a leg received before the bridge started is dropped the same way:
it is stale). A tick with nothing queued sends nothing (the adapter's media clock
fills the gap with silence, as for any starved playback).

The bridge ends, with a :class:`BridgeEnd` reason, when either leg ends, when either leg
sends no audio for ``rtp_timeout_s`` (a dead line sends no RTP at all; a silent person
still sends silence), or when ``stop`` is set. It never hangs up a leg: the caller decides
what the other side hears next, and hangs up. While bridged, the bridge is the only reader of
both legs' ``frames()`` and the only player on them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from dialer.telephony.port import FRAME_BYTES, FRAME_MS, Call

__all__ = ["BridgeEnd", "BridgeRecorder", "BridgeResult", "bridge"]

logger = logging.getLogger(__name__)

_FRAME_S: Final = FRAME_MS / 1000
_WATCH_S: Final = 0.1


class BridgeEnd(StrEnum):
    """Why a bridge ended."""

    A_ENDED = "a_ended"
    B_ENDED = "b_ended"
    A_RTP_LOST = "a_rtp_lost"
    B_RTP_LOST = "b_rtp_lost"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class BridgeResult:
    """How a bridge went: why it ended, how long it ran, frames relayed and dropped."""

    reason: BridgeEnd
    duration_s: float
    frames_a_to_b: int
    frames_b_to_a: int
    dropped_frames: int


_FrameHook = Callable[[bytes], None]


class BridgeRecorder(Protocol):
    """Where the bridged conversation is recorded (the session's ``CallAudio`` fits).

    ``debtor_frame`` gets what leg A said; ``robot_frame`` what the robot's line sent to
    leg A — leg B's voice relayed — so the call's stereo recording goes on unchanged.
    """

    def debtor_frame(self, frame: bytes) -> None:
        """A frame received from leg A."""
        ...

    def robot_frame(self, frame: bytes) -> None:
        """A frame sent to leg A."""
        ...


class _Direction:
    """Frames from one leg, queued for the other, sent on a 20 ms clock."""

    def __init__(self, source: Call, sink: Call, max_backlog_frames: int) -> None:
        self.source = source
        self.sink = sink
        self.queue: deque[bytes] = deque()
        self.max_backlog = max_backlog_frames
        self.last_rx = asyncio.get_running_loop().time()
        self.relayed = 0
        self.dropped = 0

    async def receive(self, on_frame: _FrameHook) -> None:
        """Queue what the source sends until its call ends."""
        loop = asyncio.get_running_loop()
        async for frame in self.source.frames():
            if len(frame) != FRAME_BYTES:
                continue
            self.last_rx = loop.time()
            on_frame(frame)
            self.queue.append(frame)
            while len(self.queue) > self.max_backlog:
                self.queue.popleft()
                self.dropped += 1

    async def paced(self, on_send: _FrameHook) -> AsyncIterator[bytes]:
        """One queued frame per 20 ms tick, deadlines from one start (no drift)."""
        loop = asyncio.get_running_loop()
        start, tick = loop.time(), 0
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * _FRAME_S - loop.time()))
            # A stalled loop skips the ticks it missed rather than bursting them out.
            tick = max(tick, int((loop.time() - start) / _FRAME_S))
            if self.queue:
                frame = self.queue.popleft()
                self.relayed += 1
                on_send(frame)
                yield frame

    async def send(self, on_send: _FrameHook) -> None:
        """Play the paced frames into the sink until it ends."""
        # play() also returns when someone stops the sink's playback: carry on relaying.
        while not self.sink.result.ended:
            await self.sink.play(self.paced(on_send))


def _ignore(frame: bytes) -> None:
    """No recorder."""


async def bridge(
    leg_a: Call,
    leg_b: Call,
    stop: asyncio.Event | None = None,
    *,
    rtp_timeout_s: float = 5.0,
    recorder: BridgeRecorder | None = None,
    max_backlog_frames: int = 5,
) -> BridgeResult:
    """Relay audio both ways between two answered calls until one ends or falls silent.

    ``leg_a`` is the debtor's call, ``leg_b`` the collector's; ``recorder`` (optional)
    keeps leg A's recording going. Returns why and when it ended; both legs are left as
    they are (the caller hangs up what is still up).
    """
    if max_backlog_frames < 1 or rtp_timeout_s <= 0:
        raise ValueError("max_backlog_frames ≥ 1 и rtp_timeout_s > 0")
    loop = asyncio.get_running_loop()
    started = loop.time()
    a_to_b = _Direction(leg_a, leg_b, max_backlog_frames)
    b_to_a = _Direction(leg_b, leg_a, max_backlog_frames)
    heard = recorder.debtor_frame if recorder is not None else _ignore
    said = recorder.robot_frame if recorder is not None else _ignore
    tasks = {
        loop.create_task(a_to_b.receive(heard)): BridgeEnd.A_ENDED,
        loop.create_task(b_to_a.receive(_ignore)): BridgeEnd.B_ENDED,
        loop.create_task(a_to_b.send(_ignore)): BridgeEnd.B_ENDED,
        loop.create_task(b_to_a.send(said)): BridgeEnd.A_ENDED,
    }
    try:
        while True:
            done, _ = await asyncio.wait(tasks, timeout=_WATCH_S)
            reason = _verdict(leg_a, leg_b, stop)
            if reason is None and done:
                reason = tasks[next(iter(done))]
            if reason is None:
                now = loop.time()
                if now - a_to_b.last_rx >= rtp_timeout_s:
                    reason = BridgeEnd.A_RTP_LOST
                elif now - b_to_a.last_rx >= rtp_timeout_s:
                    reason = BridgeEnd.B_RTP_LOST
            if reason is not None:
                break
    finally:
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                logger.warning("bridge relay failed: %r", outcome)
        for leg in (leg_a, leg_b):
            leg.stop_playback()
    return BridgeResult(
        reason=reason,
        duration_s=loop.time() - started,
        frames_a_to_b=a_to_b.relayed,
        frames_b_to_a=b_to_a.relayed,
        dropped_frames=a_to_b.dropped + b_to_a.dropped,
    )


def _verdict(leg_a: Call, leg_b: Call, stop: asyncio.Event | None) -> BridgeEnd | None:
    if stop is not None and stop.is_set():
        return BridgeEnd.STOPPED
    if leg_a.result.ended:
        return BridgeEnd.A_ENDED
    if leg_b.result.ended:
        return BridgeEnd.B_ENDED
    return None
