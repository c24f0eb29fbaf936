"""A campaign's live view in a real browser while the real worker calls over real SIP.

Kamailio with digest auth on 127.0.0.1, simulated debtors answering in Russian, the robot
on baresip, the worker claiming the campaign's attempts, the call session with real
recognition and the real classifier writing each turn as it happens — in threads of their
own, as another process would. The page is opened once: its figures, the call in progress
and its transcript must change by themselves (Server-Sent Events), never by a reload.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from classifier.model import load_classifier
from dialer.campaigns.filters import AccountFilter
from dialer.campaigns.service import CampaignSpec, create_campaign, start_campaign
from dialer.runner import SessionCallRunner
from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.session import CallSession, SessionConfig, SessionParts
from dialer.session.phrasing import RussianPhrasing, SynthesizerVoice
from dialer.session.store import SqlCallLog
from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.config import SipConfig
from dialer.worker import Worker, WorkerConfig
from napomni.commands.demo_debtors import debtor_voice
from speech.recognition import RecognitionEngine
from storage.models import Account, Building, DebtLine, Organisation, Person, Phone, utc_now
from storage.models.users import UserRole
from tests.e2e.sip_bench import require_sip_tools
from tests.e2e.test_call_over_sip import ROOT, russian_engine
from tests.e2e.web.conftest import screenshot
from tests.e2e.web.test_flows import sign_in
from tests.web.conftest import WebWorld, web_config
from web.server import ThreadedServer

pytestmark = [pytest.mark.sip, pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.one_database]

MOSCOW = ZoneInfo("Europe/Moscow")
ANSWERS = (
    "Да, это я.",
    "Я просто забыл заплатить.",
    "Заплачу двадцать пятого числа.",
    "Да, верно.",
)
DEBTORS = ("79990000101", "79990000102")


@pytest.fixture
def server_url(database_url: str) -> Iterator[str]:
    """The live service for the browser."""
    with ThreadedServer(web_config(database_url)) as server:
        yield server.url


@pytest.fixture
def sip_world(tmp_path: Path) -> Iterator[Kamailio]:
    """Kamailio and two debtors who answer the soft reminder and promise to pay."""
    require_sip_tools()
    answers = tuple(str(debtor_voice(text, tmp_path / "voices")) for text in ANSWERS)
    kamailio = Kamailio(tmp_path / "kamailio", KamailioOptions())
    try:
        kamailio.start()
        pool = DebtorPool(tmp_path / "debtors", kamailio.address, kamailio.options.password,
                          [DebtorSpec(user, answers=answers) for user in DEBTORS])  # fmt: skip
        try:
            pool.start()
            yield kamailio
        finally:
            pool.stop()
    finally:
        kamailio.stop()


def _noon_today() -> Callable[[], dt.datetime]:
    """The worker's clock: today at noon in Moscow and running, so the calls are inside the
    legal hours whenever the test runs (the calls themselves are stored at the real time)."""
    noon = dt.datetime.combine(dt.datetime.now(MOSCOW).date(), dt.time(12), tzinfo=MOSCOW)
    started = time.monotonic()
    return lambda: noon.astimezone(dt.UTC) + dt.timedelta(seconds=time.monotonic() - started)


def _campaign(factory: sessionmaker[Session], world: WebWorld, now: dt.datetime) -> int:
    """A building of two debtors in the manager's organisation and a started campaign."""
    with factory.begin() as session:
        organisation = session.get_one(Organisation, world.org_a)
        building = Building(organisation_id=world.org_a, address="г. Тверь, ул. Живая, 7")
        session.add(building)
        session.flush()
        for n, user in enumerate(DEBTORS, start=1):
            account = Account(organisation_id=world.org_a, building_id=building.id,
                              number=f"ЖИВ-{n}", address=building.address, flat=str(n))  # fmt: skip
            session.add(account)
            session.flush()
            person = Person(account_id=account.id, full_name=f"Иванов Иван {n}")
            session.add(person)
            session.flush()
            session.add(Phone(account_id=account.id, person_id=person.id, number=user))
            session.add(DebtLine(organisation_id=world.org_a, account_id=account.id,
                                 service="отопление", period=dt.date(2026, 10, 1),
                                 charged=Decimal("5400"), debt=Decimal("5400")))  # fmt: skip
        campaign = create_campaign(
            session,
            CampaignSpec(organisation=organisation.name, name="Живой обзвон",
                         script="soft_reminder", starts_on=now.astimezone(MOSCOW).date(),
                         account_filter=AccountFilter(building_ids=(building.id,)),
                         max_concurrent_calls=2, max_new_per_minute=60),
            now,
        )  # fmt: skip
        start_campaign(session, campaign, now)
        return campaign.id


