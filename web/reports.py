"""Managers' reports, set-based over the calls, turns, promises and payments.

Every report is one or two grouped SQL queries (no Python loops over calls), so a page
over a million calls stays fast; ``napomni bench web`` measures it. Each report also
turns into an :class:`~web.exports.ExportTable` for XLSX and CSV (1С).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models import Account, Building, DebtLine, Payment
from storage.models.campaigns import Call, EscalationCase, Promise, Turn
from web.access import Principal
from web.exports import ExportColumn, ExportTable

__all__ = [
    "PAID_WINDOWS_DAYS",
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
REASON_TAGS = (
    "financial_hardship", "dispute_amount", "service_complaint", "wrong_person",
    "unaware", "away", "refusal", "already_paid",
)  # fmt: skip
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


def _month(
    session: Session, column: sa.ColumnElement[dt.datetime] | InstrumentedAttribute[dt.datetime]
) -> sa.ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def _calls_in(principal: Principal, period: ReportPeriod) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [
        Call.started_at >= period.start,
        Call.started_at < period.end,
    ]
    if principal.organisation_ids is not None:
        where.append(Account.organisation_id.in_(sorted(principal.organisation_ids)))
    return where


@dataclass(frozen=True, slots=True)
class ReasonRow:
    """Calls where each reason was heard, for one building or one month."""

    key: str
    calls: int
    counts: dict[str, int]


def reasons(
    session: Session, principal: Principal, period: ReportPeriod, by: str = "building"
) -> list[ReasonRow]:
    """Reasons for non-payment heard in calls, grouped ``by`` building or month.

    A call counts once per reason however many turns carried it. Tags are matched in the
    stored JSON text, which works the same on SQLite and PostgreSQL.
    """
    tags_text = sa.cast(Turn.tags, sa.String)
    if by == "month":
        key: sa.ColumnElement[str] = _month(session, Call.started_at)
    else:
        key = sa.func.coalesce(Building.address, "без дома")
    columns = [
        sa.func.count(sa.distinct(sa.case((tags_text.like(f'%"{tag}"%'), Turn.call_id))))
        for tag in REASON_TAGS
    ]
    rows = session.execute(
        sa.select(key, sa.func.count(sa.distinct(Call.id)), *columns)
        .select_from(Call)
        .join(Account, Account.id == Call.account_id)
        .outerjoin(Building, Building.id == Account.building_id)
        .outerjoin(Turn, Turn.call_id == Call.id)
        .where(*_calls_in(principal, period), Call.answered_at.is_not(None))
        .group_by(key)
        .order_by(key)
    ).all()
    return [
        ReasonRow(
            key=str(row[0]),
            calls=int(row[1]),
            counts={tag: int(row[2 + i]) for i, tag in enumerate(REASON_TAGS)},
        )
        for row in rows
    ]


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
    """Dialled → answered → conversation → promise, by month."""
    month = _month(session, Call.started_at)
    calls = session.execute(
        sa.select(
            month,
            sa.func.count(Call.id),
            sa.func.count(Call.answered_at),
            sa.func.sum(sa.case((Call.counted_as == "conversation", 1), else_=0)),
            sa.func.sum(sa.case((Call.counted_as == "message", 1), else_=0)),
        )
        .join(Account, Account.id == Call.account_id)
        .where(*_calls_in(principal, period))
        .group_by(month)
        .order_by(month)
    ).all()
    promises = {
        str(row[0]): (int(row[1]), _money(row[2]))
        for row in session.execute(
            sa.select(
                month,
                sa.func.count(Promise.id),
                sa.func.sum(sa.func.coalesce(Promise.amount, Promise.debt_at_promise)),
            )
            .select_from(Promise)
            .join(Call, Call.id == Promise.call_id)
            .join(Account, Account.id == Call.account_id)
            .where(*_calls_in(principal, period))
            .group_by(month)
        )
    }
    return [
        FunnelRow(
            month=str(row[0]),
            dialled=int(row[1]),
            answered=int(row[2]),
            conversations=int(row[3] or 0),
            messages=int(row[4] or 0),
            promises=promises.get(str(row[0]), (0, ZERO))[0],
            promised_sum=promises.get(str(row[0]), (0, ZERO))[1],
        )
        for row in calls
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
    month = _month(session, Promise.made_at)
    amount = sa.func.coalesce(Promise.amount, Promise.debt_at_promise)
    where: list[sa.ColumnElement[bool]] = [
        Promise.made_at >= period.start,
        Promise.made_at < period.end,
    ]
    if principal.organisation_ids is not None:
        where.append(Account.organisation_id.in_(sorted(principal.organisation_ids)))

    def by_status(status: str) -> tuple[sa.ColumnElement[int], sa.ColumnElement[Decimal]]:
        return (
            sa.func.sum(sa.case((Promise.status == status, 1), else_=0)),
            sa.func.sum(sa.case((Promise.status == status, amount), else_=None)),
        )

    rows = session.execute(
        sa.select(
            month,
            sa.func.count(Promise.id),
            sa.func.sum(amount),
            *by_status("kept"),
            *by_status("broken"),
            sa.func.sum(sa.case((Promise.status == "made", 1), else_=0)),
        )
        .join(Account, Account.id == Promise.account_id)
        .where(*where)
        .group_by(month)
        .order_by(month)
    ).all()
    return [
        PromiseRow(
            month=str(r[0]),
            made=int(r[1]),
            made_sum=_money(r[2]),
            kept=int(r[3] or 0),
            kept_sum=_money(r[4]),
            broken=int(r[5] or 0),
            broken_sum=_money(r[6]),
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


def _paid_within(session: Session, anchors: sa.Subquery, days: int, group: str) -> PaidAfterRow:
    """``anchors`` has ``(account_id, day)``: payments in ``(day, day + days]`` per account."""
    paid = (
        sa.select(
            anchors.c.account_id.label("account_id"),
            sa.func.sum(Payment.amount).label("amount"),
        )
        .join(Payment, Payment.account_id == anchors.c.account_id)
        .where(
            Payment.paid_on > anchors.c.day,
            Payment.paid_on <= _plus_days(session, anchors.c.day, days),
        )
        .group_by(anchors.c.account_id)
        .subquery()
    )
    total = session.scalar(sa.select(sa.func.count()).select_from(anchors)) or 0
    row = session.execute(sa.select(sa.func.count(), sa.func.sum(paid.c.amount))).one()
    return PaidAfterRow(group, days, int(total), int(row[0] or 0), _money(row[1]))


def paid_after(
    session: Session, principal: Principal, period: ReportPeriod, today: dt.date
) -> list[PaidAfterRow]:
    """Money paid within 7/14/30 days after the first conversation (robot), after a
    collector closed the case (human), against accounts with debt not yet called.

    Only anchors at least N days old count for window N, so every window is complete.
    Accounts not yet called are anchored at ``today - N``: the same length of time,
    just before now.
    """
    visible: list[sa.ColumnElement[bool]] = []
    if principal.organisation_ids is not None:
        visible.append(Account.organisation_id.in_(sorted(principal.organisation_ids)))
    rows: list[PaidAfterRow] = []
    for days in PAID_WINDOWS_DAYS:
        cutoff = min(
            period.end,
            dt.datetime.combine(today - dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC),
        )
        robot = (
            sa.select(Call.account_id.label("account_id"), _day(session, sa.func.min(Call.started_at)).label("day"))
            .join(Account, Account.id == Call.account_id)
            .where(Call.counted_as == "conversation", Call.started_at >= period.start,
                   Call.started_at < cutoff, *visible)
            .group_by(Call.account_id)
            .subquery()
        )  # fmt: skip
        human = (
            sa.select(EscalationCase.account_id.label("account_id"),
                      _day(session, sa.func.min(sa.type_coerce(EscalationCase.closed_at, sa.DateTime(timezone=True)))).label("day"))
            .join(Account, Account.id == EscalationCase.account_id)
            .where(EscalationCase.closed_at.is_not(None), EscalationCase.closed_at >= period.start,
                   EscalationCase.closed_at < cutoff, *visible)
            .group_by(EscalationCase.account_id)
            .subquery()
        )  # fmt: skip
        anchor_day = today - dt.timedelta(days=days)
        not_called = (
            sa.select(Account.id.label("account_id"), sa.literal(anchor_day, sa.Date).label("day"))
            .where(~sa.exists().where(Call.account_id == Account.id), *visible,
                   sa.exists().where(DebtLine.account_id == Account.id, DebtLine.debt > ZERO))
            .subquery()
        )  # fmt: skip
        rows.append(_paid_within(session, robot, days, "после разговора с роботом"))
        rows.append(_paid_within(session, human, days, "после работы взыскателя"))
        rows.append(_paid_within(session, not_called, days, "ещё не звонили"))
    return rows


def reasons_table(rows: Sequence[ReasonRow], by: str) -> ExportTable:
    """The reasons report for export."""
    columns = [ExportColumn("Дом" if by != "month" else "Месяц"), ExportColumn("Звонков", "int")]
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
