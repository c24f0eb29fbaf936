"""The attempt queue: claim (check + lease in one transaction), renew, complete, hand back,
and return the attempts of workers that died.

Every function runs inside the caller's transaction (``with factory.begin() as s``) and
takes ``now`` from the caller's clock. On PostgreSQL the claim locks the campaign row and
the due attempts and ledger rows with ``FOR UPDATE SKIP LOCKED``, so workers on several
machines never wait on each other and never claim the same attempt; on SQLite every
transaction is ``BEGIN IMMEDIATE`` (a single writer), which gives the same guarantee.

A call counts towards the caps exactly once: when its outcome is recorded by the worker
that still holds the lease. A lease that ran out is returned by :func:`reap_expired`; if
the dead worker's call had been answered (its ``calls`` row says so) the contact is
counted then, as a conversation — the strictest reading, since nobody knows what was said.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Collection
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dialer.campaigns.attempts import AttemptOutcome, ClaimedAttempt, EscalationRequest, LeftOut
from dialer.campaigns.callbacks import schedule_callback
from dialer.campaigns.errors import LeaseLost
from dialer.campaigns.policies import OrganisationRules, load_organisation_rules
from dialer.campaigns.rules import CallRules
from dialer.compliance import (
    CallOutcome,
    ContactKind,
    LedgerState,
    ProductionCalendar,
    StopFlag,
    blocking_cap,
    is_callable_at,
    next_callable_at,
)
from dialer.escalation import EscalationReason, escalate
from storage.debtors import LEDGER_ACCOUNT
from storage.models import Account, Phone, PhoneStatus
from storage.models.campaigns import (
    Attempt,
    AttemptPurpose,
    AttemptStatus,
    Call,
    Campaign,
    CampaignStatus,
    ContactLedger,
    Promise,
    StopFlagRecord,
)
from storage.models.enums import ContactKind as HistoryKind
from storage.models.history import ContactEvent
from storage.models.ledger import Payment
from storage.transfers import attach_case

__all__ = [
    "claim_attempts",
    "renew_lease",
    "complete_attempt",
    "release_attempt",
    "reap_expired",
    "ledger_state",
    "ensure_ledgers",
    "ledger_account",
    "paid_since",
    "follow_up",
]

log = logging.getLogger(__name__)

_NO_CONTACT_RETRY = {
    CallOutcome.NO_ANSWER,
    CallOutcome.BUSY,
    CallOutcome.REJECTED,
    CallOutcome.UNREACHABLE,
    CallOutcome.FAILED,
    CallOutcome.VOICEMAIL,
    CallOutcome.THIRD_PARTY,
    CallOutcome.HUNG_UP,
}

_REQUEST_REASONS = {
    EscalationRequest.DISPUTE: EscalationReason.DISPUTE,
    EscalationRequest.OPERATOR_REQUEST: EscalationReason.OPERATOR_REQUEST,
    EscalationRequest.REFUSAL: EscalationReason.REFUSAL,
    EscalationRequest.SERVICE_COMPLAINT: EscalationReason.SERVICE_COMPLAINT,
    EscalationRequest.ALREADY_PAID: EscalationReason.ALREADY_PAID,
    EscalationRequest.INSTALLMENT_REQUEST: EscalationReason.INSTALLMENT_REQUEST,
    EscalationRequest.MISUNDERSTOOD: EscalationReason.MISUNDERSTOOD,
}

_DEFER_ON_BAD_ZONE = dt.timedelta(hours=24)


# ---- ledger -------------------------------------------------------------------------------


def ledger_state(row: ContactLedger | None) -> LedgerState:
    """The pure counting state of a ledger row (an absent row counts nothing)."""
    if row is None:
        return LedgerState()
    return LedgerState(
        day=row.day,
        week=row.week,
        month=row.month,
        day_conversations=row.day_conversations,
        day_messages=row.day_messages,
        week_conversations=row.week_conversations,
        week_messages=row.week_messages,
        month_conversations=row.month_conversations,
        month_messages=row.month_messages,
    )


def _store_state(row: ContactLedger, state: LedgerState, now: dt.datetime) -> None:
    row.day, row.week, row.month = state.day, state.week, state.month
    row.day_conversations, row.day_messages = state.day_conversations, state.day_messages
    row.week_conversations, row.week_messages = state.week_conversations, state.week_messages
    row.month_conversations, row.month_messages = state.month_conversations, state.month_messages
    row.updated_at = now


def ledger_account(session: Session, account_id: int) -> int:
    """The account whose ledger row counts contacts with this account's debtor.

    One ledger per person: accounts of one person (linked by
    :func:`storage.debtors.link_debtors`) share the row of the first of them.
    """
    found = session.scalar(sa.select(LEDGER_ACCOUNT).where(Account.id == account_id))
    return int(found) if found is not None else account_id


def ensure_ledgers(session: Session, account_ids: sa.Select[int], now: dt.datetime) -> None:
    """Create missing ledger rows for the persons of the accounts selected (set-based,
    idempotent)."""
    dialect = session.get_bind().dialect.name
    columns = ["account_id", "day_conversations", "day_messages", "week_conversations",
               "week_messages", "month_conversations", "month_messages", "updated_at"]  # fmt: skip
    source = sa.select(
        LEDGER_ACCOUNT,
        *[sa.literal(0)] * 6,
        sa.literal(now, type_=ContactLedger.updated_at.type),
    ).where(Account.id.in_(account_ids))
    # SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT to parse the upsert.
    source = source.where(sa.true())
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ContactLedger)
    session.execute(insert.from_select(columns, source).on_conflict_do_nothing())


def _lock_ledger(session: Session, account_id: int, now: dt.datetime) -> ContactLedger | None:
    """The ledger row of the account's person under a row lock; ``None`` if another worker
    holds it."""
    account_id = ledger_account(session, account_id)
    query = (
        sa.select(ContactLedger)
        .where(ContactLedger.account_id == account_id)
        .with_for_update(skip_locked=True)
    )
    row = session.scalars(query).first()
    if row is not None:
        return row
    exists = session.scalar(
        sa.select(sa.func.count()).where(ContactLedger.account_id == account_id)
    )
    if exists:
        return None  # locked by someone else right now
    ensure_ledgers(session, sa.select(sa.literal(account_id)), now)
    return session.scalars(query.execution_options(populate_existing=True)).first()


# ---- checks -------------------------------------------------------------------------------


def _active_stop(session: Session, account_id: int) -> str | None:
    return session.scalar(
        sa.select(StopFlagRecord.flag)
        .where(StopFlagRecord.account_id == account_id, StopFlagRecord.lifted_at.is_(None))
        .limit(1)
    )


def _ok_phones(session: Session, account_id: int) -> list[Phone]:
    return list(
        session.scalars(
            sa.select(Phone)
            .where(
                Phone.account_id == account_id,
                Phone.status == PhoneStatus.OK,
                Phone.former_at.is_(None),  # a former owner's phone: never for this flat
            )
            .order_by(Phone.id)
        )
    )


def _phone_after(phones: list[Phone], current: int | None) -> Phone | None:
    """The next callable phone after ``current`` in order (wrapping), or the first."""
    if not phones:
        return None
    ids = [p.id for p in phones]
    if current in ids:
        return phones[(ids.index(current) + 1) % len(phones)]
    later = [p for p in phones if current is not None and p.id > current]
    return later[0] if later else phones[0]


def paid_since(session: Session, account_id: int, payments_seen_id: int) -> Decimal:
    """Money paid on the account since the attempt's debt snapshot."""
    total = session.scalar(
        sa.select(sa.func.sum(Payment.amount)).where(
            Payment.account_id == account_id, Payment.id > payments_seen_id
        )
    )
    return Decimal(str(total or 0)).quantize(Decimal("0.01"))


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# ---- claim --------------------------------------------------------------------------------


