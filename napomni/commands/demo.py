"""``napomni demo``: the README's main job."""

from __future__ import annotations

import click

from napomni.settings import Settings

__all__ = ["demo"]


@click.command(help="Демонстрация: база с должниками, сегменты, кампания.")
@click.pass_obj
def demo(settings: Settings) -> None:
    click.echo(f"Каталог данных: {settings.data_dir}")
