"""The call session: one answered call, from the first word to the stored outcome.

The only place that knows every part. Per call it runs four small tasks on the event loop:

- *receiver*: the debtor's 20 ms frames → the recording and the recogniser's queue;
- *recogniser*: frames → :class:`~speech.recognition.RecognizerStream` in a worker thread
  (``asyncio.to_thread``, never on the loop) → recognition events into the inbox;
- *dtmf*: the far end's digits → the inbox;
- *player*: the script's lines → Russian words → synthesis (worker thread) → ``play()``;
  the first frame of each reply closes the turn's latency.

The dialogue loop reads the inbox and feeds the script engine (:class:`scripts.engine.
Conversation`): a final utterance is classified (worker thread) in the context of what the
script asked, today's date in the account's zone and the debt; the script's actions are
queued for the player. Barge-in (speech starting while an interruptible line plays) stops
the robot at once: ``stop_playback()`` leaves ≤ 60 ms on the wire.

Whatever happens on the line — hang-up at any moment, silence, noise, one-way audio, a
recogniser that returns nothing, a script or synthesis error — the call ends politely and is
stored (with the reason when it failed); nothing else stops. Turns are written one short
transaction each, the call's end in one more.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Final

from classifier.contract import Asked, Classification, TurnClassifier, TurnContext
from dialer.session.machine import MachineDetector, detect_announcement
from dialer.session.ports import CallClosing, CallLog, Notice, NoticeKind, Observer, Phrasing, Voice
from dialer.session.report import CallOpening, CallReport, TurnRecord, TurnTimings
from dialer.session.speaker import Speaker, sentences
from dialer.telephony.errors import TelephonyError
from dialer.telephony.media import iter_frames
from dialer.telephony.port import (
    FRAME_BYTES,
    FRAME_MS,
    SAMPLE_RATE_HZ,
    Call,
    CallResult,
    Outcome,
    Telephone,
)
from scripts.actions import (
    Action,
    End,
    Escalate,
    Listen,
    MessageKind,
    Say,
    SendMessage,
    StopSpeaking,
)
from scripts.actions import Outcome as ScriptOutcome
from scripts.engine import Conversation
from scripts.events import (
    BargeIn,
    CallAnswered,
    Dtmf,
    Heard,
    HungUp,
    MachineDetected,
    MachineKind,
    Silence,
)
from speech.recognition import (
    FinalResult,
    PartialResult,
    RecognitionEngine,
    RecognitionEvent,
    SpeechStarted,
)
from speech.recording import CallRecording

__all__ = ["CallContext", "CallSession", "SessionConfig", "SessionParts"]

logger = logging.getLogger(__name__)

_TICK_S: Final = 0.05
_AHEAD_THREADS: Final = 2  # Festival processes making lines ahead, for all calls together
_DO_NOT_CALL: Final = re.compile(r"не\W+(?:звоните|звонить|надо\W+звонить|беспокойте)")


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Timings and limits of a call (defaults suit a telephone line).

    ``speech_grace_s``: how long an utterance that started but never produced a result may
    hold off the silence timer (a recogniser that returns nothing must not stall the call).
    ``media_timeout_s``: no audio frame at all for this long is a dead line (one-way RTP the
    port could not see); the robot hangs up.
    """

    monologue_s: float = 6.0
    media_timeout_s: float = 10.0
    max_call_s: float = 600.0
    speech_grace_s: float = 8.0
    goodbye_timeout_s: float = 30.0
    recognition_batch_frames: int = 5
    record_dir: Path | None = None
    apology_text: str = (
        "Извините, произошла техническая ошибка. Мы перезвоним вам позже. До свидания."
    )


