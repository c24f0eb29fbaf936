"""Blind transfer and the bridge on the in-process exchange (the SIP cases: tests/e2e)."""

from __future__ import annotations

import asyncio

import pytest

from dialer.telephony.baresip import transfer_failure
from dialer.telephony.bridge import BridgeEnd, bridge
from dialer.telephony.errors import (
    CallNotActive,
    TransferError,
    TransferRefused,
    TransferTargetFailed,
    TransferTimedOut,
)
from dialer.telephony.loopback import LoopbackCall, LoopbackExchange
from dialer.telephony.port import FRAME_BYTES, TRANSFERRED, Call, Outcome
from tests.e2e.sip_bench import Recording, tone_pcm, tone_seconds

DEBTOR_HZ = 700.0
COLLECTOR_HZ = 1300.0


async def collect(call: Call, into: bytearray) -> None:
    async for frame in call.frames():
        into += frame


@pytest.fixture
def exchange() -> LoopbackExchange:
    exchange = LoopbackExchange()
    exchange.subscriber("debtor")
    exchange.subscriber("201")
    exchange.subscriber("203", "busy")
    exchange.subscriber("204", "no_answer")
    return exchange


async def answered(exchange: LoopbackExchange, number: str) -> tuple[Call, LoopbackCall]:
    call = await exchange.telephone().dial(number, 1.0)
    subscriber = exchange.lookup(number)
    assert subscriber is not None
    return call, await subscriber.next_call(1.0)


async def test_blind_transfer_connects_the_debtor_to_the_collector(
    exchange: LoopbackExchange,
) -> None:
    robot, debtor = await answered(exchange, "debtor")
    result = await robot.blind_transfer("sip:201@pbx", timeout_s=1.0)
    assert (result.ended, result.reason, result.hangup_by) == (True, TRANSFERRED, "robot")
    subscriber = exchange.lookup("201")
    assert subscriber is not None
    collector = await subscriber.next_call(1.0)
    heard_by_debtor, heard_by_collector = bytearray(), bytearray()
    readers = [
        asyncio.create_task(collect(debtor, heard_by_debtor)),
        asyncio.create_task(collect(collector, heard_by_collector)),
    ]
    await asyncio.gather(
        debtor.play(tone_pcm(DEBTOR_HZ, 0.5)), collector.play(tone_pcm(COLLECTOR_HZ, 0.5))
    )
    await collector.hangup()
    await asyncio.wait_for(asyncio.gather(*readers), 1.0)
    assert debtor.result.hangup_by == "remote"
    assert tone_seconds(bytes(heard_by_debtor), COLLECTOR_HZ) >= 0.3
    assert tone_seconds(bytes(heard_by_collector), DEBTOR_HZ) >= 0.3


@pytest.mark.parametrize(
    ("number", "status"), [("203", 486), ("nobody", 404)], ids=["busy", "unknown"]
)
async def test_a_failed_target_keeps_the_call(
    exchange: LoopbackExchange, number: str, status: int
) -> None:
    robot, _debtor = await answered(exchange, "debtor")
    with pytest.raises(TransferTargetFailed) as failed:
        await robot.blind_transfer(f"sip:{number}@pbx", timeout_s=1.0)
    assert failed.value.status == status
    assert not robot.result.ended
    assert await robot.play(bytes(FRAME_BYTES)) is True
    await robot.hangup()


async def test_refused_no_answer_and_debtor_hanging_up_while_waiting() -> None:
    exchange = LoopbackExchange(refer_allowed=False)
    exchange.subscriber("debtor")
    robot, debtor = await answered(exchange, "debtor")
    with pytest.raises(TransferRefused) as refused:
        await robot.blind_transfer("sip:201@pbx")
    assert refused.value.status == 403
    exchange.refer_allowed = True
    exchange.subscriber("204", "no_answer")
    with pytest.raises(TransferTimedOut):
        await robot.blind_transfer("sip:204@pbx", timeout_s=0.1)

    async def hang_up_soon() -> None:
        await asyncio.sleep(0.1)
        await debtor.hangup()

    hanging_up = asyncio.create_task(hang_up_soon())
    with pytest.raises(CallNotActive):  # the debtor hung up while the target rang
        await robot.blind_transfer("sip:204@pbx", timeout_s=5.0)
    await hanging_up
    assert robot.result.hangup_by == "remote"
    await robot.hangup()
    with pytest.raises(CallNotActive):
        await robot.blind_transfer("sip:201@pbx")


