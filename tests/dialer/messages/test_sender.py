"""The sender against a real Kannel on 127.0.0.1 (bearerbox, smsbox, Debian's fake SMSC):
a gateway that is down, one that refuses, and the text as the SMSC received it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dialer.messages import KannelConfig, KannelGateway, Sender, SenderConfig
from dialer.messages.kannel_lab import KannelLab, ReceivedSms, kannel_available
from storage.models.messages import MessageStatus, OutboxMessage
from tests.dialer.messages.builders import MONDAY_NOON, Debtor, build_debtor, call_with_promise

PAGE_BASE = "https://pay.example.test"


class Clock:
    """A clock the test moves."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[KannelLab]:
    """A Kannel, not started: each test starts it when it wants; always stopped."""
    if not kannel_available():
        pytest.skip("Kannel is not installed (apt-get install kannel kannel-extras)")
    built = KannelLab(tmp_path / "kannel")
    try:
        yield built
    finally:
        built.stop()


async def received(lab: KannelLab, count: int, timeout_s: float = 10.0) -> list[ReceivedSms]:
    """What the fake SMSC got, once it has ``count`` messages (bounded wait)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        got = await asyncio.to_thread(lab.received)
        if len(got) >= count or loop.time() > deadline:
            return got
        await asyncio.sleep(0.05)


def _message(factory: sessionmaker[Session], call_id: int) -> OutboxMessage:
    import sqlalchemy as sa

    with factory() as session:
        return session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.call_id == call_id)
        ).one()


def _sender(
    factory: sessionmaker[Session],
    lab: KannelLab,
    clock: Clock,
    debtor: Debtor,
    password: str | None = None,
) -> tuple[Sender, KannelGateway]:
    gateway = KannelGateway(
        KannelConfig(lab.sendsms_url, lab.username, password or lab.password, timeout_s=5)
    )
    # Only this test's organisation: the database is shared by the tests of a run.
    config = SenderConfig(
        worker_id="test-sender",
        page_base_url=PAGE_BASE,
        organisation_ids=frozenset({debtor.organisation_id}),
    )
    return Sender(factory, gateway, config, clock=clock), gateway


async def test_gateway_down_queues_and_retries_then_sends_once(
    session_factory: sessionmaker[Session], unique_name: str, lab: KannelLab
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    clock = Clock(MONDAY_NOON)
    sender, gateway = _sender(session_factory, lab, clock, debtor)
    try:
        assert await sender.send_due() == {"retry": 1}  # nobody listens yet
        message = _message(session_factory, call_id)
        assert message.status is MessageStatus.QUEUED
        assert (message.tries, message.error_code) == (1, "unavailable")
        assert message.next_try_at == MONDAY_NOON + dt.timedelta(seconds=15)
        assert await sender.send_due() == {}  # not before the backoff

        await asyncio.to_thread(lab.start)
        clock.now += dt.timedelta(seconds=16)
        assert await sender.send_due() == {"sent": 1}
        assert await sender.send_due() == {}
    finally:
        await gateway.close()
    got = await received(lab, 1)
    message = _message(session_factory, call_id)
    assert message.status is MessageStatus.SENT
    assert len(got) == 1
    assert got[0].to == debtor.number.lstrip("+")
    assert got[0].sender == "UKdom"
    assert got[0].text == (
        f"ООО «УК Тестовый дом»: ЛС {debtor.account_number}, к оплате 3 500,50 ₽ до "
        f"30.11.2026. Реквизиты и QR: {PAGE_BASE}/pay/{message.page_token}"
    )
    assert got[0].parts >= 2  # Cyrillic in UCS-2: 67 characters a part


async def test_a_refusal_is_stored_with_its_code_and_not_retried(
    session_factory: sessionmaker[Session], unique_name: str, lab: KannelLab
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    await asyncio.to_thread(lab.start)
    clock = Clock(MONDAY_NOON)
    sender, gateway = _sender(session_factory, lab, clock, debtor, password="wrong-password")
    try:
        assert await sender.send_due() == {"rejected": 1}
        clock.now += dt.timedelta(hours=1)
        assert await sender.send_due() == {}
    finally:
        await gateway.close()
    message = _message(session_factory, call_id)
    assert (message.status, message.reason, message.error_code) == (
        MessageStatus.FAILED,
        "rejected",
        "http:403",
    )


async def test_the_sender_loop_sends_until_stopped(
    session_factory: sessionmaker[Session], unique_name: str, lab: KannelLab
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    await asyncio.to_thread(lab.start)
    sender, gateway = _sender(session_factory, lab, Clock(MONDAY_NOON), debtor)
    stop = asyncio.Event()
    loop = asyncio.create_task(sender.run(stop))
    try:
        got = await received(lab, 1)
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=10)
        await gateway.close()
    assert len(got) == 1
    assert _message(session_factory, call_id).status in (
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    )


async def test_two_senders_never_send_one_message_twice(
    session_factory: sessionmaker[Session], unique_name: str, lab: KannelLab
) -> None:
    debtors = [
        build_debtor(session_factory, f"{unique_name}-{i}", number=f"+7916777{i:04d}")
        for i in range(20)
    ]
    for debtor in debtors:
        call_with_promise(session_factory, debtor, MONDAY_NOON)
    await asyncio.to_thread(lab.start)
    organisations = frozenset(d.organisation_id for d in debtors)
    senders, gateways = [], []
    for name in ("sender-a", "sender-b"):
        gateway = KannelGateway(KannelConfig(lab.sendsms_url, lab.username, lab.password))
        config = SenderConfig(
            worker_id=name, page_base_url=PAGE_BASE, batch=5, organisation_ids=organisations
        )
        senders.append(Sender(session_factory, gateway, config, clock=Clock(MONDAY_NOON)))
        gateways.append(gateway)
    sent = 0
    try:
        for _ in range(10):
            results = await asyncio.gather(*(s.send_due() for s in senders))
            sent += sum(r.get("sent", 0) for r in results)
            if not any(results):
                break
    finally:
        for gateway in gateways:
            await gateway.close()
    got = await received(lab, 20)
    assert sent == 20
    assert sorted(sms.to for sms in got) == sorted(d.number.lstrip("+") for d in debtors)
