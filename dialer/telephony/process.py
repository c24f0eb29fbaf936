"""The telephony process: ``python -m dialer.telephony.process`` (started by
:class:`~dialer.telephony.remote.ProcessTelephone`, never by hand).

SIP signalling, RTP pacing and the calls' audio queues live here, on an event loop that does
nothing else: no recognition, classification, database or dialogue shares its CPU or its GIL,
so a busy calls' process can be late with a decision but never with a frame. The robot's
sentences arrive whole (or as they are made) and are paced out from here.

The first message on stdin is ``("config", SipConfig, native_log_level)``; then the
requests of :mod:`dialer.telephony.wire`. The process ends when stdin closes — its owner
exited or died, even by SIGKILL — after hanging up what is still up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Coroutine

from dialer.telephony.baresip import BaresipCall, BaresipTelephone
from dialer.telephony.config import SipConfig
from dialer.telephony.port import FRAME_MS
from dialer.telephony.wire import error_record, read_message, write_message

__all__ = ["main"]

logger = logging.getLogger(__name__)

_END = b""
_FRAME_S = FRAME_MS / 1000


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"ожидалось целое, получено {type(value).__name__}")
    return value


def _float(value: object) -> float:
    if not isinstance(value, (int, float)):
        raise TypeError(f"ожидалось число, получено {type(value).__name__}")
    return float(value)


class _Server:
    """Runs the requests of one owner against one :class:`BaresipTelephone`."""

    def __init__(self, telephone: BaresipTelephone, writer: asyncio.StreamWriter) -> None:
        self._telephone = telephone
        self._writer = writer
        self._calls: dict[int, BaresipCall] = {}
        self._numbers = itertools.count(1)
        self._plays: dict[tuple[int, int], asyncio.Queue[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._received: list[tuple[int, bytes]] = []

    def send(self, *message: object) -> None:
        write_message(self._writer, message)

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, message: tuple[object, ...]) -> None:
        kind, *args = message
        if kind == "dial":
            request, number, ring_timeout_s = args
            self.spawn(self._dial(_int(request), str(number), _float(ring_timeout_s)))
        elif kind == "play":
            key = (_int(args[0]), _int(args[1]))
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            self._plays[key] = queue
            self.spawn(self._play(key, queue))
        elif kind == "chunk":
            found = self._plays.get((_int(args[0]), _int(args[1])))
            if found is not None and isinstance(args[2], bytes) and args[2]:
                found.put_nowait(args[2])
        elif kind == "play_end":
            ended = self._plays.pop((_int(args[0]), _int(args[1])), None)
            if ended is not None:
                ended.put_nowait(_END)
        elif kind == "stop":
            call = self._calls.get(_int(args[0]))
            if call is not None:
                call.stop_playback()
        elif kind == "hangup":
            self.spawn(self._hangup(_int(args[0]), _int(args[1])))
        elif kind == "transfer":
            request, handle, target, timeout_s = args
            self.spawn(self._transfer(_int(request), _int(handle), str(target), _float(timeout_s)))
        else:
            logger.warning("telephony process: unknown request %r", kind)

    async def _dial(self, request: int, number: str, ring_timeout_s: float) -> None:
        try:
            call = await self._telephone.dial(number, ring_timeout_s)
        except Exception as err:  # the owner raises it where it dialled
            self.send("reply", request, None, error_record(err))
            return
        handle = next(self._numbers)
        self._calls[handle] = call
        self.send("reply", request, (handle, call.call_id, call.result, call.answered), None)
        if call.answered and not call.is_ended:
            self.spawn(self._forward_audio(handle, call))
            self.spawn(self._forward_digits(handle, call))
        self.spawn(self._report_end(handle, call))

    async def _forward_audio(self, handle: int, call: BaresipCall) -> None:
        async for frame in call.frames():
            self._received.append((handle, frame))

    async def forward_received(self) -> None:
        """Every 20 ms, the frames every call received since, in one message: sixteen calls'
        audio costs the two processes 50 messages a second, not 800."""
        while True:
            await asyncio.sleep(_FRAME_S)
            if self._received:
                batch, self._received = self._received, []
                self.send("frames", batch)
                await self._writer.drain()

    async def _forward_digits(self, handle: int, call: BaresipCall) -> None:
        async for digit in call.dtmf():
            self.send("digit", handle, digit)

    async def _report_end(self, handle: int, call: BaresipCall) -> None:
        result = await call.wait_ended()
        # Audio still received goes first: the reader finishes on the end marker.
        await asyncio.sleep(0)
        if self._received:
            batch, self._received = self._received, []
            self.send("frames", batch)
        self.send("ended", handle, result)
        self._calls.pop(handle, None)

    async def _play(self, key: tuple[int, int], queue: asyncio.Queue[bytes]) -> None:
        handle, play = key
        call = self._calls.get(handle)

        async def chunks() -> AsyncIterator[bytes]:
            while (chunk := await queue.get()) != _END:
                yield chunk

        completed, frames = False, 0
        if call is not None:
            try:
                completed = await call.play(chunks())
            except Exception:
                logger.warning("telephony process: playback failed", exc_info=True)
            frames = call.played_frames
        self._plays.pop(key, None)
        # The frames that went out: the owner's recording keeps those, not all it handed over.
        self.send("played", handle, play, completed, frames)

    async def _hangup(self, request: int, handle: int) -> None:
        call = self._calls.get(handle)
        if call is None:
            self.send("reply", request, None, None)
            return
        try:
            result = await call.hangup()
        except Exception as err:
            self.send("reply", request, None, error_record(err))
            return
        self.send("reply", request, result, None)

    async def _transfer(self, request: int, handle: int, target: str, timeout_s: float) -> None:
        call = self._calls.get(handle)
        if call is None:
            self.send("reply", request, None, ("CallNotActive", "звонок уже завершён", None, ""))
            return
        try:
            result = await call.blind_transfer(target, timeout_s)
        except Exception as err:
            self.send("reply", request, None, error_record(err))
            return
        self.send("reply", request, result, None)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _serve(protocol_out: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(protocol_out, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    first = await read_message(reader)
    if first is None or first[0] != "config" or not isinstance(first[1], SipConfig):
        return
    telephone = BaresipTelephone(first[1], native_log_level=str(first[2]))
    try:
        await telephone.start()
    except Exception as err:
        write_message(writer, ("failed", error_record(err)))
        await writer.drain()
        return
    server = _Server(telephone, writer)
    server.spawn(server.forward_received())
    write_message(writer, ("ready", first[1].registrar))
    try:
        while (message := await read_message(reader)) is not None:
            await server.handle(message)
            await writer.drain()
    finally:
        await server.close()
        with contextlib.suppress(Exception):
            await telephone.close()


def main() -> None:
    """Serve one owner until its pipe closes."""
    # The protocol gets stdout's pipe to itself; anything else that writes to fd 1 (the
    # native stack, a stray print) goes to stderr instead of into a message.
    protocol_out = os.dup(1)
    os.dup2(2, 1)
    # Ctrl-C in a terminal reaches the whole process group; the owner stops this process
    # (hangs its calls up, closes the pipe) — dying on SIGINT would drop calls a stopping
    # worker means to finish. It still ends when the owner's pipe closes, even on SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(_serve(protocol_out))


if __name__ == "__main__":
    main()
