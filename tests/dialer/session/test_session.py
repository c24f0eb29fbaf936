"""The call session on the loopback line: a whole dialogue, and everything a line does to it."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import gc
import wave
import weakref
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.session import SessionConfig
from dialer.telephony.port import Audio, Call, CallResult, Outcome
from scripts.actions import OutcomeKind
from storage.models.campaigns import Call as StoredCall
from storage.models.campaigns import Promise, Turn
from tests.dialer.session.conftest import Line
from tests.dialer.session.standins import FarEnd, ScriptedEngine, ToneVoice, noise

pytestmark = [pytest.mark.one_database]


def stored(factory: sessionmaker[Session], call_id: int | None) -> tuple[StoredCall, list[Turn]]:
    with factory() as session:
        call = session.get_one(StoredCall, call_id)
        turns = list(
            session.scalars(sa.select(Turn).where(Turn.call_id == call_id).order_by(Turn.index))
        )
        session.expunge_all()
        return call, turns


async def answer_each_turn(far: FarEnd, count: int, seconds: float = 0.8) -> None:
    for _ in range(count):
        if not await far.robot_turn():
            return
        await far.say(seconds)


async def test_whole_dialogue_stores_turns_tags_promise_and_recording(line: Line) -> None:
    texts = [
        "да это я",
        "забыл заплатить",
        "заплачу двадцать пятого ноября",
        "да верно",
    ]
    report, _far = await line.call(texts, lambda far: answer_each_turn(far, 4))

    assert report.failure_reason is None
    assert report.outcome is not None
    assert report.outcome.kind is OutcomeKind.PROMISE
    assert report.outcome.promise is not None
    assert report.outcome.promise.due == dt.date(2026, 11, 25)
    call, turns = stored(line.session_factory, report.call_id)
    assert call.outcome == "promise"
    assert call.answered_at is not None
    assert call.ended_at is not None
    assert [t.debtor_text for t in turns[:4]] == texts
    assert turns[0].asked == "identity"
    assert "confirm" in turns[0].tags
    assert "promise_to_pay" in turns[2].tags
    assert turns[2].promise_date == dt.date(2026, 11, 25)
    assert all(t.latency_ms is not None and t.latency_ms >= 0 for t in turns[:4])
    # Where each reply's latency went: the stages after the endpoint add up to it (rounding
    # and the event loop's hops aside); the endpointer's wait is reported apart.
    replied = [t for t in report.turns if t.latency_ms is not None]
    assert len(replied) == 4
    for turn in replied:
        assert turn.timings is not None
        stages = dataclasses.astuple(turn.timings)[1:]
        assert turn.timings.endpoint_ms > 0
        assert turn.recognition_ms == turn.timings.recognition_ms
        assert abs(sum(stages) - turn.latency_ms) <= 60, (turn.latency_ms, turn.timings)
    assert [t.recognition_ms for t in turns[:4]] == [t.recognition_ms for t in replied]
    assert "Иванов Иван Петрович" in turns[0].robot_text
    assert "двенадцать тысяч" in turns[1].robot_text  # the debt, said in words
    with line.session_factory() as session:
        promise = session.scalars(sa.select(Promise).where(Promise.call_id == report.call_id)).one()
        assert promise.due_on == dt.date(2026, 11, 25)
    assert report.recording_path is not None
    with wave.open(report.recording_path) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        assert wav.getnframes() > 8000 * 5


async def test_hang_up_in_the_middle_is_stored(line: Line) -> None:
    async def debtor(far: FarEnd) -> None:
        await far.robot_turn()
        await far.say()
        await far.robot_speaking()
        await far.call.hangup()

    report, _ = await line.call(["да это я"], debtor)

    assert report.result.hangup_by == "remote"
    assert report.outcome is not None
    assert report.outcome.kind is OutcomeKind.HUNG_UP
    call, turns = stored(line.session_factory, report.call_id)
    assert call.outcome == "hung_up"
    assert call.ended_at is not None
    assert turns[0].debtor_text == "да это я"


async def test_hang_up_during_the_greeting(line: Line) -> None:
    async def debtor(far: FarEnd) -> None:
        await far.robot_speaking()
        await far.call.hangup()

    report, _ = await line.call([], debtor)

    assert report.outcome is not None
    assert report.outcome.kind is OutcomeKind.NO_DIALOGUE
    assert report.failure_reason is None


async def test_silence_ends_politely_through_the_script(line: Line) -> None:
    async def debtor(far: FarEnd) -> None:
        await far.finished()

    voice = ToneVoice()
    report, far = await line.call([], debtor, voice=voice)

    assert report.outcome is not None
    assert report.outcome.kind is OutcomeKind.ESCALATED
    assert report.escalation is not None
    assert report.escalation.reason == "misunderstood"
    # Asked again first (what was said, not what was made ahead: the voice makes both).
    assert any("не расслышала" in turn.robot_text for turn in report.turns)
    assert far is not None
    assert far.robot_turns >= 2


async def test_noise_that_means_nothing_is_not_taken_for_an_answer(line: Line) -> None:
    async def debtor(far: FarEnd) -> None:
        for _ in range(3):
            if not await far.robot_turn():
                return
            await far.call.play(noise(0.8))

    report, _ = await line.call(["шшш", "кх кх", "ффф"], debtor)

    assert report.outcome is not None
    assert report.outcome.kind is OutcomeKind.ESCALATED
    assert report.misunderstood_in_a_row >= 2
    _call, turns = stored(line.session_factory, report.call_id)
    assert all(not t.tags for t in turns if t.debtor_text)


async def test_recogniser_returning_nothing_does_not_stall_the_call(line: Line) -> None:
    report, _ = await line.call(
        [None, None, None],
        lambda far: answer_each_turn(far, 3),
        config=SessionConfig(speech_grace_s=1.0),
    )

    assert report.outcome is not None
    assert report.outcome.kind is OutcomeKind.ESCALATED
    assert report.failure_reason is None


async def test_one_way_audio_ends_the_call_as_failed(line: Line) -> None:
    """The debtor's audio never arrives (RTP lost one way): the robot gives up and says why."""

    async def debtor(far: FarEnd) -> None:
        await far.finished()

    report, _ = await line.call(
        [],
        debtor,
        config=SessionConfig(media_timeout_s=1.0),
        wrap=DeafCall,
    )

    assert report.failure_reason is not None
    assert "нет звука" in report.failure_reason
    call, _turns = stored(line.session_factory, report.call_id)
    assert call.outcome == "failed"
    assert call.failure_reason == report.failure_reason


