"""Promises to pay, decided once a day: kept (payments cover it by the date) or broken
(the date plus grace days passed). The first broken promise of an account queues one
``broken_promise`` call; a later one goes to a collector.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.campaigns.policies import load_organisation_rules
from dialer.campaigns.queue import follow_up
from dialer.compliance import ProductionCalendar
from dialer.escalation import EscalationReason, escalate
from storage.models import DEFAULT_TIME_ZONE, Account
from storage.models.campaigns import (
    OPEN_ATTEMPT_STATUSES,
    Attempt,
    AttemptPurpose,
    AttemptStatus,
    Call,
    Campaign,
    Promise,
    PromiseStatus,
)
from storage.models.ledger import Payment

__all__ = ["PromiseDecisions", "decide_promises", "local_zone"]


@dataclass(frozen=True, slots=True)
class PromiseDecisions:
    """What one daily run decided."""

    kept: int
    broken: int
    broken_promise_calls: int
    escalated: int


def decide_promises(
    session: Session,
    *,
    now: dt.datetime,
    calendar: ProductionCalendar,
    grace_days: int = 3,
    organisation_id: int | None = None,
) -> PromiseDecisions:
    """Decide every open promise; idempotent (a decided promise is never decided again).

    Each promise is judged on the date of its account's time zone at ``now``: at one moment
    Vladivostok may be a day ahead of Kaliningrad, and a promise "by the 25th" is broken
    only once the 25th (plus the grace days) is over where the debtor lives.
    ``organisation_id`` limits the run to one organisation's accounts.
    """
    kept = broken = calls = escalated = 0
    query = (
        sa.select(Promise, Account.time_zone)
        .join(Account, Account.id == Promise.account_id)
        .where(Promise.status == PromiseStatus.MADE)
    )
    if organisation_id is not None:
        query = query.where(Account.organisation_id == organisation_id)
    promises = session.execute(
        query.order_by(Promise.id).with_for_update(skip_locked=True, of=Promise)
    ).all()
    for promise, time_zone in promises:
        zone = local_zone(time_zone)
        today = now.astimezone(zone).date()
        paid = session.scalar(
            sa.select(sa.func.sum(Payment.amount)).where(
                Payment.account_id == promise.account_id,
                Payment.paid_on >= promise.made_at.astimezone(zone).date(),
                Payment.paid_on <= today,
            )
        )
        paid_total = Decimal(str(paid or 0))
        target = promise.amount if promise.amount is not None else promise.debt_at_promise
        if paid_total >= target:
            promise.status, promise.decided_at = PromiseStatus.KEPT, now
            kept += 1
            continue
        if today <= promise.due_on + dt.timedelta(days=grace_days):
            continue
        promise.status, promise.decided_at = PromiseStatus.BROKEN, now
        broken += 1
        if _queue_broken_promise_call(session, promise, now):
            calls += 1
        elif _escalate_broken(session, promise, now, calendar):
            escalated += 1
    return PromiseDecisions(kept, broken, calls, escalated)


def local_zone(name: str) -> ZoneInfo:
    """The account's zone; an unknown name reads as Moscow (the debt book's default)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def _source_attempt(session: Session, promise: Promise) -> Attempt | None:
    """The attempt whose call heard the promise, else the account's latest attempt."""
    if promise.call_id is not None:
        found = session.scalar(
            sa.select(Attempt)
            .join(Call, Call.attempt_id == Attempt.id)
            .where(Call.id == promise.call_id)
        )
        if found is not None:
            return found
    return session.scalars(
        sa.select(Attempt)
        .where(Attempt.account_id == promise.account_id)
        .order_by(Attempt.id.desc())
    ).first()


def _queue_broken_promise_call(session: Session, promise: Promise, now: dt.datetime) -> bool:
    """Queue the one ``broken_promise`` call of the account; ``False`` if it had one already."""
    earlier = session.scalar(
        sa.select(sa.func.count()).where(
            Attempt.account_id == promise.account_id,
            Attempt.purpose == AttemptPurpose.BROKEN_PROMISE,
        )
    )
    source = _source_attempt(session, promise)
    if earlier or source is None:
        return False
    campaign = session.get_one(Campaign, source.campaign_id)
    script = campaign.broken_promise_script or AttemptPurpose.BROKEN_PROMISE.value
    open_attempt = session.scalars(
        sa.select(Attempt)
        .where(Attempt.account_id == promise.account_id, Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
        .with_for_update()
    ).first()
    if open_attempt is not None:
        if open_attempt.status != AttemptStatus.PENDING:
            return False  # a call is in flight; the collector takes it from here
        open_attempt.purpose, open_attempt.script, open_attempt.due_at = (
            AttemptPurpose.BROKEN_PROMISE,
            script,
            now,
        )
        return True
    session.add(follow_up(source, AttemptPurpose.BROKEN_PROMISE, script, now))
    return True


def _escalate_broken(
    session: Session, promise: Promise, now: dt.datetime, calendar: ProductionCalendar
) -> bool:
    source = _source_attempt(session, promise)
    organisation_id = (
        session.get_one(Campaign, source.campaign_id).organisation_id
        if source is not None
        else session.scalar(
            sa.text("SELECT organisation_id FROM accounts WHERE id = :id"),
            {"id": promise.account_id},
        )
    )
    if organisation_id is None:
        return False
    rules = load_organisation_rules(session, int(organisation_id), calendar)
    case = escalate(
        session,
        organisation_id=int(organisation_id),
        account_id=promise.account_id,
        reasons=[EscalationReason.BROKEN_PROMISE],
        debt=promise.debt_at_promise,
        now=now,
        rules=rules.escalation,
        call_id=promise.call_id,
    )
    return case is not None
