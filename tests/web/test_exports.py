"""Exports never carry a live formula (issue 14, item 3): 1С text is data, not code."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Building
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld
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


async def test_an_address_from_1c_downloads_as_text_from_the_server(
    make_user: Callable[[], Awaitable[WebUser]],
    web_world: WebWorld,
    session_factory: sessionmaker[Session],
) -> None:
    """The probe's case end to end: a 1С address «=1+1 …» in a building, the transparency
    report downloaded from a real server as XLSX and CSV."""
    address = f"=1+1 г. Тверь, ул. Советская, д. 1 ({web_world.org_a})"
    with session_factory.begin() as session:
        session.get_one(Building, web_world.building_a).address = address
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.MANAGER]) == 303
    async with user.http.get("/transparency.xlsx?months=24") as response:
        assert response.status == 200
        sheet = load_workbook(io.BytesIO(await response.read())).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == address]
    assert cells
    assert all(cell.data_type == "s" for cell in cells)
    async with user.http.get("/transparency.csv?months=24") as response:
        assert response.status == 200
        body = (await response.read()).decode("cp1251")
    rows = list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))
    assert ["'" + address] == [cell for row in rows for cell in row if address in cell]
