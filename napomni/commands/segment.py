"""``napomni segment``: counts and sums of debtors per segment and per debtor type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from dialer.segments import SegmentTotal

__all__ = ["print_segments", "segment"]

SEGMENT_TITLES = {
    "clear": "без долга",
    "green": "зелёный",
    "yellow": "жёлтый (за жёлтой чертой)",
    "red": "красный (за красной чертой)",
}
TYPE_TITLES = {
    "first_time": "впервые",
    "holiday_gap": "летний пропуск (все услуги)",
    "single_service": "одна услуга не оплачена",
    "chronic": "хронический",
    "other": "прочие",
}


def _money(value: object) -> str:
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",")


def _table(
    title: str, first_column: str, totals: Sequence[SegmentTotal], names: dict[str, str]
) -> object:
    from rich.table import Table

    table = Table(title=title)
    table.add_column(first_column)
    for column in ("ЛС", "Долг, ₽", "Пени (1С), ₽", "Пени по ст.155, ₽"):
        table.add_column(column, justify="right")
    for total in totals:
        table.add_row(
            names.get(total.name, total.name), str(total.accounts), _money(total.debt),
            _money(total.peni), _money(total.peni_estimate),
        )  # fmt: skip
    return table


def print_segments(
    organisation: str,
    as_of: dt.date,
    by_segment: Sequence[SegmentTotal],
    by_type: Sequence[SegmentTotal],
) -> None:
    """Print the two tables (segments, debtor types) to the terminal."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(width=110)
    console.print(
        _table(
            f"«{escape(organisation)}» на {as_of:%d.%m.%Y}: сегменты",
            "Сегмент",
            by_segment,
            SEGMENT_TITLES,
        )
    )
    console.print(_table("Типы должников", "Тип", by_type, TYPE_TITLES))


@click.command(
    help="Сегменты должников (зелёный / жёлтый / красный) и типы должников: количество и суммы."
)
@click.option(
    "--org", "organisation", default=None, help="Организация; по умолчанию единственная в базе."
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%d.%m.%Y", "%Y-%m-%d"]),
    default=None,
    help="На дату (дд.мм.гггг); по умолчанию сегодня.",
)
@click.pass_obj
def segment(settings: Settings, organisation: str | None, as_of: dt.datetime | None) -> None:
    from dialer.segments import segment_accounts, summarise
    from storage.database import make_engine, make_session_factory
    from storage.errors import OrganisationNotFound
    from storage.organisations import find_organisation

    day = as_of.date() if as_of is not None else dt.date.today()
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            try:
                found = find_organisation(session, organisation)
            except OrganisationNotFound as err:
                raise click.ClickException(str(err)) from err
            by_segment, by_type = summarise(segment_accounts(session, found.id, day))
            name = found.name
    finally:
        engine.dispose()
    print_segments(name, day, by_segment, by_type)
