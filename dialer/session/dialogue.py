"""One answered call's dialogue loop: what is heard → the script → what is said, stored.

:class:`CallRun` wires the call's parts — :class:`~dialer.session.hearing.Hearing` (audio
in), :class:`~dialer.session.speaking.Player` (audio out), the turn-taking rules
(:mod:`dialer.session.turn_taking`), the script engine and the
:class:`~dialer.session.turn_log.TurnLog` — and reads one inbox: recognised speech, keys,
the end of the line, a line that failed, answers held over the opening. A final utterance
the rules take as an answer is classified (worker thread) in the context of what the script
asked, today's date in the account's zone and the debt, and fed to the engine; its actions
are queued for the player. Barge-in (speech starting while an interruptible line plays)
stops the robot at once.

Whatever happens on the line — hang-up at any moment, silence, noise, one-way audio, a
recogniser that returns nothing, a script or synthesis error — the call ends politely and is
stored (with the reason when it failed); nothing else stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from classifier.contract import Asked, TurnContext
from dialer.session.call_audio import CallAudio
from dialer.session.hearing import Digit, Hearing, LineEnded, Recognised
from dialer.session.machine import MachineDetector, detect_announcement
from dialer.session.ports import CallClosing, Notice, NoticeKind
from dialer.session.report import CallReport, TurnRecord
from dialer.session.speaker import Speaker
from dialer.session.speaking import Line, Player, PlayerFailed
from dialer.session.transfer import TransferConfig, TransferOutcome
from dialer.session.turn_log import TurnLog
from dialer.session.turn_taking import TurnKind, TurnTaking
from dialer.telephony.bridge import BridgeRecorder
from dialer.telephony.media import iter_frames
from dialer.telephony.port import FRAME_MS, SAMPLE_RATE_HZ, Call, CallResult
from dialer.telephony.tones import ringback
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
    Hello,
    HungUp,
    MachineDetected,
    MachineKind,
    Silence,
)
from speech.recognition import FinalResult, PartialResult, SpeechStarted

if TYPE_CHECKING:
    from dialer.session.session import CallContext, CallSession

__all__ = ["CallRun"]

logger = logging.getLogger(__name__)

_TICK_S: Final = 0.05
_RELEASE_WAIT_S: Final = 3.0
_DO_NOT_CALL: Final = re.compile(r"не\W+(?:звоните|звонить|надо\W+звонить|беспокойте)")


@dataclass(frozen=True, slots=True)
class _Release:
    """The line that could not be interrupted has ended: handle what was said over it."""


@dataclass(frozen=True, slots=True)
class _Held:
    text: str
    final: FinalResult
    item: Recognised


@dataclass(slots=True)
class _State:
    """The mutable state of one call's dialogue (touched only on the event loop)."""

    listening: Listen | None = None
    # Both in seconds of the debtor's audio (stream time), not wall time.
    idle_since: float | None = None
    speech_since: float | None = None
    misunderstood: int = 0
    escalation: Escalate | None = None
    messages: list[MessageKind] = field(default_factory=list)
    operator_pressed: bool = False
    do_not_call: bool = False
    failure: str | None = None
    barge_in_ms: list[int] = field(default_factory=list)
    first_word_at: float | None = None
    held: list[_Held] = field(default_factory=list)
    transfer: TransferOutcome | None = None


