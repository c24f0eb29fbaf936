"""Robot vs human: the robot's conversations beside the collectors' cases, side by side.

What each side counts, for a report period:

- robot — contacts: answered calls; with the debtor: calls counted as a conversation
  (the right person heard the reminder); promises: promises made in a call
  (``promises.call_id`` set); outcomes: the cases the robot handed to a collector
  (escalation cases opened in the period).
- collector — contacts: cases closed in the period (each one worked); with the debtor:
  those closed with an outcome other than "не дозвонились" / "не тот человек";
  promises: promises recorded without a call (``call_id`` empty, entered by a person);
  outcomes: the closed cases by the resolution the collector chose.
- both — paid within 7/14/30 days: the share of accounts that paid after the first robot
  conversation / after the case was closed (the paid-after report's groups).

Robot counts come from the summaries (the funnel's ``report_call_days``, ``report_promise_days``)
(less the promises made without a call, which are few); cases and their resolutions are
human-sized.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models import Account, ContactEvent, ContactKind
from storage.models.campaigns import EscalationCase, Promise
from storage.models.reports import ReportPromiseDay
from web.access import Principal
from web.escalations import RESOLUTION_TITLES, Resolution
from web.exports import ExportColumn, ExportTable
from web.reports import (
    PAID_WINDOWS_DAYS,
    FunnelRow,
    PaidAfterRow,
    ReportPeriod,
    _days_in,
    _money,
    _rub,
)

__all__ = [
    "HUMAN",
    "ROBOT",
    "SideRow",
    "robot_vs_human",
    "robot_vs_human_counts",
    "robot_vs_human_table",
    "with_paid_shares",
]

ROBOT = "робот"
HUMAN = "взыскатель"
_PAID_GROUPS = {ROBOT: "после разговора с роботом", HUMAN: "после работы взыскателя"}
_NOT_WITH_DEBTOR = (Resolution.UNREACHABLE.value, Resolution.WRONG_PERSON.value)


@dataclass(frozen=True, slots=True)
class SideRow:
    """One side's results over the period."""

    side: str
    contacts: int
    with_debtor: int
    promises: int
    promised_sum: Decimal
    kept: int
    kept_sum: Decimal
    broken: int
    paid_share: dict[int, Decimal | None]
    outcomes: dict[str, int]

    @property
    def outcomes_text(self) -> str:
        """The outcomes as one line ("договорились об оплате: 3; отказ: 1")."""
        return "; ".join(f"{title}: {count}" for title, count in self.outcomes.items())


def _promises(
    session: Session, principal: Principal, period: ReportPeriod
) -> dict[bool, tuple[int, Decimal, int, Decimal, int]]:
    """By "made in a call": made, their sum, kept, kept sum, broken.

    All promises come from the summary ``report_promise_days``; those made without a call
    are few and read through ``ix_promises_call_id``; the robot's are the difference.
    """
    day = ReportPromiseDay
    total = session.execute(
        sa.select(
            *(
                sa.func.sum(c)
                for c in (day.made, day.made_kopecks, day.kept, day.kept_kopecks, day.broken)
            )
        ).where(*_days_in(principal, period, day.day, day.organisation_id))
    ).one()
    amount = sa.func.coalesce(Promise.amount, Promise.debt_at_promise)
    human = sa.select(
        sa.func.count(),
        sa.func.sum(amount),
        sa.func.sum(sa.case((Promise.status == "kept", 1), else_=0)),
        sa.func.sum(sa.case((Promise.status == "kept", amount), else_=None)),
        sa.func.sum(sa.case((Promise.status == "broken", 1), else_=0)),
    ).where(
        Promise.call_id.is_(None), Promise.made_at >= period.start, Promise.made_at < period.end
    )
    if principal.organisation_ids is not None:
        orgs = sorted(principal.organisation_ids)
        human = human.where(
            Promise.account_id.in_(sa.select(Account.id).where(Account.organisation_id.in_(orgs)))
        )
    row = session.execute(human).one()
    by_person = (int(row[0]), _money(row[1]), int(row[2] or 0), _money(row[3]), int(row[4] or 0))
    robot = (
        int(total[0] or 0) - by_person[0],
        _rub(total[1]) - by_person[1],
        int(total[2] or 0) - by_person[2],
        _rub(total[3]) - by_person[3],
        int(total[4] or 0) - by_person[4],
    )
    return {True: robot, False: by_person}


