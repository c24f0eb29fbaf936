"""``napomni db``: the database schema (Alembic migrations)."""

from __future__ import annotations

import logging

import click

from napomni.settings import Settings

__all__ = ["db", "quiet_migration_log"]


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def quiet_migration_log(settings: Settings) -> None:
    """Alembic's per-plugin INFO lines drown the command's output; keep them for DEBUG."""
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


@click.group(help="База данных: миграции схемы.")
def db() -> None:
    pass


@db.command("upgrade", help="Применить все миграции (до всех голов ветвей).")
@click.pass_obj
def upgrade(settings: Settings) -> None:
    quiet_migration_log(settings)  # before the import: alembic logs while loading plugins
    from storage.database import upgrade_to_heads

    upgrade_to_heads(settings.database_url)
    click.echo(f"Схема базы обновлена: {_masked(settings.database_url)}")


@db.command("current", help="Показать применённые ревизии.")
@click.pass_obj
def current(settings: Settings) -> None:
    quiet_migration_log(settings)
    from storage.database import applied_revisions

    revisions = applied_revisions(settings.database_url)
    if not revisions:
        click.echo("Миграции не применялись: выполните napomni db upgrade")
        return
    for revision in revisions:
        click.echo(revision)
