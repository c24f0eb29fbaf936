"""Bulk writes straight through the database driver, for imports of a million rows.

SQLAlchemy's per-row parameter processing costs more than SQLite's own insert; here each
column's conversion is chosen once per statement and rows go to the driver's
``executemany`` as plain tuples. Values must be what the mapped types accept (Decimal
money, ``date``, zone-aware ``datetime``); they are converted as the types would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from storage.models.base import Money

__all__ = ["insert_rows", "update_rows"]

_Convert = Callable[[object], object]


def _identity(value: object) -> object:
    return value


def _sqlite_money(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, got {type(value).__name__}")
    return str(value.quantize(Decimal("0.01")))


def _sqlite_date(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def _converter(column: sa.Column[object], dialect: Dialect) -> _Convert:
    if dialect.name == "sqlite":
        if isinstance(column.type, Money):
            return _sqlite_money
        if type(column.type) is sa.Date:
            return _sqlite_date
    # dialect_impl: a TypeDecorator's processor runs process_bind_param, then the impl's.
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor if processor is not None else _identity


def _placeholder(dialect: Dialect, name: str) -> str:
    match dialect.paramstyle:
        case "qmark":
            return "?"
        case "format" | "pyformat":
            return "%s"
        case _:
            raise NotImplementedError(f"paramstyle {dialect.paramstyle} is not supported")


def _converted(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    tail: Sequence[object] = (),
) -> list[tuple[object, ...]]:
    converters = [_converter(table.c[name], connection.dialect) for name in columns]
    active = [(i, f) for i, f in enumerate(converters) if f is not _identity]
    converted: list[tuple[object, ...]] = []
    for row in rows:
        values = list(row)
        for index, convert in active:
            values[index] = convert(values[index])
        values.extend(tail)
        converted.append(tuple(values))
    return converted


def insert_rows(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    constants: Mapping[str, object] | None = None,
) -> None:
    """``INSERT`` every row (values in ``columns`` order) in one ``executemany``.

    ``constants`` are the same for every row (converted once, not per row).
    """
    if not rows:
        return
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    fixed = dict(constants or {})
    every = (*columns, *fixed)
    names = ", ".join(quote(c) for c in every)
    marks = ", ".join(_placeholder(dialect, c) for c in every)
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"
    tail = [_converter(table.c[name], dialect)(value) for name, value in fixed.items()]
    connection.exec_driver_sql(sql, _converted(connection, table, columns, rows, tail))


def update_rows(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
) -> None:
    """``UPDATE … WHERE id = ?`` for every row: values in ``columns`` order, then the id."""
    if not rows:
        return
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(c)} = {_placeholder(dialect, c)}" for c in columns)
    sql = f"UPDATE {quote(table.name)} SET {sets} WHERE id = {_placeholder(dialect, 'id')}"
    connection.exec_driver_sql(sql, _converted(connection, table, (*columns, "id"), rows))
