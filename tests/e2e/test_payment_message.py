"""The SMS the robot promises, end to end, on real parts on 127.0.0.1.

A call ends with a promise (the session's :class:`SqlCallLog` writes the end and the
message in one transaction) → the sender hands it to a real Kannel → Debian's fake SMSC
receives the text with the link → bearerbox's delivery report reaches ``napomni serve``'s
DLR URL and is stored → the link's page opens without a login and its QR decodes
(``zbarimg``) to the ГОСТ Р 56042-2014 string with the sum in kopecks and the ЛС. Then the
gateway is killed mid-send: every message still reaches the SMSC exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from sqlalchemy.orm import Session, sessionmaker

from dialer.messages import KannelConfig, KannelGateway, Sender, SenderConfig
from dialer.messages.kannel_lab import KannelLab, kannel_available
from dialer.session.ports import CallClosing
from dialer.session.report import CallOpening
from dialer.session.store import SqlCallLog
from dialer.telephony.port import CallResult, Outcome
from storage.models.messages import MessageReport, MessageStatus, OutboxMessage
from tests.dialer.messages.builders import MONDAY_NOON, Debtor, build_debtor
from tests.dialer.messages.test_sender import Clock, received
from web.app import AccessLogger, create_app
from web.config import WebConfig

DLR_TOKEN = "dlr-test-token-0123456789"
SECRET = "e2e-messages-secret-" + "x" * 32
_LINK = re.compile(r"https?://\S+/pay/[A-Za-z0-9_-]+")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[KannelLab]:
    """A running Kannel with the fake SMSC; stopped in ``finally``."""
    if not kannel_available():
        pytest.skip("Kannel is not installed (apt-get install kannel kannel-extras)")
    started = KannelLab(tmp_path / "kannel")
    try:
        started.start()
        yield started
    finally:
        started.stop()


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[TestServer]:
    """``napomni serve``'s application with a DLR token, on a port from the OS."""
    config = WebConfig(
        database_url=database_url, secret=SECRET, db_threads=4, sms_dlr_token=DLR_TOKEN
    )
    running = TestServer(create_app(config), host="127.0.0.1")
    # The access log of ``napomni serve`` (the test server's own would log query strings).
    await running.start_server(
        access_log=logging.getLogger("napomni.web.access"), access_log_class=AccessLogger
    )
    try:
        yield running
    finally:
        await running.close()


def _base(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def _gateway(lab: KannelLab, server: TestServer) -> KannelGateway:
    dlr = f"{_base(server)}/messages/dlr/{DLR_TOKEN}"
    return KannelGateway(
        KannelConfig(lab.sendsms_url, lab.username, lab.password, dlr_url=dlr, timeout_s=5)
    )


def _end_call_with_promise(factory: sessionmaker[Session], debtor: Debtor) -> int:
    log = SqlCallLog(factory, store_promises=True)
    call_id = log.open_call(
        CallOpening(debtor.account_id, "soft_reminder", MONDAY_NOON, phone_id=debtor.phone_id)
    )
    log.close_call(
        call_id,
        debtor.account_id,
        CallClosing(
            ended_at=MONDAY_NOON + dt.timedelta(minutes=2),
            result=CallResult(Outcome.ANSWERED, 200, ended=True),
            outcome="promise",
            recording_path=None,
            failure_reason=None,
            promise_due=dt.date(2026, 11, 30),
            promise_amount=Decimal("3500.50"),
            debt=Decimal("5000.00"),
            messages=("payment_link",),
        ),
    )
    return call_id


async def _until(check: object, timeout_s: float = 10.0) -> None:
    assert callable(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await asyncio.to_thread(check):
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def _message(factory: sessionmaker[Session], call_id: int) -> OutboxMessage:
    with factory() as session:
        return session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.call_id == call_id)
        ).one()


