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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from dialer.campaigns.attempts import LeftOut
from dialer.campaigns.policies import load_organisation_rules
from dialer.campaigns.queue import campaign_free_slots
from dialer.campaigns.rules import CallRules
from dialer.compliance import (
    LedgerState,
    Periods,
    ProductionCalendar,
    blocking_cap,
    is_callable_at,
)
from storage.debtors import LEDGER_ACCOUNT
from storage.models import Account, Phone, PhoneStatus
from storage.models.campaigns import (
    OPEN_ATTEMPT_STATUSES,
    PLAN_LEDGER_COLUMNS,
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


def _status_in(statuses: Iterable[str]) -> sa.ColumnElement[bool]:
    """``status IN ('a', 'b')`` with the values written into the SQL, not bound.

    SQLite uses a partial index only when it can prove the query's WHERE implies the
    index's, and a bound parameter proves nothing; the statuses are our own constants.
    """
    return Attempt.status.in_([sa.literal_column(f"'{AttemptStatus(s).value}'") for s in statuses])


def _open_attempts(campaign: Campaign, recheck_only: bool) -> sa.ColumnElement[bool]:
    """The rows being classified: the campaign's open attempts, or the marked ones only
    (the partial index ``ix_attempts_recheck``, not a scan of the campaign)."""
    where = sa.and_(Attempt.campaign_id == campaign.id, _status_in(OPEN_ATTEMPT_STATUSES))
    # ``== true`` (not ``IS 1``): spelled as the partial index ix_attempts_recheck is.
    return sa.and_(Attempt.recheck == sa.true(), where) if recheck_only else where


def _zone_facts(
    session: Session,
    campaign: Campaign,
    now: dt.datetime,
    calendar: ProductionCalendar,
    rows: sa.ColumnElement[bool],
) -> _ZoneFacts:
    """Zone-dependent facts as ``CASE attempts.time_zone …`` expressions.

    A handful of zones, computed in Python; a CASE (not a join) keeps the scan driven by
    the campaign's attempts, once each, on SQLite's nested loops too.
    """
    rules = load_organisation_rules(session, campaign.organisation_id, calendar).calls
    rules = rules.for_campaign(campaign.daily_start, campaign.daily_end)
    names = session.scalars(sa.select(Attempt.time_zone).where(rows).distinct()).all()
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


class _LedgerCopy:
    """The attempt's copy of its ledger row, under the ledger's column names."""

    day = Attempt.ledger_day
    week = Attempt.ledger_week
    month = Attempt.ledger_month
    day_conversations = Attempt.ledger_day_conversations
    day_messages = Attempt.ledger_day_messages
    week_conversations = Attempt.ledger_week_conversations
    week_messages = Attempt.ledger_week_messages
    month_conversations = Attempt.ledger_month_conversations
    month_messages = Attempt.ledger_month_messages


def _classified(
    session: Session,
    campaign: Campaign,
    now: dt.datetime,
    calendar: ProductionCalendar,
    *,
    recheck_only: bool = False,
) -> tuple[sa.Subquery, int]:
    """A subquery ``(attempt_id, account_id, due_at, reason)`` over the open attempts.

    Exact: reads the live stop flags, phones, payments and ledger row by row (the ledger
    through the attempt's own copy, which triggers keep equal to it in the same
    transaction). The plan uses it for the attempts marked ``recheck`` only; the full
    listing for all. Index lookups per row, no joins: PostgreSQL hash-joined the phones and
    ledger tables whole (0.6 s of 1 s at a million accounts) to classify 30,000 rows.
    """
    caps = load_organisation_rules(session, campaign.organisation_id, calendar).calls.caps
    rows = _open_attempts(campaign, recheck_only)
    zones = _zone_facts(session, campaign, now, calendar, rows)
    min_seen = session.scalar(sa.select(sa.func.min(Attempt.payments_seen_id)).where(rows))
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
    # As the claim decides: no phone when the account has no callable one (the attempt's
    # own phone is one of the account's).
    any_ok_phone = sa.exists().where(
        Phone.account_id == Attempt.account_id,
        Phone.status == PhoneStatus.OK,
        Phone.former_at.is_(None),
    )
    # The person's ledger: shared by all accounts of one debtor (storage.debtors).
    person = (
        sa.select(LEDGER_ACCOUNT)
        .where(Account.id == Attempt.account_id)
        .correlate(Attempt)  # two levels down: auto-correlation would not reach it
        .scalar_subquery()
    )
    in_use_elsewhere = sa.exists().where(
        ContactLedger.account_id == person,
        ContactLedger.active_attempt_id.is_not(None),
        ContactLedger.active_attempt_id != Attempt.id,
    )
    ledger = _LedgerCopy
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
        (~any_ok_phone, LeftOut.NO_PHONE.value),
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
        (in_use_elsewhere, LeftOut.ALREADY_ACTIVE.value),
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
        .outerjoin(recent_payers, recent_payers.c.account_id == Attempt.account_id)
        .where(rows)
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
        # An account with no open attempt here has only finished ones: read just those.
        .where(
            Attempt.campaign_id == campaign.id,
            _status_in((AttemptStatus.DONE, AttemptStatus.CANCELLED)),
            ~open_here,
        )
        # The partial index ix_attempts_finished holds just these rows in this order.
        .group_by(Attempt.account_id)
        .subquery()
    )
    reason = sa.case(
        (Attempt.status == AttemptStatus.CANCELLED, sa.func.coalesce(Attempt.reason, "finished")),
        else_=LeftOut.FINISHED.value,
    )
    return sa.select(Attempt.account_id, Attempt.id, reason).join(last, last.c.id == Attempt.id)


