"""Campaigns and what they produce: attempts (the queue), calls, turns, promises,
escalation cases, stop flags and the per-account contact ledger.

The attempts table *is* the queue: a worker claims a due ``pending`` attempt by taking a
lease (``lease_owner``, ``lease_expires_at``) in the same transaction that checks the
ledger; a killed worker's lease runs out and the attempt returns to ``pending``. At most
one open attempt per account exists across every campaign (a partial unique index).

The contact ledger holds one row per account with the counters of the current local
day, week and month (the periods of 230-ФЗ art. 7), so checking a cap is one row read
under a row lock, and planning over a million accounts is one set-based query.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import MONEY, Base, UtcDateTime
from storage.models.debt_book import utc_now
from storage.models.enums import enum_column_type

__all__ = [
    "LEDGER_COPY",
    "OPEN_ATTEMPT_STATUSES",
    "PLAN_LEDGER_COLUMNS",
    "OPEN_CASE_STATUSES",
    "Attempt",
    "AttemptPurpose",
    "AttemptStatus",
    "Call",
    "Campaign",
    "CampaignStatus",
    "ContactLedger",
    "EscalationCase",
    "EscalationStatus",
    "OrganisationPolicy",
    "Promise",
    "PromiseStatus",
    "StopFlagRecord",
    "Turn",
]


class CampaignStatus(StrEnum):
    """A campaign's life: drafted, running, paused by a manager, stopped for good."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class AttemptStatus(StrEnum):
    """Where an attempt is in the queue."""

    PENDING = "pending"  # waiting for its due time
    CLAIMED = "claimed"  # a worker holds the lease and is calling
    DONE = "done"  # the call ended and was counted
    CANCELLED = "cancelled"  # left out for good (paid, stop flag, campaign stopped)


OPEN_ATTEMPT_STATUSES = (AttemptStatus.PENDING.value, AttemptStatus.CLAIMED.value)

# The contact_ledger columns an open attempt carries a copy of (``ledger_<name>``).
LEDGER_COPY = (
    "day", "week", "month", "day_conversations", "day_messages", "week_conversations",
    "week_messages", "month_conversations", "month_messages",
)  # fmt: skip
PLAN_LEDGER_COLUMNS = tuple(f"ledger_{name}" for name in LEDGER_COPY)


class AttemptPurpose(StrEnum):
    """Why the account is called."""

    REMINDER = "reminder"
    THANKS = "thanks"
    BROKEN_PROMISE = "broken_promise"


class PromiseStatus(StrEnum):
    """A promise to pay, decided daily."""

    MADE = "made"
    KEPT = "kept"
    BROKEN = "broken"