async def test_a_line_that_cannot_be_said_ends_politely_as_failed(line: Line) -> None:
    voice = ToneVoice(fail_on="Подскажите")
    report, _ = await line.call(["да это я"], lambda far: answer_each_turn(far, 1), voice=voice)

    assert report.failure_reason is not None
    assert "синтез недоступен" in report.failure_reason
    assert any("техническая ошибка" in text for text in voice.lines)  # the apology was said
    call, _ = stored(line.session_factory, report.call_id)
    assert call.outcome == "failed"


async def test_voicemail_by_its_words(line: Line) -> None:
    async def machine(far: FarEnd) -> None:
        await far.say(2.0)

    report, _ = await line.call(
        ["абонент не может ответить оставьте сообщение после сигнала"], machine
    )

    assert report.outcome is not None
    assert report.outcome.kind is OutcomeKind.NO_DIALOGUE
    assert report.outcome.machine == "voicemail"
    assert report.outcome.identity_confirmed is False


async def test_voicemail_by_a_long_monologue(line: Line) -> None:
    async def machine(far: FarEnd) -> None:
        await far.say(9.0)

    report, far = await line.call(
        ["здравствуйте вы позвонили в квартиру петровых"],
        machine,
        config=SessionConfig(monologue_s=4.0),
    )

    assert report.outcome is not None
    assert report.outcome.machine == "voicemail"
    assert far is not None


async def test_barge_in_stops_the_robot(line: Line) -> None:
    async def debtor(far: FarEnd) -> None:
        await far.robot_turn()  # the greeting (not interruptible) and the identity question
        await far.say()  # «да это я»
        await far.robot_speaking()  # the reminder starts: interrupt it
        await asyncio.sleep(0.3)
        await far.say(1.0)
        await answer_each_turn(far, 2)

    voice = ToneVoice()
    report, _ = await line.call(
        ["да это я", "я забыл", "заплачу двадцать пятого ноября", "да"], debtor, voice=voice
    )

    assert len(report.barge_in_ms) >= 1
    assert report.outcome is not None


