"""The SMPP adapter against a real SMSC on 127.0.0.1 (Net::SMPP in Perl, an independent
implementation of the protocol): what the SMSC received, octet by octet, and what the
outbox stored — through the real sender where the outbox is concerned."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.messages import GatewayUnavailable, OutgoingSms, Sender, SenderConfig
from dialer.messages.smpp import OutboxReceipts, SmppConfig, SmppGateway, SmppReceipt
from dialer.sandbox.smsc import ReceivedPdu, Smsc, SmscOptions, smsc_available
from storage.models.messages import MessageReport, MessageStatus, OutboxMessage
from tests.dialer.messages.builders import MONDAY_NOON, Debtor, build_debtor, call_with_promise

PAGE_BASE = "https://pay.example.test"
REFUSED = "+79990001122"
PASSWORD = "s3cret"


class Clock:
    """A clock the test moves."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Smsc]:
    """An SMSC on a port of its own, not started (a test starts it); always stopped."""
    if not smsc_available():
        pytest.skip("Net::SMPP is not installed (apt-get install libnet-smpp-perl)")
    server = Smsc(
        tmp_path / "smsc",
        SmscOptions(password=PASSWORD, refused_numbers=(REFUSED,), receipt_delay_ms=100),
        port=_free_tcp_port(),
    )
    try:
        yield server
    finally:
        server.stop()


def _gateway(
    smsc: Smsc, *, password: str = PASSWORD, factory: sessionmaker[Session] | None = None
) -> SmppGateway:
    config = SmppConfig(
        host="127.0.0.1",
        port=smsc.port,
        system_id="napomni",
        password=password,
        connect_timeout_s=5.0,
        submit_timeout_s=5.0,
        reconnect_first_s=0.1,
        reconnect_max_s=0.3,
    )
    return SmppGateway(config, receipts=OutboxReceipts(factory) if factory else None)


def _sender(
    factory: sessionmaker[Session], gateway: SmppGateway, clock: Clock, debtor: Debtor
) -> Sender:
    config = SenderConfig(
        worker_id="test-smpp-sender",
        page_base_url=PAGE_BASE,
        organisation_ids=frozenset({debtor.organisation_id}),
    )
    return Sender(factory, gateway, config, clock=clock)


def _message(factory: sessionmaker[Session], call_id: int) -> OutboxMessage:
    with factory() as session:
        return session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.call_id == call_id)
        ).one()


