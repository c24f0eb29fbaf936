"""Fixtures of the call-session tests: the real classifier, a real account, a loopback line."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from classifier.contract import TurnClassifier
from dialer.metrics import CallMetrics
from dialer.session import CallContext, CallSession, SessionConfig, SessionParts
from dialer.session.phrasing import RussianPhrasing
from dialer.session.report import CallOpening, CallReport
from dialer.session.store import SqlCallLog
from dialer.telephony.loopback import LoopbackExchange
from dialer.telephony.port import Call
from scripts.engine import Conversation
from scripts.loader import library_script, load_script
from scripts.model import Script
from scripts.values import AccountVariables
from storage.models import Account, Organisation
from tests.dialer.session.standins import FarEnd, ScriptedEngine, ToneVoice

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TODAY = dt.date(2026, 11, 23)
DEBT = Decimal("12480.50")

Debtor = Callable[[FarEnd], Awaitable[None]]


@pytest.fixture(scope="session")
def classifier() -> TurnClassifier:
    """The trained classifier of the project (``make test`` trains it first)."""
    from classifier.errors import ClassifierError
    from classifier.model import load_classifier

    try:
        return load_classifier(PROJECT_ROOT / "models")
    except ClassifierError as err:
        pytest.fail(f"{err}")


@pytest.fixture
def account_id(session_factory: sessionmaker[Session], unique_name: str) -> int:
    """A real account in the debt book."""
    with session_factory.begin() as session:
        organisation = Organisation(name=unique_name)
        session.add(organisation)
        session.flush()
        account = Account(organisation_id=organisation.id, number="ЛС-1", address="ул. Ленина, 1")
        session.add(account)
        session.flush()
        return account.id


def variables() -> AccountVariables:
    return AccountVariables(
        organisation="УК Уютный дом",
        addressed_as="Иван Петрович",
        full_name="Иванов Иван Петрович",
        address="улица Ленина, дом 1, квартира 5",
        debt_total=DEBT,
        months_overdue=2,
    )


@dataclass
class Line:
    """Runs one call over a loopback exchange with a far end playing the debtor."""

    classifier: TurnClassifier
    session_factory: sessionmaker[Session]
    account_id: int
    record_dir: Path

    async def call(
        self,
        texts: Iterable[str | None],
        debtor: Debtor,
        *,
        script: Script | None = None,
        voice: ToneVoice | None = None,
        config: SessionConfig | None = None,
        engine: object | None = None,
        behaviour: str = "answer",
        wrap: Callable[[Call], Call] | None = None,
        metrics: CallMetrics | None = None,
    ) -> tuple[CallReport, FarEnd | None]:
        exchange = LoopbackExchange()
        subscriber = exchange.subscriber("+79160000001", behaviour)  # type: ignore[arg-type]
        parts = SessionParts(
            recognizer=engine or ScriptedEngine(texts),  # type: ignore[arg-type]
            classifier=self.classifier,
            voice=voice or ToneVoice(),
            phrasing=RussianPhrasing(),
            log=SqlCallLog(self.session_factory, store_promises=True),
        )
        cfg = config or SessionConfig()
        session = CallSession(
            parts, dataclasses.replace(cfg, record_dir=self.record_dir), metrics=metrics
        )
        loaded = script or load_script(library_script("soft_reminder"))
        conversation = Conversation(loaded, variables())
        context = CallContext(
            opening=CallOpening(self.account_id, loaded.name, dt.datetime.now(dt.UTC)),
            today=TODAY,
            debt=DEBT,
            call_ref="test",
        )
        call: Call = await exchange.telephone().dial("+79160000001", ring_timeout_s=0.5)
        if wrap is not None:
            call = wrap(call)
        far: FarEnd | None = None
        debtor_task = None
        if call.result.outcome.value == "answered":
            far = FarEnd(await subscriber.next_call())
            debtor_task = asyncio.create_task(debtor(far))
        try:
            report = await asyncio.wait_for(session.run(call, conversation, context), 120)
        finally:
            if debtor_task is not None:
                debtor_task.cancel()
                await asyncio.gather(debtor_task, return_exceptions=True)
        if far is not None:
            await far.finished()
        return report, far


@pytest.fixture
def line(
    classifier: TurnClassifier,
    session_factory: sessionmaker[Session],
    account_id: int,
    tmp_path: Path,
) -> Line:
    return Line(classifier, session_factory, account_id, tmp_path / "recordings")
