"""Live transfer to a collector over real SIP: Kamailio, baresip debtors and collectors.

Each side plays its own tone — the debtor 700 Hz, the collector 1300 Hz — and records what
it hears, so "both hear each other" is checked as that tone in the other side's recording.

- Blind transfer (REFER): the debtor (baresip, which accepts REFER with 202) dials the
  collector 201; the robot's call ends with the NOTIFY ``SIP/2.0 200 OK`` sipfrag.
- The target busy or not answering: the sipfrag's status comes back as
  ``TransferTargetFailed`` and the robot keeps the call.
- A Kamailio that refuses REFER (403, as trunks do): ``TransferRefused``; then the bridge
  through the robot, ended by either side hanging up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.sandbox.wavfile import read_pcm, write_pcm
from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.bridge import BridgeEnd, bridge
from dialer.telephony.config import SipConfig
from dialer.telephony.errors import (
    CallNotActive,
    TransferRefused,
    TransferTargetFailed,
    TransferTimedOut,
)
from dialer.telephony.port import TRANSFERRED, Outcome
from tests.e2e.sip_bench import Recording, require_sip_tools, tone_pcm, tone_seconds

pytestmark = [pytest.mark.sip, pytest.mark.slow]

DEBTOR_HZ = 700.0
COLLECTOR_HZ = 1300.0
#: Of a 2-3 s tone, at least this much must reach the other side.
HEARD_S = 1.0


@dataclass
class World:
    kamailio: Kamailio
    pool: DebtorPool

    def config(self) -> SipConfig:
        rtp_min, rtp_max = free_udp_range(16)
        return SipConfig(
            registrar=self.kamailio.address,
            user="robot",
            password=self.kamailio.options.password,
            codecs=("PCMU", "PCMA"),
            rtp_port_min=rtp_min,
            rtp_port_max=rtp_max,
            max_concurrent_calls=4,
            local_address="127.0.0.1",
        )

    async def event(self, event: str, user: str, count: int = 1) -> dict[str, object]:
        return await asyncio.to_thread(
            self.pool.wait_event, event, user=user, count=count, timeout_s=15
        )

    async def recording(self, event: str, user: str, count: int = 1) -> bytes:
        found = await self.event(event, user, count)
        return read_pcm(Path(str(found["recording"])))


def _world(workdir: Path, options: KamailioOptions, specs: list[DebtorSpec]) -> Iterator[World]:
    require_sip_tools()
    kamailio = Kamailio(workdir / "kamailio", options)
    try:
        kamailio.start()
        pool = DebtorPool(workdir / "people", kamailio.address, options.password, specs)
        try:
            pool.start()
            yield World(kamailio, pool)
        finally:
            pool.stop()
    finally:
        kamailio.stop()


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("tones")
    files = {
        "debtor": (DEBTOR_HZ, 2.0),
        "debtor_long": (DEBTOR_HZ, 3.0),
        "collector": (COLLECTOR_HZ, 3.0),
        "collector_long": (COLLECTOR_HZ, 6.0),
    }
    paths = {}
    for name, (freq, seconds) in files.items():
        path = directory / f"{name}.wav"
        write_pcm(path, tone_pcm(freq, seconds))
        paths[name] = str(path)
    return paths


@pytest.fixture(scope="module")
def transferring(
    tmp_path_factory: pytest.TempPathFactory, tones: dict[str, str]
) -> Iterator[World]:
    """A registrar that lets REFER through (in-dialog requests go straight to the debtor)."""
    specs = [
        DebtorSpec("xfer", greeting=tones["debtor"], transfer_ring_s=3.0),
        DebtorSpec(
            "impatient", greeting=tones["debtor"], hangup_after_greeting=True, transfer_ring_s=4.0
        ),
        DebtorSpec(
            "201",
            behaviour="collector",
            greeting=tones["collector"],
            answer_delay_s=0.3,
            hangup_after_greeting=True,
        ),
        DebtorSpec("declines", accept_transfer=False),
        DebtorSpec("203", behaviour="busy"),
        DebtorSpec("204", behaviour="no_answer"),
    ]
    yield from _world(tmp_path_factory.mktemp("xfer"), KamailioOptions(), specs)


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory, tones: dict[str, str]) -> Iterator[World]:
    """A registrar that record-routes and answers every REFER 403."""
    specs = [
        DebtorSpec("refused", greeting=tones["debtor"]),
        DebtorSpec("stays", greeting=tones["debtor_long"]),
        DebtorSpec("quits", greeting=tones["debtor_long"], hangup_after_greeting=True),
        DebtorSpec(
            "201",
            behaviour="collector",
            greeting=tones["collector"],
            answer_delay_s=0.3,
            hangup_after_greeting=True,
        ),
        DebtorSpec("202", behaviour="collector", greeting=tones["collector_long"]),
    ]
    options = KamailioOptions(refuse_refer=True)
    yield from _world(tmp_path_factory.mktemp("norefer"), options, specs)


async def test_blind_transfer_connects_debtor_and_collector(transferring: World) -> None:
    world = transferring
    async with BaresipTelephone(world.config()) as telephone:
        call = await telephone.dial("xfer", 5.0)
        assert call.result.outcome is Outcome.ANSWERED
        result = await call.blind_transfer(telephone.config.uri_for("201"), timeout_s=10)
    assert result.ended
    assert result.reason == TRANSFERRED
    assert result.hangup_by == "robot"
    heard_by_debtor = await world.recording("transfer_closed", "xfer")
    heard_by_collector = await world.recording("call_closed", "201")
    assert tone_seconds(heard_by_collector, DEBTOR_HZ) >= HEARD_S
    assert tone_seconds(heard_by_debtor, COLLECTOR_HZ) >= HEARD_S
    assert tone_seconds(heard_by_debtor, DEBTOR_HZ) == 0  # no echo of itself


async def test_transfer_to_a_busy_collector_keeps_the_call(transferring: World) -> None:
    async with BaresipTelephone(transferring.config()) as telephone:
        call = await telephone.dial("xfer", 5.0)
        with pytest.raises(TransferTargetFailed) as failed:
            await call.blind_transfer(telephone.config.uri_for("203"), timeout_s=10)
        assert failed.value.status == 486
        assert not call.result.ended
        await call.hangup()
    assert call.result.hangup_by == "robot"


async def test_transfer_to_a_collector_who_does_not_answer(transferring: World) -> None:
    async with BaresipTelephone(transferring.config()) as telephone:
        call = await telephone.dial("xfer", 5.0)
        # The debtor's phone gives up ringing after 3 s (CANCEL): sipfrag 487.
        with pytest.raises(TransferTargetFailed) as failed:
            await call.blind_transfer(telephone.config.uri_for("204"), timeout_s=10)
        assert failed.value.status == 487
        assert not call.result.ended
        # The robot's own limit, shorter than the debtor's ringing: a timeout.
        with pytest.raises(TransferTimedOut):
            await call.blind_transfer(telephone.config.uri_for("204"), timeout_s=1.0)
        assert not call.result.ended
        await call.hangup()


async def test_a_phone_that_accepts_refer_but_will_not_dial(transferring: World) -> None:
    """202 to the REFER, then a NOTIFY with sipfrag 603: the target never rang."""
    async with BaresipTelephone(transferring.config()) as telephone:
        call = await telephone.dial("declines", 5.0)
        with pytest.raises(TransferTargetFailed) as failed:
            await call.blind_transfer(telephone.config.uri_for("201"), timeout_s=10)
        assert failed.value.status == 603
        assert not call.result.ended
        await call.hangup()


async def test_debtor_hanging_up_while_the_collector_rings(transferring: World) -> None:
    async with BaresipTelephone(transferring.config()) as telephone:
        call = await telephone.dial("impatient", 5.0)
        with pytest.raises(CallNotActive):
            await call.blind_transfer(telephone.config.uri_for("204"), timeout_s=10)
    assert call.result.ended
    assert call.result.hangup_by == "remote"


async def test_refer_refused_by_the_registrar(refusing: World) -> None:
    async with BaresipTelephone(refusing.config()) as telephone:
        call = await telephone.dial("refused", 5.0)
        with pytest.raises(TransferRefused) as refused:
            await call.blind_transfer(telephone.config.uri_for("201"), timeout_s=10)
        assert refused.value.status == 403
        assert not call.result.ended
        await call.hangup()


async def test_bridge_when_refer_is_refused_until_the_collector_hangs_up(
    refusing: World,
) -> None:
    world = refusing
    recording = Recording()
    async with BaresipTelephone(world.config()) as telephone:
        debtor = await telephone.dial("stays", 5.0)
        with pytest.raises(TransferRefused):
            await debtor.blind_transfer(telephone.config.uri_for("201"), timeout_s=10)
        collector = await telephone.dial("201", 5.0)
        assert collector.result.outcome is Outcome.ANSWERED
        ended = await bridge(debtor, collector, rtp_timeout_s=3.0, recorder=recording)
        assert ended.reason is BridgeEnd.B_ENDED
        assert not debtor.result.ended
        await debtor.hangup()
    heard_by_collector = await world.recording("call_closed", "201")
    heard_by_debtor = await world.recording("call_closed", "stays")
    assert tone_seconds(heard_by_collector, DEBTOR_HZ) >= HEARD_S
    assert tone_seconds(heard_by_debtor, COLLECTOR_HZ) >= HEARD_S
    # The robot's recording of the call goes on: the debtor's tone and the relayed collector.
    assert tone_seconds(bytes(recording.debtor), DEBTOR_HZ) >= HEARD_S
    assert tone_seconds(bytes(recording.robot), COLLECTOR_HZ) >= HEARD_S
    # Paced: one frame per 20 ms each way (audio queued before the bridge — the debtor's
    # since the answer — is dropped down to the backlog, not relayed late).
    ticks = ended.duration_s / 0.02
    for relayed in (ended.frames_a_to_b, ended.frames_b_to_a):
        assert ticks * 0.8 <= relayed <= ticks + 2


async def test_bridge_ends_when_the_debtor_hangs_up(refusing: World) -> None:
    world = refusing
    async with BaresipTelephone(world.config()) as telephone:
        collector = await telephone.dial("202", 5.0)
        debtor = await telephone.dial("quits", 5.0)
        ended = await bridge(debtor, collector, rtp_timeout_s=3.0)
        assert ended.reason is BridgeEnd.A_ENDED
        assert debtor.result.hangup_by == "remote"
        assert not collector.result.ended
        await collector.hangup()
    heard_by_collector = await world.recording("call_closed", "202")
    assert tone_seconds(heard_by_collector, DEBTOR_HZ) >= HEARD_S