def _cases(
    session: Session, principal: Principal, period: ReportPeriod
) -> tuple[int, Counter[str]]:
    """Cases opened in the period, and the resolutions of those closed in it."""
    visible: list[sa.ColumnElement[bool]] = []
    events_visible: list[sa.ColumnElement[bool]] = []
    if principal.organisation_ids is not None:
        orgs = sorted(principal.organisation_ids)
        visible.append(EscalationCase.organisation_id.in_(orgs))
        events_visible.append(ContactEvent.organisation_id.in_(orgs))
    opened = session.scalar(
        sa.select(sa.func.count()).where(
            EscalationCase.opened_at >= period.start,
            EscalationCase.opened_at < period.end,
            *visible,
        )
    )
    resolutions: Counter[str] = Counter()
    # The resolution lives in the case's closing event (the case keeps only "closed").
    details = session.scalars(
        sa.select(ContactEvent.details).where(
            ContactEvent.ref_table == "escalation_cases",
            ContactEvent.kind == ContactKind.ESCALATION,
            ContactEvent.occurred_at >= period.start,
            ContactEvent.occurred_at < period.end,
            *events_visible,
        )
    )
    for detail in details:
        resolution = (detail or {}).get("resolution")
        if isinstance(resolution, str):
            resolutions[resolution] += 1
    return int(opened or 0), resolutions


def robot_vs_human(
    session: Session,
    principal: Principal,
    period: ReportPeriod,
    paid: Sequence[PaidAfterRow],
    funnel_rows: Sequence[FunnelRow],
) -> list[SideRow]:
    """The robot's and the collectors' results over ``period``. ``paid`` and ``funnel_rows``
    are the paid-after and funnel reports of the same period, so a page computes them once."""
    return with_paid_shares(robot_vs_human_counts(session, principal, period, funnel_rows), paid)


def robot_vs_human_counts(
    session: Session, principal: Principal, period: ReportPeriod, funnel_rows: Sequence[FunnelRow]
) -> list[SideRow]:
    """Robot vs human without the paid-after shares (see :func:`with_paid_shares`), so a
    page can read paid-after at the same time on another connection."""
    answered = sum(f.answered for f in funnel_rows)
    conversations = sum(f.conversations for f in funnel_rows)
    promises = _promises(session, principal, period)
    opened, resolutions = _cases(session, principal, period)
    none = (0, Decimal("0.00"), 0, Decimal("0.00"), 0)

    def side(
        name: str, contacts: int, with_debtor: int, in_call: bool, outcomes: dict[str, int]
    ) -> SideRow:
        made, made_sum, kept, kept_sum, broken = promises.get(in_call, none)
        return SideRow(
            name, contacts, with_debtor, made, made_sum, kept, kept_sum, broken,
            dict.fromkeys(PAID_WINDOWS_DAYS), outcomes,
        )  # fmt: skip

    closed = sum(resolutions.values())
    human_outcomes = {
        RESOLUTION_TITLES[r]: resolutions[r.value] for r in Resolution if resolutions[r.value]
    }
    return [
        side(ROBOT, answered, conversations, True,
             {"передано взыскателю": opened} if opened else {}),
        side(HUMAN, closed, closed - sum(resolutions[r] for r in _NOT_WITH_DEBTOR), False,
             human_outcomes),
    ]  # fmt: skip


def with_paid_shares(rows: Sequence[SideRow], paid: Sequence[PaidAfterRow]) -> list[SideRow]:
    """``rows`` with the share of accounts that paid within each window, from ``paid``."""
    shares = {(r.group, r.days): r.share for r in paid}
    return [
        dataclasses.replace(
            row, paid_share={d: shares.get((_PAID_GROUPS[row.side], d)) for d in PAID_WINDOWS_DAYS}
        )
        for row in rows
    ]


def robot_vs_human_table(rows: Sequence[SideRow]) -> ExportTable:
    """Robot vs human for export."""
    columns = [
        ExportColumn("Кто"), ExportColumn("Контактов", "int"), ExportColumn("С должником", "int"),
        ExportColumn("Обещаний", "int"), ExportColumn("На сумму", "money"),
        ExportColumn("Выполнено", "int"), ExportColumn("Сумма выполненных", "money"),
        ExportColumn("Нарушено", "int"),
        *(ExportColumn(f"Оплатили за {d} дней", "share") for d in PAID_WINDOWS_DAYS),
        ExportColumn("Исходы"),
    ]  # fmt: skip
    return ExportTable(
        "Робот и взыскатель",
        columns,
        [[r.side, r.contacts, r.with_debtor, r.promises, r.promised_sum, r.kept, r.kept_sum,
          r.broken, *(r.paid_share[d] for d in PAID_WINDOWS_DAYS), r.outcomes_text]
         for r in rows],
    )  # fmt: skip
