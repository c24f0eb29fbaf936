"""``napomni bench calls``: live calls robot ⇄ simulated debtors with recognition, at N at once.

For each concurrency level: a local Kamailio, N simulated debtors answering the soft
reminder (a promise: four answers), the robot on baresip dialling all N at once, real
recognition and classification. Prints the turn latency (end of the debtor's utterance →
first robot audio frame) p50/p95, the robot process's CPU, calls per core, and the highest
level that kept p95 ≤ 1 s. Nothing is asserted: figures only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import time
from decimal import Decimal
from pathlib import Path

import click

from napomni.settings import Settings

__all__ = ["bench_calls"]

_P95_LIMIT_MS = 1000


def _percentile(values: list[int], q: int) -> int:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return round(statistics.quantiles(ordered, n=100, method="inclusive")[q - 1])


async def _level(settings: Settings, calls: int, workdir: Path) -> tuple[list[int], float, int]:
    """Run ``calls`` calls at once; the latencies, robot CPU seconds per wall second, failures."""
    from dialer.runner import ScriptBook
    from dialer.sandbox.debtor_pool import DebtorPool
    from dialer.sandbox.kamailio import Kamailio, KamailioOptions
    from dialer.sandbox.ports import free_udp_range
    from dialer.session import CallContext, CallOpening, CallSession, SessionConfig
    from dialer.telephony.baresip import BaresipTelephone
    from napomni.commands.call import build_session_parts, sip_config
    from napomni.commands.demo_debtors import personas, spec_for
    from scripts.engine import Conversation
    from scripts.values import AccountVariables

    today = dt.date(2026, 11, 23)
    promise = personas(today)[0]
    voices = settings.data_dir / "cache" / "debtor-voices"
    specs = [spec_for(promise, f"bench{n}", voices) for n in range(calls)]
    parts = build_session_parts(settings, None)
    session = CallSession(parts, SessionConfig())
    script = ScriptBook().get("soft_reminder")
    variables = AccountVariables(
        organisation="Управляющая компания Тверской дом",
        addressed_as="Иван Петрович",
        full_name="Иванов Иван Петрович",
        address="улица Песочная, дом один",
        debt_total=Decimal("4480.50"),
    )
    kamailio = Kamailio(workdir / f"k{calls}", KamailioOptions())
    kamailio.start()
    try:
        pool = DebtorPool(workdir / f"d{calls}", kamailio.address, kamailio.options.password, specs)
        pool.start()
        try:
            rtp_min, rtp_max = free_udp_range(max(8, 4 * calls))
            config = sip_config(
                settings,
                registrar=kamailio.address,
                user="robot",
                password=kamailio.options.password,
                rtp_port_min=rtp_min,
                rtp_port_max=rtp_max,
                local_address="127.0.0.1",
                max_concurrent_calls=calls,
            )
            async with BaresipTelephone(config) as telephone:
                cpu0, wall0 = time.process_time(), time.monotonic()
                reports = await asyncio.gather(
                    *(
                        session.place(
                            telephone,
                            f"bench{n}",
                            10.0,
                            Conversation(script, variables),
                            CallContext(
                                CallOpening(0, script.name, dt.datetime.now(dt.UTC)),
                                today,
                                variables.debt_total,
                                f"bench{n}",
                            ),
                        )
                        for n in range(calls)
                    )
                )
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        finally:
            pool.stop()
    finally:
        kamailio.stop()
    latencies = [x for r in reports for x in r.latencies_ms]
    failed = sum(1 for r in reports if r.failure_reason or r.outcome is None)
    return latencies, cpu / wall if wall else 0.0, failed


@click.command(
    "calls",
    help=(
        "Живые звонки робот ⇄ имитация должников с распознаванием: задержка ответа "
        "p50/p95 при N одновременных звонках, загрузка процессора, звонков на ядро."
    ),
)
@click.option(
    "--levels", default="1,2", show_default=True,
    help="Сколько звонков одновременно, через запятую.",
)  # fmt: skip
@click.pass_obj
def bench_calls(settings: Settings, levels: str) -> None:
    import tempfile

    try:
        counts = [int(x) for x in levels.split(",") if x.strip()]
    except ValueError as err:
        raise click.UsageError(f"--levels={levels!r}: числа через запятую") from err
    click.echo(f"Ядер: {os.cpu_count()}; распознавание: {_engine_name(settings)}")
    best: tuple[int, float] | None = None
    with tempfile.TemporaryDirectory(prefix="napomni-bench-calls-") as work:
        for calls in counts:
            latencies, cores, failed = asyncio.run(_level(settings, calls, Path(work)))
            if not latencies:
                click.echo(f"{calls} звонк.: задержек не измерено (сбоев: {failed})")
                continue
            p50, p95 = _percentile(latencies, 50), _percentile(latencies, 95)
            per_core = calls / cores if cores > 0 else 0.0
            click.echo(
                f"{calls} звонк. одновременно: задержка p50 {p50} мс, p95 {p95} мс "
                f"({len(latencies)} реплик); робот занял {cores:.2f} ядра → "
                f"{per_core:.1f} звонка на ядро; сбоев {failed}"
            )
            if p95 <= _P95_LIMIT_MS and failed == 0:
                best = (calls, per_core)
    if best is None:
        click.echo(f"Ни один уровень не удержал p95 ≤ {_P95_LIMIT_MS} мс.")
    else:
        click.echo(
            f"Устойчиво при p95 ≤ {_P95_LIMIT_MS} мс: {best[0]} звонк. одновременно, "
            f"{best[1]:.1f} звонка на ядро."
        )


def _engine_name(settings: Settings) -> str:
    from speech.errors import ModelNotFound
    from speech.models import resolve_vosk_model

    try:
        resolve_vosk_model(settings.vosk_model, settings.model_search_path())
    except ModelNotFound:
        return "Whisper (русской модели Vosk нет)"
    return "Vosk"