async def test_dtmf_zero_asks_for_a_human(line: Line) -> None:
    async def debtor(far: FarEnd) -> None:
        await far.robot_turn()
        await far.call.send_dtmf("0")

    report, _ = await line.call([], debtor)

    assert report.operator_pressed
    assert report.outcome is not None
    assert report.outcome.kind is OutcomeKind.ESCALATED
    assert report.escalation is not None
    assert report.escalation.reason == "operator_request"


async def test_busy_is_stored_with_its_sip_cause(line: Line) -> None:
    report, far = await line.call([], lambda far: asyncio.sleep(0), behaviour="busy")

    assert far is None
    assert report.result.outcome is Outcome.BUSY
    call, turns = stored(line.session_factory, report.call_id)
    assert (call.outcome, call.sip_cause, turns) == ("busy", 486, [])


class DeafCall:
    """A call whose received audio never arrives (one-way RTP); everything else is the line's."""

    def __init__(self, call: Call) -> None:
        self._call = call
        self.call_id = call.call_id

    @property
    def result(self) -> CallResult:
        return self._call.result

    async def frames(self) -> AsyncIterator[bytes]:
        await self._call.wait_ended()
        return
        yield b""

    async def play(self, audio: Audio) -> bool:
        return await self._call.play(audio)

    def stop_playback(self) -> None:
        self._call.stop_playback()

    @property
    def played_frames(self) -> int:
        return self._call.played_frames

    def dtmf(self) -> AsyncIterator[str]:
        return self._call.dtmf()

    async def hangup(self) -> CallResult:
        return await self._call.hangup()

    async def wait_ended(self) -> CallResult:
        return await self._call.wait_ended()


async def test_cancelling_a_call_hangs_up_at_once(line: Line) -> None:
    """The worker stopping cancels the call task: the line must be released, not left open."""
    from dialer.session import CallContext, CallOpening, CallSession, SessionParts
    from dialer.session.phrasing import RussianPhrasing
    from dialer.telephony.loopback import LoopbackExchange
    from scripts.engine import Conversation
    from scripts.loader import library_script, load_script
    from tests.dialer.session.conftest import DEBT, TODAY, variables
    from tests.dialer.session.standins import ScriptedEngine

    exchange = LoopbackExchange()
    subscriber = exchange.subscriber("+79160000002")
    parts = SessionParts(ScriptedEngine([]), line.classifier, ToneVoice(), RussianPhrasing())
    script = load_script(library_script("soft_reminder"))
    context = CallContext(
        CallOpening(line.account_id, script.name, dt.datetime.now(dt.UTC)), TODAY, DEBT
    )
    call = await exchange.telephone().dial("+79160000002", ring_timeout_s=1)
    task = asyncio.create_task(
        CallSession(parts).run(call, Conversation(script, variables()), context)
    )
    far = FarEnd(await subscriber.next_call())
    await far.robot_speaking()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert call.result.ended
    assert call.result.hangup_by == "robot"
    await far.finished()


class _StreamsKept:
    """A :class:`ScriptedEngine` that remembers a weak reference to every stream it opened."""

    def __init__(self, texts: list[str]) -> None:
        self._inner = ScriptedEngine(texts)
        self.name = self._inner.name
        self.opened: list[weakref.ref[object]] = []

    def open_stream(self) -> object:
        stream = self._inner.open_stream()
        self.opened.append(weakref.ref(stream))
        return stream


async def test_an_ended_calls_recogniser_stream_is_let_go_at_once(line: Line) -> None:
    # A worker's recogniser goes back to its warm pool when the call's stream is freed; a
    # stream kept until the cycle collector runs left every next call a cold recogniser
    # (1.5 s of CPU for its first utterance) and 16 Vosk calls fell behind.
    engine = _StreamsKept(["да это я"])
    gc.disable()
    try:
        report, _ = await line.call(
            ["да это я"], lambda far: answer_each_turn(far, 1), engine=engine
        )
        assert report.outcome is not None
        assert engine.opened, "the call opened no recogniser stream"
        assert all(ref() is None for ref in engine.opened)
    finally:
        gc.enable()
