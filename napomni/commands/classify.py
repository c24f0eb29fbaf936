"""``napomni classify``: JSON lines of debtor turns in, tags and promises out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import click

from napomni.settings import Settings

__all__ = ["classify"]


def _open(path: Path | None) -> TextIO:
    if path is None:
        return sys.stdin
    try:
        return path.open(encoding="utf-8")
    except OSError as err:
        raise click.ClickException(f"не открыть {path}: {err.strerror}") from err


@click.command(
    "classify",
    help=(
        "Размечает реплики должника. Читает JSON-строки "
        '{"text", "asked", "today", "debt"} из ФАЙЛА или stdin и пишет по строке '
        '{"tags", "promise_date", "promise_amount"} на каждую, в том же порядке. '
        "С --evaluate ФАЙЛ (строки с ответами tags, promise_date, promise_amount) "
        "печатает точность, полноту и F1 по меткам, micro/macro-F1 и точность даты и суммы."
    ),
)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--evaluate",
    "evaluate_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Файл с размеченными репликами: оценить классификатор на нём.",
)
@click.pass_obj
def classify(settings: Settings, file: Path | None, evaluate_file: Path | None) -> None:
    from classifier.corpus import iter_lines, read_labelled, read_turn
    from classifier.errors import ClassifierError
    from classifier.evaluation import evaluate, format_evaluation
    from classifier.model import load_classifier

    try:
        model = load_classifier(settings.models_dir)
        if evaluate_file is not None:
            with _open(evaluate_file) as stream:
                gold = read_labelled(stream)
            predicted = [model.classify(t.text, t.context) for t in gold]
            click.echo(format_evaluation(evaluate(gold, predicted)))
            return
        stream = _open(file)
        try:
            # Every line is read and checked before any output: a bad line stops the run
            # with its number, and nothing half-written reaches the reader.
            turns = [read_turn(obj, number) for number, obj in iter_lines(stream)]
        finally:
            if file is not None:
                stream.close()
    except ClassifierError as err:
        raise click.ClickException(str(err)) from err
    for text, context in turns:
        result = model.classify(text, context)
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