class EscalationStatus(StrEnum):
    """An escalation case for a human collector («позвоночник»)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


OPEN_CASE_STATUSES = (EscalationStatus.OPEN.value, EscalationStatus.IN_PROGRESS.value)


class Campaign(Base):
    """Who to call (a filter over accounts), with which script, when and how fast."""

    __tablename__ = "campaigns"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "name"),
        sa.CheckConstraint("max_concurrent_calls > 0", name="max_concurrent_calls_positive"),
        sa.CheckConstraint("max_new_per_minute > 0", name="max_new_per_minute_positive"),
        sa.CheckConstraint("max_attempts > 0", name="max_attempts_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[CampaignStatus] = mapped_column(
        enum_column_type(CampaignStatus, column="status", length=16), default=CampaignStatus.DRAFT
    )
    script: Mapped[str] = mapped_column(sa.String(100))
    thanks_script: Mapped[str | None] = mapped_column(sa.String(100))
    broken_promise_script: Mapped[str | None] = mapped_column(sa.String(100))
    # The account filter as JSON (see dialer.campaigns.filters.AccountFilter).
    account_filter: Mapped[dict[str, object]] = mapped_column(sa.JSON, default=dict)
    starts_on: Mapped[dt.date] = mapped_column(sa.Date)
    ends_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    daily_start: Mapped[dt.time | None] = mapped_column(sa.Time)  # local time of the debtor
    daily_end: Mapped[dt.time | None] = mapped_column(sa.Time)
    max_concurrent_calls: Mapped[int] = mapped_column(sa.Integer, default=8)
    max_new_per_minute: Mapped[int] = mapped_column(sa.Integer, default=30)
    retry_no_answer_min: Mapped[int] = mapped_column(sa.Integer, default=180)
    retry_busy_min: Mapped[int] = mapped_column(sa.Integer, default=30)
    retry_failed_min: Mapped[int] = mapped_column(sa.Integer, default=60)
    max_attempts: Mapped[int] = mapped_column(sa.Integer, default=5)
    rereminder_days: Mapped[int] = mapped_column(sa.Integer, default=7)
    # Paid share of the debt snapshot at which the account counts as paid (0.9 = 90 %).
    paid_share: Mapped[Decimal] = mapped_column(sa.Numeric(4, 3), default=Decimal("0.900"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class Attempt(Base):
    """One planned call to an account; the row workers claim with a lease."""

    __tablename__ = "attempts"
    __table_args__ = (
        sa.Index("ix_attempts_status_due_at", "status", "due_at"),
        # The claim and the plan read a campaign's due attempts in due order.
        sa.Index("ix_attempts_campaign_status_due", "campaign_id", "status", "due_at", "id"),
        sa.Index("ix_attempts_account_id", "account_id"),
        # The plan counts a campaign's open attempts by zone and ledger state in this order
        # (a covering index: no table rows read, no sort); see dialer.campaigns.planning.
        sa.Index(
            "ix_attempts_plan",
            "campaign_id",
            "status",
            "recheck",
            *PLAN_LEDGER_COLUMNS,
            "time_zone",
            "due_at",
        ),  # fmt: skip
        sa.Index("ix_attempts_campaign_claimed_at", "campaign_id", "claimed_at"),
        # The plan's small ranges: the marked open attempts and the finished ones (partial
        # indexes, so SQLite's planner knows how few they are; migration 0007).
        sa.Index(
            "ix_attempts_recheck",
            "campaign_id",
            "time_zone",
            "payments_seen_id",
            sqlite_where=sa.text("recheck = 1 AND status IN ('pending', 'claimed')"),
            postgresql_where=sa.text("recheck = true AND status IN ('pending', 'claimed')"),
        ),
        sa.Index(
            "ix_attempts_finished",
            "campaign_id",
            "account_id",
            "id",
            sqlite_where=sa.text("status IN ('done', 'cancelled')"),
            postgresql_where=sa.text("status IN ('done', 'cancelled')"),
        ),
        # One open attempt per account, whatever the campaign (de-duplication).
        sa.Index(
            "uq_attempts_open_account",
            "account_id",
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'claimed')"),
            postgresql_where=sa.text("status IN ('pending', 'claimed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    purpose: Mapped[AttemptPurpose] = mapped_column(
        enum_column_type(AttemptPurpose, column="purpose", length=16),
        default=AttemptPurpose.REMINDER,
    )
    script: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[AttemptStatus] = mapped_column(
        enum_column_type(AttemptStatus, column="status", length=16), default=AttemptStatus.PENDING
    )
    # 1 for the first call of a chain; retries and re-reminders count up.
    number: Mapped[int] = mapped_column(sa.Integer, default=1)
    # How many failed tries (no answer, busy, failed) in a row; picks the next phone.
    tries: Mapped[int] = mapped_column(sa.Integer, default=0)
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    debt_snapshot: Mapped[Decimal] = mapped_column(MONEY)
    debt_as_of: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Payments with a larger id arrived after the snapshot (ids only grow).
    payments_seen_id: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The account's zone, copied at enqueue so planning needs no join per row.
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    # The phone the next try dials (rotates over the account's phones on retries).
    phone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("phones.id"))
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    claims: Mapped[int] = mapped_column(sa.Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    reason: Mapped[str | None] = mapped_column(sa.String(64))  # why cancelled or deferred
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    # The account's segment and debtor type (dialer.segments) when the campaign queued it;
    # follow-ups of a chain keep the first one's. Reports group by them (migration 0006).
    segment: Mapped[str | None] = mapped_column(sa.String(16))
    debtor_type: Mapped[str | None] = mapped_column(sa.String(16))
    # Denormalised for the plan, kept current by database triggers (migration 0003), so
    # every writer keeps them right, ours or not:
    # ``recheck`` is set once something may stop the call that the plan cannot read from
    # this row — a stop flag, a payment, a phone's status, another attempt in the ledger —
    # and such attempts are classified the slow, exact way (a minority);
    # ``ledger_*`` copy the account's contact_ledger row (NULL: no row yet, counts 0).
    recheck: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    ledger_day: Mapped[dt.date | None] = mapped_column(sa.Date)
    ledger_week: Mapped[dt.date | None] = mapped_column(sa.Date)
    ledger_month: Mapped[dt.date | None] = mapped_column(sa.Date)
    ledger_day_conversations: Mapped[int | None] = mapped_column(sa.Integer)
    ledger_day_messages: Mapped[int | None] = mapped_column(sa.Integer)
    ledger_week_conversations: Mapped[int | None] = mapped_column(sa.Integer)
    ledger_week_messages: Mapped[int | None] = mapped_column(sa.Integer)
    ledger_month_conversations: Mapped[int | None] = mapped_column(sa.Integer)
    ledger_month_messages: Mapped[int | None] = mapped_column(sa.Integer)


class Call(Base):
    """One dialled call: stored by the call session, incrementally, then closed."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("attempts.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    phone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("phones.id"))
    script: Mapped[str] = mapped_column(sa.String(100))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    sip_cause: Mapped[int | None] = mapped_column(sa.Integer)
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    counted_as: Mapped[str | None] = mapped_column(sa.String(16))  # conversation/message/none
    recording_path: Mapped[str | None] = mapped_column(sa.String(500))
    failure_reason: Mapped[str | None] = mapped_column(sa.String(500))
    first_word_ms: Mapped[int | None] = mapped_column(sa.Integer)  # answer → robot's first frame