async def _until(what: str, check: object, timeout_s: float = 10.0) -> None:
    """Wait (bounded) until ``check()`` is true; fail naming ``what``."""
    assert callable(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await asyncio.to_thread(check):
        if loop.time() > deadline:
            pytest.fail(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.05)


def _submits(smsc: Smsc) -> list[ReceivedPdu]:
    return smsc.received("submit_sm")


async def test_cyrillic_text_arrives_as_ucs2_with_the_exact_text(smsc: Smsc) -> None:
    await asyncio.to_thread(smsc.start)
    gateway = _gateway(smsc)
    text = "Долг по ЛС 7700123: 3 500,50 ₽ до 30.11"
    try:
        accepted = await gateway.send(OutgoingSms(41, "+79161234567", "UKdom", text))
    finally:
        await gateway.close()
    [submit] = _submits(smsc)
    assert submit.destination == "79161234567"
    assert submit.fields["source"] == "UKdom"
    assert submit.data_coding == 0x08
    assert submit.esm_class & 0x40 == 0  # one part: no UDH
    assert submit.udh == b""
    assert submit.fields["registered_delivery"] == 1
    assert submit.short_message.decode("utf-16-be") == text
    assert accepted.gateway == "smpp"
    assert accepted.ref == submit.fields["message_id"] != ""


async def test_a_long_message_arrives_as_numbered_parts_and_its_receipt_is_stored(
    session_factory: sessionmaker[Session], unique_name: str, smsc: Smsc
) -> None:
    other = build_debtor(session_factory, f"{unique_name}-other", number="+79160000001")
    debtor = build_debtor(session_factory, unique_name)
    other_call = call_with_promise(session_factory, other, MONDAY_NOON)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    await asyncio.to_thread(smsc.start)
    gateway = _gateway(smsc, factory=session_factory)
    sender = _sender(session_factory, gateway, Clock(MONDAY_NOON), debtor)
    try:
        assert await sender.send_due() == {"sent": 1}
        await _until(
            "the receipt stored",
            lambda: _message(session_factory, call_id).status is MessageStatus.DELIVERED,
        )
    finally:
        await gateway.close()

    message = _message(session_factory, call_id)
    parts = _submits(smsc)
    assert len(parts) >= 2  # the default text is longer than 70 UCS-2 characters
    references = set()
    for number, part in enumerate(parts, start=1):
        assert part.destination == debtor.number.lstrip("+")
        assert part.data_coding == 0x08
        assert part.esm_class & 0x40
        # IEI 0 (concatenation, 8-bit reference): 05 00 03 ref total seq
        assert part.udh[:3] == b"\x05\x00\x03"
        assert (part.udh[4], part.udh[5]) == (len(parts), number)
        assert len(part.udh) + len(part.short_message) <= 140
        references.add(part.udh[3])
    assert len(references) == 1
    assert b"".join(p.short_message for p in parts).decode("utf-16-be") == message.text
    assert message.text.startswith("ООО «УК Тестовый дом»: ЛС ")

    assert (message.gateway, message.gateway_ref) == ("smpp", parts[0].fields["message_id"])
    assert message.delivered_at is not None
    with session_factory() as session:
        reports = session.scalars(
            sa.select(MessageReport).where(MessageReport.message_id == message.id)
        ).all()
        assert [r.status for r in reports] == [1]
        assert "stat:DELIVRD" in reports[0].detail
        assert "text" not in reports[0].detail
    assert _message(session_factory, other_call).status is MessageStatus.QUEUED  # untouched


async def test_a_receipt_nobody_correlated_is_found_by_the_smsc_id(
    session_factory: sessionmaker[Session], unique_name: str, smsc: Smsc
) -> None:
    """After a restart the library no longer knows the message: the stored ref finds it."""
    debtor = build_debtor(session_factory, unique_name, number="+79160000002")
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    await asyncio.to_thread(smsc.start)
    gateway = _gateway(smsc)  # no sink: this process's receipts go nowhere
    try:
        assert await _sender(session_factory, gateway, Clock(MONDAY_NOON), debtor).send_due() == {
            "sent": 1
        }
    finally:
        await gateway.close()
    ref = _message(session_factory, call_id).gateway_ref
    assert ref
    sink = OutboxReceipts(session_factory, clock=lambda: MONDAY_NOON)
    await sink(SmppReceipt(smsc_ref="no-such-ref", status=1, detail="id:x stat:DELIVRD"))
    assert _message(session_factory, call_id).status is MessageStatus.SENT
    await sink(SmppReceipt(smsc_ref=ref, status=2, detail=f"id:{ref} stat:UNDELIV err:1"))
    message = _message(session_factory, call_id)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "dlr:2")


async def test_a_refused_number_is_rejected_with_the_smsc_code(
    session_factory: sessionmaker[Session], unique_name: str, smsc: Smsc
) -> None:
    debtor = build_debtor(session_factory, unique_name, number=REFUSED)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    await asyncio.to_thread(smsc.start)
    gateway = _gateway(smsc, factory=session_factory)
    clock = Clock(MONDAY_NOON)
    sender = _sender(session_factory, gateway, clock, debtor)
    try:
        assert await sender.send_due() == {"rejected": 1}
        clock.now += dt.timedelta(hours=1)
        assert await sender.send_due() == {}  # for good: not retried
    finally:
        await gateway.close()
    message = _message(session_factory, call_id)
    assert (message.status, message.reason, message.error_code) == (
        MessageStatus.FAILED,
        "rejected",
        "smpp:0x0000000B",
    )
    submits = _submits(smsc)
    assert submits
    assert {p.fields["status"] for p in submits} == {0x0B}  # each part refused