def claim_attempts(
    session: Session,
    *,
    worker_id: str,
    now: dt.datetime,
    want: int,
    lease: dt.timedelta,
    calendar: ProductionCalendar,
    campaign_ids: Collection[int] | None = None,
) -> list[ClaimedAttempt]:
    """Claim up to ``want`` due attempts that every rule allows now, with a lease each.

    Attempts that are due but not allowed are moved on in the same transaction: deferred
    to the next allowed moment (hours, caps) or cancelled with the reason (paid, stop flag,
    no phone, campaign over); a paid account gets a ``thanks`` attempt where the campaign
    has a thanks script. ``campaign_ids`` limits the worker to some campaigns.
    """
    active = sa.select(Campaign.id).where(Campaign.status == CampaignStatus.ACTIVE)
    if campaign_ids is not None:
        active = active.where(Campaign.id.in_(list(campaign_ids)))
    campaigns = list(session.scalars(active))
    random.shuffle(campaigns)  # spread workers over campaigns
    claimed: list[ClaimedAttempt] = []
    rules_cache: dict[int, OrganisationRules] = {}
    for campaign_id in campaigns:
        if len(claimed) >= want:
            break
        campaign = session.scalars(
            sa.select(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.ACTIVE)
            .with_for_update(skip_locked=True)
        ).first()
        if campaign is None:
            continue  # another worker is claiming in it now, or it was just paused
        if campaign.organisation_id not in rules_cache:
            rules_cache[campaign.organisation_id] = load_organisation_rules(
                session, campaign.organisation_id, calendar
            )
        rules = rules_cache[campaign.organisation_id].calls.for_campaign(
            campaign.daily_start, campaign.daily_end
        )
        claimed.extend(
            _claim_in_campaign(session, campaign, rules, worker_id, now, want - len(claimed), lease)
        )
    return claimed


