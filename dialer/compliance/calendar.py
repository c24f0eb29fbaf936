"""The Russian production calendar: which dates are non-working days.

230-ФЗ art. 7 allows calls from 08:00 to 22:00 on working days and from 09:00 to 20:00 on
weekends and non-working holidays. The holidays and the days off moved by government decree
come from the maintained ``holidays`` package (its Russia calendar includes the transferred
days off, e.g. 2025-05-02 and 2025-12-31). A team can add or correct dates without a release
through a small CSV file (``date,kind,comment`` with kind ``day_off`` or ``workday``).

A Saturday made a working day by a transfer (2025-11-01) is legally a working day, but the
weekend window 09–20 is lawful on both readings, so by default it keeps the weekend window;
``honour_working_weekends=True`` gives it the working-day window.
"""

from __future__ import annotations

import csv
import datetime as dt
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import holidays

from dialer.compliance.errors import ComplianceConfigError

__all__ = ["ProductionCalendar"]

_SATURDAY = 5


@lru_cache(maxsize=64)
def _russian_holidays(year: int) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """(days off, weekend workdays) of one year from the ``holidays`` package."""
    calendar = holidays.country_holidays("RU", years=year)
    days_off = frozenset(day for day in calendar if day.year == year)
    workdays = frozenset(getattr(calendar, "weekend_workdays", ()) or ())
    return days_off, workdays


_LOCK = threading.Lock()


class ProductionCalendar:
    """Answers whether a date is a non-working day in Russia.

    Thread-safe and cheap: one year of the ``holidays`` calendar is computed once per process.
    """

    __slots__ = ("_extra_days_off", "_extra_workdays", "_honour_working_weekends")

    def __init__(
        self,
        *,
        extra_days_off: Iterable[dt.date] = (),
        extra_workdays: Iterable[dt.date] = (),
        honour_working_weekends: bool = False,
    ) -> None:
        self._extra_days_off = frozenset(extra_days_off)
        self._extra_workdays = frozenset(extra_workdays)
        overlap = self._extra_days_off & self._extra_workdays
        if overlap:
            first = min(overlap).isoformat()
            raise ComplianceConfigError(f"дата {first} указана и выходной, и рабочей")
        self._honour_working_weekends = honour_working_weekends

    @classmethod
    def from_file(cls, path: Path, *, honour_working_weekends: bool = False) -> ProductionCalendar:
        """A calendar with corrections from a CSV file: ``date,kind,comment`` per row."""
        days_off: list[dt.date] = []
        workdays: list[dt.date] = []
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.reader(handle))
        except OSError as err:
            raise ComplianceConfigError(f"{path}: не удалось прочитать ({err})") from err
        for number, row in enumerate(rows, start=1):
            if not row or row[0].startswith("#") or row[0] == "date":
                continue
            if len(row) < 2:
                raise ComplianceConfigError(f"{path}:{number}: ожидается «дата,вид[,комментарий]»")
            try:
                day = dt.date.fromisoformat(row[0].strip())
            except ValueError as err:
                raise ComplianceConfigError(f"{path}:{number}: дата {row[0]!r} не в ISO") from err
            match row[1].strip():
                case "day_off":
                    days_off.append(day)
                case "workday":
                    workdays.append(day)
                case other:
                    raise ComplianceConfigError(
                        f"{path}:{number}: вид {other!r}, ожидается day_off или workday"
                    )
        return cls(
            extra_days_off=days_off,
            extra_workdays=workdays,
            honour_working_weekends=honour_working_weekends,
        )

    def is_day_off(self, day: dt.date) -> bool:
        """Whether ``day`` is a weekend or a non-working holiday (the 09–20 window applies)."""
        if day in self._extra_days_off:
            return True
        if day in self._extra_workdays:
            return False
        with _LOCK:  # the lru_cache fill is not atomic and ``holidays`` is not thread-safe
            days_off, weekend_workdays = _russian_holidays(day.year)
        if day in days_off:
            return True
        if day.weekday() >= _SATURDAY:
            return not (self._honour_working_weekends and day in weekend_workdays)
        return False
