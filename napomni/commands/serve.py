"""``napomni serve``: the web service (pages for the team, the JSON API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from web.config import WebConfig

__all__ = ["serve", "web_config"]


def web_config(settings: Settings) -> WebConfig:
    """The web service's configuration from the settings (secret made once and kept)."""
    from web.config import WebConfig, load_or_create_secret

    secret = settings.web_secret or load_or_create_secret(settings.data_dir)
    return WebConfig(
        database_url=settings.database_url,
        secret=secret,
        recordings_dir=settings.data_dir / "recordings",
        sms_dlr_token=settings.sms.dlr_token,
    )


@click.command(help="Веб-сервис: кампании, очередь взыскателя, карточки счетов, отчёты.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Адрес, на котором слушать.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Порт."
)
@click.option(
    "--no-migrate",
    is_flag=True,
    help="Не обновлять схему базы при запуске (по умолчанию обновляется до последней).",
)
@click.pass_obj
def serve(settings: Settings, host: str, port: int, no_migrate: bool) -> None:
    import logging

    from aiohttp import web

    from napomni.commands.db import quiet_migration_log

    quiet_migration_log(settings)  # before alembic is imported: it logs while loading
    from storage.database import upgrade_to_heads
    from web.app import AccessLogger, create_app
    from web.errors import ConfigError

    try:
        config = web_config(settings)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err
    if not no_migrate:
        upgrade_to_heads(settings.database_url)
    click.echo(f"Напомни: http://{host}:{port}/  (остановка — Ctrl+C)")
    web.run_app(
        create_app(config),
        host=host,
        port=port,
        access_log=logging.getLogger("napomni.web.access"),
        access_log_class=AccessLogger,
        print=None,
    )