async def test_smsc_down_keeps_the_message_queued_then_it_goes_once(
    session_factory: sessionmaker[Session], unique_name: str, smsc: Smsc
) -> None:
    debtor = build_debtor(session_factory, unique_name, number="+79160000003")
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    gateway = _gateway(smsc, factory=session_factory)  # nobody listens on its port yet
    clock = Clock(MONDAY_NOON)
    sender = _sender(session_factory, gateway, clock, debtor)
    try:
        assert await sender.send_due() == {"retry": 1}
        message = _message(session_factory, call_id)
        assert message.status is MessageStatus.QUEUED
        assert (message.tries, message.error_code) == (1, "smpp:unavailable")
        assert message.next_try_at == MONDAY_NOON + dt.timedelta(seconds=15)
        assert await sender.send_due() == {}  # not before the backoff

        await asyncio.to_thread(smsc.start)  # same port: the gateway reconnects by itself
        await _until("the gateway's bind", lambda: smsc.received("bind_transceiver"))
        clock.now += dt.timedelta(seconds=16)
        assert await sender.send_due() == {"sent": 1}
        assert await sender.send_due() == {}
    finally:
        await gateway.close()
    assert _message(session_factory, call_id).status in (
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    )
    assert len({p.udh[3:4] for p in _submits(smsc)}) == 1  # one message, sent once


async def test_the_gateway_rebinds_after_the_smsc_drops_the_link(smsc: Smsc) -> None:
    await asyncio.to_thread(smsc.start)
    gateway = _gateway(smsc)
    try:
        await gateway.send(OutgoingSms(51, "+79161234567", "UKdom", "Первое"))
        await asyncio.to_thread(smsc.stop)
        await asyncio.to_thread(smsc.start)
        await _until("a second bind", lambda: len(smsc.received("bind_transceiver")) >= 2)
        accepted = await gateway.send(OutgoingSms(52, "+79161234567", "UKdom", "Второе"))
    finally:
        await gateway.close()
    texts = [p.short_message.decode("utf-16-be") for p in _submits(smsc)]
    assert texts == ["Первое", "Второе"]
    assert accepted.ref == _submits(smsc)[-1].fields["message_id"]


async def test_a_wrong_password_is_a_clear_error_and_the_message_waits(
    session_factory: sessionmaker[Session], unique_name: str, smsc: Smsc
) -> None:
    debtor = build_debtor(session_factory, unique_name, number="+79160000004")
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    await asyncio.to_thread(smsc.start)
    gateway = _gateway(smsc, password="wrong")
    try:
        with pytest.raises(GatewayUnavailable) as refused:
            await gateway.send(OutgoingSms(61, "+79161234567", "UKdom", "текст"))
        assert refused.value.code == "smpp-bind:0x0000000E"
        assert "ESME_RINVPASWD" in str(refused.value)
        assert "NAPOMNI_SMS_SMPP_PASSWORD" in str(refused.value)
        sender = _sender(session_factory, gateway, Clock(MONDAY_NOON), debtor)
        assert await sender.send_due() == {"retry": 1}
    finally:
        await gateway.close()
    message = _message(session_factory, call_id)
    assert message.status is MessageStatus.QUEUED
    assert message.error_code == "smpp-bind:0x0000000E"
    assert {p.fields["status"] for p in smsc.received("bind_transceiver")} == {0x0E}
    assert _submits(smsc) == []


async def test_no_number_or_text_reaches_the_logs(
    session_factory: sessionmaker[Session],
    unique_name: str,
    smsc: Smsc,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    debtor = build_debtor(session_factory, unique_name, number="+79165554433")
    refused = build_debtor(session_factory, f"{unique_name}-refused", number=REFUSED)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    call_with_promise(session_factory, refused, MONDAY_NOON)
    await asyncio.to_thread(smsc.start)
    gateway = _gateway(smsc, factory=session_factory)
    config = SenderConfig(
        worker_id="test-smpp-logs",
        page_base_url=PAGE_BASE,
        organisation_ids=frozenset({debtor.organisation_id, refused.organisation_id}),
    )
    sender = Sender(session_factory, gateway, config, clock=Clock(MONDAY_NOON))
    try:
        assert await sender.send_due() == {"sent": 1, "rejected": 1}
        await _until(
            "the receipt stored",
            lambda: _message(session_factory, call_id).status is MessageStatus.DELIVERED,
        )
    finally:
        await gateway.close()
    text = _message(session_factory, call_id).text
    logged = caplog.text
    assert "aiosmpplib:" in logged  # the logs were captured
    assert "SMPP: receipt" in logged
    for secret in ("79165554433", REFUSED.lstrip("+"), "Тестовый", text[:12]):
        assert secret not in logged
    for secret in (text[:12].encode("utf-16-be").hex(), b"79165554433".hex()):
        assert secret not in logged.lower()
