"""The reports' figures by week, for the charts: promises, money after contact, reasons.

Read from the same daily summaries as the monthly tables (:mod:`web.reports`:
``report_promise_days``, ``report_call_days``, kept exact by triggers), grouped by day in
SQL and folded into weeks here, so both databases give the same weeks (Monday first)
without dialect-specific week arithmetic. Every week of the period is listed, empty
weeks as zeros: a chart with gaps left out would lie about the trend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models import Payment
from storage.models.campaigns import Call
from storage.models.reports import ReportCallDay, ReportPromiseDay, reason_column
from web.access import Principal
from web.reports import REASON_TAGS, ReportPeriod

__all__ = [
    "CONTACT_WINDOW_DAYS",
    "WeekMoney",
    "WeekPromises",
    "WeekReasons",
    "money_after_contact_by_week",
    "promises_by_week",
    "reasons_by_week",
    "week_of",
]

# A payment counts as "after contact" when a conversation with the robot came at most
# this many days before it (the widest window of the paid-after report).
CONTACT_WINDOW_DAYS = 30
ZERO = Decimal("0.00")


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def _weeks(period: ReportPeriod) -> list[dt.date]:
    first, last = week_of(period.first), week_of(period.last)
    return [first + dt.timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def _rub(kopecks: object) -> Decimal:
    return (Decimal(str(kopecks or 0)) / 100).quantize(Decimal("0.01"))


def _visible(
    principal: Principal, column: InstrumentedAttribute[int]
) -> list[sa.ColumnElement[bool]]:
    if principal.organisation_ids is None:
        return []
    return [column.in_(sorted(principal.organisation_ids))]


@dataclass(slots=True)
class WeekPromises:
    """Promises made in one week and what became of them."""

    week: dt.date
    made: int = 0
    kept: int = 0
    broken: int = 0
    kept_sum: Decimal = ZERO


def promises_by_week(
    session: Session, principal: Principal, period: ReportPeriod
) -> list[WeekPromises]:
    """Promises made, kept and broken by the week they were made."""
    day = ReportPromiseDay
    rows = session.execute(
        sa.select(day.day, sa.func.sum(day.made), sa.func.sum(day.kept),
                  sa.func.sum(day.broken), sa.func.sum(day.kept_kopecks))
        .where(day.day >= period.first, day.day <= period.last,
               *_visible(principal, day.organisation_id))
        .group_by(day.day)
    ).all()  # fmt: skip
    weeks = {week: WeekPromises(week) for week in _weeks(period)}
    for when, made, kept, broken, kept_kopecks in rows:
        into = weeks[week_of(when)]
        into.made += int(made or 0)
        into.kept += int(kept or 0)
        into.broken += int(broken or 0)
        into.kept_sum += _rub(kept_kopecks)
    return list(weeks.values())


@dataclass(slots=True)
class WeekMoney:
    """Money paid in one week by accounts the robot had spoken with shortly before."""

    week: dt.date
    collected: Decimal = ZERO
    payments: int = 0


def _day(session: Session, moment: InstrumentedAttribute[dt.datetime]) -> sa.ColumnElement[dt.date]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", moment), sa.Date)
    return sa.func.date(moment, type_=sa.Date)


def _days_before(
    session: Session, day: InstrumentedAttribute[dt.date], days: int
) -> sa.ColumnElement[dt.date]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(day - sa.literal(days), sa.Date)
    return sa.func.date(day, f"-{int(days)} days", type_=sa.Date)


def money_after_contact_by_week(
    session: Session, principal: Principal, period: ReportPeriod
) -> list[WeekMoney]:
    """Payments by the week paid, of accounts with a conversation with the robot within
    :data:`CONTACT_WINDOW_DAYS` days before the payment (or the same day)."""
    call_day = _day(session, Call.started_at)
    contacted = sa.exists().where(
        Call.account_id == Payment.account_id,
        Call.counted_as == "conversation",
        call_day <= Payment.paid_on,
        call_day >= _days_before(session, Payment.paid_on, CONTACT_WINDOW_DAYS),
    )
    rows = session.execute(
        sa.select(Payment.paid_on, sa.func.sum(Payment.amount), sa.func.count(Payment.id))
        .where(Payment.paid_on >= period.first, Payment.paid_on <= period.last,
               Payment.amount > ZERO, contacted,
               *_visible(principal, Payment.organisation_id))
        .group_by(Payment.paid_on)
    ).all()  # fmt: skip
    weeks = {week: WeekMoney(week) for week in _weeks(period)}
    for paid_on, amount, count in rows:
        into = weeks[week_of(paid_on)]
        into.collected += Decimal(str(amount or 0)).quantize(Decimal("0.01"))
        into.payments += int(count or 0)
    return list(weeks.values())


@dataclass(slots=True)
class WeekReasons:
    """Answered calls of one week and in how many each reason for non-payment was heard."""

    week: dt.date
    answered: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def share(self, tag: str) -> float | None:
        """The reason's share of the week's answered calls; ``None`` for a week without."""
        return None if self.answered == 0 else self.counts.get(tag, 0) / self.answered


def reasons_by_week(
    session: Session, principal: Principal, period: ReportPeriod, tags: Iterable[str] = REASON_TAGS
) -> list[WeekReasons]:
    """Reasons heard in answered calls, by the week of the call."""
    chosen = list(tags)
    day = ReportCallDay
    columns = [sa.func.sum(getattr(day, reason_column(tag))) for tag in chosen]
    rows = session.execute(
        sa.select(day.day, sa.func.sum(day.answered), *columns)
        .where(day.day >= period.first, day.day <= period.last,
               *_visible(principal, day.organisation_id))
        .group_by(day.day)
    ).all()  # fmt: skip
    weeks = {week: WeekReasons(week, counts=dict.fromkeys(chosen, 0)) for week in _weeks(period)}
    for row in rows:
        into = weeks[week_of(row[0])]
        into.answered += int(row[1] or 0)
        for i, tag in enumerate(chosen):
            into.counts[tag] += int(row[2 + i] or 0)
    return list(weeks.values())
