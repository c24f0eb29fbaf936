"""The telephony process keeps the robot's sentence whole on the wire while the calls' process
is starved (a core taken by other work, a long classification): no gap opens inside the
sentence, where a person would take the pause for their turn and answer into it. And it
reports what it sent, so a line cut short is recorded as far as it was said.

Real SIP: Kamailio with digest auth, a listening debtor on baresip recording what it heard,
the robot's :class:`ProcessTelephone`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.telephony.config import SipConfig
from dialer.telephony.port import FRAME_BYTES, FRAME_MS
from dialer.telephony.remote import ProcessTelephone
from napomni.commands.call import StartedOnFirstDial
from speech.audio import read_wav
from tests.e2e.sip_bench import require_sip_tools, tone_pcm
from tests.processes import running

pytestmark = [pytest.mark.sip, pytest.mark.slow]

SENTENCE_S = 2.0


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[tuple[Kamailio, DebtorPool]]:
    """Kamailio and one debtor who only listens (and records what reached them)."""
    require_sip_tools()
    kamailio = Kamailio(tmp_path / "kamailio", KamailioOptions())
    try:
        kamailio.start()
        pool = DebtorPool(
            tmp_path / "debtors",
            kamailio.address,
            kamailio.options.password,
            [DebtorSpec("listener")],
        )
        try:
            pool.start()
            yield kamailio, pool
        finally:
            pool.stop()
    finally:
        kamailio.stop()


def robot_config(kamailio: Kamailio) -> SipConfig:
    rtp_min, rtp_max = free_udp_range(8)
    return SipConfig(
        registrar=kamailio.address,
        user="robot",
        password=kamailio.options.password,
        rtp_port_min=rtp_min,
        rtp_port_max=rtp_max,
        local_address="127.0.0.1",
    )


async def frames_of(pcm: bytes) -> AsyncIterator[bytes]:
    """A sentence as the session's player hands it over: frame by frame, as it is ready."""
    for start in range(0, len(pcm), FRAME_BYTES):
        yield pcm[start : start + FRAME_BYTES]


def longest_gap_s(pcm: bytes, threshold_rms: float = 300.0) -> float:
    """The longest run of quiet 20 ms frames between the first and the last loud one."""
    samples = np.frombuffer(pcm[: len(pcm) // FRAME_BYTES * FRAME_BYTES], dtype="<i2")
    rms = np.sqrt(np.mean(samples.astype(np.float64).reshape(-1, FRAME_BYTES // 2) ** 2, axis=1))
    loud = np.flatnonzero(rms > threshold_rms)
    assert loud.size, "the debtor heard nothing"
    longest = run = 0
    for is_loud in rms[loud[0] : loud[-1] + 1] > threshold_rms:
        run = 0 if is_loud else run + 1
        longest = max(longest, run)
    return longest * FRAME_MS / 1000


async def test_a_starved_calls_process_leaves_no_gap_inside_a_sentence(
    exchange: tuple[Kamailio, DebtorPool],
) -> None:
    kamailio, pool = exchange
    sentence = tone_pcm(440.0, SENTENCE_S)
    async with ProcessTelephone(robot_config(kamailio)) as telephone:
        call = await telephone.dial("listener", 10.0)
        assert call.result.outcome.value == "answered"
        await asyncio.sleep(0.3)
        # 0.3 s into the sentence the calls' process stops for 0.8 s (its event loop
        # blocked, as by a core taken away): the wire must not notice.
        asyncio.get_running_loop().call_later(0.3, time.sleep, 0.8)
        assert await call.play(frames_of(sentence))
        assert call.played_frames == len(sentence) // FRAME_BYTES
        await asyncio.sleep(0.3)
        await call.hangup()
    closed = pool.wait_event("call_closed", user="listener", timeout_s=30)
    heard = read_wav(Path(str(closed["recording"]))).pcm
    # The debtor's jitter buffer may drop a frame; a starved hand-over left 0.5 s and more.
    assert longest_gap_s(heard) <= 0.1


async def test_a_line_cut_short_reports_only_what_went_out(
    exchange: tuple[Kamailio, DebtorPool],
) -> None:
    kamailio, _pool = exchange
    sentence = tone_pcm(440.0, SENTENCE_S)
    async with ProcessTelephone(robot_config(kamailio)) as telephone:
        call = await telephone.dial("listener", 10.0)
        loop = asyncio.get_running_loop()
        loop.call_later(0.6, call.stop_playback)
        started = loop.time()
        assert not await call.play(frames_of(sentence))
        stopped_after_s = loop.time() - started
        # Handed over whole at once, stopped 0.6 s in: about 30 frames went out, not 100.
        sent_s = call.played_frames * FRAME_MS / 1000
        assert 0.4 <= sent_s <= stopped_after_s + 0.1, (sent_s, stopped_after_s)
        await call.hangup()


async def test_the_workers_telephone_starts_at_its_first_dial_and_stops_when_closed(
    exchange: tuple[Kamailio, DebtorPool],
) -> None:
    kamailio, pool = exchange
    process = ProcessTelephone(robot_config(kamailio))
    telephone = StartedOnFirstDial(process)
    assert process.pid is None  # nothing runs before the first call
    call = await telephone.dial("listener", 10.0)
    pid = process.pid
    assert pid is not None
    assert call.result.outcome.value == "answered"
    await call.hangup()
    pool.wait_event("call_closed", user="listener", timeout_s=30)
    await telephone.close()
    assert process.pid is None
    assert all(found != pid for found, _ in running())
