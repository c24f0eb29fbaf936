"""An in-process telephone network for unit tests of the call session.

``LoopbackExchange`` holds subscriber numbers with a behaviour (answer, busy, no answer,
reject, unreachable); its :meth:`~LoopbackExchange.telephone` dials them. An answered call
is a pair of :class:`LoopbackCall` objects wired back to back: each side runs a 20 ms media
clock that sends the next queued frame — or silence — to the other side, exactly like an
RTP stream, so pacing, barge-in and hang-up behave as on a real line. The far side is
taken with :meth:`LoopbackSubscriber.next_call` and speaks the same port, plus
:meth:`LoopbackCall.send_dtmf`.

A blind transfer re-wires the far side to the target subscriber (the exchange plays the
transferee); ``LoopbackExchange(refer_allowed=False)`` refuses REFER like a trunk that
does not transfer (403), and :meth:`LoopbackCall.stop_media` makes a side fall silent as a
dead line does (no RTP at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from dialer.telephony.errors import (
    CallNotActive,
    TransferRefused,
    TransferTargetFailed,
    TransferTimedOut,
    TransferUnsupported,
)
from dialer.telephony.media import MediaCall
from dialer.telephony.port import FRAME_BYTES, FRAME_MS, Outcome

__all__ = [
    "Behaviour",
    "LoopbackCall",
    "LoopbackExchange",
    "LoopbackSubscriber",
    "LoopbackTelephone",
]

Behaviour = Literal["answer", "busy", "no_answer", "reject", "unreachable"]

_SILENCE: Final = bytes(FRAME_BYTES)
_FRAME_S: Final = FRAME_MS / 1000
_DTMF_TONE_S: Final = 0.1
_FINALS: Final[dict[Behaviour, tuple[int, str]]] = {
    "busy": (486, "Busy Here"),
    "reject": (603, "Decline"),
    "unreachable": (480, "Temporarily Unavailable"),
}
_ids = itertools.count(1)


class LoopbackCall(MediaCall):
    """One side of an in-process call."""

    def __init__(self, call_id: str, exchange: LoopbackExchange | None = None) -> None:
        super().__init__(call_id)
        self._peer: LoopbackCall | None = None
        self._exchange = exchange
        self._tx: deque[bytes] = deque()
        self._clock: asyncio.Task[None] | None = None

    def _connect(self, peer: LoopbackCall) -> None:
        self._peer = peer
        self.mark_answered()
        self._clock = asyncio.get_running_loop().create_task(self._media_clock())

    async def _media_clock(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tick = 0
        while not self.is_ended and self._peer is not None:
            frame = self._tx.popleft() if self._tx else _SILENCE
            self._peer.deliver_frame(frame)
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * _FRAME_S - loop.time()))

    def stop_media(self) -> None:
        """Stop sending audio altogether, as a dead line or a crashed phone does (no RTP)."""
        if self._clock is not None:
            self._clock.cancel()

    async def _transfer(self, target_uri: str, timeout_s: float) -> None:
        far, exchange = self._peer, self._exchange
        if far is None or exchange is None:
            raise TransferUnsupported("эта сторона звонка не может переводить (не робот)")
        if not exchange.refer_allowed:
            raise TransferRefused(
                "перевод отклонён: SIP 403 Forbidden", status=403, reason="Forbidden"
            )
        number = target_uri.removeprefix("sip:").split("@", 1)[0]
        subscriber = exchange.lookup(number)
        if subscriber is None:
            raise TransferTargetFailed("SIP 404 Not Found", status=404, reason="Not Found")
        match subscriber.behaviour:
            case "answer":
                far._peer = subscriber._answer_transferred(far)
                self._peer = None
            case "no_answer":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wait_ended(), timeout_s)
                if self.is_ended:
                    raise CallNotActive(f"call {self.call_id}: звонок завершился во время перевода")
                raise TransferTimedOut(f"нет исхода перевода за {timeout_s:g} с")
            case "busy" | "reject" | "unreachable" as final:
                status, reason = _FINALS[final]
                raise TransferTargetFailed(f"SIP {status} {reason}", status=status, reason=reason)

    async def send_dtmf(self, digits: str) -> None:
        """Press keys towards the other side (out of band, like RFC 2833)."""
        for digit in digits.upper():
            if digit not in "0123456789*#ABCD":
                raise ValueError(f"{digit!r} — не цифра DTMF")
            if self._peer is None or self.is_ended:
                return
            await asyncio.sleep(_DTMF_TONE_S)
            self._peer.deliver_digit(digit)

    def _write_frame(self, frame: bytes) -> None:
        self._tx.append(frame)

    def _flush_tx(self) -> None:
        self._tx.clear()

    async def _send_hangup(self) -> None:
        self.finish_answered("robot", "BYE")
        if self._peer is not None:
            self._peer.finish_answered("remote", "BYE")

    def _on_finished(self) -> None:
        self._tx.clear()
        if self._clock is not None and self._clock is not asyncio.current_task():
            self._clock.cancel()


@dataclass(slots=True)
class _Ringing:
    """A call offered to a subscriber and not answered yet."""

    caller: LoopbackCall
    answered: asyncio.Future[LoopbackCall]


class LoopbackSubscriber:
    """A number on the exchange; answered calls arrive at :meth:`next_call`."""

    def __init__(self, number: str, behaviour: Behaviour) -> None:
        self.number = number
        self.behaviour: Behaviour = behaviour
        self._answered: asyncio.Queue[LoopbackCall] = asyncio.Queue()
        self.cancelled_calls = 0

    async def next_call(self, timeout_s: float = 10.0) -> LoopbackCall:
        """The far side of the next answered call."""
        return await asyncio.wait_for(self._answered.get(), timeout_s)

    def _answer(self, caller: LoopbackCall) -> LoopbackCall:
        far = LoopbackCall(caller.call_id + "-far")
        caller._connect(far)
        far._connect(caller)
        self._answered.put_nowait(far)
        return far

    def _answer_transferred(self, transferee: LoopbackCall) -> LoopbackCall:
        """Answer a call transferred to this number; ``transferee`` keeps its own clock."""
        far = LoopbackCall(transferee.call_id + "-xfer")
        far._connect(transferee)
        self._answered.put_nowait(far)
        return far


class LoopbackTelephone:
    """The robot's telephone on a :class:`LoopbackExchange`."""

    def __init__(self, exchange: LoopbackExchange) -> None:
        self._exchange = exchange

    async def dial(self, number: str, ring_timeout_s: float) -> LoopbackCall:
        """Call a subscriber; a failed call returns with its final result set."""
        call = LoopbackCall(f"loopback-{next(_ids)}", self._exchange)
        subscriber = self._exchange.lookup(number)
        if subscriber is None:
            call.finish_failed(404, "Not Found")
            return call
        match subscriber.behaviour:
            case "answer":
                subscriber._answer(call)
            case "no_answer":
                await asyncio.sleep(ring_timeout_s)
                subscriber.cancelled_calls += 1
                call.finish_failed(487, "Request Terminated", Outcome.NO_ANSWER)
            case "busy" | "reject" | "unreachable" as final:
                status, reason = _FINALS[final]
                call.finish_failed(status, reason)
        return call


class LoopbackExchange:
    """Subscribers by number, and telephones that call them."""

    def __init__(self, *, refer_allowed: bool = True) -> None:
        self._subscribers: dict[str, LoopbackSubscriber] = {}
        self.refer_allowed = refer_allowed

    def subscriber(self, number: str, behaviour: Behaviour = "answer") -> LoopbackSubscriber:
        """Add (or replace) a number with a behaviour."""
        subscriber = LoopbackSubscriber(number, behaviour)
        self._subscribers[number] = subscriber
        return subscriber

    def lookup(self, number: str) -> LoopbackSubscriber | None:
        """The subscriber behind a number, if any."""
        return self._subscribers.get(number)

    def telephone(self) -> LoopbackTelephone:
        """A telephone for the robot."""
        return LoopbackTelephone(self)
