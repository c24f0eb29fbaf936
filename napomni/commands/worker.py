"""``napomni worker``: claim due attempts and run the calls until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import click

from napomni.settings import Settings

__all__ = ["worker"]


@click.command(
    help="Обработчик очереди звонков: берёт попытки, звонит, записывает исходы. Останов — SIGTERM/Ctrl+C (текущие звонки завершаются или возвращаются в очередь)."
)
@click.option(
    "--concurrency",
    "-n",
    type=click.IntRange(1, 1000),
    default=None,
    help="Одновременных звонков (по умолчанию NAPOMNI_SIP_MAX_CALLS).",
)
@click.option(
    "--campaign",
    "campaigns",
    type=int,
    multiple=True,
    help="Только эти кампании (id); можно несколько.",
)
@click.option(
    "--stop-grace",
    type=float,
    default=30.0,
    help="Сколько секунд ждать текущие звонки при остановке.",
)
@click.pass_obj
def worker(
    settings: Settings, concurrency: int | None, campaigns: tuple[int, ...], stop_grace: float
) -> None:
    from dialer.worker import Worker, WorkerConfig
    from napomni.commands.call import build_call_runner
    from storage.database import make_engine, make_session_factory

    factory = make_session_factory(make_engine(settings.database_url))
    config = WorkerConfig(
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
        concurrency=concurrency or settings.sip.max_concurrent_calls,
        stop_grace_s=stop_grace,
        campaign_ids=frozenset(campaigns) or None,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = build_call_runner(settings, factory)
        stats = await Worker(factory, runner, config).run(stop)
        click.echo(
            f"Обработчик {config.worker_id} остановлен: взято {stats.claimed}, завершено {stats.completed}, "
            f"возвращено {stats.handed_back}, потеряно аренд {stats.leases_lost}."
        )

    click.echo(
        f"Обработчик {config.worker_id}: до {config.concurrency} звонков; остановка — SIGTERM."
    )
    asyncio.run(main())
