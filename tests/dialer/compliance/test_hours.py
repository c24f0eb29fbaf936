"""Calling hours in the debtor's local time, by the Russian production calendar."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.compliance import (
    LEGAL_DAY_OFF,
    LEGAL_WORKDAY,
    ComplianceConfigError,
    DailyWindow,
    HoursPolicy,
    ProductionCalendar,
    is_callable_at,
    next_callable_at,
)

ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Kaliningrad",
        "Europe/Moscow",
        "Europe/Samara",
        "Asia/Yekaterinburg",
        "Asia/Novosibirsk",
        "Asia/Vladivostok",
        "Asia/Kamchatka",
    )
]
CALENDAR = ProductionCalendar()

moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 1), timezones=st.just(dt.UTC)
)


def test_the_production_calendar_knows_holidays_and_transfers() -> None:
    assert CALENDAR.is_day_off(dt.date(2026, 1, 5))  # New Year holidays, a Monday
    assert CALENDAR.is_day_off(dt.date(2025, 5, 2))  # a Friday off by transfer
    assert CALENDAR.is_day_off(dt.date(2026, 3, 9))  # 8 March on a Sunday moves to Monday
    assert not CALENDAR.is_day_off(dt.date(2026, 11, 23))  # an ordinary Monday
    assert CALENDAR.is_day_off(dt.date(2026, 11, 22))  # Sunday


def test_a_working_saturday_keeps_the_weekend_window_unless_told() -> None:
    saturday = dt.date(2025, 11, 1)  # a working day by the 2025 transfer decree
    assert CALENDAR.is_day_off(saturday)
    assert not ProductionCalendar(honour_working_weekends=True).is_day_off(saturday)


def test_corrections_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "days.csv"
    path.write_text(
        "date,kind,comment\n2026-11-23,day_off,региональный праздник\n2026-11-22,workday,\n",
        encoding="utf-8",
    )
    calendar = ProductionCalendar.from_file(path)
    assert calendar.is_day_off(dt.date(2026, 11, 23))
    assert not calendar.is_day_off(dt.date(2026, 11, 22))


def test_a_bad_correction_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "days.csv"
    path.write_text("2026-11-23,holiday\n", encoding="utf-8")
    with pytest.raises(ComplianceConfigError, match=r"days.csv:1"):
        ProductionCalendar.from_file(path)


def test_windows_wider_than_the_law_are_refused() -> None:
    with pytest.raises(ComplianceConfigError):
        HoursPolicy(workday=DailyWindow(dt.time(7, 30), dt.time(21, 0)))
    with pytest.raises(ComplianceConfigError):
        HoursPolicy(day_off=DailyWindow(dt.time(9, 0), dt.time(20, 30)))


def test_the_window_is_local_to_the_debtor() -> None:
    policy = HoursPolicy(end_margin=dt.timedelta(0))
    # 02:30 UTC on a Monday is 09:30 in Novosibirsk (UTC+7) and 05:30 in Moscow.
    moment = dt.datetime(2026, 11, 23, 2, 30, tzinfo=dt.UTC)
    assert is_callable_at(moment, ZoneInfo("Asia/Novosibirsk"), CALENDAR, policy)
    assert not is_callable_at(moment, ZoneInfo("Europe/Moscow"), CALENDAR, policy)


def test_the_end_margin_keeps_the_close_free() -> None:
    policy = HoursPolicy(end_margin=dt.timedelta(minutes=10))
    zone = ZoneInfo("Europe/Moscow")
    assert is_callable_at(dt.datetime(2026, 11, 23, 21, 50, tzinfo=zone), zone, CALENDAR, policy)
    assert not is_callable_at(
        dt.datetime(2026, 11, 23, 21, 51, tzinfo=zone), zone, CALENDAR, policy
    )


def test_an_organisation_narrows_the_window() -> None:
    policy = HoursPolicy().narrowed(
        DailyWindow(dt.time(9, 10), dt.time(19, 50)), DailyWindow(dt.time(10), dt.time(23))
    )
    assert policy.workday == DailyWindow(dt.time(9, 10), dt.time(19, 50))
    assert policy.day_off == DailyWindow(dt.time(10), dt.time(20))


@given(moment=moments, zone=st.sampled_from(ZONES), margin=st.integers(0, 60))
def test_callable_moments_are_inside_the_legal_window(
    moment: dt.datetime, zone: ZoneInfo, margin: int
) -> None:
    policy = HoursPolicy(end_margin=dt.timedelta(minutes=margin))
    local = moment.astimezone(zone)
    legal = LEGAL_DAY_OFF if CALENDAR.is_day_off(local.date()) else LEGAL_WORKDAY
    if is_callable_at(moment, zone, CALENDAR, policy):
        assert legal.start <= local.time().replace(tzinfo=None)
        end = dt.datetime.combine(local.date(), legal.end, tzinfo=zone)
        assert local + dt.timedelta(minutes=margin) <= end


@given(moment=moments, zone=st.sampled_from(ZONES))
def test_the_next_callable_moment_is_callable_and_never_earlier(
    moment: dt.datetime, zone: ZoneInfo
) -> None:
    policy = HoursPolicy()
    following = next_callable_at(moment, zone, CALENDAR, policy)
    assert following is not None
    assert following >= moment
    assert is_callable_at(following, zone, CALENDAR, policy)
    if is_callable_at(moment, zone, CALENDAR, policy):
        assert following == moment
    else:
        # Nothing callable in between: one minute before it is still closed (or it is now).
        before = following - dt.timedelta(minutes=1)
        assert before < moment or not is_callable_at(before, zone, CALENDAR, policy)
