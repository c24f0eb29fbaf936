"""Reasons by service, segment and debtor type (fixed at each call, summed by triggers),
login failures for throttling, and collectors' callbacks on cases.

Revision ID: 0005_reports_by_service
Revises: 0006_attempt_segments (itself on 0004_report_summaries: this one reads its
attempt snapshots, so it comes after it despite the number)
Create Date: 2026-11-23

Frozen: column types and tags are spelled out here (not imported from the models).

``call_groups`` holds, per call, the groups the call is reported under. Grouping
``service``: the services of the debt lines the account owed when the call row was
written (``debt > 0`` at that moment), one row each, or one row with an empty key when
it owed none. A trigger on the call's insert writes them, whoever stores the call; a
later import changing the debt lines does not rewrite a call's past. For calls stored
before this migration the lines owed now, billed for a month up to the call's, stand in.
Groupings ``segment`` and ``debtor_type``: the snapshot the call's attempt took when the
campaign queued it (``attempts.segment`` / ``debtor_type``), an empty key when the call has
no attempt or the attempt none; a corrected attempt snapshot moves its calls along.

``report_group_days`` sums, per organisation × UTC day × group, the calls and the
reasons heard in them, like ``report_call_days`` of 0004: a call adds its contribution to
each of its groups, so the groups of one grouping may overlap (a call owed for heating
and water counts under both). Triggers on ``call_groups`` add or remove a call's whole
contribution to one group; triggers on calls, turns and accounts change it as 0004 does.
On PostgreSQL the turn triggers run BEFORE the row change for the reason 0004 gives.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_reports_by_service"
# After the segment and debtor type snapshots on attempts (the campaigns part's 0006).
down_revision: str | Sequence[str] | None = "0006_attempt_segments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TAGS = (
    "financial_hardship", "dispute_amount", "service_complaint", "wrong_person",
    "unaware", "away", "refusal", "already_paid",
)  # fmt: skip
_KEYS = ("organisation_id", "day", "dimension", "label")
_VALUES = ("dialled", "answered", "conversations", *(f"reason_{tag}" for tag in _TAGS))


def _day(postgres: bool, moment: str) -> str:
    if postgres:
        return f"CAST(timezone('UTC', {moment}) AS DATE)"
    return f"date({moment})"


def _has(tags: str, tag: str) -> str:
    return f"CAST({tags} AS TEXT) LIKE '%\"{tag}\"%'"


def _upsert(keys: dict[str, str], values: dict[str, str], source: str) -> str:
    """Add ``values`` summed over ``source`` by ``keys`` to ``report_group_days``."""
    named = [v for v in _VALUES if v in values]
    selected = [*keys.values(), *(f"SUM({values[v]})" for v in named)]
    updates = ", ".join(f"{v} = report_group_days.{v} + excluded.{v}" for v in named)
    return (
        f"INSERT INTO report_group_days ({', '.join([*_KEYS, *named])}) "
        f"SELECT {', '.join(selected)} {source} GROUP BY 1, 2, 3, 4 "
        f"ON CONFLICT ({', '.join(_KEYS)}) DO UPDATE SET {updates};"
    )


def _contribution(
    postgres: bool,
    call: str,
    sign: str,
    source: str,
    org: str,
    group: tuple[str, str] = ("g.dimension", "g.label"),
) -> str:
    """Call ``call``'s whole contribution (``sign`` ±1) to the ``group`` of each row of
    ``source`` (by default the rows ``g`` of ``call_groups``)."""
    values = {
        "dialled": sign,
        "answered": f"CASE WHEN {call}.answered_at IS NOT NULL THEN {sign} ELSE 0 END",
        "conversations": f"CASE WHEN {call}.counted_as = 'conversation' THEN {sign} ELSE 0 END",
    }
    for tag in _TAGS:
        values[f"reason_{tag}"] = (
            f"CASE WHEN {call}.answered_at IS NULL THEN 0 WHEN EXISTS (SELECT 1 FROM turns t "
            f"WHERE t.call_id = {call}.id AND {_has('t.tags', tag)}) THEN {sign} ELSE 0 END"
        )
    keys = {
        "organisation_id": org,
        "day": _day(postgres, f"{call}.started_at"),
        "dimension": group[0],
        "label": group[1],
    }
    return _upsert(keys, values, source)


def _group_row(postgres: bool, row: str, sign: str) -> str:
    """A ``call_groups`` row added or removed: its call's contribution to that group."""
    source = f"FROM calls c JOIN accounts a ON a.id = c.account_id WHERE c.id = {row}.call_id"
    group = (f"{row}.dimension", f"{row}.label")
    return _contribution(postgres, "c", sign, source, "a.organisation_id", group)