class CallRun:
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
        self.config = session.config
        self.clock = session.clock
        self.call = call
        self.conversation = conversation
        self.context = context
        self.call_id = call_id
        self.ref = context.call_ref or call.call_id
        self.state = _State()
        self.rules = TurnTaking()
        self.machine = MachineDetector(monologue_s=self.config.monologue_s)
        self.inbox: asyncio.Queue[object] = asyncio.Queue()
        self.audio = CallAudio()
        self.answered_at = self.clock()
        self.hearing = Hearing(
            call,
            session.parts.recognizer,
            self.audio,
            self.inbox,
            batch_frames=self.config.recognition_batch_frames,
            clock=self.clock,
            ref=self.ref,
            pool=session.recognition_pool,
            on_recognition_error=(
                session.metrics.recognition_failed if session.metrics is not None else None
            ),
        )
        self.player = Player(
            call,
            speaker,
            self.audio,
            self.inbox,
            clock=self.clock,
            before_line=self._before_line,
            on_first_frame=self._line_started,
            on_line_end=self._line_ended,
        )
        self.speaker = speaker
        self.turns = TurnLog(session.parts.log, call_id, ref=self.ref, on_stored=self._stored)
        self.released = asyncio.Event()
        self.hearing_tasks: list[asyncio.Task[None]] = []

    # --- the whole call -------------------------------------------------------------

    async def execute(self) -> CallReport:
        """Talk until the script or the line ends; store the call; never raises for the line."""
        self.hearing_tasks = self.hearing.start()
        tasks = [
            *self.hearing_tasks,
            asyncio.create_task(self.player.run(), name=f"player-{self.ref}"),
        ]
        writer = asyncio.create_task(self.turns.writer(), name=f"writer-{self.ref}")
        log = self.s.parts.log
        if log is not None and self.call_id is not None:
            self.turns.write(log.mark_answered, self.call_id, dt.datetime.now(dt.UTC))
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
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # A cancelled task keeps its traceback, and with it the frame holding the call's
            # recogniser stream; this run is freed only by the cycle collector, so a kept task
            # would keep the stream — and a recogniser it holds mid-utterance — from going
            # back to its worker until then, and the next answers would need a cold one.
            self.hearing_tasks = []
            tasks.clear()
        return await self._finish(result, writer)

    async def _converse(self) -> None:
        await self._perform(self.conversation.handle(CallAnswered()))
        while not self.conversation.ended:
            item = await self._next_input()
            match item:
                case None:
                    await self._on_tick()
                case Recognised():
                    await self._on_recognised(item)
                case Digit(digit=digit):
                    await self._on_digit(digit)
                case _Release():
                    await self._release_held()
                case PlayerFailed(reason=reason):
                    raise _LineDead(f"реплика не озвучена: {reason}")
                case LineEnded():
                    self._notice("event", "собеседник положил трубку")
                    await self._perform(self.conversation.handle(HungUp()))
                    return
        # The script ended: let the goodbye play out (bounded), then hang up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.player.drained(_TICK_S), self.config.goodbye_timeout_s)
        escalation = self.state.escalation
        if escalation is not None and escalation.transfer and not self.call.result.ended:
            await self._transfer(escalation)

    async def _transfer(self, escalation: Escalate) -> None:
        """The script asked for a person: the transfer desk takes the line (or, without
        one, the robot says a specialist will call back)."""
        self.state.speech_since = None  # nothing heard from now on is an answer to wait for
        line = _LentLine(self)
        desk = self.context.transfers
        if desk is None or self.call_id is None:
            self._notice("event", "перевод: не настроен — специалист перезвонит")
            await line.say(TransferConfig().busy_text)
            return
        try:
            self.state.transfer = await desk.hand_over(
                line,
                call_id=self.call_id,
                account_id=self.context.opening.account_id,
                reason=escalation.reason,
            )
        except Exception:  # the transfer's records failing: the case is still queued
            logger.warning("call %s: transfer not started", self.ref, exc_info=True)
            if not self.call.result.ended:
                await line.say(desk.config.busy_text)

    async def _next_input(self) -> object | None:
        try:
            return await asyncio.wait_for(self.inbox.get(), _TICK_S)
        except TimeoutError:
            return None

    # --- timers ---------------------------------------------------------------------

    async def _on_tick(self) -> None:
        now = self.clock()
        state = self.state
        heard = self.hearing
        if now - heard.last_frame_at > self.config.media_timeout_s:
            raise _LineDead(f"нет звука от собеседника {self.config.media_timeout_s:.0f} с")
        if now - self.answered_at > self.config.max_call_s:
            raise _LineDead(f"звонок длиннее {self.config.max_call_s:.0f} с")
        if state.speech_since is not None:
            # Audio time, not wall time: a recogniser busy decoding is no monologue.
            kind = self.machine.still_talking(heard.stream_s)
            if kind is not None:
                await self._machine(kind)
                return
        listen = state.listening
        if listen is None or self.player.busy:
            return
        if state.idle_since is None:
            state.idle_since = heard.rx_s
        waited_from = state.idle_since
        if state.speech_since is not None:
            # Someone is talking: wait for the result, but not forever.
            if heard.stream_s - state.speech_since < self.config.speech_grace_s:
                return
            waited_from = state.speech_since + self.config.speech_grace_s
            state.speech_since = None
            self.machine.speech_lost()
        if heard.stream_s - waited_from >= listen.timeout_s:
            self._notice("event", f"тишина {listen.timeout_s:.0f} с")
            await self._perform(self.conversation.handle(Silence(listen.timeout_s)))

    # --- recognition ----------------------------------------------------------------

    async def _on_recognised(self, item: Recognised) -> None:
        event = item.event
        match event:
            case SpeechStarted(at_s=at_s):
                self.state.speech_since = at_s
                self.machine.speech_started(at_s)
                await self._barge_in(item.arrived_at)
            case PartialResult(text=text):
                kind = detect_announcement(text) if self.machine.active else None
                if kind is not None:
                    await self._machine(kind)
            case FinalResult():
                await self._on_final(event, item)

    async def _on_final(self, final: FinalResult, item: Recognised) -> None:
        picked_at = self.clock()
        state = self.state
        state.speech_since = None
        state.idle_since = self.hearing.stream_s  # the silence timer restarts after any utterance
        text = final.text.strip()
        kind = self.machine.utterance(text, final.end_s - final.start_s)
        if kind is not None:
            self._notice("debtor", f"{text} ({final.end_s - final.start_s:.1f} с)")
            await self._machine(kind)
            return
        if not text:
            return
        playing = self.player.playing
        turn = self.rules.classify(
            text,
            started_s=final.start_s,
            robot_speaking=playing is not None,
            robot_interruptible=playing is not None and playing.say.interruptible,
            robot_waiting=not self.player.busy and state.listening is not None,
        )
        match turn:
            case TurnKind.IGNORE:
                self._notice("debtor", f"{text} (приветствие, не ответ)")
            case TurnKind.HELLO:
                self._notice("debtor", f"{text} (проверяет связь)")
                await self._perform(self.conversation.handle(Hello()))
            case TurnKind.HOLD:
                # Said over a line that must be heard to the end: answered when it ends.
                self._notice("debtor", f"{text} (во время вступления — ответ учтён после)")
                state.held.append(_Held(text, final, item))
            case TurnKind.ANSWER:
                await self._answer(text, final, item, picked_at)

    async def _answer(
        self, text: str, final: FinalResult, item: Recognised, picked_at: float
    ) -> None:
        state = self.state
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
        self.player.cut(only_interruptible=True)
        said = list(self.player.spoken)
        self.player.spoken.clear()
        record = self.turns.heard(
            said, text, context.asked, classification, item, final, picked_at, classified_at
        )
        self._notice("debtor", text, tuple(record.tags))
        await self._perform(self.conversation.handle(Heard(text, classification)))

    async def _release_held(self) -> None:
        held, self.state.held = self.state.held, []
        try:
            for entry in held:
                if self.conversation.ended:
                    return
                now = self.clock()
                # The wait was the line it was said over: its latency starts now.
                item = dataclasses.replace(
                    entry.item, arrived_at=now, decode_started=now, decoded_at=now
                )
                await self._answer(entry.text, entry.final, item, now)
        finally:
            self.released.set()

    async def _barge_in(self, arrived_at: float) -> None:
        line = self.player.playing
        if line is None or not line.say.interruptible:
            return
        actions = self.conversation.handle(BargeIn())
        if any(isinstance(a, StopSpeaking) for a in actions):
            self.player.cut(only_interruptible=True)
            self.state.barge_in_ms.append(round((self.clock() - arrived_at) * 1000))
            self._notice("event", "перебил — робот замолчал")

    async def _machine(self, kind: MachineKind) -> None:
        self._notice("event", f"не человек: {kind.value}")
        self.player.cut(only_interruptible=False)
        await self._perform(self.conversation.handle(MachineDetected(kind)))

    async def _on_digit(self, digit: str) -> None:
        self._notice("event", f"нажата клавиша {digit}")
        if digit == "0":
            self.state.operator_pressed = True
        actions = self.conversation.handle(Dtmf(digit))
        if actions:
            self.player.cut(only_interruptible=False)
        await self._perform(actions)

    # --- the player's side of turn-taking -------------------------------------------

    async def _before_line(self, line: Line) -> None:
        """Rules 2 and 4 of :mod:`dialer.session.turn_taking`, before each line but the first."""
        if self.state.first_word_at is None:
            return  # the opening goes out at answer
        if self.state.held:
            self.released.clear()
            self.inbox.put_nowait(_Release())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), _RELEASE_WAIT_S)
            return
        waited = 0.0
        while self.state.speech_since is not None and waited < self.rules.yield_max_s:
            await asyncio.sleep(_TICK_S / 2)
            waited += _TICK_S / 2

    def _line_started(self, line: Line, at: float) -> None:
        if self.state.first_word_at is None:
            self.state.first_word_at = at
            first = line.pieces[0]
            seconds = len(first.result()) / (2 * SAMPLE_RATE_HZ) if first.done() else 0.0
            self.rules.robot_first_sentence(self.hearing.rx_s, seconds)
        self._notice("robot", line.text)
        self.turns.replied(line, at)

    def _line_ended(self, line: Line) -> None:
        self.state.idle_since = self.hearing.rx_s

    # --- actions --------------------------------------------------------------------

    async def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Say(parts=parts):
                    self.state.listening = None
                    self.player.say(action, self.s.parts.phrasing.render(parts))
                case Listen():
                    self.state.listening = action
                    self.state.idle_since = None
                case StopSpeaking():
                    self.player.cut(only_interruptible=True)
                case Escalate():
                    self.state.escalation = action
                    self._notice("event", f"эскалация: {action.reason}")
                case SendMessage(kind=kind):
                    self.state.messages.append(kind)
                case End(outcome=outcome):
                    self.state.listening = None
                    self._notice("event", f"итог: {outcome.kind.value}")

    # --- the end --------------------------------------------------------------------

    async def _apologise(self) -> None:
        if self.call.result.ended:
            return
        self.player.cut(only_interruptible=False)
        with contextlib.suppress(Exception):
            pieces = self.speaker.line((self.config.apology_text,))
            audio = b"".join([await piece for piece in pieces])
            await asyncio.wait_for(self.call.play(audio), self.config.goodbye_timeout_s)

    async def _hang_up(self) -> CallResult:
        self.player.cut(only_interruptible=False)
        try:
            return await self.call.hangup()
        except Exception:  # the stack failing at hang-up: the call is over for us anyway
            logger.warning("call %s: hang-up failed", self.ref, exc_info=True)
            return self.call.result

    async def _finish(self, result: CallResult, writer: asyncio.Task[None]) -> CallReport:
        state = self.state
        self.turns.close(list(self.player.spoken))
        outcome = self.conversation.outcome
        recording_path = await self._save_recording()
        if outcome is None and state.failure is None:
            state.failure = "сценарий не завершился"
        first_word_ms = (
            round((state.first_word_at - self.answered_at) * 1000)
            if state.first_word_at is not None
            else None
        )
        closing = _closing(
            result, outcome, recording_path, state.failure, self.context.debt, first_word_ms
        )
        log = self.s.parts.log
        if log is not None and self.call_id is not None:
            self.turns.write(log.close_call, self.call_id, self.context.opening.account_id, closing)
        self.turns.end_writes()
        await writer
        return CallReport(
            call_id=self.call_id,
            result=result,
            outcome=outcome,
            turns=tuple(self.turns.turns),
            recording_path=recording_path,
            failure_reason=state.failure,
            escalation=state.escalation,
            messages=tuple(state.messages),
            operator_pressed=state.operator_pressed,
            do_not_call=state.do_not_call,
            misunderstood_in_a_row=state.misunderstood,
            barge_in_ms=tuple(state.barge_in_ms),
            first_word_ms=first_word_ms,
            transfer=state.transfer,
        )

    async def _save_recording(self) -> str | None:
        folder = self.config.record_dir
        if folder is None:
            return None
        name = f"call-{self.call_id}.wav" if self.call_id is not None else f"{self.ref}.wav"
        return await self.audio.save(folder / name)

    def _stored(self, record: TurnRecord) -> None:
        if record.latency_ms is not None:
            self._notice(
                "event", f"задержка ответа {record.latency_ms} мс", latency=record.latency_ms
            )

    def _notice(
        self, kind: NoticeKind, text: str, tags: tuple[str, ...] = (), *, latency: int | None = None
    ) -> None:
        if self.s.observer is not None:
            self.s.observer.notice(Notice(self.ref, kind, text, tags, latency))


