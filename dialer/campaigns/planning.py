"""``campaign plan``: what a claim would take at a given moment, and why every other account
of the campaign is left out — a dry run that changes nothing.

Set-based: one SQL statement classifies every open attempt of the campaign. The calling
window and the current calendar periods depend only on the time zone, so they are computed
in Python once per zone (a dozen rows) and joined in as a ``VALUES`` table; caps, stop flags,
payments and phones are compared in SQL. The order of the checks is the claim's order
(:func:`dialer.campaigns.queue.claim_attempts`), so the plan and the claim agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from dialer.campaigns.attempts import LeftOut
from dialer.campaigns.policies import load_organisation_rules
from dialer.campaigns.queue import campaign_free_slots
from dialer.compliance import Periods, ProductionCalendar, is_callable_at
from storage.models import Phone, PhoneStatus
from storage.models.campaigns import (
    OPEN_ATTEMPT_STATUSES,
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignStatus,
    ContactLedger,
    StopFlagRecord,
)
from storage.models.ledger import Payment

__all__ = ["PlannedClaim", "PlanRow", "Plan", "plan_campaign", "left_out_rows"]

CLAIMABLE = "claimable"


@dataclass(frozen=True, slots=True)
class PlannedClaim:
    """An attempt a claim would take now."""

    attempt_id: int
    account_id: int
    due_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PlanRow:
    """An account left out now, and why."""

    account_id: int
    attempt_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The dry run's answer: claims, and how many accounts are left out for each reason."""

    campaign_id: int
    now: dt.datetime
    free_slots: int
    claims: tuple[PlannedClaim, ...]
    left_out: dict[str, int]


@dataclass(frozen=True, slots=True)
class _ZoneFacts:
    """Per time zone: whether a call may start now, the schedule, the current periods."""

    callable: sa.ColumnElement[int]
    in_schedule: sa.ColumnElement[int]
    day: sa.ColumnElement[dt.date]
    week: sa.ColumnElement[dt.date]
    month: sa.ColumnElement[dt.date]