@dataclass(frozen=True, slots=True)
class SessionParts:
    """The per-process parts every call shares (one model each, thread-safe)."""

    recognizer: RecognitionEngine
    classifier: TurnClassifier
    voice: Voice
    phrasing: Phrasing
    log: CallLog | None = None


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the session knows about this call beyond the line: whom, which script, the debt."""

    opening: CallOpening
    today: dt.date
    debt: Decimal | None = None
    call_ref: str = ""  # a short id for the console and logs (never a phone)


# --- the inbox: everything the dialogue loop reacts to --------------------------------


@dataclass(frozen=True, slots=True)
class _Recognised:
    event: RecognitionEvent
    arrived_at: float  # clock time the frame that produced it was received
    decode_started: float  # clock time the recogniser took that frame's batch
    decoded_at: float  # clock time the recogniser returned

    @property
    def decode_ms(self) -> int:
        return round((self.decoded_at - self.decode_started) * 1000)


@dataclass(frozen=True, slots=True)
class _Digit:
    digit: str


@dataclass(frozen=True, slots=True)
class _LineEnded:
    pass


@dataclass(frozen=True, slots=True)
class _PlayerFailed:
    reason: str


_Input = _Recognised | _Digit | _LineEnded | _PlayerFailed


@dataclass(slots=True)
class _PendingTurn:
    """A turn heard and waiting for the robot's reply; the clock marks of its stages."""

    record: TurnRecord
    heard_at: float  # the closing frame arrived (the latency starts here)
    endpoint_s: float  # silence the endpointer waited before that frame
    decode_started: float
    decoded_at: float
    picked_at: float  # the dialogue loop took the result
    classified_at: float


@dataclass(slots=True)
class _Line:
    say: Say
    text: str
    pieces: list[asyncio.Future[bytes]]  # the line's sentences, synthesised in parallel
    queued_at: float
    first_ready_at: float | None = None  # the first sentence's audio was ready


@dataclass(slots=True)
class _State:
    """The mutable state of one call's dialogue (touched only on the event loop)."""

    listening: Listen | None = None
    # Both in seconds of the debtor's audio (stream time), not wall time: a recogniser busy
    # decoding falls behind the line, and that must not count as the debtor's silence.
    idle_since: float | None = None
    speech_since: float | None = None
    last_frame_at: float = 0.0
    turn_index: int = 0
    robot_lines: list[str] = field(default_factory=list)
    pending: _PendingTurn | None = None
    turns: list[TurnRecord] = field(default_factory=list)
    misunderstood: int = 0
    max_misunderstood: int = 0
    escalation: Escalate | None = None
    messages: list[MessageKind] = field(default_factory=list)
    operator_pressed: bool = False
    do_not_call: bool = False
    failure: str | None = None
    barge_in_ms: list[int] = field(default_factory=list)


