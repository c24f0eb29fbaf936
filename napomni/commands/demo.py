"""``napomni demo``: the README's main job.

Each step is a function so that a longer demo (a live SIP campaign) can reuse them:
:func:`fresh_demo_database` → :func:`generate_demo_exports` → :func:`load_demo_exports`
→ :func:`print_demo_segments`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import click

from napomni.settings import Settings

__all__ = [
    "DEMO_AS_OF",
    "DEMO_ORGANISATION",
    "DemoExports",
    "demo",
    "fresh_demo_database",
    "generate_demo_exports",
    "load_demo_exports",
    "print_demo_segments",
]

DEMO_ORGANISATION = "УК «Тверской дом»"
DEMO_EXPORT_DATE = dt.date(2026, 11, 1)  # the day 1С made the export
DEMO_AS_OF = dt.date(2026, 11, 23)  # the day segments are computed for


@dataclass(frozen=True, slots=True)
class DemoExports:
    """The generated 1С files of the demo."""

    debts: Path
    payments: Path
    accounts: int


def fresh_demo_database(settings: Settings) -> tuple[Path, str]:
    """An empty ``<data dir>/demo/`` with a SQLite database upgraded to every migration."""
    from storage.database import upgrade_to_heads

    directory = settings.data_dir / "demo"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    url = f"sqlite:///{directory / 'napomni.db'}"
    upgrade_to_heads(url)
    return directory, url


def generate_demo_exports(directory: Path, accounts: int, seed: int = 1) -> DemoExports:
    """A debt export (cp1251, as 1С writes it) and the payments that came after it."""
    from storage.samples import write_debts, write_payments

    debts, payments = directory / "osv_1c.csv", directory / "payments_1c.csv"
    made = write_debts(debts, accounts, as_of=DEMO_EXPORT_DATE, seed=seed)
    write_payments(payments, made, as_of=DEMO_EXPORT_DATE, seed=seed + 1)
    return DemoExports(debts, payments, accounts)


def load_demo_exports(url: str, exports: DemoExports) -> None:
    """Import both files into the demo organisation and print the summaries."""
    from napomni.commands.importing import print_debt_summary, print_payment_summary
    from storage.database import make_engine, make_session_factory
    from storage.importing import import_debts, import_payments

    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        debts = import_debts(factory, exports.debts, organisation=DEMO_ORGANISATION)
        print_debt_summary(debts)
        payments = import_payments(
            factory, exports.payments, organisation=DEMO_ORGANISATION, today=DEMO_AS_OF
        )
        print_payment_summary(payments)
    finally:
        engine.dispose()


def print_demo_segments(url: str, as_of: dt.date = DEMO_AS_OF) -> None:
    """The segment table of the demo organisation."""
    from dialer.segments import segment_accounts, summarise
    from napomni.commands.segment import print_segments
    from storage.database import make_engine, make_session_factory
    from storage.organisations import find_organisation

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            organisation = find_organisation(session, DEMO_ORGANISATION)
            by_segment, by_type = summarise(segment_accounts(session, organisation.id, as_of))
    finally:
        engine.dispose()
    print_segments(DEMO_ORGANISATION, as_of, by_segment, by_type)


def create_demo_user(url: str) -> str:
    """An administrator ``demo`` with a fresh random password, for the demo's web pages."""
    import secrets

    from storage.database import make_engine, make_session_factory
    from storage.models.users import UserRole
    from web.passwords import hash_password
    from web.users import NewUser, create_user

    password = secrets.token_urlsafe(9)
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            create_user(
                session,
                NewUser("demo", hash_password(password), UserRole.ADMIN, display_name="Демо"),
            )
    finally:
        engine.dispose()
    return password


@click.command(
    help=(
        "Демонстрация: новая база SQLite в <каталог данных>/demo, выгрузки 1С с правдоподобными "
        "должниками, импорт долгов и платежей, таблица сегментов; затем живой обзвон по SIP "
        "на 127.0.0.1: Kamailio, пять имитированных должников, кампания, итоги."
    )
)
@click.option(
    "--accounts", type=click.IntRange(1, 100_000), default=300, show_default=True,
    help="Сколько лицевых счетов сгенерировать.",
)  # fmt: skip
@click.option(
    "--calls/--no-calls", default=True, show_default=True,
    help="Живой обзвон: Kamailio, имитация должников, кампания, итоги.",
)  # fmt: skip
@click.pass_obj
def demo(settings: Settings, accounts: int, calls: bool) -> None:
    from napomni.commands.db import quiet_migration_log
    from storage.importing import ImportFailed

    quiet_migration_log(settings)
    directory, url = fresh_demo_database(settings)
    click.echo(f"База демонстрации: {directory / 'napomni.db'}")
    exports = generate_demo_exports(directory, accounts)
    click.echo(f"Выгрузки 1С: {exports.debts.name}, {exports.payments.name} ({accounts} ЛС)")
    try:
        load_demo_exports(url, exports)
    except ImportFailed as err:
        raise click.ClickException(str(err)) from err
    print_demo_segments(url)
    if calls:
        from napomni.commands.demo_live import run_live_campaign

        run_live_campaign(settings, url, directory, DEMO_ORGANISATION)
    password = create_demo_user(url)
    click.echo("")
    click.echo(f"Веб-интерфейс: napomni --database-url {url} serve")
    click.echo(f"  затем http://127.0.0.1:8080/ — вход demo, пароль {password} (администратор)")
