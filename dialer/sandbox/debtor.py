"""Simulated debtors: ``python -m dialer.sandbox.debtor CONFIG.json``.

One process hosts several debtors (one baresip-python user agent each, registered to the
sandbox Kamailio) because baresip allows one runtime per process. A debtor that answers
speaks its greeting, then waits for the robot to finish each turn — energy VAD on what it
hears: speech, then a pause of ``pause_s`` (people answer at 0.3 s) — and plays its next
answer WAV. Everything it hears is recorded to ``<record_dir>/<user>-<n>.wav``.

People do more than wait their turn, and each persona does one of those things:
``hello_after_s`` — says «Алло?» when the robot has been silent that long (at the start, or
after an answer); ``hangup_silence_s`` — hangs up if the robot says nothing that long after
the answer; ``talk_over_s`` — from answer ``talk_over_from`` on, starts answering that long
after the robot starts talking, over it; ``reply_delay_s`` — answers late; ``check_line_at``
— before that answer, checks the line once («Алло? Алло?») instead of answering, then waits
for the robot again. Other behaviours: ``busy`` (486), ``no_answer`` (rings until
cancelled) and ``voicemail`` (a long announcement, then silence).

A ``collector`` is a human collector's phone (an extension such as ``201``): it rings for
``answer_delay_s``, answers, plays its ``greeting`` WAV, records what it hears and, with
``hangup_after_greeting``, hangs up after it. A debtor the robot transfers (REFER) follows
the transfer when ``accept_transfer`` (baresip has already answered the REFER 202): it dials
the target, gives up after ``transfer_ring_s``, and on the new call plays its greeting
again and records to ``<user>-<n>-transfer.wav``, reported as ``transfer_answered``,
``transfer_failed`` (with the SIP status, which baresip sends back in the NOTIFY sipfrag)
and ``transfer_closed``; without it the transfer is refused with a 603 sipfrag.

The process reports on stdout, one JSON object per line: ``{"event": "ready"}`` once all
debtors are registered, then ``call_answered``, ``call_rejected``, ``call_cancelled`` and
``call_closed`` (with the recording path and the number of answers given).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import wave
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from dialer.sandbox.wavfile import frame_rms, read_pcm
from dialer.telephony.port import FRAME_BYTES, FRAME_MS, SAMPLE_RATE_HZ

if TYPE_CHECKING:
    import baresip

__all__ = ["DebtorBehaviour", "DebtorProcessConfig", "DebtorSpec", "main"]

DebtorBehaviour = Literal["answer", "busy", "no_answer", "voicemail", "collector"]

_FRAME_S: Final = FRAME_MS / 1000
_SPEECH_RMS: Final = 400.0
_SPEECH_FRAMES: Final = 5  # 100 ms of sound starts a robot turn
_LEAD_FRAMES: Final = 2
_POLL_S: Final = 0.02


@dataclass(frozen=True, slots=True)
class DebtorSpec:
    """One simulated debtor: its SIP user and what it does when called."""

    user: str
    behaviour: DebtorBehaviour = "answer"
    greeting: str | None = None
    answers: tuple[str, ...] = ()
    dtmf: str = ""
    hangup_after_greeting: bool = False
    answer_delay_s: float = 0.0
    # 0.8 s: the SIP bench's espeak prompts pause ~0.5 s between sentences; the demo's people
    # (napomni.commands.demo_debtors) answer at 0.3 s, as people do.
    pause_s: float = 0.8
    hello: str | None = None  # a WAV of «Алло?»
    hello_after_s: float | None = None
    hangup_silence_s: float | None = None
    talk_over_s: float | None = None
    talk_over_from: int = 0
    reply_delay_s: float = 0.0
    check_line_at: int | None = None
    accept_transfer: bool = True
    transfer_ring_s: float = 10.0


_SPEC_FIELDS: Final = (
    "greeting", "dtmf", "hangup_after_greeting", "answer_delay_s", "pause_s", "hello",
    "hello_after_s", "hangup_silence_s", "talk_over_s", "talk_over_from", "reply_delay_s",
    "check_line_at", "accept_transfer", "transfer_ring_s",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DebtorProcessConfig:
    """Everything one debtor process needs (written as JSON by the launcher)."""

    registrar: str
    password: str
    listen_port: int
    rtp_port_min: int
    rtp_port_max: int
    record_dir: str
    debtors: tuple[DebtorSpec, ...]
    max_call_s: float = 120.0

    def to_json(self) -> str:
        """The JSON the process reads."""
        data = {
            "registrar": self.registrar,
            "password": self.password,
            "listen_port": self.listen_port,
            "rtp_port_min": self.rtp_port_min,
            "rtp_port_max": self.rtp_port_max,
            "record_dir": self.record_dir,
            "max_call_s": self.max_call_s,
            "debtors": [
                {
                    "user": d.user,
                    "behaviour": d.behaviour,
                    "answers": list(d.answers),
                    **{name: getattr(d, name) for name in _SPEC_FIELDS},
                }
                for d in self.debtors
            ],
        }
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> DebtorProcessConfig:
        """Parse the JSON written by :meth:`to_json`."""
        data = json.loads(text)
        debtors = tuple(
            DebtorSpec(
                user=d["user"],
                behaviour=d["behaviour"],
                answers=tuple(d.get("answers", ())),
                **{name: d[name] for name in _SPEC_FIELDS if name in d},
            )
            for d in data["debtors"]
        )
        return cls(
            registrar=data["registrar"],
            password=data["password"],
            listen_port=int(data["listen_port"]),
            rtp_port_min=int(data["rtp_port_min"]),
            rtp_port_max=int(data["rtp_port_max"]),
            record_dir=data["record_dir"],
            debtors=debtors,
            max_call_s=float(data.get("max_call_s", 120.0)),
        )


def _report(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")
    sys.stdout.flush()


class _CallLeg:
    """One answered call: records what is heard, tracks the robot's turns, speaks."""

    def __init__(self, call: baresip.Call, recording: wave.Wave_write, pause_s: float) -> None:
        self.call = call
        self.recording = recording
        self.closed = asyncio.Event()
        self.turn_ended = asyncio.Event()
        self.robot_started = asyncio.Event()
        self._pause_frames = max(1, round(pause_s / _FRAME_S))
        self._voiced = 0
        self._silent = 0
        self._in_speech = False
        self._speaking = False
        self._rest = b""
        self.robot_spoke = False
        self.last_sound_at = asyncio.get_running_loop().time()

    def on_event(self, event: baresip.StackEvent) -> None:
        import baresip

        if event.event is baresip.Event.CALL_CLOSED:
            self.closed.set()

    async def listen(self) -> None:
        """Read the robot's audio every 20 ms until the call closes."""
        import baresip

        loop = asyncio.get_running_loop()
        start, tick = loop.time(), 0
        while not self.closed.is_set():
            try:
                data = self.call.audio.read(FRAME_BYTES * 10)
            except baresip.AudioRestarted:
                continue
            except baresip.AudioNotActive:
                data = b""
            self._rest += data
            while len(self._rest) >= FRAME_BYTES:
                frame, self._rest = self._rest[:FRAME_BYTES], self._rest[FRAME_BYTES:]
                self.recording.writeframes(frame)
                self._track(frame)
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * _FRAME_S - loop.time()))

    def _track(self, frame: bytes) -> None:
        if self._speaking:
            return  # half duplex: our own turn
        if frame_rms(frame) >= _SPEECH_RMS:
            self._voiced += 1
            self._silent = 0
            self.last_sound_at = asyncio.get_running_loop().time()
            if self._voiced >= _SPEECH_FRAMES and not self._in_speech:
                self._in_speech = self.robot_spoke = True
                self.robot_started.set()
        else:
            self._voiced = 0
            self._silent += 1
            if self._in_speech and self._silent >= self._pause_frames:
                self._in_speech = False
                self.turn_ended.set()

    async def wait_robot_turn(
        self,
        *,
        hello: Callable[[], Awaitable[None]] | None = None,
        hello_after_s: float | None = None,
        hangup_silence_s: float | None = None,
    ) -> Literal["turn", "closed", "hang_up"]:
        """Wait until the robot has spoken and paused.

        Meanwhile say ``hello`` once the robot has been silent ``hello_after_s``, and give up
        (``hang_up``) when it has said nothing at all for ``hangup_silence_s``.
        """
        loop = asyncio.get_running_loop()
        self.turn_ended.clear()
        since = loop.time()
        hellos = 0
        while True:
            if self.closed.is_set():
                return "closed"
            if self.turn_ended.is_set():
                return "turn"
            quiet = loop.time() - max(self.last_sound_at, since)
            give_up_s = hangup_silence_s if not self.robot_spoke else None
            if not self._in_speech and give_up_s is not None and loop.time() - since >= give_up_s:
                return "hang_up"
            hello_s = hello_after_s if hellos < 2 else None
            if not self._in_speech and hello and hello_s is not None and quiet >= hello_s:
                hellos += 1
                await hello()
                since = loop.time()
            await asyncio.sleep(_POLL_S)

    async def wait_robot_speech(self) -> bool:
        """Wait until the robot starts talking; False if the call closed."""
        self.robot_started.clear()
        while not self.robot_started.is_set():
            if self.closed.is_set():
                return False
            await asyncio.sleep(_POLL_S)
        return True

    async def speak(self, pcm: bytes) -> None:
        """Play samples paced in real time (≤ 60 ms ahead of the wire)."""
        import baresip

        self._speaking = True
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            for index in range(0, len(pcm), FRAME_BYTES):
                if self.closed.is_set():
                    return
                due = start + (index // FRAME_BYTES - _LEAD_FRAMES) * _FRAME_S
                await asyncio.sleep(max(0.0, due - loop.time()))
                with contextlib.suppress(baresip.AudioRestarted, baresip.AudioNotActive):
                    self.call.audio.write(pcm[index : index + FRAME_BYTES])
        finally:
            self._speaking = False
            self._voiced = self._silent = 0
            self._in_speech = False
            self.last_sound_at = asyncio.get_running_loop().time()


class _Debtor:
    def __init__(self, spec: DebtorSpec, config: DebtorProcessConfig) -> None:
        self.spec = spec
        self.config = config
        self.greeting = read_pcm(Path(spec.greeting)) if spec.greeting else b""
        self.hello = read_pcm(Path(spec.hello)) if spec.hello else b""
        self.answers = [read_pcm(Path(a)) for a in spec.answers]
        self.calls = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def on_incoming(self, call: baresip.Call) -> None:
        self._spawn(self.serve(call))

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def follow_transfer(self, call: baresip.Call, number: int) -> None:
        """Execute (or refuse) the robot's REFER: dial the target and talk there."""
        import baresip

        user = self.spec.user
        try:
            if not self.spec.accept_transfer:
                await call.reject_transfer(603)
                _report("transfer_rejected", user=user, call=number)
                return
            target = await call.accept_transfer()
            try:
                await target.wait_established(self.spec.transfer_ring_s)
            except baresip.CallFailed as err:  # CallTimeout has hung up (CANCEL) already
                _report("transfer_failed", user=user, call=number, status=err.status)
                return
            path = Path(self.config.record_dir) / f"{user}-{number}-transfer.wav"
            await self._converse(target, path, number, transferred=True)
            _report("transfer_closed", user=user, call=number, recording=str(path))
        except baresip.BaresipError as err:
            _report("call_error", user=user, call=number, error=type(err).__name__)

    async def serve(self, call: baresip.Call) -> None:
        import baresip

        self.calls += 1
        number = self.calls
        user = self.spec.user
        try:
            match self.spec.behaviour:
                case "busy":
                    await call.reject()
                    _report("call_rejected", user=user, call=number)
                    return
                case "no_answer":
                    closed = asyncio.Event()
                    call.on(
                        lambda e: closed.set() if e.event is baresip.Event.CALL_CLOSED else None
                    )
                    await asyncio.wait_for(closed.wait(), self.config.max_call_s)
                    _report("call_cancelled", user=user, call=number)
                    return
                case _:
                    await self._talk(call, number)
        except (baresip.BaresipError, TimeoutError) as err:
            _report("call_error", user=user, call=number, error=type(err).__name__)

    async def _talk(self, call: baresip.Call, number: int) -> None:
        if self.spec.answer_delay_s:
            await asyncio.sleep(self.spec.answer_delay_s)
        path = Path(self.config.record_dir) / f"{self.spec.user}-{number}.wav"
        call.on_transfer_request(lambda _request: self._spawn(self.follow_transfer(call, number)))
        await call.answer()
        given = await self._converse(call, path, number, transferred=False)
        _report("call_closed", user=self.spec.user, call=number, recording=str(path), answers=given)

    async def _converse(
        self, call: baresip.Call, path: Path, number: int, *, transferred: bool
    ) -> int:
        """Record an answered call to ``path`` and play the script (or, transferred, the
        greeting alone) until it closes; the number of answers given."""
        import baresip

        with wave.open(str(path), "wb") as recording:
            recording.setnchannels(1)
            recording.setsampwidth(2)
            recording.setframerate(SAMPLE_RATE_HZ)
            leg = _CallLeg(call, recording, self.spec.pause_s)
            call.on(leg.on_event)
            await call.wait_established(10)
            answered = "transfer_answered" if transferred else "call_answered"
            _report(answered, user=self.spec.user, call=number)
            listener = asyncio.get_running_loop().create_task(leg.listen())
            given = 0
            try:
                script = self._greet(leg) if transferred else self._script(leg)
                given = await asyncio.wait_for(script, self.config.max_call_s)
                await asyncio.wait_for(leg.closed.wait(), self.config.max_call_s)
            except TimeoutError:
                with contextlib.suppress(baresip.BaresipError):
                    await call.hangup()
                await asyncio.wait_for(leg.closed.wait(), 5)
            finally:
                leg.closed.set()
                await listener
        return given

    async def _greet(self, leg: _CallLeg) -> int:
        """On a transferred call: the greeting, then hang up if the spec says so."""
        await asyncio.sleep(0.05)
        if self.greeting:
            await leg.speak(self.greeting)
        if self.spec.hangup_after_greeting and not leg.closed.is_set():
            await leg.call.hangup()
        return 0

    async def _script(self, leg: _CallLeg) -> int:
        """Greeting, DTMF, then one answer per robot turn; the number of answers given."""
        await asyncio.sleep(0.05)
        if self.greeting:
            await leg.speak(self.greeting)
        if self.spec.dtmf and not leg.closed.is_set():
            await leg.call.send_dtmf(self.spec.dtmf)
        spec = self.spec
        if spec.hangup_after_greeting:
            await leg.call.hangup()
            return 0
        given = 0
        for index, answer in enumerate(self.answers):
            if spec.talk_over_s is not None and index >= spec.talk_over_from:
                if not await leg.wait_robot_speech():
                    break
                await asyncio.sleep(spec.talk_over_s)
            else:
                waited = await self._robot_turn(leg, hang_up=index == 0)
                if waited == "hang_up":
                    _report("hung_up_on_silence", user=spec.user)
                    await leg.call.hangup()
                    break
                if waited == "closed":
                    break
                if index == spec.check_line_at and self.hello:
                    await leg.speak(self.hello)  # as if the question was not heard
                    if await self._robot_turn(leg, hang_up=False) != "turn":
                        break
                if spec.reply_delay_s:
                    await asyncio.sleep(spec.reply_delay_s)
            if leg.closed.is_set():
                break
            await leg.speak(answer)
            given += 1
        return given

    async def _robot_turn(
        self, leg: _CallLeg, *, hang_up: bool
    ) -> Literal["turn", "closed", "hang_up"]:
        async def hello() -> None:
            await leg.speak(self.hello)

        return await leg.wait_robot_turn(
            hello=hello if self.hello else None,
            hello_after_s=self.spec.hello_after_s,
            hangup_silence_s=self.spec.hangup_silence_s if hang_up else None,
        )


async def _serve(config: DebtorProcessConfig) -> None:
    import baresip

    runtime = baresip.Runtime()
    await runtime.start(
        baresip.Config(
            net_interface="127.0.0.1",
            max_concurrent_calls=max(4, len(config.debtors) * 2),
            extra_config_text=(
                f"sip_listen 127.0.0.1:{config.listen_port}\n"
                f"rtp_ports {config.rtp_port_min}-{config.rtp_port_max}\n"
            ),
        )
    )
    debtors: list[_Debtor] = []
    try:
        for spec in config.debtors:
            ua = await baresip.UserAgent.create(
                runtime,
                baresip.Account(
                    user=spec.user,
                    domain=config.registrar,
                    password=config.password,
                    reg_interval=300,
                    audio_codecs=("pcma", "pcmu"),
                    # A telephone, not a videophone: with a video codec loaded baresip opens a
                    # video stream for every incoming INVITE (audio-only offers too) and drops
                    # it only at answer; sixteen INVITEs at once ran the RTP range dry (500).
                    extra_params=("video_codecs=none",),
                ),
            )
            debtor = _Debtor(spec, config)
            ua.on_incoming(debtor.on_incoming)
            await ua.register(timeout=5)
            debtors.append(debtor)
        _report("ready", debtors=[d.spec.user for d in debtors])
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        for debtor in debtors:
            for task in list(debtor.tasks):
                task.cancel()
        await runtime.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the debtors of a JSON config until stdin closes."""
    parser = argparse.ArgumentParser(description="Имитация должников для песочницы SIP.")
    parser.add_argument("config", type=Path, help="JSON с описанием должников")
    args = parser.parse_args(argv)
    # To stderr, which the pool keeps as debtors.log: the SIP stack's own warnings (a call it
    # could not take, a port it could not bind) are what a lost call is traced by.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = DebtorProcessConfig.from_json(args.config.read_text(encoding="utf-8"))
    asyncio.run(_serve(config))


if __name__ == "__main__":
    main()
