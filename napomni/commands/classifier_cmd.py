"""``napomni classifier``: train, check and evaluate the turn classifier."""

from __future__ import annotations

from pathlib import Path

import click

from napomni.settings import Settings

__all__ = ["classifier"]


@click.group("classifier", help="Обучение, проверка и оценка классификатора реплик.")
def classifier() -> None:
    pass


@classifier.command(
    "train",
    help=(
        "Обучает классификатор на собственных данных, оценивает на отложенной части и "
        "записывает модель в <каталог моделей>/classifier/."
    ),
)
@click.pass_obj
def train(settings: Settings) -> None:
    from classifier.evaluation import format_evaluation
    from classifier.train import train as run_training

    report = run_training(settings.models_dir)
    click.echo("Отложенная часть (не участвовала в обучении):")
    click.echo(format_evaluation(report.heldout))
    click.echo(
        f"Обучено на {report.train_turns} репликах за {report.seconds:.1f} с; "
        f"модель: {report.artifact}"
    )


@classifier.command(
    "check",
    help="Код 0, только если модель есть и загружается с текущими версиями библиотек.",
)
@click.pass_obj
def check(settings: Settings) -> None:
    from classifier.errors import ClassifierError
    from classifier.model import load_classifier, read_metadata

    try:
        load_classifier(settings.models_dir)
        meta = read_metadata(settings.models_dir)
    except ClassifierError as err:
        raise click.ClickException(str(err)) from err
    heldout = meta.get("heldout")
    macro = heldout.get("macro_f1") if isinstance(heldout, dict) else None
    click.echo(f"Классификатор в порядке: {settings.models_dir / 'classifier'} (macro-F1 {macro})")


@classifier.command(
    "evaluate",
    help=(
        "Оценивает модель на размеченном файле JSON-строк (как classify --evaluate) или, "
        "без файла, на отложенной части и на независимом наборе."
    ),
)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def evaluate_command(settings: Settings, file: Path | None) -> None:
    from classifier.corpus import read_labelled
    from classifier.data import heldout_set, independent_set
    from classifier.errors import ClassifierError
    from classifier.evaluation import evaluate, format_evaluation
    from classifier.model import load_classifier

    try:
        model = load_classifier(settings.models_dir)
        if file is None:
            sets = [
                ("Отложенная часть (свой генератор, другие фразы)", heldout_set()),
                ("Независимый набор (написан по ситуациям, не по нашим фразам)", independent_set()),
            ]
        else:
            try:
                with file.open(encoding="utf-8") as stream:
                    sets = [(str(file), read_labelled(stream))]
            except OSError as err:
                raise click.ClickException(f"не открыть {file}: {err.strerror}") from err
    except ClassifierError as err:
        raise click.ClickException(str(err)) from err
    for number, (title, gold) in enumerate(sets):
        if len(sets) > 1:
            click.echo(("\n" if number else "") + f"{title}:")
        predicted = [model.classify(t.text, t.context) for t in gold]
        click.echo(format_evaluation(evaluate(gold, predicted)))


@click.command("classifier", help="Классификатор: задержка на реплику (p50/p99) и загрузка модели.")
@click.option("--turns", default=1500, show_default=True, help="Сколько реплик классифицировать.")
@click.pass_obj
def bench_classifier(settings: Settings, turns: int) -> None:
    import os
    import time

    from classifier.data import heldout_set
    from classifier.errors import ClassifierError
    from classifier.language import morph
    from classifier.model import load_classifier

    started = time.perf_counter()
    try:
        model = load_classifier(settings.models_dir)
    except ClassifierError as err:
        raise click.ClickException(str(err)) from err
    morph()
    load_s = time.perf_counter() - started
    sample = heldout_set()[:turns]

    def percentiles(timings: list[float]) -> str:
        timings.sort()
        p50 = timings[len(timings) // 2] * 1000
        p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1000
        return f"p50 {p50:.2f} мс, p99 {p99:.2f} мс"

    for label in ("первый проход (холодный кэш лемм)", "второй проход"):
        wall: list[float] = []
        cpu: list[float] = []
        for turn in sample:
            t0, c0 = time.perf_counter(), time.thread_time()
            model.classify(turn.text, turn.context)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
        # Wall time includes waiting for a core on a shared machine; CPU time does not.
        click.echo(
            f"{label}: {len(wall)} реплик; по часам {percentiles(wall)}; "
            f"процессор {percentiles(cpu)}"
        )
    click.echo(f"загрузка системы (load average за 1 мин): {os.getloadavg()[0]:.1f}")
    click.echo(f"загрузка модели (с pymorphy3): {load_s:.2f} с")
