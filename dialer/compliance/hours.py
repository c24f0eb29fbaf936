"""Calling hours in the debtor's local time (230-ФЗ art. 7 ч.3 п.1).

Working days 08:00–22:00, weekends and non-working holidays 09:00–20:00, in the time zone of
the debtor's address (the account's IANA zone). An organisation or a campaign may only
narrow the window. A call is started only when it can also *end* inside the window: the
``end_margin`` (default 10 minutes, longer than any script) is kept free before the close.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from dialer.compliance.calendar import ProductionCalendar
from dialer.compliance.errors import ComplianceConfigError

__all__ = [
    "DailyWindow",
    "HoursPolicy",
    "LEGAL_WORKDAY",
    "LEGAL_DAY_OFF",
    "is_callable_at",
    "next_callable_at",
    "local_window",
]


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """A window of local wall-clock time within one day, ``start`` < ``end``."""

    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ComplianceConfigError(
                f"окно {self.start:%H:%M}–{self.end:%H:%M}: начало должно быть раньше конца"
            )

    def contains(self, other: DailyWindow) -> bool:
        """Whether ``other`` lies inside this window."""
        return self.start <= other.start and other.end <= self.end

    def intersect(self, other: DailyWindow | None) -> DailyWindow | None:
        """The common part of two windows, ``None`` when they do not overlap."""
        if other is None:
            return None
        start, end = max(self.start, other.start), min(self.end, other.end)
        return DailyWindow(start, end) if start < end else None

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


LEGAL_WORKDAY = DailyWindow(dt.time(8, 0), dt.time(22, 0))
LEGAL_DAY_OFF = DailyWindow(dt.time(9, 0), dt.time(20, 0))


@dataclass(frozen=True, slots=True)
class HoursPolicy:
    """When calls may start: a window for working days and one for days off.

    ``None`` for a day kind means no calls at all on such days. Construction refuses any
    window looser than the law, so an ``HoursPolicy`` is lawful by construction.
    """

    workday: DailyWindow | None = LEGAL_WORKDAY
    day_off: DailyWindow | None = LEGAL_DAY_OFF
    end_margin: dt.timedelta = field(default=dt.timedelta(minutes=10))

    def __post_init__(self) -> None:
        if self.workday is not None and not LEGAL_WORKDAY.contains(self.workday):
            raise ComplianceConfigError(
                f"окно рабочего дня {self.workday} шире разрешённого {LEGAL_WORKDAY}"
            )
        if self.day_off is not None and not LEGAL_DAY_OFF.contains(self.day_off):
            raise ComplianceConfigError(
                f"окно выходного дня {self.day_off} шире разрешённого {LEGAL_DAY_OFF}"
            )
        if self.end_margin < dt.timedelta(0):
            raise ComplianceConfigError("запас до конца окна не может быть отрицательным")

    def narrowed(
        self,
        workday: DailyWindow | None = None,
        day_off: DailyWindow | None = None,
        *,
        end_margin: dt.timedelta | None = None,
    ) -> HoursPolicy:
        """A stricter policy: each given window is intersected with the current one."""
        return HoursPolicy(
            workday=self.workday.intersect(workday) if workday and self.workday else self.workday,
            day_off=self.day_off.intersect(day_off) if day_off and self.day_off else self.day_off,
            end_margin=max(self.end_margin, end_margin or self.end_margin),
        )

    def narrowed_daily(self, window: DailyWindow | None) -> HoursPolicy:
        """A stricter policy with one window (a campaign's daily hours) applied to every day."""
        if window is None:
            return self
        return self.narrowed(window, window)


def local_window(
    day: dt.date, calendar: ProductionCalendar, policy: HoursPolicy
) -> DailyWindow | None:
    """The window in which calls may start on local ``day`` (the margin already taken off)."""
    window = policy.day_off if calendar.is_day_off(day) else policy.workday
    if window is None:
        return None
    last_start = (dt.datetime.combine(day, window.end) - policy.end_margin).time()
    if policy.end_margin >= dt.timedelta(hours=24) or last_start <= window.start:
        return None
    return DailyWindow(window.start, last_start)


def _require_aware(moment: dt.datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("moment must be zone-aware")


def is_callable_at(
    moment: dt.datetime, zone: ZoneInfo, calendar: ProductionCalendar, policy: HoursPolicy
) -> bool:
    """Whether a call may start at ``moment`` for a debtor living in ``zone``."""
    _require_aware(moment)
    local = moment.astimezone(zone)
    window = local_window(local.date(), calendar, policy)
    if window is None:
        return False
    clock = local.time().replace(tzinfo=None)
    return window.start <= clock <= window.end


def next_callable_at(
    moment: dt.datetime,
    zone: ZoneInfo,
    calendar: ProductionCalendar,
    policy: HoursPolicy,
    *,
    horizon_days: int = 31,
) -> dt.datetime | None:
    """The first moment at or after ``moment`` when a call may start (UTC), or ``None``.

    ``None`` means the policy allows no call within ``horizon_days`` (e.g. every window is
    empty).
    """
    _require_aware(moment)
    local = moment.astimezone(zone)
    for offset in range(horizon_days + 1):
        day = local.date() + dt.timedelta(days=offset)
        window = local_window(day, calendar, policy)
        if window is None:
            continue
        opens = dt.datetime.combine(day, window.start, tzinfo=zone)
        closes = dt.datetime.combine(day, window.end, tzinfo=zone)
        candidate = max(opens, local)
        if candidate <= closes:
            return candidate.astimezone(dt.UTC)
    return None
