"""Segments of debtors: the yellow and red lines (жёлтая / красная черта) and debtor types.

A segment says how hard to press: **green** (a small, fresh debt), **yellow** (past the
yellow line on total debt, months overdue or unpaid bills) or **red** (past the red line
on any of them). Each organisation may set its own lines (``segment_rules`` table);
without them :data:`DEFAULT_LINES` apply.

A debtor type says which script fits: **first time** (one unpaid month, everything before
paid), **holiday gap** (only summer months unpaid, every service of them), **single
service** (only one service unpaid: usually a dispute), **chronic** (many unpaid months),
or **other**.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models import Account, DebtLine, SegmentRules
from storage.peni import KeyRateHistory, due_date, load_key_rates, peni_for

__all__ = [
    "DEFAULT_LINES",
    "AccountSegment",
    "DebtorType",
    "HistoryLine",
    "Segment",
    "SegmentLines",
    "SegmentTotal",
    "classify",
    "lines_for",
    "months_overdue",
    "save_lines",
    "segment_accounts",
    "segment_columns",
    "summarise",
]

_ZERO = Decimal("0.00")
_SUMMER = frozenset({6, 7, 8})
CHRONIC_MONTHS = 4


class Segment(StrEnum):
    """How far past the lines an account is."""

    CLEAR = "clear"  # no debt
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class DebtorType(StrEnum):
    """Which situation (and dialogue script) fits the debtor."""

    FIRST_TIME = "first_time"
    HOLIDAY_GAP = "holiday_gap"
    SINGLE_SERVICE = "single_service"
    CHRONIC = "chronic"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class SegmentLines:
    """The yellow and red lines: crossing any one measure puts the account past the line."""

    yellow_debt: Decimal = Decimal("15000.00")
    yellow_months: int = 1
    yellow_bills: int = 2
    red_debt: Decimal = Decimal("50000.00")
    red_months: int = 3  # three months is when ПП № 354 allows limiting a service
    red_bills: int = 4

    def __post_init__(self) -> None:
        if self.yellow_debt > self.red_debt or self.yellow_months > self.red_months:
            raise ValueError("the yellow line must not be beyond the red line")
        if self.yellow_bills > self.red_bills or min(self.yellow_months, self.yellow_bills) < 0:
            raise ValueError("the yellow line must not be beyond the red line")


DEFAULT_LINES = SegmentLines()


@dataclass(frozen=True, slots=True)
class AccountSegment:
    """One account's debt as the segments see it."""

    account_id: int
    number: str
    debt: Decimal
    peni: Decimal  # as 1С exported it
    peni_estimate: Decimal  # by ст. 155 ч. 14 on the as-of date
    months_overdue: int
    unpaid_bills: int
    unpaid_services: tuple[str, ...]
    segment: Segment
    debtor_type: DebtorType | None


@dataclass(frozen=True, slots=True)
class SegmentTotal:
    """Counts and sums of one segment (or one debtor type)."""

    name: str
    accounts: int
    debt: Decimal
    peni: Decimal
    peni_estimate: Decimal


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One debt line of an account, as much of it as segments need."""

    service: str
    period: dt.date
    paid: Decimal
    debt: Decimal
    peni: Decimal


def months_overdue(oldest_unpaid: dt.date, as_of: dt.date) -> int:
    """Whole months since the oldest unpaid bill fell due (0 while it is not yet due)."""
    due = due_date(oldest_unpaid)
    if as_of <= due:
        return 0
    months = (as_of.year - due.year) * 12 + as_of.month - due.month
    return months if as_of.day > due.day else max(months - 1, 0)


def _segment(debt: Decimal, months: int, bills: int, lines: SegmentLines) -> Segment:
    if debt <= 0:
        return Segment.CLEAR
    if debt >= lines.red_debt or months >= lines.red_months or bills >= lines.red_bills:
        return Segment.RED
    if debt >= lines.yellow_debt or months >= lines.yellow_months or bills >= lines.yellow_bills:
        return Segment.YELLOW
    return Segment.GREEN


def _debtor_type(history: list[HistoryLine]) -> DebtorType | None:
    unpaid = [line for line in history if line.debt > 0]
    if not unpaid:
        return None
    periods = sorted({line.period for line in unpaid})
    services = {line.service for line in unpaid}
    earlier_debt = any(line.debt > 0 for line in history if line.period < periods[0])
    if (
        len(periods) == 1
        and not earlier_debt
        and periods[0] == max(line.period for line in history)
    ):
        return DebtorType.FIRST_TIME
    if len(services) == 1:
        return DebtorType.SINGLE_SERVICE
    if all(p.month in _SUMMER for p in periods):
        nothing_paid = all(line.paid <= 0 for line in history if line.period in set(periods))
        if nothing_paid:
            return DebtorType.HOLIDAY_GAP
    if len(periods) >= CHRONIC_MONTHS:
        return DebtorType.CHRONIC
    return DebtorType.OTHER


def classify(
    account_id: int,
    number: str,
    history: list[HistoryLine],
    lines: SegmentLines,
    as_of: dt.date,
    rates: KeyRateHistory,
) -> AccountSegment:
    """The segment and debtor type of one account from all its debt lines."""
    unpaid = [line for line in history if line.debt > 0]
    debt = sum((line.debt for line in history), _ZERO)
    oldest = min((line.period for line in unpaid), default=None)
    months = months_overdue(oldest, as_of) if oldest is not None else 0
    bills = len({line.period for line in unpaid})
    return AccountSegment(
        account_id=account_id,
        number=number,
        debt=debt,
        peni=sum((line.peni for line in history), _ZERO),
        peni_estimate=sum(
            (peni_for(line.debt, line.period, as_of, rates) for line in unpaid), _ZERO
        ),
        months_overdue=months,
        unpaid_bills=bills,
        unpaid_services=tuple(sorted({line.service for line in unpaid})),
        segment=_segment(debt, months, bills, lines),
        debtor_type=_debtor_type(history),
    )


def lines_for(session: Session, organisation_id: int) -> SegmentLines:
    """The organisation's own lines, or the defaults."""
    rules = session.get(SegmentRules, organisation_id)
    if rules is None:
        return DEFAULT_LINES
    return SegmentLines(
        yellow_debt=rules.yellow_debt,
        yellow_months=rules.yellow_months,
        yellow_bills=rules.yellow_bills,
        red_debt=rules.red_debt,
        red_months=rules.red_months,
        red_bills=rules.red_bills,
    )


