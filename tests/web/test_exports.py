"""Exports never carry a live formula (issue 14, item 3): 1С text is data, not code."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from web.exports import ExportColumn, ExportTable, to_csv_1c, to_xlsx

HOSTILE = [
    "=1+1 г. Тверь, ул. Советская, д. 1",
    "+7 (916) 123-45-67",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


def _table(address: str) -> ExportTable:
    return ExportTable(
        title="Отчёт",
        columns=[
            ExportColumn("Адрес"),
            ExportColumn("Долг", "money"),
            ExportColumn("Звонков", "int"),
            ExportColumn("Дата", "date"),
        ],
        rows=[[address, Decimal("-1234.50"), -3, dt.date(2026, 2, 1)]],
    )


@pytest.mark.parametrize("address", HOSTILE)
def test_xlsx_text_cells_are_strings_never_formulas(address: str) -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx(_table(address)))).active
    assert sheet is not None
    text, debt, calls, day = (cell for cell in sheet[2])
    assert text.data_type == "s"
    assert text.value == address.replace("\r", "\n")  # XML reads a CR as a line feed
    assert debt.value == pytest.approx(-1234.5)
    assert calls.value == -3
    assert day.value == dt.datetime(2026, 2, 1)


@pytest.mark.parametrize("address", HOSTILE)
def test_csv_cells_that_start_a_formula_are_neutralised(address: str) -> None:
    body = to_csv_1c(_table(address)).decode("cp1251")
    rows = list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))
    assert rows[1][0] == "'" + address
    # Numbers stay numbers: a negative sum is a number, not a formula.
    assert rows[1][1:] == ["-1234,50", "-3", "01.02.2026"]


def test_a_plain_address_is_written_as_it_is() -> None:
    body = to_csv_1c(_table("г. Тверь, ул. Советская, д. 1")).decode("cp1251")
    assert body.splitlines()[1].startswith("г. Тверь")
