"""The ``napomni`` command: the composition root that wires the packages together.

Each subcommand lives in ``napomni/commands/<domain>.py`` and receives the one
:class:`~napomni.settings.Settings` object through ``click``'s context. Heavy libraries
(models, SIP, the web server) are imported inside the command that needs them, so that
``napomni --help`` and quick commands start fast.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from napomni.commands import registered_commands
from napomni.config_file import merged_environment
from napomni.logging_setup import configure_logging
from napomni.settings import Settings, SettingsError, load_settings, make_private

__all__ = ["main", "cli", "pass_settings"]

pass_settings = click.make_pass_decorator(Settings)


@click.group(
    help=(
        "Напомни — голосовой робот для работы с должниками ЖКХ.\n\n"
        "Настройки берутся из переменных окружения NAPOMNI_*, файла TOML (--config) и флагов. "
        "Подробности по каждой команде: napomni КОМАНДА --help."
    ),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Каталог данных (по умолчанию NAPOMNI_DATA_DIR или ./var).",
)
@click.option(
    "--database-url",
    default=None,
    help="URL базы данных (по умолчанию NAPOMNI_DATABASE_URL или SQLite в каталоге данных).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Файл настроек TOML (по умолчанию NAPOMNI_CONFIG); переменные окружения важнее.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Подробность журнала (по умолчанию NAPOMNI_LOG_LEVEL или INFO).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"], case_sensitive=False),
    default=None,
    help="Журнал текстом или JSON, объект на строку (по умолчанию NAPOMNI_LOG_FORMAT или text).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    data_dir: Path | None,
    database_url: str | None,
    config: Path | None,
    log_level: str | None,
    log_format: str | None,
) -> None:
    try:
        env = merged_environment(os.environ, config)
    except SettingsError as err:
        raise click.UsageError(str(err)) from err
    if data_dir is not None:
        env["NAPOMNI_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        env["NAPOMNI_DATABASE_URL"] = database_url
    if log_level is not None:
        env["NAPOMNI_LOG_LEVEL"] = log_level.upper()
    if log_format is not None:
        env["NAPOMNI_LOG_FORMAT"] = log_format.lower()
    try:
        settings = load_settings(env)
    except SettingsError as err:
        raise click.UsageError(str(err)) from err
    configure_logging(settings.log_level, settings.log_format)
    make_private(settings.data_dir)
    ctx.obj = settings


for _command in registered_commands():
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    # Before anything opens a file: the database, recordings and caches hold personal data,
    # so what the service creates is its user's alone (0600 files, 0700 directories).
    os.umask(0o077)
    # SIGTERM (systemd, a supervisor, `kill`) stops a command the way Ctrl-C does, so the
    # demo, the bench and the worker run their clean-up: Kamailio, debtors, calls hung up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        cli.main(prog_name="napomni", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Прервано.", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except Exception as err:
        message = database_problem(err)
        if message is None:
            raise
        # A clear sentence instead of a traceback (which may also carry typed values).
        click.echo(f"Ошибка: {message}", err=True)
        sys.exit(1)


def database_problem(err: BaseException) -> str | None:
    """What to tell a user about a database error a command did not handle, or None."""
    from sqlalchemy import exc

    if not isinstance(err, exc.DBAPIError | exc.OperationalError):
        return None
    text = str(getattr(err, "orig", err)).lower()
    # A table or column the code knows and the database does not: never upgraded, or not
    # since the release that added it (SQLite «no such …», PostgreSQL «… does not exist»).
    missing = "no such table" in text or "no such column" in text
    if missing or "does not exist" in text and ("relation" in text or "column" in text):
        return "база данных не создана или не обновлена — выполните «napomni db upgrade»"
    if isinstance(err, exc.IntegrityError):
        return (
            "запись уже есть (другая команда записала её одновременно с этой); "
            "ничего не записано — повторите команду"
        )
    if isinstance(err, exc.OperationalError):
        return f"база данных недоступна или занята ({type(getattr(err, 'orig', err)).__name__}); ничего не записано"
    return None


if __name__ == "__main__":  # pragma: no cover
    main()