def _zone_facts(
    session: Session, campaign: Campaign, now: dt.datetime, calendar: ProductionCalendar
) -> _ZoneFacts:
    """Zone-dependent facts as ``CASE attempts.time_zone …`` expressions.

    A handful of zones, computed in Python; a CASE (not a join) keeps the scan driven by
    the campaign's attempts, once each, on SQLite's nested loops too.
    """
    rules = load_organisation_rules(session, campaign.organisation_id, calendar).calls
    rules = rules.for_campaign(campaign.daily_start, campaign.daily_end)
    names = session.scalars(
        sa.select(Attempt.time_zone)
        .where(Attempt.campaign_id == campaign.id, Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
        .distinct()
    ).all()
    callable_now: dict[str, int] = {}
    in_schedule: dict[str, int] = {}
    days: dict[str, dt.date] = {}
    weeks: dict[str, dt.date] = {}
    months: dict[str, dt.date] = {}
    for name in names:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue  # unknown zone: never callable (the claim defers it too)
        today = now.astimezone(zone).date()
        periods = Periods.of(today)
        in_schedule[name] = int(
            today >= campaign.starts_on and (campaign.ends_on is None or today <= campaign.ends_on)
        )
        callable_now[name] = int(is_callable_at(now, zone, rules.calendar, rules.hours))
        days[name], weeks[name], months[name] = periods.day, periods.week, periods.month

    def by_zone(values: dict[str, int], default: int) -> sa.ColumnElement[int]:
        if not values:
            return sa.literal(default, sa.Integer)
        return sa.case(values, value=Attempt.time_zone, else_=default)

    def dates(values: dict[str, dt.date]) -> sa.ColumnElement[dt.date]:
        if not values:
            return sa.cast(sa.null(), sa.Date)
        return sa.case(
            {k: sa.literal(v, sa.Date) for k, v in values.items()},
            value=Attempt.time_zone,
            else_=sa.null(),
        )

    return _ZoneFacts(
        callable=by_zone(callable_now, 0),
        in_schedule=by_zone(in_schedule, 1),
        day=dates(days),
        week=dates(weeks),
        month=dates(months),
    )


def _classified(
    session: Session, campaign: Campaign, now: dt.datetime, calendar: ProductionCalendar
) -> tuple[sa.Subquery, int]:
    """A subquery ``(attempt_id, account_id, due_at, reason)`` over the open attempts."""
    caps = load_organisation_rules(session, campaign.organisation_id, calendar).calls.caps
    zones = _zone_facts(session, campaign, now, calendar)
    ledger, phone = ContactLedger, aliased(Phone, name="attempt_phone")
    min_seen = session.scalar(
        sa.select(sa.func.min(Attempt.payments_seen_id)).where(
            Attempt.campaign_id == campaign.id, Attempt.status.in_(OPEN_ATTEMPT_STATUSES)
        )
    )
    recent_payers = (
        sa.select(Payment.account_id).where(Payment.id > (min_seen or 0)).distinct().subquery()
    )
    exact_paid = (
        sa.select(sa.func.sum(Payment.amount))
        .where(Payment.account_id == Attempt.account_id, Payment.id > Attempt.payments_seen_id)
        .scalar_subquery()
    )
    stopped = Attempt.account_id.in_(
        sa.select(StopFlagRecord.account_id).where(StopFlagRecord.lifted_at.is_(None))
    )
    any_ok_phone = sa.exists().where(
        Phone.account_id == Attempt.account_id, Phone.status == PhoneStatus.OK
    )
    conv, msg = caps.conversation, caps.message
    zero = sa.literal_column("0", sa.Integer)
    capped = sa.or_(
        sa.and_(
            ledger.day == zones.day,
            sa.or_(ledger.day_conversations >= conv.per_day, ledger.day_messages >= msg.per_day),
        ),
        sa.and_(
            ledger.week == zones.week,
            sa.or_(
                ledger.week_conversations >= conv.per_week, ledger.week_messages >= msg.per_week
            ),
        ),
        sa.and_(
            ledger.month == zones.month,
            sa.or_(
                ledger.month_conversations >= conv.per_month,
                ledger.month_messages >= msg.per_month,
            ),
        ),
    )
    active = campaign.status == CampaignStatus.ACTIVE
    reason = sa.case(
        (sa.literal(not active), LeftOut.CAMPAIGN_INACTIVE.value),
        (Attempt.status == AttemptStatus.CLAIMED, LeftOut.IN_FLIGHT.value),
        (zones.in_schedule == 0, LeftOut.OUTSIDE_SCHEDULE.value),
        (Attempt.due_at > now, LeftOut.NOT_DUE.value),
        (stopped, LeftOut.STOP_FLAG.value),
        (
            sa.and_(sa.func.coalesce(phone.status, "") != PhoneStatus.OK.value, ~any_ok_phone),
            LeftOut.NO_PHONE.value,
        ),
        (
            sa.and_(
                recent_payers.c.account_id.is_not(None),
                Attempt.purpose != "thanks",
                # Plain SQL numbers: a Money-typed bind is text on SQLite and would compare
                # as text against the sum.
                sa.func.coalesce(exact_paid, zero) > zero,
                sa.func.coalesce(exact_paid, zero)
                >= Attempt.debt_snapshot * sa.literal_column(f"{float(campaign.paid_share):.3f}"),
            ),
            LeftOut.PAID.value,
        ),
        (zones.callable == 0, LeftOut.HOURS.value),
        (
            sa.and_(ledger.active_attempt_id.is_not(None), ledger.active_attempt_id != Attempt.id),
            LeftOut.ALREADY_ACTIVE.value,
        ),
        (capped, LeftOut.CAP.value),
        else_=CLAIMABLE,
    )
    query = (
        sa.select(
            Attempt.id.label("attempt_id"),
            Attempt.account_id.label("account_id"),
            Attempt.due_at.label("due_at"),
            reason.label("reason"),
        )
        .outerjoin(ledger, ledger.account_id == Attempt.account_id)
        .outerjoin(phone, phone.id == Attempt.phone_id)
        .outerjoin(recent_payers, recent_payers.c.account_id == Attempt.account_id)
        .where(Attempt.campaign_id == campaign.id, Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
    )
    slots = max(0, campaign_free_slots(session, campaign, now)) if active else 0
    return query.subquery("planned"), slots


def _finished(campaign: Campaign) -> sa.Select[int, int, str]:
    """Accounts of the campaign with no open attempt in it: the reason their chain ended."""
    # NOT EXISTS, not NOT IN: PostgreSQL turns it into a hash anti-join; NOT IN over a
    # million ids that do not fit work_mem is evaluated row by row.
    here = aliased(Attempt, name="open_here")
    open_here = sa.exists().where(
        here.campaign_id == campaign.id,
        here.account_id == Attempt.account_id,
        here.status.in_(OPEN_ATTEMPT_STATUSES),
    )
    last = (
        sa.select(sa.func.max(Attempt.id).label("id"))
        .where(Attempt.campaign_id == campaign.id, ~open_here)
        .group_by(Attempt.account_id)
        .subquery()
    )
    reason = sa.case(
        (Attempt.status == AttemptStatus.CANCELLED, sa.func.coalesce(Attempt.reason, "finished")),
        else_=LeftOut.FINISHED.value,
    )
    return sa.select(Attempt.account_id, Attempt.id, reason).join(last, last.c.id == Attempt.id)


def plan_campaign(
    session: Session, campaign: Campaign, now: dt.datetime, calendar: ProductionCalendar
) -> Plan:
    """The claims a worker would make at ``now`` and the left-out counts by reason."""
    planned, slots = _classified(session, campaign, now, calendar)
    counts: dict[str, int] = {}
    for reason, count in session.execute(
        sa.select(planned.c.reason, sa.func.count()).group_by(planned.c.reason)
    ):
        counts[str(reason)] = int(count)
    for _account, _attempt, reason in session.execute(_finished(campaign)):
        counts[str(reason)] = counts.get(str(reason), 0) + 1
    claims = tuple(
        PlannedClaim(int(a), int(b), c)
        for a, b, c in session.execute(
            sa.select(planned.c.attempt_id, planned.c.account_id, planned.c.due_at)
            .where(planned.c.reason == CLAIMABLE)
            .order_by(planned.c.due_at, planned.c.attempt_id)
            .limit(slots)
        )
    )
    claimable = counts.pop(CLAIMABLE, 0)
    if claimable > len(claims):
        counts[LeftOut.PACING.value] = claimable - len(claims)
    return Plan(campaign.id, now, slots, claims, counts)


def left_out_rows(
    session: Session, campaign: Campaign, now: dt.datetime, calendar: ProductionCalendar
) -> Iterator[PlanRow]:
    """Every account left out at ``now`` with its reason, streamed (no list in memory)."""
    planned, slots = _classified(session, campaign, now, calendar)
    claimed = 0
    rows = session.execute(
        sa.select(planned.c.account_id, planned.c.attempt_id, planned.c.reason).order_by(
            planned.c.due_at, planned.c.attempt_id
        ),
        execution_options={"yield_per": 5000},
    )
    for account_id, attempt_id, reason in rows:
        if reason == CLAIMABLE:
            claimed += 1
            if claimed <= slots:
                continue
            reason = LeftOut.PACING.value
        yield PlanRow(int(account_id), int(attempt_id), str(reason))
    for account_id, attempt_id, reason in session.execute(_finished(campaign)):
        yield PlanRow(int(account_id), int(attempt_id), str(reason))
