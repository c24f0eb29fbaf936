"""The simulated debtors the demo relies on, over real SIP: turn-taking, personas."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.personas import PERSONAS, debtor_for
from dialer.sandbox.ports import free_udp_range
from dialer.sandbox.wavfile import read_pcm
from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.config import SipConfig
from dialer.telephony.port import Call, Outcome
from tests.e2e.sip_bench import Voices, active_seconds, best_correlation, require_sip_tools

pytestmark = [pytest.mark.sip, pytest.mark.slow]


@pytest.fixture(scope="module")
def persona_bench(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Kamailio, DebtorPool]]:
    require_sip_tools()
    workdir = tmp_path_factory.mktemp("personas")
    voices_dir = workdir / "voices"
    kamailio = Kamailio(workdir / "kamailio", KamailioOptions())
    try:
        kamailio.start()
        specs = [debtor_for(name, name, voices_dir) for name in PERSONAS]
        pool = DebtorPool(workdir / "debtors", kamailio.address, kamailio.options.password, specs)
        try:
            pool.start()
            yield kamailio, pool
        finally:
            pool.stop()
    finally:
        kamailio.stop()


def _robot(kamailio: Kamailio) -> BaresipTelephone:
    rtp_min, rtp_max = free_udp_range(20)
    return BaresipTelephone(
        SipConfig(
            registrar=kamailio.address,
            user="robot",
            password=kamailio.options.password,
            rtp_port_min=rtp_min,
            rtp_port_max=rtp_max,
            local_address="127.0.0.1",
        )
    )


async def _listen(call: Call, seconds: float) -> bytes:
    heard: list[bytes] = []

    async def collect() -> None:
        async for frame in call.frames():
            heard.append(frame)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(collect(), seconds)
    return b"".join(heard)


async def test_debtor_answers_each_robot_turn_after_it_falls_silent(
    persona_bench: tuple[Kamailio, DebtorPool], voices: Voices
) -> None:
    kamailio, pool = persona_bench
    spec = next(d for d in pool.config.debtors if d.user == "promise")
    answers = [read_pcm(Path(a)) for a in spec.answers]
    async with _robot(kamailio) as robot:
        call = await robot.dial("promise", 5)
        assert call.result.outcome is Outcome.ANSWERED
        await _listen(call, 2.0)  # the greeting
        for answer in answers[:2]:
            await call.play(voices.pcm("prompt"))
            heard = await _listen(call, len(answer) / 16000 + 1.6)
            # Silent for ≥ 0.8 s after the robot's turn, then exactly its next answer.
            assert active_seconds(heard[: 8000 * 2 * 7 // 10]) == 0.0
            assert best_correlation(answer, heard) > 0.9
        await call.hangup()
    closed = await asyncio.to_thread(pool.wait_event, "call_closed", user="promise", timeout_s=10)
    assert closed["answers"] == 2
    recording = read_pcm(Path(str(closed["recording"])))
    assert best_correlation(voices.pcm("prompt"), recording) > 0.9


async def test_busy_and_voicemail_personas(persona_bench: tuple[Kamailio, DebtorPool]) -> None:
    kamailio, _pool = persona_bench
    async with _robot(kamailio) as robot:
        busy = await robot.dial("busy", 5)
        assert busy.result.outcome is Outcome.BUSY
        voicemail = await robot.dial("voicemail", 5)
        assert voicemail.result.outcome is Outcome.ANSWERED
        heard = await _listen(voicemail, 4.0)
        await voicemail.hangup()
    # A long announcement starts at once, before the robot says anything.
    assert active_seconds(heard) > 2.0