def save_lines(session: Session, organisation_id: int, lines: SegmentLines) -> None:
    """Set the organisation's lines (in the caller's transaction)."""
    rules = session.get(SegmentRules, organisation_id) or SegmentRules(
        organisation_id=organisation_id
    )
    rules.yellow_debt, rules.yellow_months, rules.yellow_bills = (
        lines.yellow_debt, lines.yellow_months, lines.yellow_bills,
    )  # fmt: skip
    rules.red_debt, rules.red_months, rules.red_bills = (
        lines.red_debt,
        lines.red_months,
        lines.red_bills,
    )
    session.add(rules)


def segment_accounts(
    session: Session, organisation_id: int, as_of: dt.date, lines: SegmentLines | None = None
) -> Iterator[AccountSegment]:
    """Every account of the organisation with its segment, streamed account by account."""
    chosen = lines or lines_for(session, organisation_id)
    rates = load_key_rates()
    rows = session.execute(
        sa.select(
            Account.id, Account.number, DebtLine.service, DebtLine.period,
            DebtLine.paid, DebtLine.debt, DebtLine.peni,
        )
        .join(DebtLine, DebtLine.account_id == Account.id)
        .where(Account.organisation_id == organisation_id)
        .order_by(Account.id)
        .execution_options(yield_per=10_000)
    )  # fmt: skip
    for (account_id, number), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        history = [HistoryLine(r[2], r[3], r[4], r[5], r[6]) for r in group]
        yield classify(account_id, number, history, chosen, as_of, rates)


def _line(organisation_id: int, name: str) -> sa.ColumnElement[Any]:
    """The organisation's line ``name`` in SQL: its ``segment_rules`` value, else the default."""
    column = getattr(SegmentRules, name)
    own = sa.select(column).where(SegmentRules.organisation_id == organisation_id)
    default = getattr(DEFAULT_LINES, name)
    kind: sa.types.TypeEngine[Any] = (
        sa.Numeric(14, 2) if isinstance(default, Decimal) else sa.Integer()
    )
    # The cast gives SQLite a numeric value to compare with (a bound Decimal may be text).
    return sa.cast(sa.func.coalesce(own.scalar_subquery(), sa.literal(default, kind)), kind)


