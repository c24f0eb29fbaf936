"""``napomni worker``: claim due attempts and run the calls until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client import CollectorRegistry
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["worker"]


async def _send_messages(
    settings: Settings, factory: sessionmaker[Session], worker_id: str, stop: asyncio.Event
) -> None:
    from dialer.messages import Sender, SenderConfig
    from napomni.commands.messages import sms_gateway

    gateway = sms_gateway(settings, factory)
    config = SenderConfig(worker_id=worker_id, page_base_url=settings.sms.public_url)
    try:
        await Sender(factory, gateway, config).run(stop)
    finally:
        await gateway.close()


async def _start_metrics(
    registry: CollectorRegistry, address: str, port: int, token: str
) -> web.AppRunner:
    """``GET /metrics`` of this worker (the same access rule as the web's); a busy port
    stops the worker before it takes a call."""
    from aiohttp import web

    from web.metrics import metrics_app

    runner = web.AppRunner(metrics_app(registry, token), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, address, port).start()
    except OSError as err:
        await runner.cleanup()
        raise click.ClickException(
            f"метрики: не удалось слушать {address}:{port} ({err.strerror})"
        ) from err
    return runner


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
@click.option(
    "--dial-interval",
    type=click.FloatRange(0.0, 60.0),
    default=1.0,  # dialer.worker.DEFAULT_DIAL_INTERVAL_S (not imported here: --help stays fast)
    show_default=True,
    help="Сколько секунд минимум между двумя новыми звонками (0 — занять все линии разом). "
    "Линии заполняются по одной, ответы должников не приходят в одну секунду.",
)
@click.option(
    "--send-messages",
    is_flag=True,
    help="Заодно отправлять СМС из очереди сообщений (как napomni messages send).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Отдавать метрики Prometheus на http://АДРЕС:ПОРТ/metrics "
    "(адрес — NAPOMNI_METRICS_ADDRESS, по умолчанию 127.0.0.1).",
)
@click.pass_obj
def worker(
    settings: Settings,
    concurrency: int | None,
    campaigns: tuple[int, ...],
    stop_grace: float,
    dial_interval: float,
    send_messages: bool,
    metrics_port: int | None,
) -> None:
    from prometheus_client.process_collector import ProcessCollector

    from dialer.metrics import CallMetrics
    from dialer.worker import Worker, WorkerConfig
    from napomni.commands.call import (
        StartedOnFirstDial,
        build_call_runner,
        configured_telephone,
        sip_config,
    )
    from storage.database import make_engine, make_session_factory

    factory = make_session_factory(make_engine(settings.database_url))
    config = WorkerConfig(
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
        concurrency=concurrency or settings.sip.max_concurrent_calls,
        stop_grace_s=stop_grace,
        dial_interval_s=dial_interval,
        campaign_ids=frozenset(campaigns) or None,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        metrics = CallMetrics()
        ProcessCollector(registry=metrics.registry)
        exposition = (
            await _start_metrics(
                metrics.registry, settings.metrics_address, metrics_port, settings.metrics_token
            )
            if metrics_port is not None
            else None
        )
        # The worker owns its telephone, so it can hang up, unregister and stop it in order.
        telephone = StartedOnFirstDial(configured_telephone(settings, sip_config(settings)))
        runner = build_call_runner(settings, factory, metrics, telephone=telephone)
        # The sender runs beside the calls, never in a call's path: its own task, same stop.
        messages = (
            asyncio.create_task(_send_messages(settings, factory, config.worker_id, stop))
            if send_messages
            else None
        )
        try:
            stats = await Worker(factory, runner, config).run(stop)
        finally:
            runner.close()
            await telephone.close()
            if messages is not None:
                stop.set()
                await messages
            if exposition is not None:
                await exposition.cleanup()
        click.echo(
            f"Обработчик {config.worker_id} остановлен: взято {stats.claimed}, завершено {stats.completed}, "
            f"возвращено {stats.handed_back}, потеряно аренд {stats.leases_lost}."
        )

    click.echo(
        f"Обработчик {config.worker_id}: до {config.concurrency} звонков; остановка — SIGTERM."
    )
    asyncio.run(main())
