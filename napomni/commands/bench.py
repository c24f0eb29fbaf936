"""``napomni bench``: benchmark commands that print figures (never timed tests)."""

from __future__ import annotations

import click

from napomni.commands.call_bench import bench_calls
from napomni.commands.campaign_bench import bench_campaigns
from napomni.commands.classifier_cmd import bench_classifier
from napomni.commands.import_bench import bench_import
from napomni.commands.import_web_bench import bench_import_web
from napomni.commands.messages_bench import bench_messages
from napomni.commands.speech_cmd import bench_speech, bench_wer
from napomni.commands.telephony_bench import bench_telephony
from napomni.commands.web_bench import bench_web

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


bench.add_command(bench_campaigns)
bench.add_command(bench_classifier)
bench.add_command(bench_import)
bench.add_command(bench_import_web)
bench.add_command(bench_speech)
bench.add_command(bench_wer)
bench.add_command(bench_telephony)
bench.add_command(bench_web)
bench.add_command(bench_calls)
bench.add_command(bench_messages)
