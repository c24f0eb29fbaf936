"""``napomni serve``: the web service (pages for the team, the JSON API)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    import ssl

    from web.config import WebConfig

__all__ = ["serve", "web_config"]


def web_config(settings: Settings) -> WebConfig:
    """The web service's configuration from the settings (secret made once and kept)."""
    from web.config import WebConfig, load_or_create_secret

    secret = settings.web_secret or load_or_create_secret(settings.data_dir)
    return WebConfig(
        database_url=settings.database_url,
        secret=secret,
        # Behind TLS the session cookie never travels in the clear (and HSTS says so):
        # with our own certificate, behind an HTTPS proxy, or when debtors' links are https.
        cookie_secure=settings.web_https
        or settings.web_tls_cert is not None
        or settings.sms.public_url.startswith("https://"),
        recordings_dir=settings.data_dir / "recordings",
        sms_dlr_token=settings.sms.dlr_token,
        metrics_token=settings.metrics_token,
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
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Сертификат TLS (PEM, с цепочкой); по умолчанию NAPOMNI_WEB_TLS_CERT.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Закрытый ключ сертификата (PEM); по умолчанию NAPOMNI_WEB_TLS_KEY.",
)
@click.pass_obj
def serve(
    settings: Settings,
    host: str,
    port: int,
    no_migrate: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    import logging

    from aiohttp import web

    from napomni.commands.db import quiet_migration_log

    quiet_migration_log(settings)  # before alembic is imported: it logs while loading
    from storage.database import upgrade_to_heads
    from web.app import AccessLogger, create_app
    from web.errors import ConfigError

    settings = settings.with_overrides(
        web_tls_cert=tls_cert or settings.web_tls_cert, web_tls_key=tls_key or settings.web_tls_key
    )
    tls = _tls_context(settings)
    try:
        config = web_config(settings)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err
    if not no_migrate:
        upgrade_to_heads(settings.database_url)
    scheme = "https" if tls is not None else "http"
    click.echo(f"Напомни: {scheme}://{host}:{port}/  (остановка — Ctrl+C)")
    web.run_app(
        create_app(config),
        host=host,
        port=port,
        ssl_context=tls,
        access_log=logging.getLogger("napomni.web.access"),
        access_log_class=AccessLogger,
        print=None,
    )


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server's TLS context from the certificate and key, or None (plain HTTP)."""
    import ssl

    cert, key = settings.web_tls_cert, settings.web_tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise click.UsageError("для TLS нужны и сертификат (--tls-cert), и ключ (--tls-key)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as err:
        raise click.ClickException(f"TLS: сертификат или ключ не загрузились ({err})") from err
    return context
