"""``napomni import debts|payments``: load 1С exports into the debt book."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from storage.importing import DebtImportSummary, PaymentImportSummary, RowProblem

__all__ = ["import_group", "print_debt_summary", "print_payment_summary", "RichProgress"]

MAX_WARNINGS_SHOWN = 50

_PATH = click.Path(exists=True, dir_okay=False, path_type=Path)
_options = [
    click.argument("path", type=_PATH),
    click.option("--org", "organisation", default=None, help="Организация (УК, ТСЖ); по умолчанию единственная в базе."),
    click.option("--dry-run", is_flag=True, help="Только проверить и показать, что изменится; ничего не записывать."),
    click.option("--mapping", "mapping_path", type=_PATH, default=None, help="Файл соответствий столбцов (TOML)."),
]  # fmt: skip


class RichProgress:
    """An import's progress shown as a rich progress bar on the terminal (stderr)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def phase(self, title: str, total: int) -> None:
        """Start a bar for the next pass over the file."""
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(title, total=total)

    def advance_to(self, done: int) -> None:
        """Move the bar to ``done`` bytes."""
        if self._task is not None:
            self._progress.update(self._task, completed=done)


def _progress_bar() -> Progress:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # no bar in logs and pipes
    )


def money(value: Decimal) -> str:
    """``1234567.5`` → ``1 234 567,50 ₽``."""
    return f"{value:,.2f}".replace(",", " ").replace(".", ",") + " ₽"


def _print_problems(
    problems: Sequence[RowProblem], total: int, title: str, limit: int | None
) -> None:
    shown = problems if limit is None else problems[:limit]
    if shown:
        click.echo(title)
    for problem in shown:
        click.echo(f"  {problem}")
    if total > len(shown):
        click.echo(f"  … и ещё {total - len(shown)}")


def print_debt_summary(summary: DebtImportSummary) -> None:
    """The summary of a debt import, in Russian."""
    c = summary.changes
    _print_problems(
        summary.warnings,
        len(summary.warnings),
        "Предупреждения (строки загружены):",
        MAX_WARNINGS_SHOWN,
    )
    click.echo(
        f"{'Проверка без записи' if summary.dry_run else 'Импорт'}: {summary.file} → «{summary.organisation}»"
    )
    click.echo(f"  строк в файле: {summary.rows}")
    click.echo(
        f"  лицевых счетов: {len(c.accounts_seen)} (новых {c.accounts_new}, изменённых {c.accounts_changed})"
    )
    click.echo(f"  людей: новых {c.people_new}, изменённых {c.people_changed}")
    click.echo(f"  телефонов: новых {c.phones_new}")
    click.echo(
        f"  строк долга: новых {c.lines_new}, изменённых {c.lines_changed}, без изменений {c.lines_unchanged}"
    )
    click.echo(
        f"  задолженность по файлу: {money(summary.total_debt)}, пени: {money(summary.total_peni)}"
    )
    if summary.dry_run:
        click.echo("Ничего не записано (--dry-run)")


def print_payment_summary(summary: PaymentImportSummary) -> None:
    """The summary of a payment import, in Russian."""
    c = summary.changes
    click.echo(
        f"{'Проверка без записи' if summary.dry_run else 'Импорт'}: {summary.file} → «{summary.organisation}»"
    )
    click.echo(f"  строк в файле: {summary.rows}, на сумму {money(summary.total_amount)}")
    click.echo(
        f"  платежей: новых {c.payments_new} на {money(c.amount_new)}, уже загруженных {c.payments_known}"
    )
    click.echo(
        f"  разнесено по долгам: {money(c.amount_allocated)}; закрыто строк долга: {c.lines_closed}"
    )
    if summary.dry_run:
        click.echo("Ничего не записано (--dry-run)")


def _fail(err: Exception) -> click.ClickException:
    from storage.importing import RowsRejected

    if isinstance(err, RowsRejected):
        _print_problems(err.problems, err.total, "Ошибки:", None)
    return click.ClickException(str(err))


@click.group("import", help="Загрузка выгрузок 1С: долги и платежи (CSV или XLSX).")
def import_group() -> None:
    pass


def _with_options(command: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_options):
        command = option(command)
    return command


@import_group.command(
    "debts",
    help=(
        "Загрузить долги (оборотно-сальдовую ведомость по ЛС). Сначала проверяется весь файл; "
        "при любой ошибке ничего не записывается и печатаются все ошибки. Повторная загрузка "
        "того же файла ничего не меняет."
    ),
)
@_with_options
@click.pass_obj
def import_debts_command(
    settings: Settings,
    path: Path,
    organisation: str | None,
    dry_run: bool,
    mapping_path: Path | None,
) -> None:
    from storage.database import make_engine, make_session_factory
    from storage.importing import ImportFailed, import_debts

    engine = make_engine(settings.database_url)
    try:
        with _progress_bar() as bar:
            summary = import_debts(
                make_session_factory(engine), path, organisation=organisation,
                mapping_path=mapping_path, dry_run=dry_run, progress=RichProgress(bar),
            )  # fmt: skip
    except ImportFailed as err:
        raise _fail(err) from err
    finally:
        engine.dispose()
    print_debt_summary(summary)


@import_group.command(
    "payments",
    help=(
        "Загрузить платежи (реестр оплат). Лицевые счета должны быть уже загружены; новые "
        "платежи разносятся по долгам (сначала названный месяц, затем самые старые)."
    ),
)
@_with_options
@click.pass_obj
def import_payments_command(
    settings: Settings,
    path: Path,
    organisation: str | None,
    dry_run: bool,
    mapping_path: Path | None,
) -> None:
    from storage.database import make_engine, make_session_factory
    from storage.importing import ImportFailed, import_payments

    engine = make_engine(settings.database_url)
    try:
        with _progress_bar() as bar:
            summary = import_payments(
                make_session_factory(engine), path, organisation=organisation,
                mapping_path=mapping_path, dry_run=dry_run, today=dt.date.today(),
                progress=RichProgress(bar),
            )  # fmt: skip
    except ImportFailed as err:
        raise _fail(err) from err
    finally:
        engine.dispose()
    print_payment_summary(summary)