@dataclass(frozen=True, slots=True)
class _Zone:
    """What the clock says in one zone: in the campaign's dates, callable now, local date."""

    in_schedule: bool
    callable: bool
    today: dt.date | None


def _zones(
    names: Iterable[str], campaign: Campaign, now: dt.datetime, rules: CallRules
) -> dict[str, _Zone]:
    zones: dict[str, _Zone] = {}
    for name in names:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            # Unknown zone: never callable, no periods (as in the exact classification).
            zones[name] = _Zone(in_schedule=True, callable=False, today=None)
            continue
        today = now.astimezone(zone).date()
        zones[name] = _Zone(
            in_schedule=today >= campaign.starts_on
            and (campaign.ends_on is None or today <= campaign.ends_on),
            callable=is_callable_at(now, zone, rules.calendar, rules.hours),
            today=today,
        )
    return zones


_COPY = tuple(getattr(Attempt, column) for column in PLAN_LEDGER_COLUMNS)


def _copied_state(values: Sequence[object]) -> LedgerState:
    day, week, month, *counts = values
    numbers = [int(str(c)) if c is not None else 0 for c in counts]
    return LedgerState(day, week, month, *numbers)  # type: ignore[arg-type]


def _fast_counts(
    session: Session, campaign: Campaign, now: dt.datetime, rules: CallRules
) -> tuple[Counter[str], dict[str, _Zone]]:
    """Reasons of the attempts not marked ``recheck``, counted by group, not by row.

    Nothing but the row's own columns can stop such an attempt, so one pass over the
    covering index ``ix_attempts_plan`` grouped in its order (status, ledger copy, zone)
    gives a few hundred groups; hours are decided once per zone and caps once per ledger
    state, by the claim's own functions.
    """
    not_due = sa.func.sum(sa.case((Attempt.due_at > now, 1), else_=0))
    keys = (Attempt.status, *_COPY, Attempt.time_zone)
    groups = session.execute(
        sa.select(*keys, sa.func.count(), not_due)
        .where(
            Attempt.campaign_id == campaign.id,
            Attempt.status.in_(OPEN_ATTEMPT_STATUSES),
            Attempt.recheck.is_(False),
        )
        .group_by(*keys)
    ).all()
    zones = _zones({str(g[-3]) for g in groups}, campaign, now, rules)
    counts: Counter[str] = Counter()
    active = campaign.status == CampaignStatus.ACTIVE
    for status, *copy, name, number, later in groups:
        total, later = int(number), int(later or 0)
        zone = zones[str(name)]
        if not active:
            counts[LeftOut.CAMPAIGN_INACTIVE.value] += total
        elif status == AttemptStatus.CLAIMED:
            counts[LeftOut.IN_FLIGHT.value] += total
        elif not zone.in_schedule:
            counts[LeftOut.OUTSIDE_SCHEDULE.value] += total
        else:
            counts[LeftOut.NOT_DUE.value] += later
            due = total - later
            if not zone.callable or zone.today is None:
                counts[LeftOut.HOURS.value] += due
            elif blocking_cap(_copied_state(copy), zone.today, rules.caps) is not None:
                counts[LeftOut.CAP.value] += due
            else:
                counts[CLAIMABLE] += due
    return counts, zones


