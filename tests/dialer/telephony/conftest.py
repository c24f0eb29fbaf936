"""Lines for the telephony contract suite: one robot telephone plus the far ends it calls.

``line`` is parametrized over the adapters. The loopback line serves its numbers with
in-process far ends that behave like the simulated debtors; the SIP lines dial the real
debtor process and sipp through a real Kamailio (``tests/e2e/sip_bench.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

import pytest

from dialer.sandbox.ports import free_udp_range
from dialer.sandbox.sipp import Scenario, SippRun
from dialer.telephony.config import SipConfig
from dialer.telephony.loopback import LoopbackCall, LoopbackExchange, LoopbackSubscriber
from dialer.telephony.port import Telephone
from tests.e2e.sip_bench import SipBench, Voices, sip_bench, voices

__all__ = ["sip_bench", "voices"]

ADAPTERS = ("loopback", "baresip", "pyvoip")


class Line(Protocol):
    kind: str
    telephone: Telephone

    def closed_calls(self, user: str) -> int: ...

    async def heard_by(self, user: str, mark: int, timeout_s: float = 20.0) -> bytes: ...

    def sipp(self, scenario: Scenario) -> SippRun | None: ...

    def uri_for(self, number: str) -> str: ...


@dataclass
class _FarEnd:
    """An in-process debtor: what it says and does, and what it heard per call."""

    greeting: bytes = b""
    dtmf: str = ""
    hangs_up: bool = False
    heard: list[bytes] = field(default_factory=list)
    closed: asyncio.Condition = field(default_factory=asyncio.Condition)


class LoopbackLine:
    kind = "loopback"

    def __init__(self, voices: Voices) -> None:
        self.exchange = LoopbackExchange()
        self.telephone = self.exchange.telephone()
        greeting = voices.pcm("greeting")
        self.far_ends = {
            "talker": _FarEnd(greeting=greeting),
            "dtmf": _FarEnd(dtmf="1#5"),
            "quitter": _FarEnd(greeting=greeting, hangs_up=True),
            "listener": _FarEnd(),
        }
        self.exchange.subscriber("busy", "busy")
        self.exchange.subscriber("sipp-noanswer", "no_answer")
        self._tasks: set[asyncio.Task[None]] = set()
        for number, far in self.far_ends.items():
            self._spawn(self._serve(self.exchange.subscriber(number), far))

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, subscriber: LoopbackSubscriber, far: _FarEnd) -> None:
        while True:
            call = await subscriber.next_call(timeout_s=3600)
            self._spawn(self._talk(call, far))

    async def _talk(self, call: LoopbackCall, far: _FarEnd) -> None:
        heard: list[bytes] = []

        async def record() -> None:
            async for frame in call.frames():
                heard.append(frame)

        recorder = asyncio.get_running_loop().create_task(record())
        if far.greeting:
            await call.play(far.greeting)
        if far.dtmf:
            await call.send_dtmf(far.dtmf)
        if far.hangs_up:
            await call.hangup()
        await recorder
        async with far.closed:
            far.heard.append(b"".join(heard))
            far.closed.notify_all()

    def closed_calls(self, user: str) -> int:
        return len(self.far_ends[user].heard)

    async def heard_by(self, user: str, mark: int, timeout_s: float = 20.0) -> bytes:
        far = self.far_ends[user]
        async with far.closed:
            await asyncio.wait_for(far.closed.wait_for(lambda: len(far.heard) > mark), timeout_s)
        return far.heard[mark]

    def sipp(self, scenario: Scenario) -> SippRun | None:
        return None

    def uri_for(self, number: str) -> str:
        return f"sip:{number}@loopback"

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


class SipLine:
    def __init__(self, kind: str, telephone: Telephone, bench: SipBench) -> None:
        self.kind = kind
        self.telephone = telephone
        self.bench = bench

    def closed_calls(self, user: str) -> int:
        return self.bench.closed_calls(user)

    async def heard_by(self, user: str, mark: int, timeout_s: float = 20.0) -> bytes:
        return await self.bench.heard_by(user, mark, timeout_s)

    def sipp(self, scenario: Scenario) -> SippRun | None:
        return self.bench.sipp(scenario)

    def uri_for(self, number: str) -> str:
        return f"sip:{number}@{self.bench.kamailio.address}"


def robot_config(bench: SipBench) -> SipConfig:
    """The robot's account on the bench registrar, with its own free RTP range."""
    rtp_min, rtp_max = free_udp_range(40)
    return SipConfig(
        registrar=bench.kamailio.address,
        user="robot",
        password=bench.password,
        codecs=("PCMU", "PCMA"),
        rtp_port_min=rtp_min,
        rtp_port_max=rtp_max,
        local_address="127.0.0.1",
    )


@pytest.fixture(params=ADAPTERS)
async def line(request: pytest.FixtureRequest, voices: Voices) -> AsyncIterator[Line]:
    """A robot telephone of one adapter and the far ends it can call."""
    kind: str = request.param
    if kind == "loopback":
        loopback = LoopbackLine(voices)
        try:
            yield loopback
        finally:
            await loopback.close()
        return
    bench: SipBench = request.getfixturevalue("sip_bench")
    if kind == "baresip":
        from dialer.telephony.baresip import BaresipTelephone

        async with BaresipTelephone(robot_config(bench)) as telephone:
            yield SipLine(kind, telephone, bench)
        return
    pyvoip = pytest.importorskip("dialer.telephony.pyvoip")
    phone = pyvoip.PyVoipTelephone(robot_config(bench))
    await phone.start()
    try:
        yield SipLine(kind, phone, bench)
    finally:
        await phone.close()