@pytest.mark.parametrize(
    ("status", "text", "kind"),
    [
        (403, "transfer failed: 403 Forbidden", TransferRefused),
        (405, "transfer failed: 405 Method Not Allowed", TransferRefused),
        (501, "transfer failed: 501 Not Implemented", TransferRefused),
        (486, "transfer failed: 486 Busy Here", TransferTargetFailed),
        (480, "transfer failed: 480 Temporarily Unavailable", TransferTargetFailed),
        (487, "transfer failed: 487 Request Terminated", TransferTargetFailed),
        (None, "no transfer outcome within 10 s", TransferTimedOut),
        (None, "call closed before the transfer completed: BYE", CallNotActive),
        (None, "transfer failed: Connection refused", TransferError),
    ],
)
def test_baresip_transfer_failures_map_to_the_port_errors(
    status: int | None, text: str, kind: type[Exception]
) -> None:
    error = transfer_failure(status, "", text)
    assert type(error) is kind
    if isinstance(error, TransferError):
        assert error.status == status


async def test_bridge_relays_both_ways_paced_and_ends_when_one_side_hangs_up(
    exchange: LoopbackExchange,
) -> None:
    robot_a, debtor = await answered(exchange, "debtor")
    robot_b, collector = await answered(exchange, "201")
    heard_by_debtor, heard_by_collector = bytearray(), bytearray()
    readers = [
        asyncio.create_task(collect(debtor, heard_by_debtor)),
        asyncio.create_task(collect(collector, heard_by_collector)),
    ]
    recording = Recording()

    async def talk_then_hang_up() -> None:
        await asyncio.gather(
            debtor.play(tone_pcm(DEBTOR_HZ, 1.0)), collector.play(tone_pcm(COLLECTOR_HZ, 1.0))
        )
        await asyncio.sleep(0.2)
        await collector.hangup()

    talking = asyncio.create_task(talk_then_hang_up())
    ended = await bridge(robot_a, robot_b, rtp_timeout_s=1.0, recorder=recording)
    await talking
    assert ended.reason is BridgeEnd.B_ENDED
    assert not robot_a.result.ended
    await robot_a.hangup()
    await asyncio.wait_for(asyncio.gather(*readers), 1.0)
    assert tone_seconds(bytes(heard_by_debtor), COLLECTOR_HZ) >= 0.8
    assert tone_seconds(bytes(heard_by_collector), DEBTOR_HZ) >= 0.8
    assert tone_seconds(bytes(recording.debtor), DEBTOR_HZ) >= 0.8
    assert tone_seconds(bytes(recording.robot), COLLECTOR_HZ) >= 0.8
    # Paced: one frame per 20 ms each way over the bridge's life, nothing piled up.
    expected = ended.duration_s / 0.02
    for relayed in (ended.frames_a_to_b, ended.frames_b_to_a):
        assert expected * 0.85 <= relayed <= expected + 2
    assert ended.dropped_frames <= 5


async def test_bridge_ends_when_one_side_stops_sending_audio(exchange: LoopbackExchange) -> None:
    robot_a, debtor = await answered(exchange, "debtor")
    robot_b, _collector = await answered(exchange, "201")
    debtor.stop_media()
    ended = await bridge(robot_a, robot_b, rtp_timeout_s=0.3)
    assert ended.reason is BridgeEnd.A_RTP_LOST
    assert 0.3 <= ended.duration_s < 0.8
    await robot_a.hangup()
    await robot_b.hangup()


async def test_bridge_stops_on_request_and_the_debtor_hanging_up_ends_it(
    exchange: LoopbackExchange,
) -> None:
    robot_a, debtor = await answered(exchange, "debtor")
    robot_b, _collector = await answered(exchange, "201")
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.2, stop.set)
    ended = await bridge(robot_a, robot_b, stop)
    assert ended.reason is BridgeEnd.STOPPED
    assert not robot_a.result.ended
    assert not robot_b.result.ended

    async def hang_up_later() -> None:
        await asyncio.sleep(0.2)
        await debtor.hangup()

    hanging = asyncio.create_task(hang_up_later())
    ended = await bridge(robot_a, robot_b)
    await hanging
    assert ended.reason is BridgeEnd.A_ENDED
    assert robot_a.result.hangup_by == "remote"
    await robot_b.hangup()
    assert robot_b.result.outcome is Outcome.ANSWERED
