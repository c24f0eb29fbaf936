"""The screen pop over real SIP (issue 16, «must show»): a simulated debtor asks the robot for
a person; the collector's browser (headless Chromium, signed in on ``/escalations``) shows
the pop with the transcript *before* the collector's UA answers; the call then connects,
ends, and the pop links to the case.

The call side is the sandbox of ``tests/e2e/test_transfer_session_over_sip.py`` (Kamailio,
baresip debtor and collector 201, the campaign worker with real recognition); the collector
answers after 3 s here so that "before the answer" is a margin, not a race. Playwright's
async API runs in this test's event loop next to the worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, async_playwright
from sqlalchemy.orm import Session, sessionmaker

from classifier.model import load_classifier
from dialer.runner import RunnerConfig, SessionCallRunner
from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.session import CallSession, SessionConfig, SessionParts
from dialer.session.phrasing import RussianPhrasing, SynthesizerVoice
from dialer.session.store import SqlCallLog
from dialer.session.transfer import TransferConfig
from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.config import SipConfig
from dialer.worker import Worker, WorkerConfig
from napomni.commands.demo_debtors import debtor_voice
from storage.models.campaigns import Call
from storage.models.transfers import Transfer, TransferState
from storage.models.users import User
from tests.e2e.sip_bench import require_sip_tools, tone_pcm
from tests.e2e.test_call_over_sip import ROOT, russian_engine
from tests.e2e.test_transfer_session_over_sip import (
    COLLECTOR_HZ,
    DEBTOR,
    DEBTOR_HZ,
    NOON,
    _call_done,
    _pcm_wav,
    _setup,
    _silence,
)
from tests.e2e.web.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.web.conftest import PASSWORD, web_config
from web.passwords import hash_password
from web.server import ThreadedServer

pytestmark = [pytest.mark.sip, pytest.mark.slow, pytest.mark.one_database]

ANSWER_DELAY_S = 3.0


@pytest.fixture
def sip_world(tmp_path: Path) -> Iterator[tuple[Kamailio, DebtorPool]]:
    """Kamailio, the debtor who asks for a person, and collector 201 answering after 3 s."""
    require_sip_tools()
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    voices = tmp_path / "voices"
    answers = (
        str(debtor_voice("Да, это я.", voices)),
        str(debtor_voice("Соедините меня с оператором.", voices)),
        _pcm_wav(voices / "to-collector.wav", _silence(8.0), tone_pcm(DEBTOR_HZ, 4.0)),
    )
    collector_greeting = _pcm_wav(
        voices / "collector.wav", _silence(0.3), tone_pcm(COLLECTOR_HZ, 3.0), _silence(6.0)
    )
    specs = [
        DebtorSpec(DEBTOR, answers=answers, pause_s=0.3),
        DebtorSpec(
            "201",
            behaviour="collector",
            greeting=collector_greeting,
            answer_delay_s=ANSWER_DELAY_S,
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


@pytest.fixture
def server_url(database_url: str) -> Iterator[str]:
    """The live web service on the same database as the worker."""
    with ThreadedServer(web_config(database_url)) as server:
        yield server.url


def _collector_login(factory: sessionmaker[Session], collector: int) -> str:
    """Give the seeded collector a real password; their login."""
    with factory.begin() as db:
        user = db.get_one(User, collector)
        user.password_hash = hash_password(PASSWORD)
        return user.login


def _transfer_answered(factory: sessionmaker[Session], account_id: int) -> bool | None:
    """Whether the account's transfer was answered (``None``: no transfer yet)."""
    with factory() as db:
        row = db.execute(
            sa.select(Transfer.state, Transfer.answered_at)
            .where(Transfer.account_id == account_id)
            .order_by(Transfer.id.desc())
            .limit(1)
        ).first()
    return None if row is None else row.answered_at is not None


async def _sign_in(page: Page, base: str, login: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Логин").fill(login)
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await page.get_by_role("button", name="Выйти").wait_for()
    await page.goto(f"{base}/escalations")
    await page.locator("[data-test=line-status]").wait_for()


async def test_the_pop_shows_the_transcript_before_the_collector_answers(
    sip_world: tuple[Kamailio, DebtorPool],
    server_url: str,
    session_factory: sessionmaker[Session],
    unique_name: str,
    tmp_path: Path,
) -> None:
    kamailio, _ = sip_world
    account_id, collector, campaign = await asyncio.to_thread(
        _setup, session_factory, f"УК Экран {unique_name}"
    )
    login = await asyncio.to_thread(_collector_login, session_factory, collector)
    parts = SessionParts(
        recognizer=russian_engine(),
        classifier=load_classifier(ROOT / "models"),
        voice=SynthesizerVoice.default(tmp_path / "prompts"),
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

    stop = asyncio.Event()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="ru-RU", viewport={"width": 1280, "height": 900}
            )
            page = await context.new_page()
            await _sign_in(page, server_url, login)
            try:
                async with BaresipTelephone(config) as telephone:
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
                            worker_id="transfer-pop-e2e",
                            concurrency=1,
                            poll_interval_s=0.3,
                            campaign_ids=frozenset({campaign}),
                        ),
                        clock=clock,
                    )
                    working = asyncio.create_task(worker.run(stop))
                    try:
                        pop = page.locator("[data-test=pop]")
                        await pop.wait_for(timeout=120_000)
                        # The moment the pop is on screen the collector has not answered.
                        answered = await asyncio.to_thread(
                            _transfer_answered, session_factory, account_id
                        )
                        first_state = await pop.get_attribute("data-first-state")
                        transcript = await pop.locator(".pop-transcript").inner_text()
                        account = await pop.locator(".pop-account").inner_text()
                        await page.screenshot(
                            path=str(_artifact("transfer-pop-sip-ringing")), full_page=True
                        )
                        assert answered is False
                        assert first_state == "ringing"
                        assert "ЛС-601" in account
                        assert "Соколов Андрей Ильич" in account
                        assert "оператор" in transcript.lower(), transcript
                        await (
                            pop.locator(".pop-state")
                            .filter(has_text="идёт разговор")
                            .wait_for(timeout=30_000)
                        )
                        await asyncio.wait_for(_call_done(session_factory, account_id), 120)
                        link = pop.get_by_role("link", name="Открыть обращение и записать итог")
                        await link.wait_for(timeout=15_000)
                        await page.screenshot(
                            path=str(_artifact("transfer-pop-sip-ended")), full_page=True
                        )
                    finally:
                        stop.set()
                        await working
            finally:
                session.close()
        finally:
            await browser.close()
    with session_factory() as db:
        call = db.scalars(sa.select(Call).where(Call.account_id == account_id)).one()
        transfer = db.scalars(sa.select(Transfer).where(Transfer.call_id == call.id)).one()
    assert transfer.state is TransferState.ENDED
    assert transfer.escalation_id is not None


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
