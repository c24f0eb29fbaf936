"""Managers' reports: one page with tables and bar charts, exports to XLSX and CSV, API."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from aiohttp import web
from sqlalchemy.orm import Session

from dialer.messages import message_counts
from web.access import REPORT_ROLES, Principal, roles
from web.charts import (
    Chart,
    money_after_contact_chart,
    promises_chart,
    reasons_chart,
    robot_vs_human_chart,
)
from web.db import in_read, in_thread
from web.errors import BadInput, NotFound
from web.exports import ExportTable, to_csv_1c, to_xlsx
from web.pages import render
from web.report_weeks import (
    WeekMoney,
    WeekPromises,
    WeekReasons,
    money_after_contact_by_week,
    promises_by_week,
    reasons_by_week,
)
from web.reports import (
    REASON_GROUPINGS,
    REASON_TAGS,
    REASON_TITLES,
    ReportPeriod,
    funnel,
    funnel_table,
    paid_after,
    paid_after_table,
    promises_by_month,
    promises_table,
    reasons,
    reasons_table,
)
from web.requests import principal_of, query_text
from web.responses import download, json_ok
from web.robot_vs_human import (
    SideRow,
    robot_vs_human,
    robot_vs_human_counts,
    robot_vs_human_table,
    with_paid_shares,
)
from web.routing import ApiDoc, Param, RouteTable
from web.transfer_reports import transfer_report, transfer_side

__all__ = ["register", "report_period"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DEFAULT_DAYS = 90


def report_period(request: web.Request) -> ReportPeriod:
    """The period a report request asks for (`from`, `to`; the last 90 days by default)."""
    today = dt.date.today()

    def day(name: str, default: dt.date) -> dt.date:
        text = query_text(request, name, max_length=10)
        if not text:
            return default
        try:
            value = dt.date.fromisoformat(text)
        except ValueError as err:
            raise BadInput(f"параметр {name}: дата ГГГГ-ММ-ДД") from err
        # Reports reach a day past the period and years before it: 9999-12-31 overflowed.
        if not 2000 <= value.year <= 2100:
            raise BadInput(f"параметр {name}: год от 2000 до 2100")
        return value

    first = day("from", today - dt.timedelta(days=DEFAULT_DAYS))
    last = day("to", today)
    if last < first:
        raise BadInput("параметр to: раньше, чем from")
    if (last - first).days > 3660:
        raise BadInput("период: не больше десяти лет")
    return ReportPeriod(first, last)


def _by(request: web.Request) -> str:
    by = request.query.get("by", "building")
    if by not in REASON_GROUPINGS:
        raise BadInput(f"параметр by: {' или '.join(REASON_GROUPINGS)}")
    return by


def _robot_vs_human(db: Session, p: Principal, period: ReportPeriod) -> ExportTable:
    paid = paid_after(db, p, period, dt.date.today())
    return robot_vs_human_table(robot_vs_human(db, p, period, paid, funnel(db, p, period)))


# The reasons always shown beside the chosen grouping: the groups fixed at each call.
_GROUPED = (
    ("service", "по услугам",
     "Звонок считается под каждой услугой, долг по которой был у лицевого счёта в момент "
     "звонка, поэтому строки в сумме могут дать больше звонков."),
    ("segment", "по сегментам",
     "Сегмент (зелёный, за жёлтой или красной чертой) — каким он был, когда кампания "
     "поставила счёт в очередь."),
    ("debtor_type", "по типам должников",
     "Тип должника — каким он был, когда кампания поставила счёт в очередь."),
)  # fmt: skip

TableMaker = Callable[[Session, Principal, ReportPeriod, str], ExportTable]

REPORTS: dict[str, tuple[str, TableMaker]] = {
    "reasons": ("Причины неоплаты", lambda db, p, period, by: reasons_table(reasons(db, p, period, by), by)),
    "funnel": ("Воронка звонков", lambda db, p, period, by: funnel_table(funnel(db, p, period))),
    "promises": ("Обещания", lambda db, p, period, by: promises_table(promises_by_month(db, p, period))),
    "paid_after": ("Оплаты после контакта",
                   lambda db, p, period, by: paid_after_table(paid_after(db, p, period, dt.date.today()))),
    "robot_vs_human": ("Робот и взыскатель", lambda db, p, period, by: _robot_vs_human(db, p, period)),
}  # fmt: skip


async def reports_page(request: web.Request) -> web.Response:
    """All reports on one page."""
    principal = principal_of(request)
    period = report_period(request)
    by = _by(request)

    def rest(db: Session) -> tuple[dict[str, object], list[SideRow]]:
        funnel_rows = funnel(db, principal, period)
        return {
            "reasons": reasons(db, principal, period, by),
            "grouped_reasons": [
                {"by": g, "title": title, "note": note, "column": REASON_GROUPINGS[g],
                 "rows": reasons(db, principal, period, g),
                 "query": f"from={period.first.isoformat()}&to={period.last.isoformat()}&by={g}"}
                for g, title, note in _GROUPED
            ],
            "funnel": funnel_rows,
            "promises": promises_by_month(db, principal, period),
            "messages": message_counts(
                db,
                None if principal.organisation_ids is None else sorted(principal.organisation_ids),
                period.start,
                period.start + dt.timedelta(days=(period.last - period.first).days + 1),
            ),
        }, robot_vs_human_counts(db, principal, period, funnel_rows)  # fmt: skip

    # Paid-after is most of the page's time: read it on a second connection meanwhile.
    paid, (context, sides) = await asyncio.gather(
        in_read(request.app, lambda db: paid_after(db, principal, period, dt.date.today())),
        in_read(request.app, rest),
    )
    context["paid_after"] = paid
    context["robot_vs_human"] = sides_paid = with_paid_shares(sides, paid)
    # The charts: the same summaries by week, drawn on the service's threads.
    weekly = await in_read(request.app, lambda db: _weekly(db, principal, period))
    context["charts"] = await in_thread(request.app, lambda: _charts(weekly, sides_paid))
    # Live transfers to a collector (issue 16), beside robot vs human.
    transfers = await in_read(request.app, lambda db: transfer_report(db, principal, period))
    context["transfers"], context["transfer_side"] = transfers, transfer_side(transfers)
    context.update(
        period=period,
        by=by,
        reason_tags=REASON_TAGS,
        reason_titles=REASON_TITLES,
        by_title=REASON_GROUPINGS[by],
        query=f"from={period.first.isoformat()}&to={period.last.isoformat()}&by={by}",
    )
    return await render(request, "reports.html", context)


Weekly = tuple[list[WeekPromises], list[WeekMoney], list[WeekReasons]]


def _weekly(db: Session, principal: Principal, period: ReportPeriod) -> Weekly:
    return (
        promises_by_week(db, principal, period),
        money_after_contact_by_week(db, principal, period),
        reasons_by_week(db, principal, period),
    )


def _charts(weekly: Weekly, sides: list[SideRow]) -> list[Chart]:
    promises_weeks, money_weeks, reason_weeks = weekly
    return [
        promises_chart(promises_weeks),
        money_after_contact_chart(money_weeks),
        reasons_chart(reason_weeks, REASON_TAGS),
        robot_vs_human_chart(sides),
    ]


def _maker(request: web.Request) -> tuple[str, TableMaker]:
    name = request.match_info["name"]
    if name not in REPORTS:
        raise NotFound("нет такого отчёта")
    return REPORTS[name]


async def report_export(request: web.Request) -> web.Response:
    """One report as XLSX or CSV (cp1251, for 1С)."""
    principal = principal_of(request)
    period, by = report_period(request), _by(request)
    title, make = _maker(request)
    table = await in_read(request.app, lambda db: make(db, principal, period, by))
    stem = f"{title} {period.first.isoformat()}–{period.last.isoformat()}"
    if request.match_info["fmt"] == "xlsx":
        body = await in_thread(request.app, lambda: to_xlsx(table))
        return download(body, f"{stem}.xlsx", XLSX_TYPE)
    body = await in_thread(request.app, lambda: to_csv_1c(table))
    response = download(body, f"{stem}.csv", "text/csv")
    response.charset = "cp1251"
    return response


async def report_api(request: web.Request) -> web.Response:
    """API: one report as titled columns and rows."""
    principal = principal_of(request)
    period, by = report_period(request), _by(request)
    _, make = _maker(request)
    table = await in_read(request.app, lambda db: make(db, principal, period, by))
    return json_ok(
        {
            "title": table.title,
            "columns": [c.title for c in table.columns],
            "rows": [list(row) for row in table.rows],
        }
    )


def register(table: RouteTable) -> None:
    """Add this module's routes."""
    policy = roles(*REPORT_ROLES)
    table.add("GET", "/reports", reports_page, policy, name="reports")
    table.add(
        "GET",
        r"/reports/{name:reasons|funnel|promises|paid_after|robot_vs_human}.{fmt:xlsx|csv}",
        report_export,
        policy,
    )
    table.add(
        "GET",
        "/api/reports/{name}",
        report_api,
        policy,
        api=ApiDoc(
            "getReport",
            "Отчёт: reasons (by: дом, месяц, услуга, сегмент, тип должника), funnel, promises, paid_after, robot_vs_human",
            "reports",
            {
                "type": "object",
                "required": ["title", "columns", "rows"],
                "properties": {
                    "title": {"type": "string"},
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "rows": {"type": "array", "items": {"type": "array"}},
                },
            },
            params=(
                Param("name", "path", {"type": "string", "enum": list(REPORTS)}, "Какой отчёт"),
                Param("from", "query", {"type": "string", "format": "date"}, "С даты"),
                Param("to", "query", {"type": "string", "format": "date"}, "По дату"),
                Param(
                    "by",
                    "query",
                    {"type": "string", "enum": list(REASON_GROUPINGS)},
                    "Группировка причин",
                ),
            ),
            errors=(400, 401, 403, 404),
        ),
    )
