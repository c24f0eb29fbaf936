"""Live transfer to a collector on the loopback exchange: the session's side of issue 16.

The debtor presses 0 (the script escalates with ``transfer``); the collector is extension
201 of the account's organisation, on the line unless a test says otherwise. Each side plays
its own tone — the debtor 700 Hz, the collector 1300 Hz — so "both hear each other" is that
tone in what the other side heard.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from classifier.contract import TurnClassifier
from dialer.session import (
    CallContext,
    CallOpening,
    CallReport,
    CallSession,
    SessionConfig,
    SessionParts,
)
from dialer.session.phrasing import RussianPhrasing
from dialer.session.store import SqlCallLog
from dialer.session.transfer import TransferConfig, TransferDesk, TransferMethod
from dialer.telephony.loopback import Behaviour, LoopbackExchange, LoopbackSubscriber
from dialer.telephony.port import Call
from dialer.telephony.tones import RINGBACK_HZ
from scripts.engine import Conversation
from scripts.loader import library_script, load_script
from storage.collectors import line_status_of, set_extension, set_line_status
from storage.models import Account
from storage.models.campaigns import Turn
from storage.models.transfers import Transfer, TransferState
from storage.models.users import LineStatus, User, UserOrganisation, UserRole
from tests.dialer.session.conftest import DEBT, TODAY, variables
from tests.dialer.session.standins import FarEnd, ScriptedEngine, tone
from tests.e2e.sip_bench import channels, tone_pcm, tone_seconds

DEBTOR_HZ = 700.0
COLLECTOR_HZ = 1300.0
DEBTOR_NUMBER = "+79160000002"
CONFIG = TransferConfig(wait_s=2.0, announce_every_s=0.5, rtp_timeout_s=0.6)

Scenario = Callable[[FarEnd, LoopbackSubscriber], Coroutine[object, object, None]]


class QuickVoice:
    """Says each line as a 300 Hz tone, 20 ms per character (at most 1.5 s): quick calls."""

    def synthesize(self, text: str) -> bytes:
        return tone(min(1.5, 0.02 * len(text)), hz=300.0)


@dataclass
class Transferred:
    report: CallReport
    transfer: Transfer
    robot_said: str
    debtor_heard: bytes
    collector: int


@dataclass
class Desk:
    """Calls the debtor with a transfer desk whose collector 201 is on the line."""

    classifier: TurnClassifier
    factory: sessionmaker[Session]
    account_id: int
    collector: int
    tmp_path: Path

    async def call(
        self,
        scenario: Scenario,
        *,
        collector: Behaviour = "answer",
        config: TransferConfig = CONFIG,
        refer_allowed: bool = True,
    ) -> Transferred:
        exchange = LoopbackExchange(refer_allowed=refer_allowed)
        debtor = exchange.subscriber(DEBTOR_NUMBER)
        extension = exchange.subscriber("201", collector)
        telephone = exchange.telephone()
        parts = SessionParts(
            recognizer=ScriptedEngine([]),
            classifier=self.classifier,
            voice=QuickVoice(),
            phrasing=RussianPhrasing(),
            log=SqlCallLog(self.factory, store_promises=True),
        )
        session = CallSession(parts, SessionConfig(record_dir=self.tmp_path / "recordings"))
        script = load_script(library_script("soft_reminder"))
        context = CallContext(
            opening=CallOpening(self.account_id, script.name, dt.datetime.now(dt.UTC)),
            today=TODAY,
            debt=DEBT,
            call_ref="transfer-test",
            transfers=TransferDesk(self.factory, telephone, config),
        )
        call: Call = await telephone.dial(DEBTOR_NUMBER, ring_timeout_s=0.5)
        far = FarEnd(await debtor.next_call())
        played = asyncio.create_task(scenario(far, extension))
        try:
            report = await asyncio.wait_for(
                session.run(call, Conversation(script, variables()), context), 60
            )
            await asyncio.wait_for(played, 10)
        finally:
            played.cancel()
            await asyncio.gather(played, return_exceptions=True)
            session.close()
        await far.finished()
        with self.factory() as db:
            transfer = db.scalars(
                sa.select(Transfer).where(Transfer.call_id == report.call_id)
            ).one()
            said = " ".join(
                t.robot_text
                for t in db.scalars(sa.select(Turn).where(Turn.call_id == report.call_id))
            )
            db.expunge_all()
        return Transferred(report, transfer, said, bytes(far.heard), self.collector)

    def line_status(self) -> LineStatus | None:
        with self.factory() as db:
            state = line_status_of(db, self.collector)
            return state.status if state is not None else None

    def set_status(self, status: LineStatus) -> None:
        with self.factory.begin() as db:
            set_line_status(db, self.collector, status, dt.datetime.now(dt.UTC))


@pytest.fixture
def desk(
    classifier: TurnClassifier,
    session_factory: sessionmaker[Session],
    account_id: int,
    tmp_path: Path,
) -> Desk:
    with session_factory.begin() as db:
        organisation_id = db.get_one(Account, account_id).organisation_id
        user = User(
            login=f"c-{uuid.uuid4().hex[:12]}",
            display_name="Иванова",
            password_hash="x",
            role=UserRole.COLLECTOR,
            active=True,
            session_epoch=0,
        )
        user.organisations = [UserOrganisation(organisation_id=organisation_id)]
        db.add(user)
        db.flush()
        set_extension(db, user.id, "201")
        set_line_status(db, user.id, LineStatus.ONLINE, dt.datetime.now(dt.UTC))
        collector = user.id
    return Desk(classifier, session_factory, account_id, collector, tmp_path)


async def press_zero(far: FarEnd) -> None:
    """The debtor hears the opening and presses 0: «соедините с человеком»."""
    await far.robot_turn()
    await far.call.send_dtmf("0")


async def test_nobody_on_the_line_means_a_callback(desk: Desk) -> None:
    desk.set_status(LineStatus.AWAY)
    done = await desk.call(lambda far, _x: press_zero(far))
    assert done.report.transfer is not None
    assert done.report.transfer.state is TransferState.NO_COLLECTOR
    assert done.report.escalation is not None
    assert done.report.escalation.transfer
    row = done.transfer
    assert (row.state, row.end_reason, row.collector_user_id) == (
        TransferState.NO_COLLECTOR,
        "no_collector",
        None,
    )
    assert "все специалисты заняты" in done.robot_said
    assert "Соединяю" not in done.robot_said
    assert done.report.result.hangup_by == "robot"
    assert desk.line_status() is LineStatus.AWAY


async def test_a_collector_who_does_not_answer_within_the_wait(desk: Desk) -> None:
    done = await desk.call(lambda far, _x: press_zero(far), collector="no_answer")
    row = done.transfer
    assert (row.state, row.end_reason, row.collector_user_id, row.extension) == (
        TransferState.NO_ANSWER,
        "no_answer",
        desk.collector,
        "201",
    )
    assert row.method is TransferMethod.BRIDGE
    assert row.ringing_at is not None
    assert row.answered_at is None
    assert row.wait_ms is not None
    assert row.wait_ms >= 2000  # the organisation's wait, here 2 s
    said = done.robot_said
    assert said.index("Соединяю со специалистом") < said.index("оставайтесь на линии.")
    assert "Пожалуйста, оставайтесь на линии." in said  # the announcement while it rang
    assert said.rstrip().endswith("Специалист перезвонит вам. Всего доброго!")
    assert desk.line_status() is LineStatus.ONLINE  # released


async def test_the_debtor_hears_a_ringing_tone_while_the_collector_rings(desk: Desk) -> None:
    """Not dead air: 425 Hz, 1 s on and 4 s off, between the «оставайтесь на линии»."""
    done = await desk.call(lambda far, _x: press_zero(far), collector="no_answer")
    assert done.transfer.state is TransferState.NO_ANSWER
    # Two seconds of ringing, the announcement every 0.5 s: a tone burst before each.
    assert tone_seconds(done.debtor_heard, RINGBACK_HZ, tolerance_hz=30.0) >= 0.6
    assert "Пожалуйста, оставайтесь на линии." in done.robot_said
    assert "гудк" not in done.robot_said  # the tone is no line of the transcript


async def both_talk_then(
    far: FarEnd, extension: LoopbackSubscriber, end: Callable[[FarEnd, FarEnd], Awaitable[None]]
) -> None:
    await press_zero(far)
    collector = FarEnd(await extension.next_call(15))
    await asyncio.gather(
        far.call.play(tone_pcm(DEBTOR_HZ, 1.0)), collector.call.play(tone_pcm(COLLECTOR_HZ, 1.0))
    )
    await asyncio.sleep(0.3)
    await end(far, collector)
    await asyncio.wait_for(collector.closed.wait(), 10)
    assert tone_seconds(bytes(collector.heard), DEBTOR_HZ) >= 0.7


async def test_the_collector_answers_both_talk_and_the_collector_hangs_up_first(
    desk: Desk,
) -> None:
    async def collector_leaves(_far: FarEnd, collector: FarEnd) -> None:
        await collector.call.hangup()

    done = await desk.call(lambda far, x: both_talk_then(far, x, collector_leaves))
    row = done.transfer
    assert (row.state, row.end_reason, row.method) == (
        TransferState.ENDED,
        "collector_hung_up",
        TransferMethod.BRIDGE,
    )
    assert row.answered_at is not None
    assert row.ended_at is not None
    assert row.wait_ms is not None
    assert row.wait_ms < 6000  # the connecting line, then an answer at once
    assert done.report.transfer is not None
    assert done.report.transfer.connected
    assert tone_seconds(done.debtor_heard, COLLECTOR_HZ) >= 0.7
    assert "Специалист завершил разговор" in done.robot_said
    assert done.report.result.hangup_by == "robot"
    # The call's recording went on through the bridge: the debtor, and the collector relayed.
    assert done.report.recording_path is not None
    robot, debtor = channels(done.report.recording_path)
    assert tone_seconds(debtor, DEBTOR_HZ) >= 0.7
    assert tone_seconds(robot, COLLECTOR_HZ) >= 0.7
    assert desk.line_status() is LineStatus.ONLINE


async def test_the_debtor_hangs_up_during_the_bridge(desk: Desk) -> None:
    async def debtor_leaves(far: FarEnd, _collector: FarEnd) -> None:
        await far.call.hangup()

    done = await desk.call(lambda far, x: both_talk_then(far, x, debtor_leaves))
    assert (done.transfer.state, done.transfer.end_reason) == (
        TransferState.ENDED,
        "debtor_hung_up",
    )
    assert done.report.result.hangup_by == "remote"
    assert desk.line_status() is LineStatus.ONLINE


async def test_the_debtor_hangs_up_while_waiting(desk: Desk) -> None:
    async def impatient(far: FarEnd, _extension: LoopbackSubscriber) -> None:
        await press_zero(far)
        await far.robot_turn()  # «Хорошо, одну минуту. Соединяю…»
        await far.call.hangup()

    config = TransferConfig(wait_s=10.0, announce_every_s=5.0)
    done = await desk.call(impatient, collector="no_answer", config=config)
    row = done.transfer
    assert (row.state, row.end_reason) == (TransferState.ABANDONED, "debtor_hung_up")
    assert row.wait_ms is not None
    assert row.wait_ms < 8000  # not the whole wait
    assert desk.line_status() is LineStatus.ONLINE


async def test_the_collector_line_going_silent_ends_the_bridge(desk: Desk) -> None:
    async def collector_goes_silent(far: FarEnd, extension: LoopbackSubscriber) -> None:
        await press_zero(far)
        collector = await extension.next_call(15)
        await asyncio.sleep(0.3)
        collector.stop_media()

    done = await desk.call(collector_goes_silent)
    assert (done.transfer.state, done.transfer.end_reason) == (
        TransferState.ENDED,
        "rtp_lost_collector",
    )
    assert "связь со специалистом прервалась" in done.robot_said


async def test_a_refused_refer_is_bridged(desk: Desk) -> None:
    async def collector_leaves(_far: FarEnd, collector: FarEnd) -> None:
        await collector.call.hangup()

    config = TransferConfig(
        method=TransferMethod.REFER, refer_domain="pbx", wait_s=2.0, rtp_timeout_s=0.6
    )
    done = await desk.call(
        lambda far, x: both_talk_then(far, x, collector_leaves),
        config=config,
        refer_allowed=False,
    )
    assert (done.transfer.state, done.transfer.method) == (
        TransferState.ENDED,
        TransferMethod.BRIDGE,
    )
    assert tone_seconds(done.debtor_heard, COLLECTOR_HZ) >= 0.7


async def test_a_refused_refer_and_no_answer_is_a_callback(desk: Desk) -> None:
    config = TransferConfig(method=TransferMethod.REFER, refer_domain="pbx", wait_s=1.0)
    done = await desk.call(
        lambda far, _x: press_zero(far), collector="no_answer", config=config, refer_allowed=False
    )
    assert (done.transfer.state, done.transfer.end_reason) == (TransferState.REFUSED, "no_answer")
    assert "Специалист перезвонит вам" in done.robot_said
    assert desk.line_status() is LineStatus.ONLINE


async def test_a_blind_transfer_hands_the_call_over(desk: Desk) -> None:
    async def talk_to_collector(far: FarEnd, extension: LoopbackSubscriber) -> None:
        await press_zero(far)
        collector = FarEnd(await extension.next_call(15))
        await collector.call.play(tone_pcm(COLLECTOR_HZ, 1.0))
        await collector.call.hangup()

    config = TransferConfig(method=TransferMethod.REFER, refer_domain="pbx", wait_s=2.0)
    done = await desk.call(talk_to_collector, config=config)
    row = done.transfer
    assert (row.state, row.end_reason, row.method) == (
        TransferState.ENDED,
        "handed_over",
        TransferMethod.REFER,
    )
    assert row.answered_at is not None
    assert done.report.result.reason == "transferred"
    assert tone_seconds(done.debtor_heard, COLLECTOR_HZ) >= 0.7
    # The robot cannot see the handed-over call end: the collector stays busy until they say.
    assert desk.line_status() is LineStatus.BUSY
