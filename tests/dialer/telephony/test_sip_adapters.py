"""Adapter-specific SIP cases: proxy auth (407), record-routing proxies, no registrar,
a wrong password — what baresip handles and what the pyVoIP adapter refuses clearly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.config import SipConfig
from dialer.telephony.errors import RegistrationFailed, UnsupportedByAdapter
from dialer.telephony.port import Outcome
from tests.dialer.telephony.conftest import robot_config
from tests.e2e.sip_bench import SAME_SPEECH, SipBench, Voices, best_correlation

pytestmark = [pytest.mark.sip, pytest.mark.slow]


def _bench(workdir: Path, options: KamailioOptions, voices: Voices) -> Iterator[SipBench]:
    kamailio = Kamailio(workdir / "kamailio", options)
    try:
        kamailio.start()
        pool = DebtorPool(
            workdir / "debtors",
            kamailio.address,
            options.password,
            [DebtorSpec("talker", greeting=str(voices.greeting))],
        )
        try:
            pool.start()
            yield SipBench(kamailio, pool, workdir)
        finally:
            pool.stop()
    finally:
        kamailio.stop()


@pytest.fixture(scope="module")
def strict_bench(tmp_path_factory: pytest.TempPathFactory, voices: Voices) -> Iterator[SipBench]:
    """A trunk-like proxy: qop digest, 407 on the robot's INVITE, record-routing."""
    options = KamailioOptions(qop=True, invite_auth="407", record_route=True)
    yield from _bench(tmp_path_factory.mktemp("strict"), options, voices)


@pytest.fixture(scope="module")
def routing_bench(tmp_path_factory: pytest.TempPathFactory, voices: Voices) -> Iterator[SipBench]:
    """A record-routing proxy without INVITE auth (pyVoIP's Route fix is checked here)."""
    options = KamailioOptions(record_route=True)
    yield from _bench(tmp_path_factory.mktemp("routing"), options, voices)


async def _talk_and_hang_up(telephone: object, bench: SipBench, voices: Voices) -> None:
    mark = bench.closed_calls("talker")
    call = await telephone.dial("talker", 5)  # type: ignore[attr-defined]
    assert call.result.outcome is Outcome.ANSWERED
    heard: list[bytes] = []

    async def collect() -> None:
        async for frame in call.frames():
            heard.append(frame)

    reader = asyncio.create_task(collect())
    await asyncio.sleep(len(voices.pcm("greeting")) / 16000 + 0.5)
    await call.hangup()
    await asyncio.wait_for(reader, 5)
    assert best_correlation(voices.pcm("greeting"), b"".join(heard)) > SAME_SPEECH
    # The debtor saw the call close long before pyVoIP's old 32 s ACK timeout: our ACK
    # and BYE reached it through the proxy.
    await bench.heard_by("talker", mark, timeout_s=10)


async def test_baresip_answers_407_through_a_record_routing_proxy(
    strict_bench: SipBench, voices: Voices
) -> None:
    async with BaresipTelephone(robot_config(strict_bench)) as telephone:
        await _talk_and_hang_up(telephone, strict_bench, voices)


async def test_pyvoip_refuses_a_trunk_that_demands_407(strict_bench: SipBench) -> None:
    pyvoip = pytest.importorskip("dialer.telephony.pyvoip")
    telephone = pyvoip.PyVoipTelephone(robot_config(strict_bench))
    await telephone.start()
    try:
        with pytest.raises(UnsupportedByAdapter, match="407.*baresip"):
            await telephone.dial("talker", 5)
    finally:
        await telephone.close()


@pytest.mark.parametrize("adapter", ["baresip", "pyvoip"])
async def test_record_routing_proxy_carries_ack_and_bye(
    adapter: str, routing_bench: SipBench, voices: Voices
) -> None:
    if adapter == "baresip":
        async with BaresipTelephone(robot_config(routing_bench)) as telephone:
            await _talk_and_hang_up(telephone, routing_bench, voices)
        return
    pyvoip = pytest.importorskip("dialer.telephony.pyvoip")
    phone = pyvoip.PyVoipTelephone(robot_config(routing_bench))
    await phone.start()
    try:
        await _talk_and_hang_up(phone, routing_bench, voices)
    finally:
        await phone.close()


async def test_baresip_calls_directly_without_a_registrar(sip_bench: SipBench) -> None:
    debtor = f"127.0.0.1:{sip_bench.debtors.config.listen_port}"
    base = robot_config(sip_bench)
    config = SipConfig(
        registrar=debtor,
        user="robot",
        register=False,
        rtp_port_min=base.rtp_port_min,
        rtp_port_max=base.rtp_port_max,
        local_address="127.0.0.1",
    )
    mark = sip_bench.closed_calls("listener")
    async with BaresipTelephone(config) as telephone:
        call = await telephone.dial("listener", 5)
        assert call.result.outcome is Outcome.ANSWERED
        await call.play(bytes(1600))
        await call.hangup()
    await sip_bench.heard_by("listener", mark)


def test_pyvoip_refuses_to_run_without_a_registrar(sip_bench: SipBench) -> None:
    pyvoip = pytest.importorskip("dialer.telephony.pyvoip")
    config = SipConfig(registrar="127.0.0.1:5999", user="robot", register=False)
    with pytest.raises(UnsupportedByAdapter, match="регистратор"):
        pyvoip.PyVoipTelephone(config)


@pytest.mark.parametrize("adapter", ["baresip", "pyvoip"])
async def test_a_wrong_password_fails_registration_clearly(
    adapter: str, sip_bench: SipBench
) -> None:
    base = robot_config(sip_bench)
    config = SipConfig(
        registrar=base.registrar,
        user="robot",
        password="wrong-password",
        rtp_port_min=base.rtp_port_min,
        rtp_port_max=base.rtp_port_max,
        local_address="127.0.0.1",
    )
    if adapter == "baresip":
        with pytest.raises(RegistrationFailed):
            await BaresipTelephone(config).start()
        return
    pyvoip = pytest.importorskip("dialer.telephony.pyvoip")
    with pytest.raises(RegistrationFailed):
        await pyvoip.PyVoipTelephone(config).start()
