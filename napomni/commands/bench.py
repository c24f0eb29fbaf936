"""``napomni bench``: benchmark commands that print figures (never timed tests)."""

from __future__ import annotations

import click

__all__ = ["bench"]


@click.group(help="Замеры скорости и памяти; печатают цифры, ничего не проверяют.")
def bench() -> None:
    pass


@bench.command("all", help="Все замеры подряд, с параметрами по умолчанию.")
@click.pass_context
def bench_all(ctx: click.Context) -> None:
    for name, command in sorted(bench.commands.items()):
        if name == "all":
            continue
        click.echo(f"== napomni bench {name}")
        ctx.invoke(command)
