"""The telephony contract: the same cases against the loopback pair and real SIP peers."""

from __future__ import annotations

import asyncio
import math
import struct

import pytest

from dialer.telephony.errors import TransferTargetFailed, TransferUnsupported
from dialer.telephony.port import FRAME_BYTES, Call, Outcome
from tests.dialer.telephony.conftest import Line
from tests.e2e.sip_bench import SAME_SPEECH, Voices, active_seconds, best_correlation

pytestmark = [pytest.mark.sip, pytest.mark.slow]

RING_S = 5.0


async def collect(call: Call, into: list[bytes]) -> None:
    async for frame in call.frames():
        into.append(frame)


def tone(seconds: float, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    count = int(seconds * 8000)
    return struct.pack(
        f"<{count}h",
        *(int(amplitude * math.sin(2 * math.pi * hz * n / 8000)) for n in range(count)),
    )


async def test_answered_call_carries_audio_both_ways(line: Line, voices: Voices) -> None:
    mark = line.closed_calls("talker")
    call = await line.telephone.dial("talker", RING_S)
    assert call.result.outcome is Outcome.ANSWERED
    heard: list[bytes] = []
    reader = asyncio.create_task(collect(call, heard))
    greeting = voices.pcm("greeting")
    await asyncio.sleep(len(greeting) / 16000 + 0.5)
    assert await call.play(voices.pcm("prompt")) is True
    await asyncio.sleep(0.3)
    result = await call.hangup()
    await asyncio.wait_for(reader, 5)

    assert all(len(frame) == FRAME_BYTES for frame in heard)
    assert best_correlation(greeting, b"".join(heard)) > SAME_SPEECH
    far_heard = await line.heard_by("talker", mark)
    assert best_correlation(voices.pcm("prompt"), far_heard) > SAME_SPEECH
    assert result.outcome is Outcome.ANSWERED
    assert result.ended
    assert result.hangup_by == "robot"
    assert result.duration_s > 1.0


async def test_dtmf_digits_reach_the_robot(line: Line) -> None:
    call = await line.telephone.dial("dtmf", RING_S)
    digits: list[str] = []

    async def read_digits() -> None:
        async for digit in call.dtmf():
            digits.append(digit)
            if len(digits) == 3:
                return

    await asyncio.wait_for(read_digits(), 10)
    await call.hangup()
    assert digits == ["1", "#", "5"]


async def test_far_end_hang_up_ends_audio_and_sets_the_result(line: Line) -> None:
    call = await line.telephone.dial("quitter", RING_S)
    heard: list[bytes] = []
    await asyncio.wait_for(collect(call, heard), 20)
    result = await asyncio.wait_for(call.wait_ended(), 5)
    assert result.outcome is Outcome.ANSWERED
    assert result.hangup_by == "remote"
    assert heard, "the greeting arrived before the hang-up"


async def test_busy_is_reported_with_its_sip_cause(line: Line) -> None:
    call = await line.telephone.dial("busy", RING_S)
    assert call.result.outcome is Outcome.BUSY
    assert call.result.sip_status == 486
    assert call.result.ended


async def test_busy_is_acknowledged(line: Line) -> None:
    sipp = line.sipp("uas_busy")
    if sipp is None:
        pytest.skip("the loopback pair has no transactions to acknowledge")
    try:
        call = await line.telephone.dial("sipp-busy", RING_S)
        assert call.result.outcome is Outcome.BUSY
        # sipp exits 0 only when the 486 was ACKed (pyVoIP 1.6.8 never did).
        assert await asyncio.to_thread(sipp.wait, 30) == 0, sipp.errors()
    finally:
        sipp.stop()


async def test_unknown_number_is_unreachable(line: Line) -> None:
    call = await line.telephone.dial("nobody", RING_S)
    assert call.result.outcome is Outcome.UNREACHABLE
    assert call.result.sip_status == 404


async def test_no_answer_gives_up_after_ring_timeout_with_cancel(line: Line) -> None:
    sipp = line.sipp("uas_noanswer")
    try:
        call = await line.telephone.dial("sipp-noanswer", 1.5)
        assert call.result.outcome is Outcome.NO_ANSWER
        assert call.result.ended
        if sipp is not None:
            # sipp exits 0 only after CANCEL → 200, 487 → ACK.
            assert await asyncio.to_thread(sipp.wait, 30) == 0, sipp.errors()
    finally:
        if sipp is not None:
            sipp.stop()


async def test_call_survives_a_hold_re_invite(line: Line) -> None:
    sipp = line.sipp("uas_reinvite")
    if sipp is None:
        pytest.skip("the loopback pair has no SDP to renegotiate")
    try:
        call = await line.telephone.dial("sipp-hold", RING_S)
        assert call.result.outcome is Outcome.ANSWERED
        # sipp sends its hold re-INVITE 2 s after the ACK; keep talking across it.
        assert await call.play(tone(3.5)) is True
        assert not call.result.ended
        await call.hangup()
        assert await asyncio.to_thread(sipp.wait, 30) == 0, sipp.errors()
    finally:
        sipp.stop()


async def test_stop_playback_silences_the_robot_at_once(line: Line) -> None:
    mark = line.closed_calls("listener")
    call = await line.telephone.dial("listener", RING_S)
    playing = asyncio.create_task(call.play(tone(5.0)))
    await asyncio.sleep(1.0)
    call.stop_playback()
    assert await asyncio.wait_for(playing, 1) is False
    await asyncio.sleep(0.5)
    await call.hangup()
    heard = await line.heard_by("listener", mark)
    # 1 s was played; a stop that left the queue running would let up to 5 s through.
    assert 0.8 <= active_seconds(heard) <= 1.3


async def test_play_after_stop_works_and_hangup_is_idempotent(line: Line) -> None:
    call = await line.telephone.dial("listener", RING_S)
    call.stop_playback()
    assert await call.play(tone(0.2)) is True
    first = await call.hangup()
    second = await call.hangup()
    assert first == second
    assert await call.play(tone(0.2)) is False


async def test_transfer_to_an_unknown_number_keeps_the_call(line: Line) -> None:
    """REFER accepted, the target 404: the sipfrag's status comes back, the call stays up.
    An adapter that cannot transfer says so with ``TransferUnsupported`` (then: bridge)."""
    call = await line.telephone.dial("listener", RING_S)
    expected = TransferUnsupported if line.kind == "pyvoip" else TransferTargetFailed
    with pytest.raises(expected) as failed:
        await call.blind_transfer(line.uri_for("nobody"), timeout_s=10)
    if line.kind != "pyvoip":
        assert failed.value.status == 404
    assert not call.result.ended
    assert await call.play(tone(0.2)) is True
    result = await call.hangup()
    assert result.hangup_by == "robot"
