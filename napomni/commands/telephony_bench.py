"""``napomni bench telephony``: concurrent live calls through a local Kamailio."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import click

from napomni.settings import Settings

__all__ = ["bench_telephony"]


@click.command(
    "telephony",
    help=(
        "N одновременных звонков робот ↔ имитированные должники через локальный Kamailio "
        "(127.0.0.1): CPU на звонок, пакетов в секунду, опоздавшие кадры."
    ),
)
@click.option("--calls", type=click.IntRange(1, 300), default=10, show_default=True)
@click.option("--seconds", type=click.FloatRange(3, 600), default=15.0, show_default=True)
@click.option(
    "--adapter",
    type=click.Choice(["baresip", "pyvoip"]),
    default="baresip",
    show_default=True,
    help="Адаптер SIP робота.",
)
@click.pass_obj
def bench_telephony(settings: Settings, calls: int, seconds: float, adapter: str) -> None:
    from dialer.sandbox.errors import SandboxError
    from dialer.sandbox.telephony_bench import run_telephony_bench
    from dialer.telephony.errors import TelephonyError

    voices_dir = settings.data_dir / "sandbox" / "voices"
    with tempfile.TemporaryDirectory(prefix="napomni-bench-telephony-") as workdir:
        try:
            figures = asyncio.run(
                run_telephony_bench(
                    Path(workdir),
                    calls=calls,
                    seconds=seconds,
                    adapter="pyvoip" if adapter == "pyvoip" else "baresip",
                    voices_dir=voices_dir,
                )
            )
        except (SandboxError, TelephonyError) as err:
            raise click.ClickException(str(err)) from err
    starved = "—" if figures.tx_starved_frames is None else str(figures.tx_starved_frames)
    click.echo(f"адаптер:                         {figures.adapter}")
    click.echo(f"звонков / отвечено:              {figures.calls} / {figures.answered}")
    click.echo(f"длительность замера, с:          {figures.seconds:.1f}")
    click.echo(f"CPU робота, % одного ядра:       {figures.cpu_percent_of_core:.1f}")
    click.echo(f"CPU на звонок, % ядра:           {figures.cpu_percent_per_call:.2f}")
    click.echo(
        f"кадров/с на звонок (мин/средн):  {figures.frames_per_s_min:.1f} / {figures.frames_per_s_mean:.1f}"
    )
    click.echo(f"опоздавших кадров (> 60 мс):     {figures.late_frames}")
    click.echo(f"кадров тишины вместо речи (TX):  {starved}")
