"""A debtor asks for a person and talks to a collector, over real SIP (issue 16, the call side).

Kamailio with digest auth; the debtor (baresip) answers the soft reminder in Russian — «Да,
это я.», «Соедините меня с оператором.» — and, once connected, plays a 700 Hz tone; the
collector is extension 201 (baresip, the sandbox's ``collector`` behaviour), on the line in
the web's terms, who answers, plays a 1300 Hz tone, listens and hangs up. The robot runs
under the campaign worker (baresip, real recognition and classifier), so what is asserted
is what a real campaign stores: the call's outcome, the transfer row going ringing →
connected → ended, the case assigned to the collector, and the contact ledger counting one
conversation — the collector's leg is no contact of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from classifier.model import load_classifier
from dialer.campaigns.filters import AccountFilter
from dialer.campaigns.service import CampaignSpec, create_campaign, start_campaign
from dialer.runner import RunnerConfig, SessionCallRunner
from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.sandbox.wavfile import read_pcm, write_pcm
from dialer.session import CallSession, SessionConfig, SessionParts
from dialer.session.phrasing import RussianPhrasing, SynthesizerVoice
from dialer.session.store import SqlCallLog
from dialer.session.transfer import TransferConfig
from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.config import SipConfig
from dialer.telephony.remote import ProcessTelephone
from dialer.worker import Worker, WorkerConfig
from napomni.commands.demo_debtors import debtor_voice
from storage.collectors import line_status_of, set_extension, set_line_status
from storage.models import Account, Building, DebtLine, Organisation, Person, Phone
from storage.models.campaigns import Call, ContactLedger, EscalationCase, EscalationStatus
from storage.models.transfers import Transfer, TransferMethod, TransferState
from storage.models.users import LineStatus, User, UserOrganisation, UserRole
from storage.transfers import pops_for
from tests.e2e.sip_bench import (
    channels,
    require_sip_tools,
    tone_onset_s,
    tone_pcm,
    tone_seconds,
)
from tests.e2e.test_call_over_sip import ROOT, russian_engine

pytestmark = [pytest.mark.sip, pytest.mark.slow, pytest.mark.one_database]

NOON = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)  # a Monday, noon in Moscow
DEBTOR = "79990000601"
DEBTOR_HZ = 700.0
COLLECTOR_HZ = 1300.0
HEARD_S = 1.0


def _pcm_wav(path: Path, *pieces: bytes) -> str:
    write_pcm(path, b"".join(pieces))
    return str(path)


def _silence(seconds: float) -> bytes:
    return bytes(int(seconds * 8000) * 2)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Kamailio, DebtorPool]]:
    require_sip_tools()
    voices = tmp_path / "voices"
    answers = (
        str(debtor_voice("Да, это я.", voices)),
        str(debtor_voice("Соедините меня с оператором.", voices)),
        # Said once connected: the silence covers the robot's «Соединяю…» and the ringing.
        _pcm_wav(voices / "to-collector.wav", _silence(6.0), tone_pcm(DEBTOR_HZ, 4.0)),
    )
    collector_greeting = _pcm_wav(
        voices / "collector.wav", _silence(0.3), tone_pcm(COLLECTOR_HZ, 3.0), _silence(10.0)
    )
    specs = [
        DebtorSpec(DEBTOR, answers=answers, pause_s=0.3),
        DebtorSpec(
            "201",
            behaviour="collector",
            greeting=collector_greeting,
            answer_delay_s=1.0,
            hangup_after_greeting=True,
        ),
    ]
    kamailio = Kamailio(tmp_path / "kamailio", KamailioOptions())
    try:
        kamailio.start()
        pool = DebtorPool(tmp_path / "people", kamailio.address, kamailio.options.password, specs)
        try:
            pool.start()
            yield kamailio, pool
        finally:
            pool.stop()
    finally:
        kamailio.stop()


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The robot's rendered sentences, kept for both databases' runs."""
    return tmp_path_factory.mktemp("prompts")