def _fast_claims(
    session: Session,
    campaign: Campaign,
    now: dt.datetime,
    rules: CallRules,
    zones: dict[str, _Zone],
    slots: int,
) -> list[tuple[int, int, dt.datetime]]:
    """The first ``slots`` claimable attempts not marked ``recheck``, in the claim's order."""
    open_zones = {n: z for n, z in zones.items() if z.in_schedule and z.callable and z.today}
    if slots <= 0 or not open_zones:
        return []
    caps = rules.caps
    periods = {n: Periods.of(z.today) for n, z in open_zones.items() if z.today}

    def when(pick: Callable[[Periods], dt.date]) -> sa.ColumnElement[dt.date]:
        return sa.case(
            {n: sa.literal(pick(p), sa.Date) for n, p in periods.items()},
            value=Attempt.time_zone,
        )

    conv, msg = caps.conversation, caps.message
    copy = {c.key: sa.func.coalesce(c, 0) for c in _COPY[3:]}
    capped = sa.or_(
        sa.and_(
            Attempt.ledger_day == when(lambda p: p.day),
            sa.or_(copy["ledger_day_conversations"] >= conv.per_day,
                   copy["ledger_day_messages"] >= msg.per_day),
        ),
        sa.and_(
            Attempt.ledger_week == when(lambda p: p.week),
            sa.or_(copy["ledger_week_conversations"] >= conv.per_week,
                   copy["ledger_week_messages"] >= msg.per_week),
        ),
        sa.and_(
            Attempt.ledger_month == when(lambda p: p.month),
            sa.or_(copy["ledger_month_conversations"] >= conv.per_month,
                   copy["ledger_month_messages"] >= msg.per_month),
        ),
    )  # fmt: skip
    rows = session.execute(
        sa.select(Attempt.id, Attempt.account_id, Attempt.due_at)
        .where(
            Attempt.campaign_id == campaign.id,
            Attempt.status == AttemptStatus.PENDING,
            Attempt.due_at <= now,
            Attempt.recheck.is_(False),
            Attempt.time_zone.in_(list(open_zones)),
            ~sa.func.coalesce(capped, sa.false()),
        )
        .order_by(Attempt.due_at, Attempt.id)
        .limit(slots)
    )
    return [(int(a), int(b), c) for a, b, c in rows]


def plan_campaign(
    session: Session, campaign: Campaign, now: dt.datetime, calendar: ProductionCalendar
) -> Plan:
    """The claims a worker would make at ``now`` and the left-out counts by reason.

    Attempts not marked ``recheck`` are counted by group over one covering index; the
    marked ones (stop flags, payments, phones, ledger in use changed since they were
    queued) are classified row by row the exact way. Both agree with the claim.
    """
    rules = load_organisation_rules(session, campaign.organisation_id, calendar).calls
    rules = rules.for_campaign(campaign.daily_start, campaign.daily_end)
    counts, zones = _fast_counts(session, campaign, now, rules)
    planned, slots = _classified(session, campaign, now, calendar, recheck_only=True)
    exact_counts: Counter[str] = Counter()
    for reason, count in session.execute(
        sa.select(planned.c.reason, sa.func.count()).group_by(planned.c.reason)
    ):
        exact_counts[str(reason)] += int(count)
    for _account, _attempt, reason in session.execute(_finished(campaign)):
        counts[str(reason)] += 1
    # The exact classification is the plan's costly part: run it a second time (for the
    # claims' order) only when one of the marked attempts can be claimed at all.
    exact = (
        [
            (int(a), int(b), c)
            for a, b, c in session.execute(
                sa.select(planned.c.attempt_id, planned.c.account_id, planned.c.due_at)
                .where(planned.c.reason == CLAIMABLE)
                .order_by(planned.c.due_at, planned.c.attempt_id)
                .limit(slots)
            )
        ]
        if exact_counts[CLAIMABLE] and slots
        else []
    )
    counts.update(exact_counts)
    fast = _fast_claims(session, campaign, now, rules, zones, slots) if counts[CLAIMABLE] else []
    merged = sorted([*fast, *exact], key=lambda r: (_utc(r[2]), r[0]))[:slots]
    claims = tuple(PlannedClaim(a, b, c) for a, b, c in merged)
    claimable = counts.pop(CLAIMABLE, 0)
    if claimable > len(claims):
        counts[LeftOut.PACING.value] = claimable - len(claims)
    return Plan(campaign.id, now, slots, claims, {k: v for k, v in counts.items() if v})


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


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
