"""A whole call over real SIP: Kamailio with digest auth, a simulated debtor answering in
Russian (Festival's Russian voice when installed, else espeak-ng), the robot on baresip, real recognition (Vosk if a Russian model is
present, else Whisper), the real classifier, the soft-reminder script, a real database.

Asserts what was stored (turns, tags, the promise date, the outcome) and that the debtor
heard the robot: the debtor's own recording is transcribed and must carry the robot's words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from classifier.model import load_classifier
from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.session import (
    CallContext,
    CallOpening,
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
from dialer.telephony.remote import ProcessTelephone
from napomni.commands.demo_debtors import debtor_voice
from scripts.engine import Conversation
from scripts.loader import library_script, load_script
from speech.audio import read_wav
from speech.errors import ModelNotFound
from speech.models import resolve_vosk_model, resolve_whisper_model
from speech.recognition import RecognitionEngine
from speech.vosk_engine import VoskEngine
from speech.whisper_engine import WhisperEngine
from storage.models import Account, DebtLine, Organisation, Person
from storage.models.campaigns import Call, Promise, Turn
from tests.e2e.sip_bench import require_sip_tools

pytestmark = [
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.one_database(postgresql_with="own-process"),
]

ROOT = Path(__file__).resolve().parents[2]
SEARCH = (ROOT / "models", ROOT.parent / "shared" / "models")
TODAY = dt.date(2026, 11, 23)
ANSWERS = (
    "Да, это я.",
    "Я просто забыл заплатить.",
    "Заплачу двадцать пятого ноября.",
    "Да, верно.",
)


def russian_engine() -> RecognitionEngine:
    try:
        return VoskEngine.load(resolve_vosk_model(None, SEARCH))
    except ModelNotFound:
        pass
    try:
        return WhisperEngine.load(resolve_whisper_model(None, SEARCH))
    except ModelNotFound as err:
        pytest.skip(f"no Russian recognition model: {err}")


@pytest.fixture(scope="module")
def recognizer() -> RecognitionEngine:
    return russian_engine()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Kamailio, DebtorPool]]:
    """Kamailio with digest auth and one debtor who answers the soft reminder."""
    require_sip_tools()
    answers = tuple(str(debtor_voice(text, tmp_path / "voices")) for text in ANSWERS)
    kamailio = Kamailio(tmp_path / "kamailio", KamailioOptions())
    try:
        kamailio.start()
        pool = DebtorPool(
            tmp_path / "debtors",
            kamailio.address,
            kamailio.options.password,
            [DebtorSpec("ivanov", answers=answers)],
        )
        try:
            pool.start()
            yield kamailio, pool
        finally:
            pool.stop()
    finally:
        kamailio.stop()


def make_account(factory: sessionmaker[Session], name: str) -> int:
    with factory.begin() as session:
        organisation = Organisation(name=name)
        session.add(organisation)
        session.flush()
        account = Account(organisation_id=organisation.id, number="ЛС-77", address="ул. Мира, 3")
        session.add(account)
        session.flush()
        session.add(Person(account_id=account.id, full_name="Иванов Иван Петрович"))
        session.add(
            DebtLine(
                organisation_id=organisation.id,
                account_id=account.id,
                service="отопление",
                period=dt.date(2026, 10, 1),
                charged=Decimal("5400"),
                debt=Decimal("5400"),
            )
        )
        return account.id


@pytest.mark.parametrize(
    "telephone_kind",
    [BaresipTelephone, ProcessTelephone],
    ids=["baresip-in-process", "baresip-own-process"],
)
async def test_a_whole_call_over_sip(
    telephone_kind: type[BaresipTelephone] | type[ProcessTelephone],
    world: tuple[Kamailio, DebtorPool],
    recognizer: RecognitionEngine,
    session_factory: sessionmaker[Session],
    unique_name: str,
    tmp_path: Path,
) -> None:
    kamailio, pool = world
    # A Russian name, as the robot says it in the greeting (unique per test run).
    account_id = make_account(session_factory, f"УК Мир {abs(hash(unique_name)) % 10**6}")
    with session_factory() as db:
        variables = account_variables(db, account_id)
    parts = SessionParts(
        recognizer=recognizer,
        classifier=load_classifier(ROOT / "models"),
        voice=SynthesizerVoice.default(tmp_path / "prompts"),
        phrasing=RussianPhrasing(),
        log=SqlCallLog(session_factory, store_promises=True),
    )
    transcript = Transcript()
    session = CallSession(
        parts, SessionConfig(record_dir=tmp_path / "recordings"), observer=transcript
    )
    script = load_script(library_script("soft_reminder"))
    context = CallContext(
        opening=CallOpening(account_id, script.name, dt.datetime.now(dt.UTC)),
        today=TODAY,
        debt=variables.debt_total,
        call_ref="e2e",
    )
    rtp_min, rtp_max = free_udp_range(8)
    config = SipConfig(
        registrar=kamailio.address,
        user="robot",
        password=kamailio.options.password,
        rtp_port_min=rtp_min,
        rtp_port_max=rtp_max,
        local_address="127.0.0.1",
    )
    async with telephone_kind(config) as telephone:
        report = await session.place(
            telephone, "ivanov", 10.0, Conversation(script, variables), context
        )

    assert report.failure_reason is None, transcript.lines
    assert report.outcome is not None
    assert report.outcome.kind.value == "promise", "\n".join(transcript.lines)
    with session_factory() as db:
        call = db.get_one(Call, report.call_id)
        turns = db.scalars(
            sa.select(Turn).where(Turn.call_id == call.id).order_by(Turn.index)
        ).all()
        promise = db.scalars(sa.select(Promise).where(Promise.call_id == call.id)).one()
        assert call.outcome == "promise"
        assert call.sip_cause == 200
        assert call.answered_at is not None
        assert call.ended_at is not None
        heard = [t for t in turns if t.debtor_text]
        assert len(heard) == 4
        assert "confirm" in heard[0].tags
        assert "promise_to_pay" in heard[2].tags
        assert heard[2].promise_date == dt.date(2026, 11, 25)
        assert "confirm" in heard[3].tags
        assert all(t.latency_ms is not None for t in heard)
        assert promise.due_on == dt.date(2026, 11, 25)
    assert report.recording_path is not None
    assert read_wav(Path(report.recording_path)).format.channels == 2

    # The debtor heard the robot: what the debtor recorded is the robot's speech.
    closed = pool.wait_event("call_closed", user="ivanov", timeout_s=30)
    assert closed["answers"] == 4
    heard_by_debtor = engine_transcript(recognizer, Path(str(closed["recording"])))
    for word in ("иван", "оплат"):
        assert word in heard_by_debtor, heard_by_debtor


class Transcript:
    """The conversation as the session reported it (shown when an assertion fails)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def notice(self, notice: Notice) -> None:
        self.lines.append(f"{notice.kind}: {notice.text} {list(notice.tags)}")


def engine_transcript(engine: RecognitionEngine, path: Path) -> str:
    if isinstance(engine, WhisperEngine):
        return engine.transcribe(read_wav(path)).text.lower()
    from speech.recognition import transcribe_streaming

    return transcribe_streaming(engine, read_wav(path)).text.lower()