def _setup(factory: sessionmaker[Session], name: str) -> tuple[int, int, int]:
    """An organisation with one debtor, a collector 201 on the line and a started campaign:
    the account, the collector and the campaign ids."""
    with factory.begin() as db:
        organisation = Organisation(name=name)
        db.add(organisation)
        db.flush()
        building = Building(organisation_id=organisation.id, address=f"{name}, д. 1")
        db.add(building)
        db.flush()
        account = Account(
            organisation_id=organisation.id,
            building_id=building.id,
            number="ЛС-601",
            address="ул. Мира, 6",
        )
        db.add(account)
        db.flush()
        person = Person(account_id=account.id, full_name="Соколов Андрей Ильич")
        db.add(person)
        db.flush()
        db.add(Phone(account_id=account.id, person_id=person.id, number=DEBTOR))
        db.add(
            DebtLine(
                organisation_id=organisation.id,
                account_id=account.id,
                service="отопление",
                period=dt.date(2026, 10, 1),
                charged=Decimal("4200"),
                debt=Decimal("4200"),
            )
        )
        collector = User(
            login=f"ivanova-{uuid.uuid4().hex[:8]}",
            display_name="Иванова",
            password_hash="x",
            role=UserRole.COLLECTOR,
            active=True,
            session_epoch=0,
        )
        collector.organisations = [UserOrganisation(organisation_id=organisation.id)]
        db.add(collector)
        db.flush()
        set_extension(db, collector.id, "201")
        set_line_status(db, collector.id, LineStatus.ONLINE, NOON)
        campaign = create_campaign(
            db,
            CampaignSpec(
                organisation=name,
                name="Перевод на специалиста",
                script="soft_reminder",
                starts_on=NOON.date(),
                account_filter=AccountFilter(building_ids=(building.id,)),
            ),
            NOON,
        )
        start_campaign(db, campaign, NOON)
        return account.id, collector.id, campaign.id


