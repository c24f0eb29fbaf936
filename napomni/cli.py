"""The ``napomni`` command: the composition root that wires the packages together.

Each subcommand lives in ``napomni/commands/<domain>.py`` and receives the one
:class:`~napomni.settings.Settings` object through ``click``'s context. Heavy libraries
(models, SIP, the web server) are imported inside the command that needs them, so that
``napomni --help`` and quick commands start fast.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from napomni.commands import registered_commands
from napomni.logging_setup import configure_logging
from napomni.settings import Settings, SettingsError, load_settings, make_private

__all__ = ["main", "cli", "pass_settings"]

pass_settings = click.make_pass_decorator(Settings)


@click.group(
    help=(
        "Напомни — голосовой робот для работы с должниками ЖКХ.\n\n"
        "Настройки берутся из переменных окружения NAPOMNI_* и флагов. "
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
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Подробность журнала (по умолчанию NAPOMNI_LOG_LEVEL или INFO).",
)
@click.pass_context
def cli(
    ctx: click.Context, data_dir: Path | None, database_url: str | None, log_level: str | None
) -> None:
    env = dict(os.environ)
    if data_dir is not None:
        env["NAPOMNI_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        env["NAPOMNI_DATABASE_URL"] = database_url
    if log_level is not None:
        env["NAPOMNI_LOG_LEVEL"] = log_level.upper()
    try:
        settings = load_settings(env)
    except SettingsError as err:
        raise click.UsageError(str(err)) from err
    configure_logging(settings.log_level)
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
    cli.main(prog_name="napomni", standalone_mode=True)


if __name__ == "__main__":  # pragma: no cover
    main()