def _month_index(day: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    return sa.cast(sa.extract("year", day), sa.Integer) * 12 + sa.cast(
        sa.extract("month", day), sa.Integer
    )


def segment_columns(organisation_id: int, as_of: dt.date) -> sa.Subquery:
    """``(account_id, segment, debtor_type)`` of every account of the organisation with debt
    lines, computed in SQL from the whole debt book with the organisation's lines.

    The same decisions as :func:`classify` (a property test holds them equal), but one
    grouped pass over the debt lines, so a campaign over a million accounts needs no row in
    Python. Months overdue: :func:`months_overdue` is ``max(K - month(oldest unpaid), 0)``
    with one constant ``K`` for ``as_of``, so "at least N months" is a bound on the oldest
    unpaid month's index.
    """
    unpaid_line = DebtLine.debt > _ZERO
    paid_line = DebtLine.paid > _ZERO
    unpaid_month = sa.case((unpaid_line, DebtLine.period))
    summer = sa.cast(sa.extract("month", DebtLine.period), sa.Integer).in_(sorted(_SUMMER))
    # One pass over the lines, grouped by account. Months are counted as sets of periods:
    # a month "paid in while owing" (which rules out the holiday gap) is in both the owing
    # and the paying set, |owing ∩ paying| = |owing| + |paying| - |owing ∪ paying|.
    facts = (
        sa.select(
            DebtLine.account_id.label("account_id"),
            sa.func.round(sa.func.sum(DebtLine.debt), 2).label("debt"),
            sa.func.count(sa.distinct(unpaid_month)).label("bills"),
            sa.func.count(sa.distinct(sa.case((paid_line, DebtLine.period)))).label("paying"),
            sa.func.count(
                sa.distinct(sa.case((sa.or_(unpaid_line, paid_line), DebtLine.period)))
            ).label("owing_or_paying"),
            sa.func.min(unpaid_month).label("oldest"),
            sa.func.max(DebtLine.period).label("latest"),
            sa.func.min(sa.case((unpaid_line, DebtLine.service))).label("first_service"),
            sa.func.max(sa.case((unpaid_line, DebtLine.service))).label("last_service"),
            sa.func.sum(sa.case((sa.and_(unpaid_line, ~summer), 1), else_=0)).label("off_summer"),
        )
        .where(DebtLine.organisation_id == organisation_id)
        .group_by(DebtLine.account_id)
        .subquery("debt_facts")
    )
    debt, bills = facts.c.debt, facts.c.bills
    oldest = _month_index(facts.c.oldest)
    due_day = due_date(as_of).day  # the payment day of every month
    # months_overdue = max(k - index(oldest), 0): the due date is the next month's payment day.
    k = as_of.year * 12 + as_of.month - 1 - (0 if as_of.day > due_day else 1)

    def months_at_least(line: str) -> sa.ColumnElement[bool]:
        n = _line(organisation_id, line)
        return sa.or_(n <= 0, oldest <= sa.literal(k) - n)

    def past(colour: str) -> sa.ColumnElement[bool]:
        return sa.or_(
            debt >= _line(organisation_id, f"{colour}_debt"),
            months_at_least(f"{colour}_months"),
            bills >= _line(organisation_id, f"{colour}_bills"),
        )

    segment = sa.case(
        (debt <= _ZERO, Segment.CLEAR.value),
        (past("red"), Segment.RED.value),
        (past("yellow"), Segment.YELLOW.value),
        else_=Segment.GREEN.value,
    )
    paid_while_owing = bills + facts.c.paying - facts.c.owing_or_paying
    debtor_type = sa.case(
        (bills == 0, sa.null()),
        (sa.and_(bills == 1, facts.c.oldest == facts.c.latest), DebtorType.FIRST_TIME.value),
        (facts.c.first_service == facts.c.last_service, DebtorType.SINGLE_SERVICE.value),
        (
            sa.and_(facts.c.off_summer == 0, paid_while_owing == 0),
            DebtorType.HOLIDAY_GAP.value,
        ),
        (bills >= CHRONIC_MONTHS, DebtorType.CHRONIC.value),
        else_=DebtorType.OTHER.value,
    )
    return sa.select(
        facts.c.account_id, segment.label("segment"), debtor_type.label("debtor_type")
    ).subquery("segments")


def summarise(accounts: Iterable[AccountSegment]) -> tuple[list[SegmentTotal], list[SegmentTotal]]:
    """Totals per segment and per debtor type (in the order of the enums)."""
    by_segment: dict[str, list[Decimal | int]] = {
        s.value: [0, _ZERO, _ZERO, _ZERO] for s in Segment
    }
    by_type: dict[str, list[Decimal | int]] = {
        t.value: [0, _ZERO, _ZERO, _ZERO] for t in DebtorType
    }
    for account in accounts:
        buckets = [by_segment[account.segment.value]]
        if account.debtor_type is not None:
            buckets.append(by_type[account.debtor_type.value])
        for bucket in buckets:
            bucket[0] += 1
            bucket[1] += account.debt
            bucket[2] += account.peni
            bucket[3] += account.peni_estimate

    def totals(table: dict[str, list[Decimal | int]]) -> list[SegmentTotal]:
        return [
            SegmentTotal(name, int(v[0]), Decimal(v[1]), Decimal(v[2]), Decimal(v[3]))
            for name, v in table.items()
        ]

    return totals(by_segment), totals(by_type)