class TransferWatch:
    """What the collector's screen and the reports see while the call goes: the transfer's
    states in order, and whether the pop was there before the collector answered."""

    def __init__(self, factory: sessionmaker[Session], account_id: int, collector: int) -> None:
        self.factory = factory
        self.account_id = account_id
        self.collector = collector
        self.states: list[TransferState] = []
        self.popped_while_ringing = False

    def look(self) -> None:
        with self.factory() as db:
            state = db.scalar(
                sa.select(Transfer.state)
                .where(Transfer.account_id == self.account_id)
                .order_by(Transfer.id.desc())
                .limit(1)
            )
            if state is TransferState.RINGING and pops_for(db, self.collector):
                self.popped_while_ringing = True
        if state is not None and (not self.states or self.states[-1] is not state):
            self.states.append(state)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.look)
            await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    "telephone_kind",
    [BaresipTelephone, ProcessTelephone],
    ids=["baresip-in-process", "baresip-own-process"],
)
async def test_a_debtor_asks_for_a_person_and_talks_to_the_collector(
    telephone_kind: type[BaresipTelephone] | type[ProcessTelephone],
    world: tuple[Kamailio, DebtorPool],
    session_factory: sessionmaker[Session],
    unique_name: str,
    tmp_path: Path,
    prompts: Path,
) -> None:
    kamailio, pool = world
    account_id, collector, campaign = await asyncio.to_thread(
        _setup, session_factory, f"УК Перевод {unique_name}"
    )
    parts = SessionParts(
        recognizer=russian_engine(),
        classifier=load_classifier(ROOT / "models"),
        voice=SynthesizerVoice.default(prompts),
        phrasing=RussianPhrasing(),
        log=SqlCallLog(session_factory, store_promises=False),
    )
    session = CallSession(parts, SessionConfig(record_dir=tmp_path / "rec"))
    rtp_min, rtp_max = free_udp_range(16)
    config = SipConfig(
        registrar=kamailio.address,
        user="robot",
        password=kamailio.options.password,
        codecs=("PCMU", "PCMA"),
        rtp_port_min=rtp_min,
        rtp_port_max=rtp_max,
        local_address="127.0.0.1",
        max_concurrent_calls=4,
    )
    started = time.monotonic()

    def clock() -> dt.datetime:
        return NOON + dt.timedelta(seconds=time.monotonic() - started)

    watch = TransferWatch(session_factory, account_id, collector)
    stop, watching = asyncio.Event(), asyncio.Event()
    try:
        async with telephone_kind(config) as telephone:
            runner = SessionCallRunner(
                telephone,
                session,
                session_factory,
                config=RunnerConfig(transfer=TransferConfig(wait_s=15.0)),
                clock=clock,
            )
            worker = Worker(
                session_factory,
                runner,
                WorkerConfig(
                    worker_id="transfer-e2e",
                    concurrency=1,
                    poll_interval_s=0.3,
                    campaign_ids=frozenset({campaign}),
                ),
                clock=clock,
            )
            looking = asyncio.create_task(watch.run(watching))
            working = asyncio.create_task(worker.run(stop))
            try:
                await asyncio.wait_for(_call_done(session_factory, account_id), 150)
            finally:
                stop.set()
                watching.set()
                await asyncio.gather(working, looking)
    finally:
        session.close()

    with session_factory() as db:
        [call] = db.scalars(sa.select(Call).where(Call.account_id == account_id)).all()
        transfer = db.scalars(sa.select(Transfer).where(Transfer.call_id == call.id)).one()
        case = db.scalars(
            sa.select(EscalationCase).where(EscalationCase.account_id == account_id)
        ).one()
        ledger = db.get_one(ContactLedger, account_id)
        status = line_status_of(db, collector)
    assert (call.outcome, call.counted_as) == ("escalated", "conversation"), call.failure_reason
    assert (transfer.state, transfer.end_reason, transfer.method) == (
        TransferState.ENDED,
        "collector_hung_up",
        TransferMethod.BRIDGE,
    )
    assert transfer.escalation_reason == "operator_request"
    assert transfer.answered_at is not None
    assert watch.states[-3:] == [
        TransferState.RINGING,
        TransferState.CONNECTED,
        TransferState.ENDED,
    ], watch.states
    assert watch.popped_while_ringing
    # The case is the collector's to record the outcome; the ledger counts one conversation.
    assert transfer.escalation_id == case.id
    assert (case.assignee, case.status) == (f"user:{collector}", EscalationStatus.IN_PROGRESS)
    assert "operator_request" in case.reasons
    assert (ledger.day_conversations, ledger.week_conversations) == (1, 1)
    assert status is not None
    assert status.status is LineStatus.ONLINE  # released after the call
    # Both heard each other through the robot.
    closed = await asyncio.to_thread(pool.wait_event, "call_closed", user="201", timeout_s=15)
    heard_by_collector = read_pcm(Path(str(closed["recording"])))
    closed = await asyncio.to_thread(pool.wait_event, "call_closed", user=DEBTOR, timeout_s=15)
    heard_by_debtor = read_pcm(Path(str(closed["recording"])))
    assert tone_seconds(heard_by_collector, DEBTOR_HZ) >= HEARD_S
    assert tone_seconds(heard_by_debtor, COLLECTOR_HZ) >= HEARD_S
    # The call's recording holds the collector where the debtor heard them: the robot's
    # channel is what went out on the line, when it went out (both files start at answer;
    # a sentence or a ringing cycle recorded as it was handed over once put it 4 s late).
    [recording] = (tmp_path / "rec").glob("*.wav")
    robot_channel, _ = channels(recording)
    heard_at, recorded_at = (
        tone_onset_s(heard_by_debtor, COLLECTOR_HZ),
        tone_onset_s(robot_channel, COLLECTOR_HZ),
    )
    assert heard_at is not None
    assert recorded_at is not None
    assert abs(recorded_at - heard_at) <= 0.3, (recorded_at, heard_at)


async def _call_done(factory: sessionmaker[Session], account_id: int) -> None:
    """Until the account's attempt is finished (the call stored and counted)."""

    def counted() -> bool:
        with factory() as db:
            return bool(
                db.scalar(
                    sa.select(sa.func.count()).where(
                        Call.account_id == account_id, Call.counted_as.is_not(None)
                    )
                )
            )

    while True:
        if await asyncio.to_thread(counted):
            return
        await asyncio.sleep(0.5)
