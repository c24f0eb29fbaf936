"""People take turns in their own ways: one simulated debtor per habit, over real SIP.

Five calls at once through Kamailio to the debtor process, the robot on baresip with real
recognition and the real classifier: one confirms who they are over the opening, one says
«Алло? Алло?» instead of answering, one talks over the robot, one answers late, one greets
at pickup and would hang up after 5 s of silence. Each must reach its outcome, and the robot's
first word must leave within a second of every answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from classifier.model import load_classifier
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.session import (
    CallContext,
    CallOpening,
    CallReport,
    CallSession,
    Notice,
    SessionConfig,
    SessionParts,
)
from dialer.session.accounts import account_variables
from dialer.session.phrasing import RussianPhrasing, SynthesizerVoice
from dialer.session.store import SqlCallLog
from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.config import SipConfig
from napomni.commands.demo_debtors import Persona, behaviour_personas, spec_for
from scripts.engine import Conversation
from scripts.loader import library_script, load_script
from speech.recognition import RecognitionEngine
from storage.models import Account, DebtLine, Organisation, Person
from tests.e2e.sip_bench import require_sip_tools
from tests.e2e.test_call_over_sip import Transcript, russian_engine

pytestmark = [pytest.mark.sip, pytest.mark.slow, pytest.mark.one_database]

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 23)
PERSONAS = {p.key: p for p in behaviour_personas(TODAY)}
EXPECTED = {
    "early": "promise",
    "checks_line": "promise",
    "talks_over": "escalated",
    "late": "promise",
    "impatient": "promise",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Kamailio, DebtorPool]]:
    require_sip_tools()
    specs = [spec_for(p, key, tmp_path / "voices") for key, p in PERSONAS.items()]
    kamailio = Kamailio(tmp_path / "kamailio", KamailioOptions())
    try:
        kamailio.start()
        pool = DebtorPool(tmp_path / "debtors", kamailio.address, kamailio.options.password, specs)
        try:
            pool.start()
            yield kamailio, pool
        finally:
            pool.stop()
    finally:
        kamailio.stop()


def make_account(factory: sessionmaker[Session], organisation: str, persona: Persona) -> int:
    with factory.begin() as session:
        org = Organisation(name=organisation)
        session.add(org)
        session.flush()
        account = Account(organisation_id=org.id, number=f"ЛС-{persona.key}", address="ул. Мира")
        session.add(account)
        session.flush()
        session.add(Person(account_id=account.id, full_name=persona.full_name))
        session.add(
            DebtLine(
                organisation_id=org.id,
                account_id=account.id,
                service="отопление",
                period=dt.date(2026, 10, 1),
                charged=Decimal("3150"),
                debt=Decimal("3150"),
            )
        )
        return account.id


async def test_each_way_of_taking_turns_reaches_its_outcome(
    world: tuple[Kamailio, DebtorPool],
    session_factory: sessionmaker[Session],
    unique_name: str,
    tmp_path: Path,
) -> None:
    kamailio, pool = world
    recognizer: RecognitionEngine = russian_engine()
    parts = SessionParts(
        recognizer=recognizer,
        classifier=load_classifier(ROOT / "models"),
        voice=SynthesizerVoice.default(tmp_path / "prompts"),
        phrasing=RussianPhrasing(),
        log=SqlCallLog(session_factory, store_promises=True),
    )
    transcripts = {key: Transcript() for key in PERSONAS}
    script = load_script(library_script("soft_reminder"))
    rtp_min, rtp_max = free_udp_range(24)
    config = SipConfig(
        registrar=kamailio.address,
        user="robot",
        password=kamailio.options.password,
        rtp_port_min=rtp_min,
        rtp_port_max=rtp_max,
        local_address="127.0.0.1",
        max_concurrent_calls=len(PERSONAS),
    )

    session = CallSession(
        parts, SessionConfig(record_dir=tmp_path / "rec"), observer=By(transcripts)
    )

    async def call(telephone: BaresipTelephone, key: str) -> CallReport:
        organisation = f"УК Лад {key} {abs(hash(unique_name)) % 10**6}"
        account_id = await asyncio.to_thread(
            make_account, session_factory, organisation, PERSONAS[key]
        )
        with session_factory() as db:
            variables = account_variables(db, account_id)
        context = CallContext(
            opening=CallOpening(account_id, script.name, dt.datetime.now(dt.UTC)),
            today=TODAY,
            debt=variables.debt_total,
            call_ref=key,
        )
        return await session.place(telephone, key, 20.0, Conversation(script, variables), context)

    try:
        async with BaresipTelephone(config) as telephone:
            reports = dict(
                zip(
                    PERSONAS,
                    await asyncio.gather(*(call(telephone, key) for key in PERSONAS)),
                    strict=True,
                )
            )
    finally:
        session.close()

    for key, report in reports.items():
        said = "\n".join(transcripts[key].lines)
        assert report.outcome is not None, f"{key}: {report.failure_reason}\n{said}"
        assert report.outcome.kind.value == EXPECTED[key], f"{key}\n{said}"
        assert report.first_word_ms is not None
        assert report.first_word_ms <= 1000, f"{key}: first word {report.first_word_ms} ms"
        assert report.misunderstood_in_a_row == 0, f"{key}\n{said}"
    # «Алло? Алло?» into the silence after the question: the robot said the question again
    # (with the greeting when the recogniser heard «алло»; Whisper base sometimes hears «а»,
    # and then it asks again — rule 3 itself is tested on text in test_turn_taking).
    asked = [t for t in transcripts["checks_line"].lines if "это Волкова Нина Павловна?" in t]
    assert len(asked) >= 2, "\n".join(transcripts["checks_line"].lines)
    # The answer said over the opening was kept: it answered the identity question, which
    # the robot then did not ask.
    early = "\n".join(transcripts["early"].lines)
    assert "это Смирнов" not in early, early
    assert "ответ учтён после" in early, early
    assert reports["talks_over"].barge_in_ms, "\n".join(transcripts["talks_over"].lines)
    assert not pool.events("hung_up_on_silence")


class By:
    """Notices to each call's transcript by its reference."""

    def __init__(self, transcripts: dict[str, Transcript]) -> None:
        self.transcripts = transcripts

    def notice(self, notice: Notice) -> None:
        self.transcripts[notice.call_ref].notice(notice)