class CallSession:
    """Runs answered calls; one instance serves every call of a worker."""

    def __init__(
        self,
        parts: SessionParts,
        config: SessionConfig | None = None,
        *,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parts = parts
        self.config = config or SessionConfig()
        self.observer = observer
        self.clock = clock
        self._ahead_pool: ThreadPoolExecutor | None = None

    def speaker(self, conversation: Conversation) -> Speaker:
        """A call's speaker, already making the opening (called before dialling)."""
        if self._ahead_pool is None:
            self._ahead_pool = ThreadPoolExecutor(_AHEAD_THREADS, "synthesis-ahead")
        speaker = Speaker(self.parts.voice, self.parts.phrasing, self._ahead_pool)
        _prepare(speaker, conversation)
        return speaker

    async def place(
        self,
        telephone: Telephone,
        number: str,
        ring_timeout_s: float,
        conversation: Conversation,
        context: CallContext,
    ) -> CallReport:
        """Store the call, dial ``number``, talk, store the end; never raises for the line's sake.

        The ``calls`` row exists before the number is dialled, so a crash while ringing
        still leaves a trace; a dial the telephone refuses is stored as failed.
        """
        speaker = self.speaker(conversation)  # the opening is made while the phone rings
        call_id = await self._open(context)
        try:
            call = await telephone.dial(number, ring_timeout_s)
        except TelephonyError as err:
            speaker.close()
            result = CallResult(Outcome.FAILED, None, f"{type(err).__name__}: {err}", ended=True)
            return await self._close_unanswered(result, context, call_id)
        return await self._talk(call, conversation, context, call_id, speaker)

    async def run(self, call: Call, conversation: Conversation, context: CallContext) -> CallReport:
        """Talk through ``call`` (already dialled) and store it; never raises for the line's sake.

        An unanswered call is stored with its outcome and SIP cause and returned at once.
        """
        call_id = await self._open(context)
        return await self._talk(call, conversation, context, call_id, self.speaker(conversation))

    async def _open(self, context: CallContext) -> int | None:
        if self.parts.log is None:
            return None
        return await asyncio.to_thread(self.parts.log.open_call, context.opening)

    async def _talk(
        self,
        call: Call,
        conversation: Conversation,
        context: CallContext,
        call_id: int | None,
        speaker: Speaker,
    ) -> CallReport:
        if call.result.outcome is not Outcome.ANSWERED:
            speaker.close()
            return await self._close_unanswered(call.result, context, call_id)
        try:
            return await _CallRun(self, call, conversation, context, call_id, speaker).execute()
        finally:
            speaker.close()

    async def _close_unanswered(
        self, result: CallResult, context: CallContext, call_id: int | None
    ) -> CallReport:
        if self.observer is not None:
            self.observer.notice(Notice(context.call_ref, "event", f"итог: {result.outcome.value}"))
        if self.parts.log is not None and call_id is not None:
            closing = CallClosing(
                ended_at=dt.datetime.now(dt.UTC),
                result=result,
                outcome=result.outcome.value,
                recording_path=None,
                failure_reason=result.reason if result.outcome is Outcome.FAILED else None,
            )
            await asyncio.to_thread(
                self.parts.log.close_call, call_id, context.opening.account_id, closing
            )
        return CallReport(
            call_id=call_id,
            result=result,
            outcome=None,
            turns=(),
            recording_path=None,
            failure_reason=result.reason if result.outcome is Outcome.FAILED else None,
        )


class _CallRun:
    """One answered call's tasks and dialogue loop."""

    def __init__(
        self,
        session: CallSession,
        call: Call,
        conversation: Conversation,
        context: CallContext,
        call_id: int | None,
        speaker: Speaker,
    ) -> None:
        self.s = session
        self.speaker = speaker
        self.config = session.config
        self.clock = session.clock
        self.call = call
        self.conversation = conversation
        self.context = context
        self.call_id = call_id
        self.ref = context.call_ref or call.call_id
        self.state = _State(max_misunderstood=conversation.script.max_misunderstood)
        self.machine = MachineDetector(monologue_s=self.config.monologue_s)
        self.robot_audio = bytearray()
        self.debtor_audio = bytearray()
        self.inbox: asyncio.Queue[_Input] = asyncio.Queue()
        self.rx: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.rx_times: deque[float] = deque()
        self.lines: deque[_Line] = deque()
        self.lines_ready = asyncio.Event()
        self.playing: _Line | None = None
        self.stream_s = 0.0  # seconds of the debtor's audio the recogniser has taken
        self.rx_s = 0.0  # seconds of the debtor's audio received
        self.player_idle = asyncio.Event()
        self.player_idle.set()
        self.writes: asyncio.Queue[Callable[[], None] | None] = asyncio.Queue()
        self.answered_at = self.clock()
        self.state.last_frame_at = self.answered_at

    # --- the whole call -------------------------------------------------------------

    async def execute(self) -> CallReport:
        tasks = [
            asyncio.create_task(self._receive(), name=f"receive-{self.ref}"),
            asyncio.create_task(self._recognise(), name=f"recognise-{self.ref}"),
            asyncio.create_task(self._digits(), name=f"dtmf-{self.ref}"),
            asyncio.create_task(self._player(), name=f"player-{self.ref}"),
            asyncio.create_task(self._writer(), name=f"writer-{self.ref}"),
        ]
        writer = tasks[-1]
        if self.s.parts.log is not None and self.call_id is not None:
            self._write(self.s.parts.log.mark_answered, self.call_id, dt.datetime.now(dt.UTC))
        try:
            await self._converse()
        except Exception as err:  # the per-call boundary: end politely, store failed, log once
            self.state.failure = f"{type(err).__name__}: {err}"[:500]
            logger.warning("call %s failed: %s", self.ref, type(err).__name__, exc_info=True)
            self._notice("event", "ошибка: звонок завершён вежливо")
            await self._apologise()
        except BaseException:  # cancelled (the worker stops): hang up below, store nothing more
            writer.cancel()
            raise
        finally:
            result = await self._hang_up()
            for task in tasks[:-1]:
                task.cancel()
            await asyncio.gather(*tasks[:-1], return_exceptions=True)
        return await self._finish(result, writer)

    async def _converse(self) -> None:
        await self._perform(self.conversation.handle(CallAnswered()))
        while not self.conversation.ended:
            item = await self._next_input()
            match item:
                case None:
                    await self._on_tick()
                case _Recognised():
                    await self._on_recognised(item)
                case _Digit(digit=digit):
                    await self._on_digit(digit)
                case _PlayerFailed(reason=reason):
                    raise _LineDead(f"реплика не озвучена: {reason}")
                case _LineEnded():
                    self._notice("event", "собеседник положил трубку")
                    await self._perform(self.conversation.handle(HungUp()))
                    return
        # The script ended: let the goodbye play out (bounded), then hang up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained(), self.config.goodbye_timeout_s)

    async def _next_input(self) -> _Input | None:
        try:
            return await asyncio.wait_for(self.inbox.get(), _TICK_S)
        except TimeoutError:
            return None

    async def _drained(self) -> None:
        while self.lines or self.playing is not None:
            if self.call.result.ended:
                return
            await asyncio.sleep(_TICK_S)

    # --- timers ---------------------------------------------------------------------

    async def _on_tick(self) -> None:
        now = self.clock()
        state = self.state
        if now - state.last_frame_at > self.config.media_timeout_s:
            raise _LineDead(f"нет звука от собеседника {self.config.media_timeout_s:.0f} с")
        if now - self.answered_at > self.config.max_call_s:
            raise _LineDead(f"звонок длиннее {self.config.max_call_s:.0f} с")
        if state.speech_since is not None:
            # Audio time, not wall time: a recogniser busy decoding must not look like a
            # monologue.
            kind = self.machine.still_talking(self.stream_s)
            if kind is not None:
                await self._machine(kind)
                return
        listen = state.listening
        if listen is None or self.playing is not None or self.lines:
            return
        if state.idle_since is None:
            state.idle_since = self.rx_s
        heard_s = self.stream_s
        waited_from = state.idle_since
        if state.speech_since is not None:
            # Someone is talking: wait for the result, but not forever.
            if heard_s - state.speech_since < self.config.speech_grace_s:
                return
            waited_from = state.speech_since + self.config.speech_grace_s
            state.speech_since = None
            self.machine.speech_lost()
        if heard_s - waited_from >= listen.timeout_s:
            self._notice("event", f"тишина {listen.timeout_s:.0f} с")
            await self._perform(self.conversation.handle(Silence(listen.timeout_s)))

    # --- recognition ----------------------------------------------------------------

    async def _on_recognised(self, item: _Recognised) -> None:
        event = item.event
        state = self.state
        match event:
            case SpeechStarted(at_s=at_s):
                state.speech_since = at_s
                self.machine.speech_started(at_s)
                await self._barge_in(item.arrived_at)
            case PartialResult(text=text):
                kind = detect_announcement(text) if self.machine.active else None
                if kind is not None:
                    await self._machine(kind)
            case FinalResult():
                await self._on_final(event, item)

    async def _on_final(self, final: FinalResult, item: _Recognised) -> None:
        picked_at = self.clock()
        state = self.state
        state.speech_since = None
        state.idle_since = self.stream_s  # the silence timer restarts after any utterance
        text = final.text.strip()
        kind = self.machine.utterance(text, final.end_s - final.start_s)
        if kind is not None:
            self._notice("debtor", f"{text} ({final.end_s - final.start_s:.1f} с)")
            await self._machine(kind)
            return
        if not text:
            return
        if self.playing is not None and not self.playing.say.interruptible:
            # Said over a line that must be heard to the end (who calls, that it is recorded):
            # people say «алло» there; it answers nothing the script asked.
            self._notice("debtor", text + " (во время вступления)")
            return
        context = TurnContext(
            asked=self.conversation.asked or Asked.OPEN,
            today=self.context.today,
            debt=self.context.debt,
        )
        classification = await asyncio.to_thread(self.s.parts.classifier.classify, text, context)
        classified_at = self.clock()
        if not classification.is_empty:
            self.machine.person_confirmed()
        state.misunderstood = state.misunderstood + 1 if classification.is_empty else 0
        if _DO_NOT_CALL.search(text.lower()):
            state.do_not_call = True
        # A new answer replaces whatever the robot had left to say.
        self._cut_speech(only_interruptible=True)
        self._turn_heard(text, context.asked, classification, item, final, picked_at, classified_at)
        await self._perform(self.conversation.handle(Heard(text, classification)))

    async def _barge_in(self, arrived_at: float) -> None:
        line = self.playing
        if line is None or not line.say.interruptible:
            return
        actions = self.conversation.handle(BargeIn())
        if any(isinstance(a, StopSpeaking) for a in actions):
            self._cut_speech(only_interruptible=True)
            self.state.barge_in_ms.append(round((self.clock() - arrived_at) * 1000))
            self._notice("event", "перебил — робот замолчал")

    async def _machine(self, kind: MachineKind) -> None:
        self._notice("event", f"не человек: {kind.value}")
        self._cut_speech(only_interruptible=False)
        await self._perform(self.conversation.handle(MachineDetected(kind)))

    async def _on_digit(self, digit: str) -> None:
        self._notice("event", f"нажата клавиша {digit}")
        if digit == "0":
            self.state.operator_pressed = True
        actions = self.conversation.handle(Dtmf(digit))
        if actions:
            self._cut_speech(only_interruptible=False)
        await self._perform(actions)

    # --- actions --------------------------------------------------------------------

    async def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Say():
                    self.state.listening = None
                    # Synthesis starts now, sentence by sentence: the first sentence plays
                    # while the rest is still being made, the next line is ready in time.
                    text = self.s.parts.phrasing.render(action.parts)
                    pieces = [self.speaker.sentence(part) for part in sentences(text)]
                    line = _Line(action, text, pieces, queued_at=self.clock())
                    if pieces[0].done():  # made ahead of time
                        line.first_ready_at = line.queued_at
                    else:
                        pieces[0].add_done_callback(
                            functools.partial(_first_ready, line, self.clock)
                        )
                    self.lines.append(line)
                    self.lines_ready.set()
                case Listen():
                    self.state.listening = action
                    self.state.idle_since = None
                    # While the debtor answers, make what the robot may say next.
                    _prepare(self.speaker, self.conversation)
                case StopSpeaking():
                    self._cut_speech(only_interruptible=True)
                case Escalate():
                    self.state.escalation = action
                    self._notice("event", f"эскалация: {action.reason}")
                case SendMessage(kind=kind):
                    self.state.messages.append(kind)
                case End(outcome=outcome):
                    self.state.listening = None
                    self._notice("event", f"итог: {outcome.kind.value}")

    def _cut_speech(self, *, only_interruptible: bool) -> None:
        kept = [line for line in self.lines if only_interruptible and not line.say.interruptible]
        for dropped in self.lines:
            if dropped not in kept:
                for piece in dropped.pieces:
                    piece.cancel()
        self.lines.clear()
        self.lines.extend(kept)
        playing = self.playing
        if playing is not None and (playing.say.interruptible or not only_interruptible):
            self.call.stop_playback()

    # --- the player -----------------------------------------------------------------

    async def _player(self) -> None:
        while True:
            while not self.lines:
                self.lines_ready.clear()
                await self.lines_ready.wait()
            line = self.lines.popleft()
            self.playing = line
            try:
                self.state.robot_lines.append(line.text)
                self._notice("robot", line.text)
                await self.call.play(self._tap(line))
            except Exception as err:  # a line that cannot be said ends the call, politely
                self.inbox.put_nowait(_PlayerFailed(f"{type(err).__name__}: {err}"))
                self.playing = None
                return
            finally:
                if self.playing is line:
                    self.playing = None
                    self.state.idle_since = self.rx_s

    async def _tap(self, line: _Line) -> AsyncIterator[bytes]:
        """Frames for ``play()``, recorded and timed as they go to the wire."""
        first = True
        for piece in line.pieces:
            audio = await piece
            async for frame in iter_frames(audio):
                if first:
                    first = False
                    self._reply_started(line)
                self.robot_audio += frame
                yield frame

    def _reply_started(self, line: _Line) -> None:
        pending = self.state.pending
        if pending is None:
            return
        now = self.clock()
        self.state.pending = None
        self._store_turn(_replied(pending, line, now))

    # --- audio in -------------------------------------------------------------------

    async def _receive(self) -> None:
        async for frame in self.call.frames():
            now = self.clock()
            self.state.last_frame_at = now
            self.rx_s += FRAME_MS / 1000
            self.debtor_audio += frame
            if len(self.robot_audio) < len(self.debtor_audio):
                # The robot was quiet (or its source fell behind): silence on its channel,
                # so both channels stay on the line's clock.
                self.robot_audio += bytes(len(self.debtor_audio) - len(self.robot_audio))
            self.rx.put_nowait(frame)
            self.rx_times.append(now)
        self.rx.put_nowait(None)

    async def _recognise(self) -> None:
        stream = self.s.parts.recognizer.open_stream()
        ended = False
        while not ended:
            frames = [await self.rx.get()]
            while len(frames) < self.config.recognition_batch_frames and not self.rx.empty():
                frames.append(self.rx.get_nowait())
            if frames[-1] is None:
                ended = True
            pcm = b"".join(f for f in frames if f)
            arrived = self.clock()
            for _ in range(len(pcm) // FRAME_BYTES):
                arrived = self.rx_times.popleft()
            started = self.clock()
            events = await self._decode(stream.accept, pcm) if pcm else []
            self.stream_s += len(pcm) / (2 * SAMPLE_RATE_HZ)
            if ended:
                events += await self._decode(lambda _pcm: stream.flush(), b"")
            decoded = self.clock()
            for event in events:
                self.inbox.put_nowait(_Recognised(event, arrived, started, decoded))
        self.inbox.put_nowait(_LineEnded())

    async def _decode(
        self, step: Callable[[bytes], list[RecognitionEvent]], pcm: bytes
    ) -> list[RecognitionEvent]:
        try:
            return await asyncio.to_thread(step, pcm)
        except Exception:  # a recogniser failing on one chunk must not end the call
            logger.warning("call %s: recogniser failed on a chunk", self.ref, exc_info=True)
            return []

    async def _digits(self) -> None:
        async for digit in self.call.dtmf():
            self.inbox.put_nowait(_Digit(digit))

    # --- turns and storage ----------------------------------------------------------

    def _turn_heard(
        self,
        text: str,
        asked: Asked,
        classification: Classification,
        item: _Recognised,
        final: FinalResult,
        picked_at: float,
        classified_at: float,
    ) -> None:
        state = self.state
        if state.pending is not None:  # the robot never answered the previous turn
            self._store_turn(state.pending.record)
        record = TurnRecord(
            index=state.turn_index,
            robot_text=" ".join(state.robot_lines),
            debtor_text=text,
            asked=asked.value,
            tags=MappingProxyType({t.value: c for t, c in classification.tags.items()}),
            promise_date=classification.promise_date,
            promise_amount=classification.promise_amount,
            recognition_ms=item.decode_ms,
        )
        state.turn_index += 1
        state.robot_lines = []
        state.pending = _PendingTurn(
            record,
            heard_at=item.arrived_at,
            endpoint_s=final.trailing_silence_s,
            decode_started=item.decode_started,
            decoded_at=item.decoded_at,
            picked_at=picked_at,
            classified_at=classified_at,
        )
        self._notice("debtor", text, tuple(record.tags))

    def _store_turn(self, record: TurnRecord) -> None:
        self.state.turns.append(record)
        if record.latency_ms is not None:
            self._notice(
                "event", f"задержка ответа {record.latency_ms} мс", latency=record.latency_ms
            )
        log = self.s.parts.log
        if log is not None and self.call_id is not None:
            self._write(log.add_turn, self.call_id, record)

    def _write(self, func: Callable[..., None], *args: object) -> None:
        self.writes.put_nowait(lambda: func(*args))

    async def _writer(self) -> None:
        while True:
            job = await self.writes.get()
            if job is None:
                return
            try:
                await asyncio.to_thread(job)
            except Exception:  # storage trouble is logged; the call itself goes on
                logger.error("call %s: storing failed", self.ref, exc_info=True)

    # --- the end --------------------------------------------------------------------

    async def _apologise(self) -> None:
        if self.call.result.ended:
            return
        self._cut_speech(only_interruptible=False)
        with contextlib.suppress(Exception):
            audio = await asyncio.to_thread(self.s.parts.voice.synthesize, self.config.apology_text)
            await asyncio.wait_for(self.call.play(audio), self.config.goodbye_timeout_s)

    async def _hang_up(self) -> CallResult:
        self._cut_speech(only_interruptible=False)
        try:
            return await self.call.hangup()
        except Exception:  # the stack failing at hang-up: the call is over for us anyway
            logger.warning("call %s: hang-up failed", self.ref, exc_info=True)
            return self.call.result

    async def _finish(self, result: CallResult, writer: asyncio.Task[None]) -> CallReport:
        state = self.state
        if state.pending is not None:
            self._store_turn(state.pending.record)
            state.pending = None
        if state.robot_lines:
            self._store_turn(
                TurnRecord(index=state.turn_index, robot_text=" ".join(state.robot_lines))
            )
            state.robot_lines = []
        outcome = self.conversation.outcome
        recording_path = await self._save_recording()
        if outcome is None and state.failure is None:
            state.failure = "сценарий не завершился"
        closing = _closing(result, outcome, recording_path, state.failure, self.context.debt)
        log = self.s.parts.log
        if log is not None and self.call_id is not None:
            self._write(log.close_call, self.call_id, self.context.opening.account_id, closing)
        self.writes.put_nowait(None)
        await writer
        return CallReport(
            call_id=self.call_id,
            result=result,
            outcome=outcome,
            turns=tuple(state.turns),
            recording_path=recording_path,
            failure_reason=state.failure,
            escalation=state.escalation,
            messages=tuple(state.messages),
            operator_pressed=state.operator_pressed,
            do_not_call=state.do_not_call,
            misunderstood_in_a_row=state.misunderstood,
            barge_in_ms=tuple(state.barge_in_ms),
        )

    async def _save_recording(self) -> str | None:
        folder = self.config.record_dir
        if folder is None:
            return None
        name = f"call-{self.call_id}.wav" if self.call_id is not None else f"{self.ref}.wav"
        path = folder / name
        try:
            await asyncio.to_thread(
                _write_recording, bytes(self.robot_audio), bytes(self.debtor_audio), path
            )
        except OSError:
            logger.error("call %s: recording not written", self.ref, exc_info=True)
            return None
        return str(path)

    def _notice(
        self, kind: NoticeKind, text: str, tags: tuple[str, ...] = (), *, latency: int | None = None
    ) -> None:
        if self.s.observer is not None:
            self.s.observer.notice(Notice(self.ref, kind, text, tags, latency))


class _LineDead(Exception):
    """The line is gone without a hang-up (no audio, too long): end the call."""


def _prepare(speaker: Speaker, conversation: Conversation) -> None:
    """Ask the speaker to make the script's next lines; never fails the call."""
    try:
        speaker.prepare(conversation.upcoming_lines())
    except Exception:  # an optimisation only: the lines are made when said
        logger.warning("lines could not be prepared ahead", exc_info=True)


def _write_recording(robot: bytes, debtor: bytes, path: Path) -> None:
    """Stereo WAV: the robot left, the debtor right (``speech.recording``'s layout)."""
    recording = CallRecording()
    recording.add_robot(robot)
    recording.add_debtor(debtor)
    path.parent.mkdir(parents=True, exist_ok=True)
    recording.write_wav(path)


def _first_ready(line: _Line, clock: Callable[[], float], _made: asyncio.Future[bytes]) -> None:
    if line.first_ready_at is None:
        line.first_ready_at = clock()


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _replied(pending: _PendingTurn, line: _Line, first_frame_at: float) -> TurnRecord:
    """The turn with its latency and where it went (see :class:`TurnTimings`)."""
    said_at = max(line.queued_at, pending.classified_at)
    ready_at = line.first_ready_at if line.first_ready_at is not None else first_frame_at
    timings = TurnTimings(
        endpoint_ms=_ms(pending.endpoint_s),
        queue_ms=_ms(pending.decode_started - pending.heard_at),
        recognition_ms=_ms(pending.decoded_at - pending.decode_started),
        dispatch_ms=_ms(pending.picked_at - pending.decoded_at),
        classify_ms=_ms(pending.classified_at - pending.picked_at),
        script_ms=_ms(said_at - pending.classified_at),
        synthesis_ms=_ms(ready_at - said_at),
        playout_ms=_ms(first_frame_at - max(ready_at, said_at)),
    )
    latency = _ms(first_frame_at - pending.heard_at)
    return dataclasses.replace(pending.record, latency_ms=latency, timings=timings)


def _closing(
    result: CallResult,
    outcome: ScriptOutcome | None,
    recording_path: str | None,
    failure: str | None,
    debt: Decimal | None,
) -> CallClosing:
    promise = outcome.promise if outcome is not None else None
    confirmed = promise is not None and promise.confirmed and promise.due is not None
    return CallClosing(
        ended_at=dt.datetime.now(dt.UTC),
        result=result,
        outcome="failed" if failure is not None else (outcome.kind.value if outcome else "failed"),
        recording_path=recording_path,
        failure_reason=failure,
        promise_due=promise.due if confirmed and promise is not None else None,
        promise_amount=promise.amount if confirmed and promise is not None else None,
        debt=debt,
    )
