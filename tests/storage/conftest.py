"""Fixtures of the storage tests: export files written the way 1С writes them."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

DEBT_BOOK_TABLES = (
    "organisations", "buildings", "accounts", "people", "phones", "debt_lines",
    "payments", "payment_allocations", "contact_events",
)  # fmt: skip

WriteExport = Callable[..., Path]


@pytest.fixture
def write_export(tmp_path: Path) -> WriteExport:
    """Write rows as a CSV export: ``write_export("x.csv", rows, encoding=..., delimiter=...)``."""

    def write(
        name: str,
        rows: Sequence[Sequence[object]],
        *,
        encoding: str = "cp1251",
        delimiter: str = ";",
    ) -> Path:
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as out:
            csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
        return path

    return write


def book_snapshot(engine: Engine) -> dict[str, object]:
    """Row counts of every debt-book table and the total debt: equal means unchanged."""
    with engine.connect() as connection:
        counts: dict[str, object] = {
            table: connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in DEBT_BOOK_TABLES
        }
        counts["debt"] = str(
            connection.execute(
                sa.text("SELECT COALESCE(SUM(debt), 0) FROM debt_lines")
            ).scalar_one()
        )
        counts["updated"] = str(
            connection.execute(sa.text("SELECT MAX(updated_at) FROM debt_lines")).scalar_one()
        )
    return counts