def campaign_free_slots(session: Session, campaign: Campaign, now: dt.datetime) -> int:
    """How many more calls the campaign's pacing allows right now."""
    in_flight = session.scalar(
        sa.select(sa.func.count()).where(
            Attempt.campaign_id == campaign.id, Attempt.status == AttemptStatus.CLAIMED
        )
    )
    recent = session.scalar(
        sa.select(sa.func.count()).where(
            Attempt.campaign_id == campaign.id,
            Attempt.claimed_at > now - dt.timedelta(minutes=1),
        )
    )
    return min(
        campaign.max_concurrent_calls - int(in_flight or 0),
        campaign.max_new_per_minute - int(recent or 0),
    )


def _claim_in_campaign(
    session: Session,
    campaign: Campaign,
    rules: CallRules,
    worker_id: str,
    now: dt.datetime,
    want: int,
    lease: dt.timedelta,
) -> list[ClaimedAttempt]:
    slots = min(want, campaign_free_slots(session, campaign, now))
    if slots <= 0:
        return []
    candidates = session.scalars(
        sa.select(Attempt)
        .where(
            Attempt.campaign_id == campaign.id,
            Attempt.status == AttemptStatus.PENDING,
            Attempt.due_at <= now,
        )
        .order_by(Attempt.due_at, Attempt.id)
        .limit(slots * 4 + 8)
        .with_for_update(skip_locked=True)
    ).all()
    claimed: list[ClaimedAttempt] = []
    for attempt in candidates:
        if len(claimed) >= slots:
            break
        got = _judge_and_claim(session, campaign, rules, attempt, worker_id, now, lease)
        if got is not None:
            claimed.append(got)
    return claimed


def _cancel(attempt: Attempt, reason: LeftOut | str, now: dt.datetime) -> None:
    attempt.status = AttemptStatus.CANCELLED
    attempt.reason = str(reason)
    attempt.finished_at = now


def _defer(attempt: Attempt, until: dt.datetime, reason: LeftOut) -> None:
    attempt.due_at = until
    attempt.reason = str(reason)