class Turn(Base):
    """One exchange of a call: what the robot said, what the debtor answered, and how fast."""

    __tablename__ = "turns"
    __table_args__ = (sa.UniqueConstraint("call_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id"))
    index: Mapped[int] = mapped_column(sa.Integer)
    robot_text: Mapped[str] = mapped_column(sa.Text, default="")
    debtor_text: Mapped[str | None] = mapped_column(sa.Text)
    asked: Mapped[str | None] = mapped_column(sa.String(32))
    tags: Mapped[dict[str, float]] = mapped_column(sa.JSON, default=dict)  # tag → confidence
    promise_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    promise_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    latency_ms: Mapped[int | None] = mapped_column(sa.Integer)  # speech end → first robot audio
    recognition_ms: Mapped[int | None] = mapped_column(sa.Integer)  # the final decode's part
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)


class Promise(Base):
    """A promise to pay: by a date, an amount (or the whole debt); kept or broken is decided daily."""

    __tablename__ = "promises"
    __table_args__ = (sa.Index("ix_promises_status_due_on", "status", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id"))
    due_on: Mapped[dt.date] = mapped_column(sa.Date)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)  # None: the whole debt
    debt_at_promise: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[PromiseStatus] = mapped_column(
        enum_column_type(PromiseStatus, column="status", length=16), default=PromiseStatus.MADE
    )
    made_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Who heard it: NULL — the robot in the call ``call_id``; else the collector's actor
    # ("user:<id>") who recorded it on a case.
    made_by: Mapped[str | None] = mapped_column(sa.String(64))


class EscalationCase(Base):
    """Work for a human collector; one open case per account, new reasons join it."""

    __tablename__ = "escalation_cases"
    __table_args__ = (
        sa.Index("ix_escalation_cases_status_priority", "status", "priority"),
        sa.Index(
            "uq_escalation_cases_open_account",
            "account_id",
            unique=True,
            sqlite_where=sa.text("status IN ('open', 'in_progress')"),
            postgresql_where=sa.text("status IN ('open', 'in_progress')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    status: Mapped[EscalationStatus] = mapped_column(
        enum_column_type(EscalationStatus, column="status", length=16),
        default=EscalationStatus.OPEN,
    )
    reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    priority: Mapped[int] = mapped_column(sa.Integer, default=0)  # higher first
    debt: Mapped[Decimal] = mapped_column(MONEY)
    last_call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id"))
    assignee: Mapped[str | None] = mapped_column(sa.String(100))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class OrganisationPolicy(Base):
    """An organisation's own rules, stricter than the law or the defaults (absent → defaults).

    ``call_rules`` holds the narrower calling windows and caps; ``escalation_rules`` the
    escalation rules (see ``dialer.escalation``). Both are JSON so a lawyer's change needs
    no migration; the dialer validates them and names a bad key.
    """

    __tablename__ = "organisation_policies"

    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id"), primary_key=True
    )
    call_rules: Mapped[dict[str, object]] = mapped_column(sa.JSON, default=dict)
    escalation_rules: Mapped[dict[str, object]] = mapped_column(sa.JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class StopFlagRecord(Base):
    """A reason that blocks every contact with an account (or one person on it) until lifted."""

    __tablename__ = "stop_flags"
    __table_args__ = (sa.Index("ix_stop_flags_account_lifted", "account_id", "lifted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"))
    flag: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(sa.String(100), default="manual")  # call:<id>, user:<id>
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ContactLedger(Base):
    """Contacts with one person in the current local day, week and month.

    Keyed by the person's first account: accounts linked to it by
    ``accounts.ledger_account_id`` share this row, whatever the campaign. A bucket whose
    period start is not the current one reads as zero (see
    ``dialer.compliance.LedgerState``). ``active_attempt_id`` marks the one call in flight
    to the person.
    """

    __tablename__ = "contact_ledger"

    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), primary_key=True)
    day: Mapped[dt.date | None] = mapped_column(sa.Date)
    week: Mapped[dt.date | None] = mapped_column(sa.Date)
    month: Mapped[dt.date | None] = mapped_column(sa.Date)
    day_conversations: Mapped[int] = mapped_column(sa.Integer, default=0)
    day_messages: Mapped[int] = mapped_column(sa.Integer, default=0)
    week_conversations: Mapped[int] = mapped_column(sa.Integer, default=0)
    week_messages: Mapped[int] = mapped_column(sa.Integer, default=0)
    month_conversations: Mapped[int] = mapped_column(sa.Integer, default=0)
    month_messages: Mapped[int] = mapped_column(sa.Integer, default=0)
    active_attempt_id: Mapped[int | None] = mapped_column(sa.Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)
