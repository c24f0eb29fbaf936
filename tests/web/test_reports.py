"""Reports, transparency and their exports (XLSX, CSV for 1С), on a seeded call history."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable

import openpyxl

from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld
from tests.web.conftest import called_world as called_world

MakeUser = Callable[[], Awaitable[WebUser]]


async def _signed_in_manager(make_user: MakeUser, world: WebWorld) -> WebUser:
    user = await make_user()
    assert await user.sign_in(world.logins[UserRole.MANAGER]) == 303
    return user


async def test_reports_count_reasons_funnel_promises_and_payments(
    make_user: MakeUser, called_world: WebWorld
) -> None:
    user = await _signed_in_manager(make_user, called_world)
    async with user.http.get("/api/reports/reasons", params={"by": "building"}) as response:
        reasons = await response.json()
    assert reasons["columns"][:3] == ["Дом", "Звонков", "нет денег"]
    assert len(reasons["rows"]) == 1
    assert reasons["rows"][0][1:4] == [1, 1, 0]

    async with user.http.get("/api/reports/funnel") as response:
        funnel = (await response.json())["rows"]
    assert [row[1:7] for row in funnel] == [[1, 1, 1, 0, 1, "1000.00"]]

    async with user.http.get("/api/reports/promises") as response:
        promises = (await response.json())["rows"]
    assert [row[1:6] for row in promises] == [[1, "1000.00", 1, "1000.00", 0]]

    async with user.http.get("/api/reports/paid_after") as response:
        paid = (await response.json())["rows"]
    robot_7 = next(r for r in paid if r[0] == "после разговора с роботом" and r[1] == 7)
    assert robot_7[2:4] == [1, 1]
    assert robot_7[5] == "1000.00"
    robot_30 = next(r for r in paid if r[0] == "после разговора с роботом" and r[1] == 30)
    assert robot_30[2] == 0  # 20 days ago: the 30-day window is not complete yet


async def test_report_page_and_exports(make_user: MakeUser, called_world: WebWorld) -> None:
    user = await _signed_in_manager(make_user, called_world)
    async with user.http.get("/reports") as response:
        assert response.status == 200
        html = await response.text()
    assert "Причины неоплаты" in html
    assert "нет денег" in html

    async with user.http.get("/reports/reasons.csv") as response:
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        body = await response.read()
    rows = list(csv.reader(io.StringIO(body.decode("cp1251")), delimiter=";"))
    assert rows[0][:3] == ["Дом", "Звонков", "нет денег"]
    assert rows[1][1:3] == ["1", "1"]

    async with user.http.get("/reports/promises.xlsx") as response:
        assert response.status == 200
        workbook = openpyxl.load_workbook(io.BytesIO(await response.read()))
    sheet = workbook.active
    assert sheet is not None
    assert sheet.cell(row=1, column=2).value == "Дано"
    assert sheet.cell(row=2, column=3).value == 1000


async def test_transparency_shares_and_exports(make_user: MakeUser, web_world: WebWorld) -> None:
    user = await _signed_in_manager(make_user, web_world)
    async with user.http.get("/api/transparency", params={"months": "24"}) as response:
        report = await response.json()
    assert len(report["rows"]) == 1
    row = report["rows"][0]
    assert row["charged"] == "6000.00"
    assert row["paid"] == "4000.00"
    assert row["share"] == "0.6667"
    async with user.http.get("/transparency?months=24") as response:
        html = await response.text()
    assert "66,7" in html
    async with user.http.get("/transparency.csv?months=24") as response:
        text = (await response.read()).decode("cp1251")
    assert "6000,00;4000,00;66,7" in text
    async with user.http.get("/api/transparency", params={"months": "0"}) as response:
        assert response.status == 400


async def test_reasons_by_service_and_robot_vs_human(
    make_user: MakeUser, called_world: WebWorld
) -> None:
    user = await _signed_in_manager(make_user, called_world)
    async with user.http.get("/api/reports/reasons", params={"by": "service"}) as response:
        assert response.status == 200
        by_service = await response.json()
    assert by_service["columns"][:3] == ["Услуга с долгом на момент звонка", "Звонков", "нет денег"]
    # The account owed only for heating (October) when it was called.
    assert [row[:3] for row in by_service["rows"]] == [["Отопление", 1, 1]]

    # This call was stored without an attempt: its segment and debtor type are not known.
    for by in ("segment", "debtor_type"):
        async with user.http.get("/api/reports/reasons", params={"by": by}) as response:
            assert response.status == 200
            assert [row[:3] for row in (await response.json())["rows"]] == [["не определён", 1, 1]]

    async with user.http.get("/api/reports/robot_vs_human") as response:
        assert response.status == 200
        table = await response.json()
    robot, human = table["rows"]
    assert robot[:8] == ["робот", 1, 1, 1, "1000.00", 1, "1000.00", 0]
    assert robot[8] == "1.0000"  # paid within 7 days of the conversation
    assert human[:4] == ["взыскатель", 0, 0, 0]

    async with user.http.get("/reports") as response:
        html = await response.text()
    assert "<title>Отчёты — Напомни</title>" in html
    assert 'id="reasons-by-service"' in html
    assert 'id="reasons-by-segment"' in html
    assert 'id="reasons-by-debtor_type"' in html
    assert "Робот и взыскатель" in html
    async with user.http.get("/reports/robot_vs_human.csv") as response:
        assert response.status == 200
        rows = list(
            csv.reader(io.StringIO((await response.read()).decode("cp1251")), delimiter=";")
        )
    assert rows[0][:3] == ["Кто", "Контактов", "С должником"]