def _turn(postgres: bool, row: str, sign: str) -> str:
    """A turn's reasons that no other turn of its call carries, for each group of the call."""
    values = {}
    for tag in _TAGS:
        values[f"reason_{tag}"] = (
            f"CASE WHEN c.answered_at IS NULL THEN 0 WHEN NOT ({_has(f'{row}.tags', tag)}) "
            f"THEN 0 WHEN EXISTS (SELECT 1 FROM turns o WHERE o.call_id = {row}.call_id "
            f"AND o.id <> {row}.id AND {_has('o.tags', tag)}) THEN 0 ELSE {sign} END"
        )
    keys = {
        "organisation_id": "a.organisation_id",
        "day": _day(postgres, "c.started_at"),
        "dimension": "g.dimension",
        "label": "g.label",
    }
    source = (
        f"FROM calls c JOIN accounts a ON a.id = c.account_id "
        f"JOIN call_groups g ON g.call_id = c.id WHERE c.id = {row}.call_id"
    )
    return _upsert(keys, values, source)


_ATTEMPT_DIMENSIONS = ("segment", "debtor_type")


def snapshot(call: str, *, backfill: bool = False) -> str:
    """Insert the groups of call ``call`` (``NEW`` in a trigger; every call, ``backfill``)."""
    columns = "INSERT INTO call_groups (call_id, dimension, label)"
    if backfill:
        owed = (
            "SELECT DISTINCT c.id, 'service', d.service FROM calls c JOIN debt_lines d "
            "ON d.account_id = c.account_id AND d.debt > 0 AND d.period <= c.started_at"
        )
        none = (
            "SELECT c.id, 'service', '' FROM calls c WHERE NOT EXISTS (SELECT 1 FROM debt_lines d "
            "WHERE d.account_id = c.account_id AND d.debt > 0 AND d.period <= c.started_at)"
        )
        attempt = (
            "SELECT c.id, '{name}', COALESCE(t.{name}, '') FROM calls c "
            "LEFT JOIN attempts t ON t.id = c.attempt_id"
        )
    else:
        owed = (
            f"SELECT DISTINCT {call}.id, 'service', d.service FROM debt_lines d "
            f"WHERE d.account_id = {call}.account_id AND d.debt > 0"
        )
        none = (
            f"SELECT {call}.id, 'service', '' WHERE NOT EXISTS (SELECT 1 FROM debt_lines d "
            f"WHERE d.account_id = {call}.account_id AND d.debt > 0)"
        )
        attempt = (
            f"SELECT {call}.id, '{{name}}', COALESCE((SELECT t.{{name}} FROM attempts t "
            f"WHERE t.id = {call}.attempt_id), '')"
        )
    statements = [owed, none, *(attempt.format(name=name) for name in _ATTEMPT_DIMENSIONS)]
    return " ".join(f"{columns} {statement};" for statement in statements)


def _attempt_corrected() -> str:
    """An attempt's snapshot changed: its calls' segment and debtor type groups follow."""
    dimensions = ", ".join(f"'{name}'" for name in _ATTEMPT_DIMENSIONS)
    statements = [
        f"DELETE FROM call_groups WHERE dimension IN ({dimensions}) "
        f"AND call_id IN (SELECT c.id FROM calls c WHERE c.attempt_id = NEW.id);",
        *(
            f"INSERT INTO call_groups (call_id, dimension, label) SELECT c.id, '{name}', "
            f"COALESCE(NEW.{name}, '') FROM calls c WHERE c.attempt_id = NEW.id;"
            for name in _ATTEMPT_DIMENSIONS
        ),
    ]
    return " ".join(statements)