def _judge_and_claim(
    session: Session,
    campaign: Campaign,
    rules: CallRules,
    attempt: Attempt,
    worker_id: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> ClaimedAttempt | None:
    """Apply every rule to one due attempt; claim it, or move it on and return ``None``."""
    zone = _zone(attempt.time_zone)
    if zone is None:
        log.warning("attempt %s: unknown time zone, deferred a day", attempt.id)
        _defer(attempt, now + _DEFER_ON_BAD_ZONE, LeftOut.HOURS)
        return None
    local_today = now.astimezone(zone).date()
    if campaign.ends_on is not None and local_today > campaign.ends_on:
        _cancel(attempt, LeftOut.OUTSIDE_SCHEDULE, now)
        return None
    if local_today < campaign.starts_on:
        start = dt.datetime.combine(campaign.starts_on, dt.time(0), tzinfo=zone)
        _defer(attempt, start.astimezone(dt.UTC), LeftOut.OUTSIDE_SCHEDULE)
        return None
    flag = _active_stop(session, attempt.account_id)
    if flag is not None:
        _cancel(attempt, LeftOut.STOP_FLAG, now)
        return None
    phones = _ok_phones(session, attempt.account_id)
    phone = next((p for p in phones if p.id == attempt.phone_id), None) or _phone_after(
        phones, attempt.phone_id
    )
    if phone is None:
        _cancel(attempt, LeftOut.NO_PHONE, now)
        return None
    paid = paid_since(session, attempt.account_id, attempt.payments_seen_id)
    if (
        attempt.purpose != AttemptPurpose.THANKS
        and paid > 0
        and paid >= (attempt.debt_snapshot * campaign.paid_share)
    ):
        _cancel(attempt, LeftOut.PAID, now)
        if campaign.thanks_script:
            session.flush()  # the cancelled row leaves the one-open-attempt index first
            session.add(follow_up(attempt, AttemptPurpose.THANKS, campaign.thanks_script, now))
        return None
    if not is_callable_at(now, zone, rules.calendar, rules.hours):
        opens = next_callable_at(now, zone, rules.calendar, rules.hours)
        _defer(attempt, opens or now + _DEFER_ON_BAD_ZONE, LeftOut.HOURS)
        return None
    ledger = _lock_ledger(session, attempt.account_id, now)
    if ledger is None:
        return None  # another worker is recording a contact for this account right now
    if ledger.active_attempt_id not in (None, attempt.id):
        _defer(attempt, now + dt.timedelta(minutes=5), LeftOut.ALREADY_ACTIVE)
        return None
    if blocking_cap(ledger_state(ledger), local_today, rules.caps) is not None:
        tomorrow = dt.datetime.combine(local_today + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        opens = next_callable_at(tomorrow.astimezone(dt.UTC), zone, rules.calendar, rules.hours)
        _defer(attempt, opens or now + _DEFER_ON_BAD_ZONE, LeftOut.CAP)
        return None
    attempt.status = AttemptStatus.CLAIMED
    attempt.phone_id = phone.id
    attempt.lease_owner = worker_id
    attempt.lease_expires_at = now + lease
    attempt.claimed_at = now
    attempt.claims += 1
    attempt.reason = None
    ledger.active_attempt_id = attempt.id
    ledger.updated_at = now
    return ClaimedAttempt(
        attempt_id=attempt.id,
        campaign_id=campaign.id,
        organisation_id=campaign.organisation_id,
        account_id=attempt.account_id,
        phone_id=phone.id,
        phone_number=phone.number,
        script=attempt.script,
        purpose=str(attempt.purpose),
        number=attempt.number,
        debt=attempt.debt_snapshot,
        time_zone=attempt.time_zone,
        lease_owner=worker_id,
        lease_expires_at=now + lease,
    )


def follow_up(
    previous: Attempt,
    purpose: AttemptPurpose,
    script: str,
    due_at: dt.datetime,
    *,
    tries: int = 0,
    phone_id: int | None = None,
) -> Attempt:
    """The next attempt of ``previous``'s chain (not added to the session)."""
    return Attempt(
        campaign_id=previous.campaign_id,
        account_id=previous.account_id,
        purpose=purpose,
        script=script,
        status=AttemptStatus.PENDING,
        number=previous.number + 1,
        tries=tries,
        due_at=due_at,
        debt_snapshot=previous.debt_snapshot,
        debt_as_of=previous.debt_as_of,
        payments_seen_id=previous.payments_seen_id,
        time_zone=previous.time_zone,
        phone_id=phone_id if phone_id is not None else previous.phone_id,
        claims=0,
        created_at=due_at,
        segment=previous.segment,
        debtor_type=previous.debtor_type,
    )


# ---- leases -------------------------------------------------------------------------------


def renew_lease(session: Session, attempt_id: int, worker_id: str, until: dt.datetime) -> bool:
    """Extend the lease while the call goes on; ``False`` if the lease is no longer ours."""
    result = session.execute(
        sa.update(Attempt)
        .where(
            Attempt.id == attempt_id,
            Attempt.status == AttemptStatus.CLAIMED,
            Attempt.lease_owner == worker_id,
        )
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _held(session: Session, attempt_id: int, worker_id: str) -> Attempt:
    attempt = session.scalars(
        sa.select(Attempt).where(Attempt.id == attempt_id).with_for_update()
    ).first()
    if (
        attempt is None
        or attempt.status != AttemptStatus.CLAIMED
        or attempt.lease_owner != worker_id
    ):
        raise LeaseLost(f"attempt {attempt_id}: the lease is no longer held by {worker_id}")
    return attempt


def _count_contact(
    session: Session, attempt: Attempt, kind: ContactKind, now: dt.datetime
) -> LedgerState:
    """Record one contact in the ledger (dated by when the call was claimed) and free it;
    the ledger's state after it."""
    person = ledger_account(session, attempt.account_id)
    ledger = session.scalars(
        sa.select(ContactLedger).where(ContactLedger.account_id == person).with_for_update()
    ).first()
    if ledger is None:
        ensure_ledgers(session, sa.select(sa.literal(attempt.account_id)), now)
        ledger = session.get_one(ContactLedger, person)
    zone = _zone(attempt.time_zone) or ZoneInfo("Europe/Moscow")
    started = (attempt.claimed_at or now).astimezone(zone).date()
    after = ledger_state(ledger).recorded(kind, started)
    _store_state(ledger, after, now)
    if ledger.active_attempt_id == attempt.id:
        ledger.active_attempt_id = None
    return after


def _call_event(
    campaign: Campaign,
    attempt: Attempt,
    now: dt.datetime,
    summary: str,
    counted_as: ContactKind,
    *,
    call_id: int | None = None,
    outcome: str | None = None,
) -> ContactEvent:
    """The account's history entry for one robot call, as the ledger counted it."""
    details: dict[str, object] = {
        "attempt": attempt.id, "counted_as": counted_as.value, "campaign": campaign.id,
    }  # fmt: skip
    if outcome is not None:
        details["outcome"] = outcome
    return ContactEvent(
        organisation_id=campaign.organisation_id,
        account_id=attempt.account_id,
        phone_id=attempt.phone_id,
        kind=HistoryKind.CALL,
        occurred_at=attempt.claimed_at or now,
        actor="robot",
        summary=summary,
        ref_table="calls" if call_id is not None else "attempts",
        ref_id=call_id if call_id is not None else attempt.id,
        details=details,
    )


def complete_attempt(
    session: Session,
    *,
    attempt_id: int,
    worker_id: str,
    outcome: AttemptOutcome,
    now: dt.datetime,
    calendar: ProductionCalendar,
) -> Attempt:
    """Record a finished call: count it once, store what it produced, schedule what follows.

    Raises :class:`LeaseLost` (and changes nothing) if this worker no longer holds the lease.
    """
    attempt = _held(session, attempt_id, worker_id)
    campaign = session.get_one(Campaign, attempt.campaign_id)
    rules = load_organisation_rules(session, campaign.organisation_id, calendar)
    kind = rules.calls.counting.kind_of(outcome.result)
    ledger = _count_contact(session, attempt, kind, now)
    attempt.status = AttemptStatus.DONE
    attempt.outcome = outcome.result.value
    attempt.reason = outcome.failure_reason[:64] if outcome.failure_reason else None
    attempt.finished_at = now
    attempt.lease_owner = None
    if outcome.call_id is not None:
        call = session.get(Call, outcome.call_id)
        if call is not None:
            call.counted_as = kind.value
            call.outcome = call.outcome or outcome.result.value
    session.add(
        _call_event(
            campaign, attempt, now, f"Звонок робота: {outcome.result.value}", kind,
            call_id=outcome.call_id,
        )
    )  # fmt: skip
    session.flush()
    reasons = _after_call(session, campaign, attempt, outcome, now, rules, ledger)
    if reasons:
        case = escalate(
            session,
            organisation_id=campaign.organisation_id,
            account_id=attempt.account_id,
            reasons=reasons,
            debt=attempt.debt_snapshot,
            now=now,
            rules=rules.escalation,
            call_id=outcome.call_id,
        )
        if case is not None and outcome.call_id is not None:
            # A live transfer's case: linked, and the collector's who took the call.
            attach_case(session, outcome.call_id, case.id)
    return attempt


def _stop(
    session: Session, attempt: Attempt, flag: StopFlag, source: str, now: dt.datetime
) -> None:
    session.add(
        StopFlagRecord(
            account_id=attempt.account_id, flag=flag.value, source=source, note="", set_at=now
        )
    )


def _after_call(
    session: Session,
    campaign: Campaign,
    attempt: Attempt,
    outcome: AttemptOutcome,
    now: dt.datetime,
    rules: OrganisationRules,
    ledger: LedgerState,
) -> list[EscalationReason]:
    """Stop flags, promise, follow-up attempt; returns the escalation reasons."""
    source = f"call:{outcome.call_id}" if outcome.call_id is not None else f"attempt:{attempt.id}"
    reasons = [_REQUEST_REASONS[r] for r in outcome.requests if r in _REQUEST_REASONS]
    if outcome.do_not_call:
        _stop(session, attempt, StopFlag.DO_NOT_CALL, source, now)
    if EscalationReason.DISPUTE in reasons:
        _stop(session, attempt, StopFlag.DISPUTE_UNDER_REVIEW, source, now)
    phones = _ok_phones(session, attempt.account_id)
    if outcome.wrong_number and attempt.phone_id is not None:
        phone = session.get(Phone, attempt.phone_id)
        if phone is not None:
            phone.status = PhoneStatus.WRONG
            phone.status_changed_at = now
        phones = [p for p in phones if p.id != attempt.phone_id]
        if not phones:
            reasons.append(EscalationReason.WRONG_PERSON_NO_OTHER_PHONE)
    if outcome.promise is not None:
        session.add(
            Promise(
                account_id=attempt.account_id,
                call_id=outcome.call_id,
                due_on=outcome.promise.due_on,
                amount=outcome.promise.amount,
                debt_at_promise=attempt.debt_snapshot,
                made_at=now,
            )
        )
    if outcome.do_not_call or EscalationReason.DISPUTE in reasons or not phones:
        return reasons
    if outcome.callback is not None and outcome.result.answered:
        # «Перезвоните вечером»: the next call at the time asked, not the usual retry.
        due = schedule_callback(
            outcome.callback, now=now, zone=_zone(attempt.time_zone) or ZoneInfo("Europe/Moscow"),
            rules=rules.calls.for_campaign(campaign.daily_start, campaign.daily_end),
            ledger=ledger, otherwise=dt.timedelta(minutes=campaign.retry_no_answer_min),
        )  # fmt: skip
        session.add(follow_up(attempt, AttemptPurpose(attempt.purpose), attempt.script, due))
        return reasons
    if outcome.result in _NO_CONTACT_RETRY or outcome.wrong_number:
        tries = attempt.tries + 1
        threshold = rules.escalation.threshold(EscalationReason.REPEATED_NO_ANSWER)
        if not outcome.result.answered and tries == threshold:
            reasons.append(EscalationReason.REPEATED_NO_ANSWER)
        if tries < campaign.max_attempts:
            delay = {
                CallOutcome.BUSY: campaign.retry_busy_min,
                CallOutcome.FAILED: campaign.retry_failed_min,
                CallOutcome.UNREACHABLE: campaign.retry_failed_min,
            }.get(outcome.result, campaign.retry_no_answer_min)
            nxt = _phone_after(phones, attempt.phone_id)
            session.add(
                follow_up(
                    attempt,
                    AttemptPurpose(attempt.purpose),
                    attempt.script,
                    now + dt.timedelta(minutes=delay),
                    tries=tries,
                    phone_id=nxt.id if nxt else None,
                )
            )
        return reasons
    if attempt.purpose == AttemptPurpose.REMINDER and outcome.promise is None and not reasons:
        session.add(
            follow_up(
                attempt,
                AttemptPurpose.REMINDER,
                attempt.script,
                now + dt.timedelta(days=campaign.rereminder_days),
            )
        )
    return reasons


def release_attempt(
    session: Session,
    *,
    attempt_id: int,
    worker_id: str,
    now: dt.datetime,
    calendar: ProductionCalendar,
) -> None:
    """Hand a held attempt back to the queue (graceful stop, or the runner never dialled)."""
    attempt = _held(session, attempt_id, worker_id)
    _return(session, attempt, now)


def _return(session: Session, attempt: Attempt, now: dt.datetime) -> None:
    """Back to ``pending``; an answered call of it is counted once, as a conversation."""
    answered = session.scalar(
        sa.select(sa.func.count()).where(
            Call.attempt_id == attempt.id, Call.answered_at.is_not(None)
        )
    )
    attempt.lease_owner = None
    attempt.lease_expires_at = None
    _close_open_calls(session, attempt, now, counted=bool(answered))
    if answered:
        _count_contact(session, attempt, ContactKind.CONVERSATION, now)
        attempt.status = AttemptStatus.DONE
        attempt.outcome = "interrupted"
        attempt.finished_at = now
        session.flush()
        campaign = session.get_one(Campaign, attempt.campaign_id)
        # The history says what the ledger counts: one call, interrupted (issue 14, item 4).
        session.add(
            _call_event(
                campaign, attempt, now,
                "Звонок робота прерван: исполнитель остановился во время разговора",
                ContactKind.CONVERSATION, outcome="interrupted",
            )
        )  # fmt: skip
        session.add(
            follow_up(
                attempt,
                AttemptPurpose(attempt.purpose),
                attempt.script,
                now + dt.timedelta(minutes=campaign.retry_failed_min),
                tries=attempt.tries,
            )
        )
        return
    ledger = session.scalars(
        sa.select(ContactLedger)
        .where(ContactLedger.account_id == ledger_account(session, attempt.account_id))
        .with_for_update()
    ).first()
    if ledger is not None and ledger.active_attempt_id == attempt.id:
        ledger.active_attempt_id = None
    attempt.status = AttemptStatus.PENDING
    attempt.due_at = now
    attempt.reason = "returned"


def _close_open_calls(
    session: Session, attempt: Attempt, now: dt.datetime, *, counted: bool
) -> None:
    """A dead worker's call rows, left open, are closed with what is known: its turns are
    stored already; it ended by now at the latest, interrupted, and counted as the ledger
    counts it (a conversation when it was answered, nothing when not)."""
    for call in session.scalars(
        sa.select(Call).where(Call.attempt_id == attempt.id, Call.ended_at.is_(None))
    ):
        call.ended_at = now
        call.outcome = call.outcome or "interrupted"
        call.counted_as = call.counted_as or (
            ContactKind.CONVERSATION.value if counted and call.answered_at else "none"
        )
        call.failure_reason = call.failure_reason or "исполнитель остановился во время звонка"


def reap_expired(session: Session, *, now: dt.datetime, limit: int = 100) -> int:
    """Return attempts whose lease ran out (their worker died) to the queue; how many."""
    expired = session.scalars(
        sa.select(Attempt)
        .where(Attempt.status == AttemptStatus.CLAIMED, Attempt.lease_expires_at < now)
        .order_by(Attempt.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    returned = 0
    for attempt in expired:
        if _call_still_written(session, attempt):
            continue
        log.warning("attempt %s: lease of %s ran out, returned", attempt.id, attempt.lease_owner)
        _return(session, attempt, now)
        returned += 1
    return returned


def _call_still_written(session: Session, attempt: Attempt) -> bool:
    """Whether a worker is writing this attempt's call right now (it holds the call row).

    That worker is alive, however old its lease: it finishes the call, then the attempt.
    Waiting for its row here would take the two rows in the opposite order to it — attempt,
    then call — and PostgreSQL found that deadlock (two workers, an expired lease, a call
    ending). Its open calls are locked here without waiting; any it holds, skip the attempt.
    """
    open_calls = sa.select(Call.id).where(Call.attempt_id == attempt.id, Call.ended_at.is_(None))
    every = set(session.scalars(open_calls))
    if not every:
        return False
    locked = set(session.scalars(open_calls.with_for_update(skip_locked=True)))
    return bool(every - locked)