async def test_a_promise_sends_the_sms_with_a_link_whose_page_has_the_gost_qr(
    session_factory: sessionmaker[Session],
    unique_name: str,
    lab: KannelLab,
    server: TestServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if shutil.which("zbarimg") is None:
        pytest.skip("zbarimg is not installed (apt-get install zbar-tools)")
    caplog.set_level(logging.INFO)
    debtor = build_debtor(session_factory, unique_name, link_ttl_days=3650)
    call_id = _end_call_with_promise(session_factory, debtor)

    gateway = _gateway(lab, server)
    sender = Sender(
        session_factory,
        gateway,
        SenderConfig(
            worker_id="e2e",
            page_base_url=_base(server),
            organisation_ids=frozenset({debtor.organisation_id}),
        ),
        clock=Clock(MONDAY_NOON + dt.timedelta(minutes=3)),
    )
    try:
        assert await sender.send_due() == {"sent": 1}
    finally:
        await gateway.close()

    got = await received(lab, 1)
    assert len(got) == 1
    assert got[0].to == debtor.number.lstrip("+")
    text = got[0].text
    assert f"ЛС {debtor.account_number}" in text
    assert "3 500,50 ₽ до 30.11.2026" in text
    link = _LINK.search(text)
    assert link is not None
    message = _message(session_factory, call_id)
    assert link.group(0) == f"{_base(server)}/pay/{message.page_token}"

    # The delivery report comes back through the DLR URL and is stored.
    def delivered() -> bool:
        return _message(session_factory, call_id).status is MessageStatus.DELIVERED

    await _until(delivered)
    with session_factory() as session:
        reports = session.scalars(
            sa.select(MessageReport.status).where(MessageReport.message_id == message.id)
        ).all()
    assert 1 in reports

    async with aiohttp.ClientSession() as client:
        async with client.get(link.group(0)) as page:
            assert page.status == 200
            assert page.headers["Cache-Control"] == "no-store"
            html = await page.text()
        async with client.get(link.group(0) + "/qr.png") as qr:
            assert qr.status == 200
            assert qr.content_type == "image/png"
            png = await qr.read()
        async with client.get(f"{_base(server)}/pay/{'x' * 32}") as unknown:
            assert unknown.status == 404
    assert debtor.account_number in html
    assert "3 500,50 ₽" in html
    assert "Должник Тестовый" not in html  # a receipt's lines only, no name
    assert debtor.number not in html

    path = tmp_path / "qr.png"
    path.write_bytes(png)
    decoded = await asyncio.to_thread(
        subprocess.run,
        ["zbarimg", "--raw", "-q", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    gost = decoded.stdout.strip()
    assert gost.startswith("ST00012|Name=ООО «УК Тестовый дом»|PersonalAcc=40702810938000012345|")
    fields = dict(pair.split("=", 1) for pair in gost.split("|")[1:])
    assert fields["Sum"] == "350050"
    assert fields["PersAcc"] == debtor.account_number
    assert fields["BIC"] == "044525225"
    assert _message(session_factory, call_id).page_opens == 1

    # An expired link shows nothing.
    with session_factory.begin() as session:
        session.get_one(OutboxMessage, message.id).page_expires_at = MONDAY_NOON
    async with aiohttp.ClientSession() as client, client.get(link.group(0)) as expired:
        assert expired.status == 404
        assert debtor.account_number not in await expired.text()

    # Delivery reports: a wrong token, a malformed one, an unknown message — all ignored,
    # and the log names no number and no text.
    dlr = f"{_base(server)}/messages/dlr"
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{dlr}/wrong-token-0123456789?id={message.id}&s=2") as wrong:
            assert wrong.status == 404
        async with client.get(f"{dlr}/{DLR_TOKEN}?id=+79161234567&s=1") as malformed:
            assert malformed.status == 400
        async with client.get(f"{dlr}/{DLR_TOKEN}?id=999999999&s=1") as unknown_id:
            assert unknown_id.status == 404
    assert _message(session_factory, call_id).status is MessageStatus.DELIVERED
    logged = caplog.text
    assert "9161234567" not in logged
    assert "Оплата" not in logged
    assert message.page_token is not None
    assert message.page_token not in logged
    assert DLR_TOKEN not in logged


async def test_gateway_killed_mid_send_every_message_arrives_once(
    session_factory: sessionmaker[Session],
    unique_name: str,
    lab: KannelLab,
    server: TestServer,
) -> None:
    total = 60
    call_ids, organisations = [], set()
    for index in range(total):
        debtor = build_debtor(
            session_factory, f"{unique_name}-{index}", number=f"+7916555{index:04d}"
        )
        organisations.add(debtor.organisation_id)
        call_ids.append(_end_call_with_promise(session_factory, debtor))
    clock = Clock(MONDAY_NOON + dt.timedelta(minutes=3))
    gateway = _gateway(lab, server)
    config = SenderConfig(
        worker_id="e2e-kill",
        page_base_url=_base(server),
        batch=total,
        max_in_flight=2,
        organisation_ids=frozenset(organisations),
    )
    sender = Sender(session_factory, gateway, config, clock=clock)
    try:
        first = asyncio.create_task(sender.send_due())
        await received(lab, 5)  # some got through: now the HTTP side dies
        await asyncio.to_thread(lab.kill, "smsbox")
        counts = await first
        assert counts.get("retry", 0) > 0, counts  # the cut really hit messages in flight
        await asyncio.to_thread(lab.start_smsbox)
        # Reports held by bearerbox arrive once smsbox is back (they prove which messages
        # the gateway had although our try heard no answer); the backoff gives them time.
        await asyncio.sleep(2.0)
        for _ in range(10):
            clock.now += dt.timedelta(hours=1)
            if not await sender.send_due():
                break
    finally:
        await gateway.close()

    got = await received(lab, total, timeout_s=15)
    tokens = [m.group(0).rsplit("/", 1)[1] for m in map(_LINK.search, (r.text for r in got)) if m]
    with session_factory() as session:
        rows = session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.call_id.in_(call_ids))
        ).all()
    expected = {row.page_token for row in rows}
    assert sorted(tokens) == sorted(expected)  # every one, none twice
    assert all(row.status in (MessageStatus.SENT, MessageStatus.DELIVERED) for row in rows)
    assert all(row.error_code is None for row in rows)
    assert any(row.tries > 1 for row in rows)
