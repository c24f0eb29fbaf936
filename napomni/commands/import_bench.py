"""``napomni bench import``: import a generated million-line 1С export into SQLite."""

from __future__ import annotations

import math
import resource
import shutil
import time
from pathlib import Path

import click

from napomni.settings import Settings

__all__ = ["bench_import"]

LINES_PER_ACCOUNT = 12 * 8  # a year of eight services


def _peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@click.command(
    "import", help="Импорт сгенерированной ведомости (по умолчанию 1 000 000 строк) в SQLite."
)
@click.option("--lines", type=click.IntRange(96, 50_000_000), default=1_000_000, show_default=True)
@click.option("--keep", is_flag=True, help="Не удалять файл и базу после замера.")
@click.pass_obj
def bench_import(settings: Settings, lines: int, keep: bool) -> None:
    from napomni.commands.db import quiet_migration_log
    from storage.database import make_engine, make_session_factory, upgrade_to_heads
    from storage.importing import import_debts
    from storage.samples import write_debts

    quiet_migration_log(settings)
    directory = settings.data_dir / "bench-import"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    try:
        path = directory / "debts.csv"
        accounts = math.ceil(lines / LINES_PER_ACCOUNT)
        started = time.perf_counter()
        write_debts(path, accounts)
        click.echo(
            f"файл: {accounts * LINES_PER_ACCOUNT} строк, {path.stat().st_size / 2**20:.0f} МиБ, "
            f"создан за {time.perf_counter() - started:.1f} с"
        )
        url = f"sqlite:///{directory / 'bench.db'}"
        upgrade_to_heads(url)
        engine = make_engine(url)
        rss_before = _peak_rss_mib()
        wall, cpu = time.perf_counter(), time.process_time()
        summary = import_debts(make_session_factory(engine), path, organisation="Замер")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        engine.dispose()
        rows = summary.rows
        click.echo(f"импорт: {rows} строк за {wall:.1f} с (процессор {cpu:.1f} с)")
        click.echo(
            f"скорость: {rows / wall:,.0f} строк/с (по процессору {rows / cpu:,.0f} строк/с)"
        )
        click.echo(
            f"пиковая память процесса: {_peak_rss_mib():.0f} МиБ (до импорта {rss_before:.0f} МиБ)"
        )
        click.echo(f"база: {_size_mib(directory / 'bench.db'):.0f} МиБ")
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def _size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
