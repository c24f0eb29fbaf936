"""The simulated debtors the demo relies on, over real SIP: turn-taking, personas."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.sandbox.personas import PERSONAS
from dialer.sandbox.wavfile import read_pcm
from dialer.sandbox.world import SandboxWorld, sandbox_world
from dialer.telephony.baresip import BaresipTelephone
from dialer.telephony.port import Call, Outcome
from tests.e2e.sip_bench import (
    SAME_SPEECH,
    Voices,
    active_seconds,
    best_correlation,
    require_sip_tools,
)

pytestmark = [pytest.mark.sip, pytest.mark.slow]


@pytest.fixture(scope="module")
def persona_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxWorld]:
    require_sip_tools()
    with sandbox_world(tmp_path_factory.mktemp("personas"), {p: p for p in PERSONAS}) as world:
        yield world


async def _listen(call: Call, seconds: float) -> bytes:
    heard: list[bytes] = []

    async def collect() -> None:
        async for frame in call.frames():
            heard.append(frame)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(collect(), seconds)
    return b"".join(heard)


async def test_debtor_answers_each_robot_turn_after_it_falls_silent(
    persona_bench: SandboxWorld, voices: Voices
) -> None:
    pool = persona_bench.debtors
    spec = next(d for d in pool.config.debtors if d.user == "promise")
    answers = [read_pcm(Path(a)) for a in spec.answers]
    async with BaresipTelephone(persona_bench.robot_config()) as robot:
        call = await robot.dial("promise", 5)
        assert call.result.outcome is Outcome.ANSWERED
        await _listen(call, 2.0)  # the greeting
        for answer in answers[:2]:
            await call.play(voices.pcm("prompt"))
            heard = await _listen(call, len(answer) / 16000 + 1.6)
            # Silent for ≥ 0.8 s after the robot's turn, then exactly its next answer.
            assert active_seconds(heard[: 8000 * 2 * 7 // 10]) == 0.0
            assert best_correlation(answer, heard) > SAME_SPEECH
        await call.hangup()
    closed = await asyncio.to_thread(pool.wait_event, "call_closed", user="promise", timeout_s=10)
    assert closed["answers"] == 2
    recording = read_pcm(Path(str(closed["recording"])))
    assert best_correlation(voices.pcm("prompt"), recording) > SAME_SPEECH


async def test_busy_and_voicemail_personas(persona_bench: SandboxWorld) -> None:
    async with BaresipTelephone(persona_bench.robot_config()) as robot:
        busy = await robot.dial("busy", 5)
        assert busy.result.outcome is Outcome.BUSY
        voicemail = await robot.dial("voicemail", 5)
        assert voicemail.result.outcome is Outcome.ANSWERED
        heard = await _listen(voicemail, 4.0)
        await voicemail.hangup()
    # A long announcement starts at once, before the robot says anything.
    assert active_seconds(heard) > 2.0
