"""``napomni bench telephony``: N concurrent calls robot ↔ simulated debtors through Kamailio.

The robot (this process, one adapter) dials N debtors registered to a local Kamailio;
every debtor speaks for the whole call while the robot plays a prompt in a loop and reads
every frame. Measured in the robot process only: CPU (user+system, % of one core) per call,
received frames per second per call (50 expected), late deliveries (the reader got no frame
for more than 60 ms) and, for baresip, transmit frames the native clock had to fill with
silence because playback was fed too late.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.sandbox.voices import say_to_wav
from dialer.sandbox.wavfile import read_pcm, write_pcm
from dialer.telephony.config import SipConfig
from dialer.telephony.port import Call, Outcome, Telephone

__all__ = ["BenchAdapter", "TelephonyBenchFigures", "run_telephony_bench"]

BenchAdapter = Literal["baresip", "pyvoip"]

_LATE_S: Final = 0.060
_WARM_UP_S: Final = 1.0
_SPEECH: Final = (
    "Здравствуйте. Это автоматическое напоминание управляющей компании о задолженности "
    "за жилищно-коммунальные услуги. Пожалуйста, оплатите её в ближайшее время."
)


@dataclass(frozen=True, slots=True)
class TelephonyBenchFigures:
    """What one bench run measured."""

    adapter: str
    calls: int
    answered: int
    seconds: float
    cpu_percent_of_core: float
    frames_per_s_min: float
    frames_per_s_mean: float
    late_frames: int
    tx_starved_frames: int | None

    @property
    def cpu_percent_per_call(self) -> float:
        """Robot CPU per answered call, % of one core."""
        return self.cpu_percent_of_core / self.answered if self.answered else 0.0


@dataclass(slots=True)
class _CallStats:
    frames: int = 0
    late: int = 0
    first_at: float = 0.0
    last_at: float = 0.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(call: Call, stats: _CallStats, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    # Frames queued while the other calls were being dialled arrive in a burst at first:
    # they are skipped, so the rate and the late count describe the steady stream.
    warm_up_until = loop.time() + _WARM_UP_S
    deadline = loop.time() + seconds
    async for _frame in call.frames():
        now = loop.time()
        if now > deadline:
            return
        if now < warm_up_until:
            continue
        if stats.frames == 0:
            stats.first_at = now
        elif now - stats.last_at > _LATE_S:
            stats.late += 1  # the reader got nothing for 3 frame times
        stats.frames += 1
        stats.last_at = now


async def _talk(call: Call, prompt: bytes, seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline and not call.result.ended:
        chunk = prompt[
            : int(min(len(prompt), (deadline - asyncio.get_running_loop().time()) * 16000)) // 2 * 2
        ]
        if not chunk or not await call.play(chunk):
            break


class _Robot(Telephone, Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


def _robot(adapter: BenchAdapter, config: SipConfig) -> _Robot:
    if adapter == "pyvoip":
        from dialer.telephony.pyvoip import PyVoipTelephone

        return PyVoipTelephone(config)
    from dialer.telephony.baresip import BaresipTelephone

    return BaresipTelephone(config)


async def run_telephony_bench(
    workdir: Path,
    *,
    calls: int,
    seconds: float,
    adapter: BenchAdapter = "baresip",
    voices_dir: Path | None = None,
) -> TelephonyBenchFigures:
    """Run the bench (Kamailio and debtors started and stopped here); return the figures."""
    voices = voices_dir or workdir / "voices"
    speech = read_pcm(say_to_wav(_SPEECH, voices))
    long_speech = workdir / "debtor-speech.wav"
    write_pcm(long_speech, speech * (int(seconds * 16000 / len(speech)) + 2))
    kamailio = Kamailio(workdir / "kamailio", KamailioOptions())
    kamailio.start()
    try:
        debtors = [DebtorSpec(f"debtor{n}", greeting=str(long_speech)) for n in range(1, calls + 1)]
        pool = DebtorPool(
            workdir / "debtors", kamailio.address, kamailio.options.password, debtors,
            max_call_s=seconds + 30,
        )  # fmt: skip
        await asyncio.to_thread(pool.start)
        try:
            return await _run_calls(kamailio, adapter, calls, seconds, speech)
        finally:
            await asyncio.to_thread(pool.stop)
    finally:
        kamailio.stop()


async def _run_calls(
    kamailio: Kamailio, adapter: BenchAdapter, calls: int, seconds: float, prompt: bytes
) -> TelephonyBenchFigures:
    rtp_min, rtp_max = free_udp_range(max(20, calls * 4))
    config = SipConfig(
        registrar=kamailio.address,
        user="robot",
        password=kamailio.options.password,
        rtp_port_min=rtp_min,
        rtp_port_max=rtp_max,
        max_concurrent_calls=calls,
        local_address="127.0.0.1",
    )
    telephone = _robot(adapter, config)
    await telephone.start()
    try:
        placed: list[Call] = []
        for n in range(1, calls + 1):
            placed.append(await telephone.dial(f"debtor{n}", 10))
            await asyncio.sleep(0.05)  # the bench doc's 50 ms stagger
        answered = [c for c in placed if c.result.outcome is Outcome.ANSWERED]
        stats = [_CallStats() for _ in answered]
        cpu_start, wall_start = _cpu_seconds(), time.monotonic()
        async with asyncio.TaskGroup() as group:
            for call, call_stats in zip(answered, stats, strict=True):
                group.create_task(_measure(call, call_stats, seconds))
                group.create_task(_talk(call, prompt, seconds))
        cpu = _cpu_seconds() - cpu_start
        wall = time.monotonic() - wall_start
        starved = _starved(answered)
        for call in answered:
            await call.hangup()
    finally:
        with contextlib.suppress(Exception):
            await telephone.close()
    rates = [(s.frames - 1) / (s.last_at - s.first_at) for s in stats if s.last_at > s.first_at]
    return TelephonyBenchFigures(
        adapter=adapter,
        calls=calls,
        answered=len(answered),
        seconds=wall,
        cpu_percent_of_core=100.0 * cpu / wall if wall else 0.0,
        frames_per_s_min=min(rates, default=0.0),
        frames_per_s_mean=sum(rates) / len(rates) if rates else 0.0,
        late_frames=sum(s.late for s in stats),
        tx_starved_frames=starved,
    )


def _starved(calls: list[Call]) -> int | None:
    from dialer.telephony.baresip import BaresipCall

    counts = [c.tx_starved_frames() for c in calls if isinstance(c, BaresipCall)]
    known = [n for n in counts if n is not None]
    return sum(known) if known else None
