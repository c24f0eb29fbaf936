"""Managers' reports, set-based over the calls, turns, promises and payments.

Every report is one or two grouped SQL queries (no Python loops over calls), so a page
over a million calls stays fast; ``napomni bench web`` measures it. Each report also
turns into an :class:`~web.exports.ExportTable` for XLSX and CSV (1С).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models import Account, Building, DebtLine, Payment
from storage.models.campaigns import Call, EscalationCase
from storage.models.reports import (
    REPORT_REASON_TAGS,
    ReportCallDay,
    ReportCalledAccount,
    ReportGroupDay,
    ReportPromiseDay,
    reason_column,
)
from web.access import Principal
from web.exports import ExportColumn, ExportTable

__all__ = [
    "PAID_WINDOWS_DAYS",
    "REASON_GROUPINGS",
    "REASON_TAGS",
    "FunnelRow",
    "PaidAfterRow",
    "PromiseRow",
    "ReasonRow",
    "ReportPeriod",
    "funnel",
    "paid_after",
    "promises_by_month",
    "reasons",
]

# The tags of the classifier's contract that are reasons for non-payment.
REASON_TAGS = REPORT_REASON_TAGS
REASON_TITLES = {
    "financial_hardship": "нет денег",
    "dispute_amount": "не согласен с суммой",
    "service_complaint": "недоволен услугами",
    "wrong_person": "не тот человек",
    "unaware": "не знал о долге",
    "away": "был в отъезде",
    "refusal": "отказ",
    "already_paid": "говорит, что оплатил",
}
PAID_WINDOWS_DAYS = (7, 14, 30)
# How the reasons report groups calls: the first two from ReportCallDay, the rest from the
# groups fixed at each call (ReportGroupDay, where one call may count in several rows).
REASON_GROUPINGS = {
    "building": "Дом",
    "month": "Месяц",
    "service": "Услуга с долгом на момент звонка",
    "segment": "Сегмент (черта)",
    "debtor_type": "Тип должника",
}
NO_SERVICE_DEBT = "без долга по услугам"
# Labels of the snapshot groups, in the order the report lists them ("" = not known:
# a call without an attempt, or an attempt queued before segments were recorded).
GROUP_TITLES: dict[str, dict[str, str]] = {
    "segment": {"green": "зелёный", "yellow": "за жёлтой чертой", "red": "за красной чертой",
                "clear": "без долга", "": "не определён"},
    "debtor_type": {"first_time": "впервые", "holiday_gap": "летний пропуск",
                    "single_service": "одна услуга", "chronic": "хронический", "other": "другое",
                    "": "не определён"},
}  # fmt: skip
ZERO = Decimal("0.00")


def _money(value: object) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """The calls a report looks at: started on ``first``..``last`` (inclusive, UTC dates)."""

    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        """The first moment of the period."""
        return dt.datetime.combine(self.first, dt.time(), tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The moment after the period."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _month(session: Session, day: InstrumentedAttribute[dt.date]) -> sa.ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(day, "YYYY-MM")
    return sa.func.strftime("%Y-%m", day)


def _days_in(
    principal: Principal,
    period: ReportPeriod,
    day: InstrumentedAttribute[dt.date],
    organisation: InstrumentedAttribute[int],
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [day >= period.first, day <= period.last]
    if principal.organisation_ids is not None:
        where.append(organisation.in_(sorted(principal.organisation_ids)))
    return where


def _rub(kopecks: object) -> Decimal:
    """Kopecks summed by the database (an int, or a NUMERIC on PostgreSQL) as roubles."""
    return (Decimal(str(kopecks or 0)) / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class ReasonRow:
    """Calls where each reason was heard, for one building or one month."""

    key: str
    calls: int
    counts: dict[str, int]


def reasons(
    session: Session, principal: Principal, period: ReportPeriod, by: str = "building"
) -> list[ReasonRow]:
    """Reasons for non-payment heard in answered calls, grouped ``by`` building, month,
    service, segment or debtor type (:data:`REASON_GROUPINGS`).

    A call counts once per reason however many turns carried it. Read from the summaries
    (kept exact by triggers), so the cost is days × groups, not calls. By service, a call
    counts under every service its account owed when it was made
    (:class:`~storage.models.reports.CallGroup`), so rows may add up to more than the calls;
    by segment and debtor type, under its attempt's snapshot (one row per call).
    """
    if by in ("building", "month"):
        return _reasons_by_call_day(session, principal, period, by)
    group = ReportGroupDay
    columns = [sa.func.sum(getattr(group, reason_column(tag))) for tag in REASON_TAGS]
    rows = session.execute(
        sa.select(group.label, sa.func.sum(group.answered), *columns)
        .where(
            group.dimension == by, *_days_in(principal, period, group.day, group.organisation_id)
        )
        .group_by(group.label)
        .having(sa.func.sum(group.answered) > 0)
        .order_by(group.label)
    ).all()
    titles = GROUP_TITLES.get(by)
    if titles is None:
        return [_reason_row(str(row[0]) or NO_SERVICE_DEBT, row) for row in rows]
    order = list(titles)
    known = sorted(
        (row for row in rows if str(row[0]) in titles), key=lambda r: order.index(str(r[0]))
    )
    # A value a later version of the campaigns part adds is shown as it is stored.
    other = [row for row in rows if str(row[0]) not in titles]
    return [_reason_row(titles.get(str(row[0]), str(row[0])), row) for row in [*known, *other]]


def _reason_row(key: str, row: Sequence[Any]) -> ReasonRow:
    return ReasonRow(
        key=key,
        calls=int(row[1]),
        counts={tag: int(row[2 + i] or 0) for i, tag in enumerate(REASON_TAGS)},
    )


def _reasons_by_call_day(
    session: Session, principal: Principal, period: ReportPeriod, by: str
) -> list[ReasonRow]:
    day = ReportCallDay
    if by == "month":
        key: sa.ColumnElement[str] = _month(session, day.day)
    else:
        key = sa.func.coalesce(Building.address, "без дома")
    columns = [sa.func.sum(getattr(day, reason_column(tag))) for tag in REASON_TAGS]
    query = sa.select(key, sa.func.sum(day.answered), *columns).select_from(day)
    if by != "month":
        query = query.outerjoin(Building, Building.id == day.building_key)
    rows = session.execute(
        query.where(*_days_in(principal, period, day.day, day.organisation_id))
        .group_by(key)
        .having(sa.func.sum(day.answered) > 0)
        .order_by(key)
    ).all()
    return [_reason_row(str(row[0]), row) for row in rows]


@dataclass(frozen=True, slots=True)
class FunnelRow:
    """The call funnel of one month."""

    month: str
    dialled: int
    answered: int
    conversations: int
    messages: int
    promises: int
    promised_sum: Decimal


def funnel(session: Session, principal: Principal, period: ReportPeriod) -> list[FunnelRow]:
    """Dialled → answered → conversation → promise (made in those calls), by month."""
    day = ReportCallDay
    month = _month(session, day.day)
    rows = session.execute(
        sa.select(
            month,
            sa.func.sum(day.dialled),
            sa.func.sum(day.answered),
            sa.func.sum(day.conversations),
            sa.func.sum(day.messages),
            sa.func.sum(day.promises),
            sa.func.sum(day.promised_kopecks),
        )
        .where(*_days_in(principal, period, day.day, day.organisation_id))
        .group_by(month)
        .having(sa.func.sum(day.dialled) > 0)
        .order_by(month)
    ).all()
    return [
        FunnelRow(
            month=str(row[0]),
            dialled=int(row[1]),
            answered=int(row[2] or 0),
            conversations=int(row[3] or 0),
            messages=int(row[4] or 0),
            promises=int(row[5] or 0),
            promised_sum=_rub(row[6]),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class PromiseRow:
    """Promises made in one month and what became of them, with sums."""

    month: str
    made: int
    made_sum: Decimal
    kept: int
    kept_sum: Decimal
    broken: int
    broken_sum: Decimal
    waiting: int


def promises_by_month(
    session: Session, principal: Principal, period: ReportPeriod
) -> list[PromiseRow]:
    """Promises made, kept and broken (and their sums), by month made."""
    day = ReportPromiseDay
    month = _month(session, day.day)
    rows = session.execute(
        sa.select(
            month,
            *(
                sa.func.sum(column)
                for column in (
                    day.made,
                    day.made_kopecks,
                    day.kept,
                    day.kept_kopecks,
                    day.broken,
                    day.broken_kopecks,
                    day.waiting,
                )
            ),
        )  # fmt: skip
        .where(*_days_in(principal, period, day.day, day.organisation_id))
        .group_by(month)
        .having(sa.func.sum(day.made) > 0)
        .order_by(month)
    ).all()
    return [
        PromiseRow(
            month=str(r[0]),
            made=int(r[1]),
            made_sum=_rub(r[2]),
            kept=int(r[3] or 0),
            kept_sum=_rub(r[4]),
            broken=int(r[5] or 0),
            broken_sum=_rub(r[6]),
            waiting=int(r[7] or 0),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PaidAfterRow:
    """Of a group of accounts, how many paid within N days and how much."""

    group: str
    days: int
    accounts: int
    paid_accounts: int
    paid_sum: Decimal

    @property
    def share(self) -> Decimal | None:
        """Share of the group that paid."""
        if self.accounts == 0:
            return None
        return (Decimal(self.paid_accounts) / Decimal(self.accounts)).quantize(Decimal("0.0001"))


def _plus_days(
    session: Session, day: sa.ColumnElement[dt.date], days: int
) -> sa.ColumnElement[dt.date]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(day, sa.Date) + days
    return sa.func.date(day, f"+{days} days", type_=sa.Date)


def _day(session: Session, moment: sa.ColumnElement[dt.datetime]) -> sa.ColumnElement[dt.date]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", moment), sa.Date)
    return sa.func.date(moment, type_=sa.Date)


def _windows(
    anchors: sa.CTE,
    counted: Callable[[int], sa.ColumnElement[bool]],
    paid_in: Callable[[int], sa.ColumnElement[bool]],
    near: list[sa.ColumnElement[bool]],
) -> sa.Select[Any]:
    """One statement for every window N over ``anchors`` ``(account_id, day)``: how many
    anchors ``counted(N)``, how many of them paid (a payment ``paid_in(N)``) and how much.
    ``near`` narrows the payments read to those any window may count.
    """
    paid = (
        sa.select(
            anchors.c.account_id.label("account_id"),
            *(
                sa.func.sum(
                    sa.case((sa.and_(counted(d), paid_in(d)), Payment.amount), else_=None)
                ).label(f"paid_{d}")
                for d in PAID_WINDOWS_DAYS
            ),
        )  # fmt: skip
        .join(Payment, Payment.account_id == anchors.c.account_id)
        .where(*near)
        .group_by(anchors.c.account_id)
        .subquery()
    )
    columns: list[sa.ColumnElement[Any]] = []
    for d in PAID_WINDOWS_DAYS:
        columns += [
            sa.func.sum(sa.case((counted(d), 1), else_=0)),
            sa.func.count(paid.c[f"paid_{d}"]),
            sa.func.sum(paid.c[f"paid_{d}"]),
        ]
    return sa.select(*columns).select_from(
        anchors.outerjoin(paid, paid.c.account_id == anchors.c.account_id)
    )


def _rows(session: Session, query: sa.Select[Any], group: str) -> list[PaidAfterRow]:
    row = session.execute(query).one()
    return [
        PaidAfterRow(group, d, int(row[3 * i] or 0), int(row[3 * i + 1] or 0), _money(row[3 * i + 2]))
        for i, d in enumerate(PAID_WINDOWS_DAYS)
    ]  # fmt: skip


def _anchored(
    session: Session, anchors: sa.CTE, cutoffs: dict[int, dt.date], group: str
) -> list[PaidAfterRow]:
    """Anchors before the widest cutoff: window N counts those before ``cutoffs[N]`` and
    their payments in ``(day, day + N]``. One pass serves every window: the earliest
    anchor before the widest cutoff is the earliest before a narrower one, if before it."""
    day = anchors.c.day
    return _rows(
        session,
        _windows(
            anchors,
            lambda d: day < cutoffs[d],
            lambda d: Payment.paid_on <= _plus_days(session, day, d),
            [
                Payment.paid_on > day,
                Payment.paid_on <= _plus_days(session, day, max(PAID_WINDOWS_DAYS)),
            ],
        ),  # fmt: skip
        group,
    )


def paid_after(
    session: Session, principal: Principal, period: ReportPeriod, today: dt.date
) -> list[PaidAfterRow]:
    """Money paid within 7/14/30 days after the first conversation (robot), after a
    collector closed the case (human), against accounts with debt not yet called.

    Only anchors at least N days old count for window N, so every window is complete.
    Accounts not yet called are anchored at ``today - N``: the same length of time,
    just before now. One statement per group (the conversations are read once, through
    the covering index ``ix_calls_counted_started_account``; "not yet called" is the
    accounts without a ``report_called_accounts`` row, one row per account, not every call).
    """
    visible_accounts: list[sa.ColumnElement[bool]] = []
    calls_visible: list[sa.ColumnElement[bool]] = []
    cases_visible: list[sa.ColumnElement[bool]] = []
    if principal.organisation_ids is not None:
        orgs = sorted(principal.organisation_ids)
        visible_accounts.append(Account.organisation_id.in_(orgs))
        mine = sa.select(Account.id).where(Account.organisation_id.in_(orgs))
        calls_visible.append(Call.account_id.in_(mine))
        cases_visible.append(EscalationCase.account_id.in_(mine))
    cutoffs = {days: min(period.last + dt.timedelta(days=1), today - dt.timedelta(days=days))
               for days in PAID_WINDOWS_DAYS}  # fmt: skip
    widest = dt.datetime.combine(max(cutoffs.values()), dt.time(), tzinfo=dt.UTC)
    robot = (
        sa.select(Call.account_id.label("account_id"), _day(session, sa.func.min(Call.started_at)).label("day"))
        .where(Call.counted_as == "conversation", Call.started_at >= period.start,
               Call.started_at < widest, *calls_visible)
        .group_by(Call.account_id)
        .cte("robot")
        .prefix_with("MATERIALIZED")
    )  # fmt: skip
    closed_at = sa.type_coerce(EscalationCase.closed_at, sa.DateTime(timezone=True))
    human = (
        sa.select(EscalationCase.account_id.label("account_id"),
                  _day(session, sa.func.min(closed_at)).label("day"))
        .where(EscalationCase.closed_at.is_not(None), EscalationCase.closed_at >= period.start,
               EscalationCase.closed_at < widest, *cases_visible)
        .group_by(EscalationCase.account_id)
        .cte("human")
        .prefix_with("MATERIALIZED")
    )  # fmt: skip
    not_called = (
        sa.select(Account.id.label("account_id"))
        .where(~sa.exists().where(ReportCalledAccount.account_id == Account.id), *visible_accounts,
               sa.exists().where(DebtLine.account_id == Account.id, DebtLine.debt > ZERO))
        .cte("not_called")
        .prefix_with("MATERIALIZED")
    )  # fmt: skip
    since = {days: today - dt.timedelta(days=days) for days in PAID_WINDOWS_DAYS}
    rows = [
        *_anchored(session, robot, cutoffs, "после разговора с роботом"),
        *_anchored(session, human, cutoffs, "после работы взыскателя"),
        *_rows(session, _windows(
            not_called, lambda d: sa.true(), lambda d: Payment.paid_on > since[d],
            [Payment.paid_on > min(since.values()), Payment.paid_on <= today],
        ), "ещё не звонили"),
    ]  # fmt: skip
    order = {"после разговора с роботом": 0, "после работы взыскателя": 1, "ещё не звонили": 2}
    return sorted(rows, key=lambda r: (r.days, order[r.group]))


def reasons_table(rows: Sequence[ReasonRow], by: str) -> ExportTable:
    """The reasons report for export."""
    columns = [ExportColumn(REASON_GROUPINGS.get(by, "Дом")), ExportColumn("Звонков", "int")]
    columns += [ExportColumn(REASON_TITLES[tag], "int") for tag in REASON_TAGS]
    return ExportTable(
        "Причины неоплаты",
        columns,
        [[r.key, r.calls, *(r.counts[tag] for tag in REASON_TAGS)] for r in rows],
    )


def funnel_table(rows: Sequence[FunnelRow]) -> ExportTable:
    """The funnel for export."""
    return ExportTable(
        "Воронка звонков",
        [ExportColumn("Месяц"), ExportColumn("Набрано", "int"), ExportColumn("Ответили", "int"),
         ExportColumn("Разговоров", "int"), ExportColumn("Сообщений", "int"),
         ExportColumn("Обещаний", "int"), ExportColumn("На сумму", "money")],
        [[r.month, r.dialled, r.answered, r.conversations, r.messages, r.promises, r.promised_sum] for r in rows],
    )  # fmt: skip


def promises_table(rows: Sequence[PromiseRow]) -> ExportTable:
    """Promises for export."""
    return ExportTable(
        "Обещания",
        [ExportColumn("Месяц"), ExportColumn("Дано", "int"), ExportColumn("На сумму", "money"),
         ExportColumn("Выполнено", "int"), ExportColumn("Сумма выполненных", "money"),
         ExportColumn("Нарушено", "int"), ExportColumn("Сумма нарушенных", "money"),
         ExportColumn("Ждём", "int")],
        [[r.month, r.made, r.made_sum, r.kept, r.kept_sum, r.broken, r.broken_sum, r.waiting] for r in rows],
    )  # fmt: skip


def paid_after_table(rows: Sequence[PaidAfterRow]) -> ExportTable:
    """Paid-after for export."""
    return ExportTable(
        "Оплаты после контакта",
        [ExportColumn("Группа"), ExportColumn("Дней", "int"), ExportColumn("Счетов", "int"),
         ExportColumn("Оплатили", "int"), ExportColumn("Доля", "share"), ExportColumn("Сумма", "money")],
        [[r.group, r.days, r.accounts, r.paid_accounts, r.share, r.paid_sum] for r in rows],
    )  # fmt: skip
