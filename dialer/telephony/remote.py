"""The telephone in a process of its own: :class:`ProcessTelephone` (``NAPOMNI_SIP_ADAPTER=
baresip-process``, the default).

The calls' process keeps the dialogue, the database and the recognisers' pipes; SIP
signalling, RTP pacing and the calls' audio queues run in ``python -m
dialer.telephony.process`` (:mod:`dialer.telephony.process`), which has nothing else to do.
A sentence is handed over as fast as it is made (whole, from the voice bank) and paced out
there, so a calls' process busy with a classification, a garbage collection or a core taken
by other work is late with the robot's next decision, never with a frame on the wire: no gap
opens inside a sentence, where a person would take the pause for their turn. What was handed
over is not what was said when the line is cut (a barge-in, the ringing tone when the
collector answers): the far side reports the frames it sent for each play
(:attr:`ProcessCall.played_frames`), and the session's recording keeps only those. The two
talk over the child's stdin/stdout (:mod:`dialer.telephony.wire`).

:class:`ProcessCall` is the :class:`~dialer.telephony.port.Call` port on this side: received
frames, digits and the end come in as messages; ``play`` streams the audio across and waits
for the far side's «played»; ``stop_playback`` stops it there at once.

The child ends when its stdin closes: when this side closes, exits or dies (even by SIGKILL),
so none is left behind; it hangs up its calls first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
from collections.abc import AsyncIterable
from types import TracebackType
from typing import Final

from dialer.telephony.config import SipConfig
from dialer.telephony.errors import AdapterUnavailable, TelephonyError
from dialer.telephony.media import MediaCall
from dialer.telephony.port import FRAME_BYTES, Audio, CallResult
from dialer.telephony.wire import ErrorRecord, error_from, read_message, write_message

__all__ = ["ProcessCall", "ProcessTelephone"]

logger = logging.getLogger(__name__)

_START_TIMEOUT_S: Final = 30.0
_STOP_TIMEOUT_S: Final = 10.0


class ProcessCall(MediaCall):
    """A call whose media and signalling live in the telephony process."""

    def __init__(self, owner: ProcessTelephone, handle: int, call_id: str) -> None:
        super().__init__(call_id)
        self._owner = owner
        self._handle = handle
        self._plays = itertools.count(1)
        # Per play: completed, and the frames the far side sent (None: the call ended first).
        self._played: dict[int, asyncio.Future[tuple[bool, int | None]]] = {}

    async def play(self, audio: Audio) -> bool:
        """Stream ``audio`` to the telephony process; True once all of it went out there."""
        async with self._play_lock:
            generation = self._play_generation
            self._played_frames = 0
            if self._ended.is_set():
                return False
            play = next(self._plays)
            done: asyncio.Future[tuple[bool, int | None]]
            done = asyncio.get_running_loop().create_future()
            self._played[play] = done
            handed_over = 0
            self._owner.send("play", self._handle, play)
            try:
                if isinstance(audio, bytes):
                    self._owner.send("chunk", self._handle, play, audio)
                    handed_over = len(audio)
                elif isinstance(audio, AsyncIterable):
                    async for chunk in audio:
                        if generation != self._play_generation or self._ended.is_set():
                            break
                        self._owner.send("chunk", self._handle, play, bytes(chunk))
                        handed_over += len(chunk)
                else:
                    whole = b"".join(audio)
                    self._owner.send("chunk", self._handle, play, whole)
                    handed_over = len(whole)
            finally:
                self._owner.send("play_end", self._handle, play)
            try:
                completed, frames = await done
            finally:
                self._played.pop(play, None)
            # Unknown when the call ended first: then all that was handed over counts as said.
            self._played_frames = -(-handed_over // FRAME_BYTES) if frames is None else frames
            return completed and generation == self._play_generation

    def stop_playback(self) -> None:
        """Stop the audio being played now, there (at most ~60 ms already queued goes out)."""
        self._play_generation += 1
        if not self._ended.is_set():
            self._owner.send("stop", self._handle)

    async def _send_hangup(self) -> None:
        await self._owner.request("hangup", self._handle)

    async def _transfer(self, target_uri: str, timeout_s: float) -> None:
        await self._owner.request("transfer", self._handle, target_uri, timeout_s)

    # -- messages from the telephony process --------------------------------------------

    def _on_played(self, play: int, completed: bool, frames: int) -> None:
        done = self._played.get(play)
        if done is not None and not done.done():
            done.set_result((completed, frames))

    def _on_ended(self, result: CallResult) -> None:
        self._finish(result)
        for done in self._played.values():
            if not done.done():
                done.set_result((False, None))


class ProcessTelephone:
    """The robot's telephone, run in a process of its own; ``async with`` or start/close."""

    def __init__(self, config: SipConfig, *, native_log_level: str = "warning") -> None:
        self.config = config
        self._native_log_level = native_log_level
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._requests = itertools.count(1)
        self._pending: dict[int, asyncio.Future[object]] = {}
        self._calls: dict[int, ProcessCall] = {}
        self._dials: set[int] = set()

    async def __aenter__(self) -> ProcessTelephone:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def pid(self) -> int | None:
        """The telephony process (benchmarks count its CPU as the robot's)."""
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the telephony process; returns once it has registered."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dialer.telephony.process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**26,
        )
        self._process = process
        if process.stdin is None or process.stdout is None:
            raise AdapterUnavailable("процесс телефонии запущен без каналов")
        self._writer = process.stdin
        write_message(process.stdin, ("config", self.config, self._native_log_level))
        try:
            first = await asyncio.wait_for(read_message(process.stdout), _START_TIMEOUT_S)
        except TimeoutError:
            first = None
        if first is None or first[0] != "ready":
            await self.close()
            if first is not None and first[0] == "failed" and isinstance(first[1], tuple):
                raise error_from(first[1])
            raise AdapterUnavailable("процесс телефонии не запустился")
        self._reader_task = asyncio.create_task(self._read(process.stdout))
        logger.info("telephony process %s started, registrar %s", process.pid, first[1])

    async def dial(self, number: str, ring_timeout_s: float) -> ProcessCall:
        """Place a call; returns once it is answered or has failed (with its result)."""
        call = await self.request("dial", number, ring_timeout_s)
        if not isinstance(call, ProcessCall):
            raise TelephonyError(f"процесс телефонии: неожиданный ответ на dial: {call!r}")
        return call

    def _dialled(self, reply: object) -> ProcessCall:
        """The call a dial's reply describes, registered before any of its audio is read."""
        if not isinstance(reply, tuple) or len(reply) != 4:
            raise TelephonyError(f"процесс телефонии: неожиданный ответ на dial: {reply!r}")
        handle, call_id, result, answered = reply
        if not isinstance(result, CallResult):
            raise TelephonyError("процесс телефонии: ответ на dial без итога звонка")
        call = ProcessCall(self, _handle(handle), str(call_id))
        if answered:
            call.mark_answered(result.sip_status or 200, result.reason or "OK")
        if result.ended:
            call._on_ended(result)
        else:
            self._calls[call._handle] = call
        return call

    @property
    def active_calls(self) -> int:
        """Calls dialled and not ended yet."""
        return len(self._calls)

    async def close(self) -> None:
        """Close the pipe (the process hangs up its calls and ends); bounded wait, then kill."""
        process, self._process = self._process, None
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), _STOP_TIMEOUT_S)
            except TimeoutError:
                logger.warning("telephony process %s did not stop; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._reader_task is not None:
            await asyncio.gather(self._reader_task, return_exceptions=True)
            self._reader_task = None
        self._fail_everything("процесс телефонии остановлен")

    # -- the pipe ---------------------------------------------------------------------

    def send(self, *message: object) -> None:
        """Queue one message for the telephony process (a lost process fails its calls)."""
        if self._writer is None or self._writer.is_closing():
            return
        write_message(self._writer, message)

    async def request(self, kind: str, *args: object) -> object:
        """Send a request and wait for its reply; raise the error the process reports."""
        if self._writer is None:
            raise TelephonyError("процесс телефонии не запущен: вызовите start()")
        request = next(self._requests)
        reply: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._pending[request] = reply
        if kind == "dial":
            self._dials.add(request)
        self.send(kind, request, *args)
        try:
            return await reply
        finally:
            self._pending.pop(request, None)
            self._dials.discard(request)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (message := await read_message(reader)) is not None:
                self._on_message(message)
        except Exception:
            logger.exception("telephony process: unreadable message")
        self._fail_everything("процесс телефонии завершился")

    def _on_message(self, message: tuple[object, ...]) -> None:
        kind, *args = message
        if kind == "frames" and isinstance(args[0], list):
            for handle, frame in args[0]:
                call = self._calls.get(handle)
                if call is not None:
                    call.deliver_frame(frame)
        elif kind == "digit":
            call = self._calls.get(_handle(args[0]))
            if call is not None:
                call.deliver_digit(str(args[1]))
        elif kind == "played":
            call = self._calls.get(_handle(args[0]))
            if call is not None:
                call._on_played(_handle(args[1]), bool(args[2]), _frame_count(args[3]))
        elif kind == "ended":
            call = self._calls.pop(_handle(args[0]), None)
            if call is not None and isinstance(args[1], CallResult):
                call._on_ended(args[1])
        elif kind == "reply":
            request, value, error = args
            reply = self._pending.get(_handle(request))
            if reply is None or reply.done():
                return
            if error is not None:
                reply.set_exception(error_from(_record(error)))
            elif _handle(request) in self._dials:
                try:
                    reply.set_result(self._dialled(value))
                except TelephonyError as err:
                    reply.set_exception(err)
            else:
                reply.set_result(value)

    def _fail_everything(self, why: str) -> None:
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(TelephonyError(why))
        self._pending.clear()
        calls, self._calls = self._calls, {}
        for call in calls.values():
            if call.answered:
                call.finish_answered("robot", why)
            else:
                call.finish_failed(None, why)


def _handle(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"номер звонка не целое: {value!r}")
    return value


def _frame_count(value: object) -> int:
    if not isinstance(value, int) or value < 0:
        raise TypeError(f"число отправленных кадров не целое неотрицательное: {value!r}")
    return value


def _record(value: object) -> ErrorRecord:
    if (
        isinstance(value, tuple)
        and len(value) == 4
        and isinstance(value[0], str)
        and isinstance(value[1], str)
    ):
        return (value[0], value[1], value[2] if isinstance(value[2], int) else None, str(value[3]))
    return ("TelephonyError", repr(value), None, "")
