"""Report charts: SVG drawn on the server, safe to embed, Russian labels, honest when empty;
the weekly figures behind them on both databases and the /reports page that shows them."""

from __future__ import annotations

import base64
import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.models import utc_now
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld
from tests.web.conftest import called_world as called_world
from web.access import Principal
from web.charts import (
    NO_DATA,
    Chart,
    ChartError,
    check_svg,
    money_after_contact_chart,
    promises_chart,
    reasons_chart,
    robot_vs_human_chart,
)
from web.report_weeks import (
    WeekMoney,
    WeekPromises,
    WeekReasons,
    money_after_contact_by_week,
    promises_by_week,
    reasons_by_week,
    week_of,
)
from web.reports import ReportPeriod
from web.robot_vs_human import SideRow

MakeUser = Callable[[], Awaitable[WebUser]]
SVG = "{http://www.w3.org/2000/svg}"
MONDAY = dt.date(2026, 9, 7)


def _texts(chart: Chart) -> str:
    """All the text of the chart, as a reader (or a screen reader) gets it."""
    root = ET.fromstring(chart.svg)  # parses as XML, or the test fails here
    assert root.tag == f"{SVG}svg"
    assert not [n for n in root.iter() if str(n.tag).endswith("script")]
    return " ".join("".join(n.itertext()) for n in root.iter(f"{SVG}text"))


def _side(name: str, contacts: int, promises: int) -> SideRow:
    zero = Decimal("0.00")
    return SideRow(name, contacts, contacts // 2, promises, zero, promises // 2, zero, 1, {}, {})


def test_promises_chart_has_the_three_series_and_russian_labels() -> None:
    weeks = [
        WeekPromises(MONDAY + dt.timedelta(weeks=n), made=4 + n, kept=2, broken=n % 2)
        for n in range(10)
    ]
    chart = promises_chart(weeks)
    text = _texts(chart)
    for label in ("Обещания оплатить по неделям", "Дано", "Выполнено", "Нарушено", "07.09"):
        assert label in text
    assert not chart.empty
    assert "дано 85" in chart.alt
    assert chart.data_uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(chart.data_uri.split(",", 1)[1]).decode() == chart.svg


def test_money_reasons_and_robot_vs_human_charts() -> None:
    weeks = [MONDAY + dt.timedelta(weeks=n) for n in range(3)]
    money = money_after_contact_chart(
        [WeekMoney(w, Decimal("1500.50") * n) for n, w in enumerate(weeks)]
    )
    assert "Оплачено после разговора с роботом" in _texts(money)
    assert "₽" in _texts(money)
    reasons = reasons_chart(
        [WeekReasons(w, answered=10, counts={"financial_hardship": n, "away": 1}) for n, w in
         enumerate(weeks)],
        ["financial_hardship", "away", "refusal"],
    )  # fmt: skip
    text = _texts(reasons)
    assert "нет денег" in text
    assert "был в отъезде" in text
    assert "отказ" not in text  # a reason never heard is no line at all
    sides = robot_vs_human_chart([_side("Робот", 40, 6), _side("Взыскатель", 12, 3)])
    text = _texts(sides)
    for label in ("Робот", "Взыскатель", "Контактов", "Обещаний"):
        assert label in text


def test_empty_data_gives_an_honest_chart_not_an_error() -> None:
    empty_weeks = [WeekPromises(MONDAY), WeekPromises(MONDAY + dt.timedelta(weeks=1))]
    for chart in (
        promises_chart(empty_weeks),
        promises_chart([]),
        money_after_contact_chart([]),
        reasons_chart([], ["financial_hardship"]),
        robot_vs_human_chart([_side("Робот", 0, 0)]),
    ):
        assert chart.empty
        assert NO_DATA in _texts(chart)
        assert NO_DATA in chart.alt


def test_labels_are_escaped_and_scripts_refused() -> None:
    hostile = '<script>alert("x")</script> & "кавычки"'
    chart = robot_vs_human_chart([_side(hostile, 5, 1)])
    assert hostile in _texts(chart)  # shown as text, parsed back intact
    assert "<script>" not in chart.svg
    with pytest.raises(ChartError):
        check_svg('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    with pytest.raises(ChartError):
        check_svg('<svg xmlns="http://www.w3.org/2000/svg"><rect onload="alert(1)"/></svg>')


def test_weeks_start_on_monday() -> None:
    assert week_of(dt.date(2026, 9, 13)) == MONDAY  # a Sunday
    assert week_of(MONDAY) == MONDAY


def _principal(organisation_ids: frozenset[int] | None) -> Principal:
    return Principal(1, "test", "Тест", UserRole.MANAGER, organisation_ids, "csrf")


def test_weekly_figures_from_the_summaries(
    called_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    today = utc_now().date()
    period = ReportPeriod(today - dt.timedelta(days=60), today)
    own, other = (
        _principal(frozenset({called_world.org_a})),
        _principal(frozenset({called_world.org_b})),
    )
    with session_factory() as session:
        promises = promises_by_week(session, own, period)
        money = money_after_contact_by_week(session, own, period)
        reasons = reasons_by_week(session, own, period)
        assert sum(w.made for w in promises_by_week(session, other, period)) == 0
        assert sum(w.collected for w in money_after_contact_by_week(session, other, period)) == 0
    assert promises[0].week == week_of(period.first)
    assert promises[-1].week == week_of(today)  # every week listed, empty ones as zeros
    assert [(w.made, w.kept) for w in promises if w.made] == [(1, 1)]
    assert [w.collected for w in money if w.collected] == [Decimal("1000.00")]
    assert [w.counts["financial_hardship"] for w in reasons if w.answered] == [1]


async def test_reports_page_shows_the_charts_above_the_tables(
    make_user: MakeUser, called_world: WebWorld
) -> None:
    user = await make_user()
    assert await user.sign_in(called_world.logins[UserRole.MANAGER]) == 303
    async with user.http.get("/reports") as response:
        assert response.status == 200
        html = await response.text()
    charts = re.findall(
        r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', html
    )
    assert len(charts) == 4
    texts = [base64.b64decode(data).decode() for data, _alt in charts]
    for svg in texts:
        ET.fromstring(svg)
    assert "Дано" in texts[0]
    assert "нет денег" in texts[2]
    assert html.index('id="report-charts"') < html.index("<table")
    # a period without any call: every chart says so instead of failing
    async with user.http.get("/reports?from=2001-01-01&to=2001-03-01") as response:
        assert response.status == 200
        empty = await response.text()
    assert empty.count(f"{NO_DATA} за выбранный период") >= 4
