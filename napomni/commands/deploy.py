"""``napomni deploy units``: write the systemd units for this install."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath

import click

from napomni.units import ENABLE_ORDER, UnitError, UnitOptions, render_units

__all__ = ["deploy"]


def _this_napomni() -> Path:
    """The ``napomni`` of the running installation (its virtual environment's script)."""
    beside = Path(sys.executable).parent / "napomni"
    return beside if beside.exists() else Path(sys.argv[0]).resolve()


@click.group(help="Установка на сервер: службы systemd.")
def deploy() -> None:
    pass


@deploy.command(
    "units",
    help=(
        "Записать службы systemd (веб, обзвон, СМС) и таймеры (решение по обещаниям, "
        "резервная копия) с путями этой установки."
    ),
)
@click.option(
    "--prefix",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/etc/systemd/system"),
    show_default=True,
    help="Куда писать файлы служб.",
)
@click.option("--user", default="napomni", show_default=True, help="Пользователь служб.")
@click.option("--group", default="", help="Группа (по умолчанию как пользователь).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/var/lib/napomni"),
    show_default=True,
    help="Каталог данных (единственный, куда службам можно писать).",
)
@click.option(
    "--napomni",
    "napomni_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Путь к программе napomni (по умолчанию — этой установки).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("/etc/napomni/napomni.env"),
    show_default=True,
    help="Файл переменных NAPOMNI_* (EnvironmentFile=).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Файл настроек TOML для служб (NAPOMNI_CONFIG), например /etc/napomni/napomni.toml.",
)
@click.option("--web-host", default="127.0.0.1", show_default=True, help="Адрес веб-сервиса.")
@click.option("--web-port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--promises-at", default="*-*-* 07:00:00", show_default=True, help="Когда решать обещания."
)
@click.option(
    "--backup-at", default="*-*-* 02:30:00", show_default=True, help="Когда делать копию."
)
@click.option(
    "--backup-keep", type=click.IntRange(1, 10000), default=14, show_default=True,
    help="Сколько последних копий хранить.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Только показать файлы, ничего не записывать.")
def units(
    prefix: Path,
    user: str,
    group: str,
    data_dir: Path,
    napomni_path: Path | None,
    env_file: Path,
    config: Path | None,
    web_host: str,
    web_port: int,
    promises_at: str,
    backup_at: str,
    backup_keep: int,
    dry_run: bool,
) -> None:
    options = UnitOptions(
        user=user,
        group=group,
        data_dir=PurePosixPath(data_dir),
        napomni=PurePosixPath(napomni_path or _this_napomni()),
        env_file=PurePosixPath(env_file),
        config=PurePosixPath(config) if config else None,
        web_host=web_host,
        web_port=web_port,
        promises_at=promises_at,
        backup_at=backup_at,
        backup_keep=backup_keep,
    )
    try:
        rendered = render_units(options)
    except UnitError as err:
        raise click.UsageError(str(err)) from err
    if dry_run:
        for name, text in rendered.items():
            click.echo(f"# --- {prefix / name}\n{text}")
        return
    prefix.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        path = prefix / name
        partial = path.with_name(f".{name}.part")
        partial.write_text(text, encoding="utf-8")
        partial.chmod(0o644)  # unit files are public; main() runs with umask 077
        os.replace(partial, path)
        click.echo(f"Записано: {path}")
    click.echo(
        "Дальше (от root): systemctl daemon-reload && systemctl enable --now "
        + " ".join(ENABLE_ORDER)
    )
