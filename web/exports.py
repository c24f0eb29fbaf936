"""Report exports: XLSX (openpyxl) and CSV for 1С (cp1251, ``;``, decimal comma).

A report is turned into an :class:`ExportTable` (titled columns, typed cells); both
writers take that, so every report exports the same way.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Font

__all__ = ["Cell", "ExportColumn", "ExportTable", "to_csv_1c", "to_xlsx"]

Cell = str | int | Decimal | float | dt.date | None
ColumnKind = Literal["text", "int", "money", "share", "date"]

_XLSX_FORMATS = {
    "money": "#,##0.00",
    "share": "0.0%",
    "date": "DD.MM.YYYY",
    "int": "0",
}
# A spreadsheet reads a cell starting with one of these as a formula (OWASP «CSV injection»).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_XLSX_WIDTHS = {"text": 36, "int": 10, "money": 16, "share": 10, "date": 12}


@dataclass(frozen=True, slots=True)
class ExportColumn:
    """A titled column and how its cells are written."""

    title: str
    kind: ColumnKind = "text"


@dataclass(frozen=True, slots=True)
class ExportTable:
    """A report as rows of cells under titled columns."""

    title: str
    columns: Sequence[ExportColumn]
    rows: Sequence[Sequence[Cell]]


def to_xlsx(table: ExportTable) -> bytes:
    """An XLSX workbook with one sheet; numbers stay numbers, dates stay dates."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=table.title[:31] or "Отчёт")
    for index, column in enumerate(table.columns):
        letter = _column_letter(index)
        sheet.column_dimensions[letter].width = _XLSX_WIDTHS[column.kind]
    from openpyxl.cell import WriteOnlyCell

    header = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in table.rows:
        cells = []
        for column, value in zip(table.columns, row, strict=True):
            cell = WriteOnlyCell(sheet, value=_xlsx_value(value))
            if isinstance(value, str):
                # A 1С address «=1+1 г. Тверь» is a shared string: never a formula.
                cell.data_type = "s"
            number_format = _XLSX_FORMATS.get(column.kind)
            if number_format is not None and value is not None:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def _xlsx_value(value: Cell) -> Cell:
    # openpyxl writes Decimal as a number; a float keeps Excel's own arithmetic.
    return float(value) if isinstance(value, Decimal) else value


def _csv_value(value: Cell, kind: ColumnKind) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if kind == "share" and isinstance(value, (Decimal, float)):
        return f"{float(value) * 100:.1f}".replace(".", ",")
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, str):
        # Text that a spreadsheet would run as a formula gets a leading apostrophe.
        return "'" + value if value.startswith(_FORMULA_STARTS) else value
    return str(value)


def to_csv_1c(table: ExportTable) -> bytes:
    """CSV as 1С and Russian Excel read it: cp1251, ``;`` separator, ``,`` in numbers, CRLF.

    A character cp1251 cannot hold is written as ``?`` (the XLSX export keeps it).
    """
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([column.title for column in table.columns])
    for row in table.rows:
        writer.writerow(
            [
                _csv_value(value, column.kind)
                for column, value in zip(table.columns, row, strict=True)
            ]
        )
    return text.getvalue().encode("cp1251", errors="replace")
