"""``napomni sample debts|payments``: generate realistic 1С exports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

__all__ = ["sample"]

_AS_OF = dt.date(2026, 11, 1)


@click.group(help="Сгенерировать правдоподобные выгрузки 1С для проверки, демонстрации и замеров.")
def sample() -> None:
    pass


@sample.command("debts", help="Ведомость долгов: ЛС × 12 месяцев × 8 услуг (cp1251, «;»).")
@click.option(
    "--accounts",
    type=click.IntRange(1, 10_000_000),
    default=100,
    show_default=True,
    help="Сколько лицевых счетов.",
)
@click.option(
    "--months", type=click.IntRange(1, 60), default=12, show_default=True, help="Сколько месяцев."
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Зерно случайных чисел (тот же файл при том же зерне).",
)
@click.option(
    "--encoding",
    type=click.Choice(["cp1251", "utf-8", "utf-8-sig"]),
    default="cp1251",
    show_default=True,
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("debts.csv"),
    show_default=True,
)
@click.option(
    "--payments",
    "payments_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Заодно записать реестр платежей после выгрузки.",
)
def sample_debts(
    accounts: int, months: int, seed: int, encoding: str, out: Path, payments_out: Path | None
) -> None:  # fmt: skip
    from storage.samples import write_debts, write_payments

    made = write_debts(out, accounts, months=months, as_of=_AS_OF, seed=seed, encoding=encoding)
    click.echo(f"{out}: {accounts * months * 8} строк, лицевых счетов {accounts}")
    if payments_out is not None:
        count = write_payments(payments_out, made, as_of=_AS_OF, seed=seed + 1, encoding=encoding)
        click.echo(f"{payments_out}: платежей {count}")


@sample.command(
    "payments", help="Реестр платежей для ведомости, созданной с тем же --seed и --accounts."
)
@click.option("--accounts", type=click.IntRange(1, 10_000_000), default=100, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("payments.csv"),
    show_default=True,
)
def sample_payments(accounts: int, seed: int, out: Path) -> None:
    from storage.samples import sample_accounts, write_payments

    # The accounts and their habits come from the same seed as the debt export.
    count = write_payments(out, sample_accounts(accounts, seed), as_of=_AS_OF, seed=seed + 1)
    click.echo(f"{out}: платежей {count}")
