"""The transparency page (per building, share of charges collected) and its exports."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from web.access import ALL_ROLES, roles
from web.db import in_read, in_thread
from web.exports import ExportColumn, ExportTable, to_csv_1c, to_xlsx
from web.pages import format_period, render
from web.requests import principal_of, query_int
from web.responses import download, json_ok
from web.routing import ApiDoc, Param, RouteTable
from web.transparency import TransparencyReport, building_shares, month_range

__all__ = ["register", "transparency_table"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv"


async def _report(request: web.Request) -> TransparencyReport:
    principal = principal_of(request)
    months = query_int(request, "months", 12, low=1, high=120)
    today = dt.date.today()
    first, last = month_range(today, months)
    return await in_read(request.app, lambda db: building_shares(db, principal, first, last))


def transparency_table(report: TransparencyReport) -> ExportTable:
    """The report as an export table."""
    columns = (
        ExportColumn("Организация"),
        ExportColumn("Дом"),
        ExportColumn("Лицевых счетов", "int"),
        ExportColumn("Начислено", "money"),
        ExportColumn("Оплачено", "money"),
        ExportColumn("Собрано", "share"),
        ExportColumn("Долг", "money"),
    )
    rows = [
        (r.organisation, r.address, r.accounts, r.charged, r.paid, r.share, r.debt)
        for r in [*report.rows, report.total]
    ]
    title = (
        f"Прозрачность {format_period(report.first_period)} – {format_period(report.last_period)}"
    )
    return ExportTable(title=title, columns=columns, rows=rows)


async def transparency_page(request: web.Request) -> web.Response:
    """The printable page."""
    report = await _report(request)
    months = query_int(request, "months", 12, low=1, high=120)
    return await render(request, "transparency.html", {"report": report, "months": months})


async def transparency_xlsx(request: web.Request) -> web.Response:
    """The report as XLSX."""
    table = transparency_table(await _report(request))
    body = await in_thread(request.app, lambda: to_xlsx(table))
    return download(body, "прозрачность.xlsx", XLSX_TYPE)


async def transparency_csv(request: web.Request) -> web.Response:
    """The report as CSV for 1С (cp1251)."""
    table = transparency_table(await _report(request))
    body = await in_thread(request.app, lambda: to_csv_1c(table))
    response = download(body, "прозрачность.csv", CSV_TYPE)
    response.charset = "cp1251"
    return response


async def transparency_api(request: web.Request) -> web.Response:
    """API: the report as JSON."""
    report = await _report(request)
    return json_ok(
        {
            "first_period": report.first_period,
            "last_period": report.last_period,
            "rows": [_row(r) for r in report.rows],
            "total": _row(report.total),
        }
    )


def _row(row: object) -> dict[str, object]:
    from web.transparency import BuildingShare

    if not isinstance(row, BuildingShare):
        raise TypeError("a BuildingShare expected")
    return {
        "building_id": row.building_id,
        "organisation": row.organisation,
        "address": row.address,
        "accounts": row.accounts,
        "charged": row.charged,
        "paid": row.paid,
        "share": None if row.share is None else str(row.share),
        "debt": row.debt,
    }


_MONEY = {"type": "string"}
_ROW = {
    "type": "object",
    "required": ["address", "accounts", "charged", "paid", "share", "debt"],
    "properties": {
        "building_id": {"type": ["integer", "null"]},
        "organisation": {"type": "string"},
        "address": {"type": "string"},
        "accounts": {"type": "integer"},
        "charged": _MONEY,
        "paid": _MONEY,
        "share": {"type": ["string", "null"]},
        "debt": _MONEY,
    },
}
_MONTHS = Param(
    "months", "query", {"type": "integer", "minimum": 1, "maximum": 120}, "За сколько месяцев"
)


def register(table: RouteTable) -> None:
    """Add this module's routes."""
    policy = roles(*ALL_ROLES)
    table.add("GET", "/transparency", transparency_page, policy, name="transparency")
    table.add("GET", "/transparency.xlsx", transparency_xlsx, policy)
    table.add("GET", "/transparency.csv", transparency_csv, policy)
    table.add(
        "GET",
        "/api/transparency",
        transparency_api,
        policy,
        api=ApiDoc(
            operation_id="transparency",
            summary="По домам: начислено, оплачено, доля собранного",
            tag="reports",
            response={
                "type": "object",
                "required": ["first_period", "last_period", "rows", "total"],
                "properties": {
                    "first_period": {"type": "string", "format": "date"},
                    "last_period": {"type": "string", "format": "date"},
                    "rows": {"type": "array", "items": _ROW},
                    "total": _ROW,
                },
            },
            params=(_MONTHS,),
            errors=(400, 401, 403),
        ),
    )