class _LentLine:
    """The call lent to a transfer (:class:`~dialer.session.transfer.TransferLine`)."""

    def __init__(self, run: CallRun) -> None:
        self._run = run
        self.call = run.call

    @property
    def recorder(self) -> BridgeRecorder:
        return self._run.audio

    async def say(self, text: str) -> None:
        player = self._run.player
        player.say(Say((text,), interruptible=False), text)
        await player.drained(_TICK_S)

    def stop_saying(self) -> None:
        self._run.player.cut(only_interruptible=False)
        self.call.stop_playback()  # the ringing tone, which the player does not play

    async def ring(self, seconds: float) -> None:
        recorder = self._run.audio
        handed_over = 0

        async def frames() -> AsyncIterator[bytes]:
            nonlocal handed_over
            async for frame in iter_frames(ringback(seconds)):
                recorder.robot_frame(frame)
                handed_over += 1
                yield frame

        loop = asyncio.get_running_loop()
        started = loop.time()
        until = started + seconds
        played = False
        try:
            await self.call.play(frames())
            played = True
            # Cut short: the cycle's rest was never rung.
            recorder.unsay(handed_over - self.call.played_frames)
            # A call that ended or stopped plays nothing and returns at once: wait the time
            # anyway, or a caller ringing in a loop would never let the event loop run.
            await asyncio.sleep(max(0.0, until - loop.time()))
        except asyncio.CancelledError:
            self.call.stop_playback()  # an adapter that paces elsewhere would play on
            # Cancelled when the collector answers, before the telephone could say how much
            # it rang: it rang in real time from the start.
            if not played:
                rung = int((loop.time() - started) * 1000 / FRAME_MS)
                recorder.unsay(handed_over - rung)
            raise

    async def leave_line(self) -> None:
        tasks = self._run.hearing_tasks
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def notice(self, text: str) -> None:
        self._run._notice("event", text)


class _LineDead(Exception):
    """The line is gone without a hang-up (no audio, too long): end the call."""


def _closing(
    result: CallResult,
    outcome: ScriptOutcome | None,
    recording_path: str | None,
    failure: str | None,
    debt: Decimal | None,
    first_word_ms: int | None,
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
        first_word_ms=first_word_ms,
        messages=tuple(outcome.messages) if outcome is not None else (),
    )