def _bodies(postgres: bool) -> dict[str, tuple[str, str, str, str, str]]:
    """Trigger name → (table, BEFORE/AFTER, event, condition or "", body statements)."""
    on_call = (
        "FROM call_groups g JOIN accounts a ON a.id = {row}.account_id WHERE g.call_id = {row}.id"
    )
    call_changed = (
        "(OLD.answered_at IS NULL) <> (NEW.answered_at IS NULL) "
        "OR COALESCE(OLD.counted_as, '') <> COALESCE(NEW.counted_as, '') "
        "OR OLD.account_id <> NEW.account_id "
        f"OR {_day(postgres, 'OLD.started_at')} <> {_day(postgres, 'NEW.started_at')}"
    )
    call_update = _contribution(
        postgres, "OLD", "-1", on_call.format(row="OLD"), "a.organisation_id"
    ) + _contribution(postgres, "NEW", "1", on_call.format(row="NEW"), "a.organisation_id")
    turn_changed = (
        "OLD.id <> NEW.id OR OLD.call_id <> NEW.call_id "
        "OR CAST(OLD.tags AS TEXT) <> CAST(NEW.tags AS TEXT)"
    )
    calls_of = "FROM calls c JOIN call_groups g ON g.call_id = c.id WHERE c.account_id = {row}.id"
    moved = _contribution(
        postgres, "c", "-1", calls_of.format(row="OLD"), "OLD.organisation_id"
    ) + _contribution(postgres, "c", "1", calls_of.format(row="NEW"), "NEW.organisation_id")
    turns_when = "BEFORE" if postgres else "AFTER"
    attempt_changed = " OR ".join(
        f"COALESCE(OLD.{name}, '') <> COALESCE(NEW.{name}, '')" for name in _ATTEMPT_DIMENSIONS
    )
    return {
        "report_groups_calls_insert": ("calls", "AFTER", "INSERT", "", snapshot("NEW")),
        "report_groups_calls_update": ("calls", "AFTER", "UPDATE", call_changed, call_update),
        # Before the call goes: its groups' delete triggers still see the call.
        "report_groups_calls_delete": ("calls", "BEFORE", "DELETE", "",
                                       "DELETE FROM call_groups WHERE call_id = OLD.id;"),
        "report_groups_insert": ("call_groups", "AFTER", "INSERT", "", _group_row(postgres, "NEW", "1")),
        "report_groups_delete": ("call_groups", "AFTER", "DELETE", "", _group_row(postgres, "OLD", "-1")),
        "report_groups_turns_insert": ("turns", turns_when, "INSERT", "", _turn(postgres, "NEW", "1")),
        "report_groups_turns_update": ("turns", turns_when, "UPDATE", turn_changed,
                                       _turn(postgres, "OLD", "-1") + _turn(postgres, "NEW", "1")),
        "report_groups_turns_delete": ("turns", turns_when, "DELETE", "", _turn(postgres, "OLD", "-1")),
        "report_groups_accounts_moved": ("accounts", "AFTER", "UPDATE",
                                         "OLD.organisation_id <> NEW.organisation_id", moved),
        "report_groups_attempts_corrected": ("attempts", "AFTER", "UPDATE", attempt_changed,
                                             _attempt_corrected()),
    }  # fmt: skip


def _create_triggers(postgres: bool) -> None:
    for name, (table, timing, event, condition, body) in _bodies(postgres).items():
        when = f"WHEN ({condition}) " if condition else ""
        if not postgres:
            op.execute(
                f"CREATE TRIGGER {name} {timing} {event} ON {table} FOR EACH ROW {when}"
                f"BEGIN {body} END"
            )
            continue
        result = ("OLD" if event == "DELETE" else "NEW") if timing == "BEFORE" else "NULL"
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN {result}; END; $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} {timing} {event} ON {table} "
            f"FOR EACH ROW {when}EXECUTE FUNCTION {name}()"
        )


def _drop_triggers(postgres: bool) -> None:
    for name, (table, *_rest) in _bodies(postgres).items():
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def backfill_groups() -> list[str]:
    """The statements that fill the (empty) ``call_groups`` from every stored call."""
    return [s.strip() for s in snapshot("c", backfill=True).split(";") if s.strip()]


def backfill_sums(postgres: bool) -> str:
    """The statement that sums every stored call into the (empty) ``report_group_days``."""
    every = (
        "FROM calls c JOIN accounts a ON a.id = c.account_id "
        "JOIN call_groups g ON g.call_id = c.id WHERE 1 = 1"
    )
    return _contribution(postgres, "c", "1", every, "a.organisation_id")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "call_groups",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_groups_call_id_calls")
        ),
        sa.PrimaryKeyConstraint("call_id", "dimension", "label", name=op.f("pk_call_groups")),
    )
    op.create_table(
        "report_group_days",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)
            for name in _VALUES
        ),
        sa.PrimaryKeyConstraint(*_KEYS, name=op.f("pk_report_group_days")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.String(length=128), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_subject_key_failed_at",
        "login_failures",
        ["subject", "subject_key", "failed_at"],
    )
    op.create_table(
        "case_callbacks",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["escalation_cases.id"],
            name=op.f("fk_case_callbacks_case_id_escalation_cases"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_callbacks")),
    )
    # What is already stored, once; from here on the triggers keep both tables current.
    for statement in backfill_groups():
        op.execute(statement)
    op.execute(backfill_sums(postgres))
    _create_triggers(postgres)


def downgrade() -> None:
    _drop_triggers(op.get_bind().dialect.name == "postgresql")
    op.drop_table("case_callbacks")
    op.drop_index("ix_login_failures_subject_key_failed_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_table("report_group_days")
    op.drop_table("call_groups")