class WorkerThread:
    """The real worker on its own event loop and thread, as another process would run it."""

    def __init__(self, factory: sessionmaker[Session], parts: SessionParts, kamailio: Kamailio,
                 campaign_id: int, record_dir: Path, clock: Callable[[], dt.datetime]) -> None:  # fmt: skip
        self._args = (factory, parts, kamailio, campaign_id, record_dir, clock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="e2e-worker", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._work())
        except BaseException as err:  # shown by the test after stop()
            self.error = err
            self._ready.set()

    async def _work(self) -> None:
        factory, parts, kamailio, campaign_id, record_dir, clock = self._args
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        rtp_min, rtp_max = free_udp_range(12)
        config = SipConfig(registrar=kamailio.address, user="robot",
                           password=kamailio.options.password, rtp_port_min=rtp_min,
                           rtp_port_max=rtp_max, local_address="127.0.0.1",
                           max_concurrent_calls=2)  # fmt: skip
        session = CallSession(parts, SessionConfig(record_dir=record_dir))
        async with BaresipTelephone(config) as telephone:
            runner = SessionCallRunner(telephone, session, factory, clock=clock)
            worker = Worker(factory, runner,
                            WorkerConfig(worker_id="e2e-live", concurrency=2, poll_interval_s=0.5,
                                         campaign_ids=frozenset({campaign_id})),
                            clock=clock)  # fmt: skip
            self._ready.set()
            await worker.run(self._stop)

    def __enter__(self) -> WorkerThread:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the worker did not start within 60 s")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(90)
        if self.error is not None:
            raise self.error


@pytest.fixture(scope="module")
def recognizer() -> RecognitionEngine:
    return russian_engine()


def _finished_calls(factory: sessionmaker[Session], campaign_id: int) -> int:
    from storage.models.campaigns import Attempt, AttemptStatus

    with factory() as session:
        return int(session.scalar(sa.select(sa.func.count()).where(
            Attempt.campaign_id == campaign_id, Attempt.status == AttemptStatus.DONE)) or 0)  # fmt: skip


def test_live_view_follows_the_worker_over_sip(
    page: Page,
    server_url: str,
    web_world: WebWorld,
    sip_world: Kamailio,
    recognizer: RecognitionEngine,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    clock = _noon_today()
    campaign_id = _campaign(session_factory, web_world, clock())
    parts = SessionParts(
        recognizer=recognizer,
        classifier=load_classifier(ROOT / "models"),
        voice=SynthesizerVoice.default(tmp_path / "prompts"),
        phrasing=RussianPhrasing(),
        log=SqlCallLog(session_factory, store_promises=True),
    )
    sign_in(page, server_url, web_world.logins[UserRole.CAMPAIGN_MANAGER])
    page.goto(f"{server_url}/campaigns/{campaign_id}")
    live = page.locator("#campaign-live")
    expect(live.locator("[data-live=planned]")).to_have_text("2")
    expect(live.locator("[data-live=finished]")).to_have_text("0")
    expect(live.locator("[data-live-calls]")).to_contain_text("Сейчас звонков нет")
    # The stream is connected once its first event has been shown.
    expect(live.locator("[data-live-state]")).to_contain_text("обновлено в", timeout=20_000)
    page.evaluate("window.__sameDocument = true")  # a reload would lose this

    started = utc_now()
    with WorkerThread(session_factory, parts, sip_world, campaign_id, tmp_path / "rec", clock):
        debtor_line = live.locator(".live-call .transcript li.debtor").first
        expect(debtor_line).to_be_visible(timeout=180_000)
        expect(live.locator(".live-call .transcript li.robot").first).to_be_visible()
        expect(live.locator("[data-live='today.calls']")).not_to_have_text("0")
        expect(live.locator("[data-live=in_progress]")).not_to_have_text("0")
        expect(page.locator("#campaign-totals [data-live='totals.dialled']")).not_to_have_text("0")
        screenshot(page, "campaign-live")
        # Both calls end: the progress and today's figures move on, still without a reload.
        expect(live.locator("[data-live=finished]")).to_have_text("2", timeout=240_000)
    assert _finished_calls(session_factory, campaign_id) == 2
    expect(live.locator("[data-live-calls]")).to_contain_text("Сейчас звонков нет")
    expect(live.locator("[data-live='today.answered']")).to_have_text("2")
    assert page.evaluate("window.__sameDocument") is True
    assert utc_now() - started < dt.timedelta(minutes=8)
    screenshot(page, "campaign-live-done")
