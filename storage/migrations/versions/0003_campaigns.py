"""Campaigns: campaigns, attempts (the queue, with leases), calls, turns, promises,
escalation cases, organisation policies, stop flags and the per-account contact ledger.

Revision ID: 0003_campaigns
Revises: 0001_debt_book
Create Date: 2026-11-23

Frozen: column types are spelled out here (not imported from the models).
The partial unique indexes keep one open attempt and one open escalation case per account.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_campaigns"
down_revision: str | Sequence[str] | None = "0001_debt_book"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# contact_ledger columns copied onto open attempts (attempts.ledger_<name>).
_LEDGER_COPY = (
    "day", "week", "month", "day_conversations", "day_messages", "week_conversations",
    "week_messages", "month_conversations", "month_messages",
)  # fmt: skip
_OPEN = "status IN ('pending', 'claimed')"
# (table, events, account column of the changed row): a change that may stop a call.
_RECHECK_SOURCES = (
    ("stop_flags", "INSERT OR UPDATE", "NEW"),
    ("payments", "INSERT OR UPDATE", "NEW"),
    ("phones", "UPDATE", "NEW"),
    ("phones", "DELETE", "OLD"),
)


def _mark(row: str) -> str:
    return f"UPDATE attempts SET recheck = (1 = 1) WHERE account_id = {row}.account_id AND {_OPEN};"


def _copy_ledger() -> str:
    sets = ", ".join(f"ledger_{n} = NEW.{n}" for n in _LEDGER_COPY)
    return (
        f"UPDATE attempts SET {sets}, recheck = (recheck OR (NEW.active_attempt_id IS NOT NULL "
        f"AND NEW.active_attempt_id <> attempts.id)) WHERE account_id = NEW.account_id AND {_OPEN};"
    )


def _blocked_at_insert(row: str) -> str:
    """Whether a new open attempt must be checked the exact way from the start."""
    return (
        f"EXISTS (SELECT 1 FROM stop_flags WHERE account_id = {row}.account_id "
        f"AND lifted_at IS NULL) "
        f"OR NOT EXISTS (SELECT 1 FROM phones WHERE account_id = {row}.account_id "
        f"AND status = 'ok') "
        f"OR EXISTS (SELECT 1 FROM payments WHERE account_id = {row}.account_id "
        f"AND id > {row}.payments_seen_id) "
        f"OR EXISTS (SELECT 1 FROM contact_ledger WHERE account_id = {row}.account_id "
        f"AND active_attempt_id IS NOT NULL AND active_attempt_id <> {row}.id)"
    )


def _create_plan_triggers() -> None:
    """Keep attempts.recheck and attempts.ledger_* current whoever writes the sources."""
    columns = ", ".join(f"ledger_{n}" for n in _LEDGER_COPY)
    values = ", ".join(_LEDGER_COPY)
    if op.get_bind().dialect.name == "postgresql":
        for index, (table, events, row) in enumerate(_RECHECK_SOURCES):
            name = f"plan_recheck_{table}_{index}"
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {_mark(row)} RETURN NULL; END; $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {events} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        op.execute(
            "CREATE FUNCTION plan_copy_ledger() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_copy_ledger()} RETURN NULL; END; $$"
        )
        op.execute(
            "CREATE TRIGGER plan_copy_ledger AFTER UPDATE ON contact_ledger "
            "FOR EACH ROW EXECUTE FUNCTION plan_copy_ledger()"
        )
        op.execute(
            "CREATE FUNCTION plan_new_attempt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"SELECT {values} INTO {', '.join(f'NEW.ledger_{n}' for n in _LEDGER_COPY)} "
            "FROM contact_ledger WHERE account_id = NEW.account_id; "
            f"NEW.recheck := NEW.recheck OR {_blocked_at_insert('NEW')}; "
            "RETURN NEW; END; $$"
        )
        op.execute(
            "CREATE TRIGGER plan_new_attempt BEFORE INSERT ON attempts FOR EACH ROW "
            "WHEN (NEW.status IN ('pending', 'claimed')) EXECUTE FUNCTION plan_new_attempt()"
        )
        return
    for index, (table, events, row) in enumerate(_RECHECK_SOURCES):
        for event in events.split(" OR "):
            op.execute(
                f"CREATE TRIGGER plan_recheck_{table}_{index}_{event.lower()} AFTER {event} "
                f"ON {table} BEGIN {_mark(row)} END"
            )
    op.execute(
        f"CREATE TRIGGER plan_copy_ledger AFTER UPDATE ON contact_ledger BEGIN {_copy_ledger()} END"
    )
    op.execute(
        "CREATE TRIGGER plan_new_attempt AFTER INSERT ON attempts "
        f"WHEN NEW.{_OPEN} BEGIN "
        f"UPDATE attempts SET ({columns}) = (SELECT {values} FROM contact_ledger "
        "WHERE account_id = NEW.account_id), "
        f"recheck = (recheck OR {_blocked_at_insert('NEW')}) WHERE id = NEW.id; END"
    )


def _drop_plan_triggers() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    names = [f"plan_recheck_{t}_{i}" for i, (t, _e, _r) in enumerate(_RECHECK_SOURCES)]
    tables = [t for t, _e, _r in _RECHECK_SOURCES]
    if postgres:
        for name, table in zip(names, tables, strict=True):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        op.execute("DROP TRIGGER IF EXISTS plan_copy_ledger ON contact_ledger")
        op.execute("DROP FUNCTION IF EXISTS plan_copy_ledger()")
        op.execute("DROP TRIGGER IF EXISTS plan_new_attempt ON attempts")
        op.execute("DROP FUNCTION IF EXISTS plan_new_attempt()")
        return
    for name, (_t, events, _r) in zip(names, _RECHECK_SOURCES, strict=True):
        for event in events.split(" OR "):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{event.lower()}")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "active",
                "paused",
                "stopped",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("script", sa.String(length=100), nullable=False),
        sa.Column("thanks_script", sa.String(length=100), nullable=True),
        sa.Column("broken_promise_script", sa.String(length=100), nullable=True),
        sa.Column("account_filter", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("daily_start", sa.Time(), nullable=True),
        sa.Column("daily_end", sa.Time(), nullable=True),
        sa.Column("max_concurrent_calls", sa.Integer(), nullable=False),
        sa.Column("max_new_per_minute", sa.Integer(), nullable=False),
        sa.Column("retry_no_answer_min", sa.Integer(), nullable=False),
        sa.Column("retry_busy_min", sa.Integer(), nullable=False),
        sa.Column("retry_failed_min", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("rereminder_days", sa.Integer(), nullable=False),
        sa.Column("paid_share", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("max_attempts > 0", name=op.f("ck_campaigns_max_attempts_positive")),
        sa.CheckConstraint(
            "max_concurrent_calls > 0", name=op.f("ck_campaigns_max_concurrent_calls_positive")
        ),
        sa.CheckConstraint(
            "max_new_per_minute > 0", name=op.f("ck_campaigns_max_new_per_minute_positive")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_campaigns_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint(
            "organisation_id", "name", name=op.f("uq_campaigns_organisation_id_name")
        ),
    )
    op.create_index(
        op.f("ix_campaigns_organisation_id"), "campaigns", ["organisation_id"], unique=False
    )
    op.create_table(
        "organisation_policies",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("call_rules", sa.JSON(), nullable=False),
        sa.Column("escalation_rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_policies_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_organisation_policies")),
    )
    op.create_table(
        "contact_ledger",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("week", sa.Date(), nullable=True),
        sa.Column("month", sa.Date(), nullable=True),
        sa.Column("day_conversations", sa.Integer(), nullable=False),
        sa.Column("day_messages", sa.Integer(), nullable=False),
        sa.Column("week_conversations", sa.Integer(), nullable=False),
        sa.Column("week_messages", sa.Integer(), nullable=False),
        sa.Column("month_conversations", sa.Integer(), nullable=False),
        sa.Column("month_messages", sa.Integer(), nullable=False),
        sa.Column("active_attempt_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_contact_ledger_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_contact_ledger")),
    )
    op.create_table(
        "stop_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("flag", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_stop_flags_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_stop_flags_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stop_flags")),
    )
    op.create_index(
        "ix_stop_flags_account_lifted", "stop_flags", ["account_id", "lifted_at"], unique=False
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "reminder",
                "thanks",
                "broken_promise",
                name="purpose",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("script", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "claimed",
                "done",
                "cancelled",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("debt_snapshot", sa.Numeric(14, 2), nullable=False),
        sa.Column("debt_as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payments_seen_id", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("phone_id", sa.Integer(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recheck", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("ledger_day", sa.Date(), nullable=True),
        sa.Column("ledger_week", sa.Date(), nullable=True),
        sa.Column("ledger_month", sa.Date(), nullable=True),
        *[sa.Column(f"ledger_{name}", sa.Integer(), nullable=True) for name in _LEDGER_COPY[3:]],
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_attempts_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_attempts_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["phone_id"], ["phones.id"], name=op.f("fk_attempts_phone_id_phones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    op.create_index("ix_attempts_account_id", "attempts", ["account_id"], unique=False)
    op.create_index(
        "ix_attempts_campaign_claimed_at", "attempts", ["campaign_id", "claimed_at"], unique=False
    )
    op.create_index(
        "ix_attempts_campaign_status_due",
        "attempts",
        ["campaign_id", "status", "due_at", "id"],
        unique=False,
    )
    op.create_index("ix_attempts_status_due_at", "attempts", ["status", "due_at"], unique=False)
    op.create_index(
        "ix_attempts_plan",
        "attempts",
        ["campaign_id", "status", "recheck", *[f"ledger_{n}" for n in _LEDGER_COPY],
         "time_zone", "due_at"],
        unique=False,
    )  # fmt: skip
    _create_plan_triggers()
    op.create_index(
        "uq_attempts_open_account",
        "attempts",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('pending', 'claimed')"),
        postgresql_where=sa.text("status IN ('pending', 'claimed')"),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("phone_id", sa.Integer(), nullable=True),
        sa.Column("script", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sip_cause", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("counted_as", sa.String(length=16), nullable=True),
        sa.Column("recording_path", sa.String(length=500), nullable=True),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_calls_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_calls_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(["phone_id"], ["phones.id"], name=op.f("fk_calls_phone_id_phones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index(op.f("ix_calls_account_id"), "calls", ["account_id"], unique=False)
    op.create_index(op.f("ix_calls_attempt_id"), "calls", ["attempt_id"], unique=False)
    op.create_table(
        "escalation_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "in_progress",
                "closed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("debt", sa.Numeric(14, 2), nullable=False),
        sa.Column("last_call_id", sa.Integer(), nullable=True),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_escalation_cases_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["last_call_id"], ["calls.id"], name=op.f("fk_escalation_cases_last_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_escalation_cases_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_cases")),
    )
    op.create_index(
        op.f("ix_escalation_cases_organisation_id"),
        "escalation_cases",
        ["organisation_id"],
        unique=False,
    )
    op.create_index(
        "ix_escalation_cases_status_priority",
        "escalation_cases",
        ["status", "priority"],
        unique=False,
    )
    op.create_index(
        "uq_escalation_cases_open_account",
        "escalation_cases",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('open', 'in_progress')"),
        postgresql_where=sa.text("status IN ('open', 'in_progress')"),
    )
    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("debt_at_promise", sa.Numeric(14, 2), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "made",
                "kept",
                "broken",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_promises_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_promises_call_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    op.create_index(op.f("ix_promises_account_id"), "promises", ["account_id"], unique=False)
    op.create_index("ix_promises_status_due_on", "promises", ["status", "due_on"], unique=False)
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("robot_text", sa.Text(), nullable=False),
        sa.Column("debtor_text", sa.Text(), nullable=True),
        sa.Column("asked", sa.String(length=32), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("promise_date", sa.Date(), nullable=True),
        sa.Column("promise_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_turns_call_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.UniqueConstraint("call_id", "index", name=op.f("uq_turns_call_id_index")),
    )


def downgrade() -> None:
    _drop_plan_triggers()
    op.drop_table("turns")
    op.drop_table("promises")
    op.drop_table("escalation_cases")
    op.drop_table("calls")
    op.drop_table("attempts")
    op.drop_table("stop_flags")
    op.drop_table("contact_ledger")
    op.drop_table("organisation_policies")
    op.drop_table("campaigns")
