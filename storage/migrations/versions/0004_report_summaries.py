"""Report summaries: per organisation × day × building call counters and per organisation ×
day promise counters, kept exact by triggers on calls, turns, promises and accounts.

Revision ID: 0004_report_summaries
Revises: 0002_users, 0003_campaigns
Create Date: 2026-11-23

Frozen: column types and tags are spelled out here (not imported from the models).

Every trigger adds a row's contribution with sign +1 (NEW) and removes it with -1 (OLD),
so an insert, an update (-OLD +NEW) and a delete keep the counters equal to the direct
queries, whoever writes. A call counts once per reason: a turn adds a reason only when no
other turn of its call carries it. On PostgreSQL the turn triggers run BEFORE the row
change, because AFTER row triggers see every row of a multi-row statement and would miss
the turns inserted together; on SQLite row triggers run as each row is written.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_report_summaries"
down_revision: str | Sequence[str] | None = ("0002_users", "0003_campaigns")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TAGS = (
    "financial_hardship", "dispute_amount", "service_complaint", "wrong_person",
    "unaware", "away", "refusal", "already_paid",
)  # fmt: skip
_CALL_KEYS = ("organisation_id", "day", "building_key")
_CALL_VALUES = (
    "dialled", "answered", "conversations", "messages", "promises", "promised_kopecks",
    *(f"reason_{tag}" for tag in _TAGS),
)  # fmt: skip
_PROMISE_KEYS = ("organisation_id", "day")
_PROMISE_VALUES = (
    "made", "made_kopecks", "kept", "kept_kopecks", "broken", "broken_kopecks", "waiting",
)  # fmt: skip


class _Sql:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def day(self, moment: str) -> str:
        if self.postgres:
            return f"CAST(timezone('UTC', {moment}) AS DATE)"
        return f"date({moment})"

    def kopecks(self, money: str) -> str:
        return f"CAST(round({money} * 100) AS {'BIGINT' if self.postgres else 'INTEGER'})"

    @staticmethod
    def has(tags: str, tag: str) -> str:
        # The stored JSON text, matched the same way on both databases.
        return f"CAST({tags} AS TEXT) LIKE '%\"{tag}\"%'"


def _upsert(
    table: str, keys: dict[str, str], values: dict[str, str], source: str, all_values: Sequence[str]
) -> str:
    """Add ``values`` (summed over ``source``, grouped by ``keys``) to ``table``'s counters.

    Only the counters named in ``values`` are written: a narrow statement is a cheap one.
    """
    named = [v for v in all_values if v in values]
    selected = [*keys.values(), *(f"SUM({values[v]})" for v in named)]
    updates = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in named)
    group = ", ".join(str(i + 1) for i in range(len(keys)))
    return (
        f"INSERT INTO {table} ({', '.join([*keys, *named])}) SELECT {', '.join(selected)} "
        f"{source} GROUP BY {group} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates};"
    )


def _call_row(row: str, sign: str) -> dict[str, str]:
    """The counters a call adds by itself."""
    return {
        "dialled": sign,
        "answered": f"CASE WHEN {row}.answered_at IS NOT NULL THEN {sign} ELSE 0 END",
        "conversations": f"CASE WHEN {row}.counted_as = 'conversation' THEN {sign} ELSE 0 END",
        "messages": f"CASE WHEN {row}.counted_as = 'message' THEN {sign} ELSE 0 END",
    }


def _call(
    sql: _Sql, row: str, sign: str, source: str, org: str, building: str, *, whole: bool = True
) -> str:
    """A call's contribution: its own counters and, ``whole``, its promises and the reasons
    of its turns (a new call has neither: their foreign keys need the call first)."""
    answered = f"{row}.answered_at IS NOT NULL"
    amount = sql.kopecks("COALESCE(p.amount, p.debt_at_promise)")
    values = _call_row(row, sign)
    if whole:
        values["promises"] = (
            f"{sign} * (SELECT count(*) FROM promises p WHERE p.call_id = {row}.id)"
        )
        values["promised_kopecks"] = (
            f"{sign} * (SELECT COALESCE(SUM({amount}), 0) FROM promises p WHERE p.call_id = {row}.id)"
        )
        for tag in _TAGS:
            values[f"reason_{tag}"] = (
                f"CASE WHEN NOT ({answered}) THEN 0 WHEN EXISTS (SELECT 1 FROM turns t "
                f"WHERE t.call_id = {row}.id AND {sql.has('t.tags', tag)}) THEN {sign} ELSE 0 END"
            )
    keys = {"organisation_id": org, "day": sql.day(f"{row}.started_at"), "building_key": building}
    return _upsert("report_call_days", keys, values, source, _CALL_VALUES)


def _call_changed(sql: _Sql) -> str:
    """A call answered (or not) or counted differently, on the same day and account."""
    values = {
        name: f"({new}) - ({old})"
        for (name, new), old in zip(
            _call_row("NEW", "1").items(), _call_row("OLD", "1").values(), strict=True
        )
        if name != "dialled"
    }
    flipped = "(OLD.answered_at IS NULL) <> (NEW.answered_at IS NULL)"
    for tag in _TAGS:
        values[f"reason_{tag}"] = (
            f"CASE WHEN NOT ({flipped}) THEN 0 WHEN EXISTS (SELECT 1 FROM turns t "
            f"WHERE t.call_id = NEW.id AND {sql.has('t.tags', tag)}) "
            f"THEN (CASE WHEN NEW.answered_at IS NULL THEN -1 ELSE 1 END) ELSE 0 END"
        )
    keys = {
        "organisation_id": "a.organisation_id",
        "day": sql.day("NEW.started_at"),
        "building_key": "COALESCE(a.building_id, 0)",
    }
    source = "FROM accounts a WHERE a.id = NEW.account_id"
    return _upsert("report_call_days", keys, values, source, _CALL_VALUES)


def _turn(sql: _Sql, row: str, sign: str) -> str:
    """A turn's reasons that no other turn of its call carries, if the call was answered."""
    values = {}
    for tag in _TAGS:
        values[f"reason_{tag}"] = (
            f"CASE WHEN c.answered_at IS NULL THEN 0 WHEN NOT ({sql.has(f'{row}.tags', tag)}) "
            f"THEN 0 WHEN EXISTS (SELECT 1 FROM turns o WHERE o.call_id = {row}.call_id "
            f"AND o.id <> {row}.id AND {sql.has('o.tags', tag)}) THEN 0 ELSE {sign} END"
        )
    keys = {
        "organisation_id": "a.organisation_id",
        "day": sql.day("c.started_at"),
        "building_key": "COALESCE(a.building_id, 0)",
    }
    source = f"FROM calls c JOIN accounts a ON a.id = c.account_id WHERE c.id = {row}.call_id"
    return _upsert("report_call_days", keys, values, source, _CALL_VALUES)


def _promise_in_call(sql: _Sql, row: str, sign: str) -> str:
    """A promise's part in its call's counters."""
    values = {
        "promises": sign,
        "promised_kopecks": f"{sign} * {sql.kopecks(f'COALESCE({row}.amount, {row}.debt_at_promise)')}",
    }
    keys = {
        "organisation_id": "a.organisation_id",
        "day": sql.day("c.started_at"),
        "building_key": "COALESCE(a.building_id, 0)",
    }
    source = f"FROM calls c JOIN accounts a ON a.id = c.account_id WHERE c.id = {row}.call_id"
    return _upsert("report_call_days", keys, values, source, _CALL_VALUES)


def _promise(sql: _Sql, row: str, sign: str, source: str, org: str) -> str:
    """A promise's counters on the day it was made."""
    amount = sql.kopecks(f"COALESCE({row}.amount, {row}.debt_at_promise)")

    def when(status: str, then: str) -> str:
        return f"CASE WHEN {row}.status = '{status}' THEN {then} ELSE 0 END"

    values = {
        "made": sign,
        "made_kopecks": f"{sign} * {amount}",
        "kept": when("kept", sign),
        "kept_kopecks": when("kept", f"{sign} * {amount}"),
        "broken": when("broken", sign),
        "broken_kopecks": when("broken", f"{sign} * {amount}"),
        "waiting": when("made", sign),
    }
    keys = {"organisation_id": org, "day": sql.day(f"{row}.made_at")}
    return _upsert("report_promise_days", keys, values, source, _PROMISE_VALUES)


def _bodies(sql: _Sql) -> dict[str, tuple[str, str, str, str]]:
    """Trigger name → (table, event, condition or "", body statements).

    The conditions skip the updates that change no counter (a call's end, its recording)
    and split a call's update in two: the same day and account (a difference of
    counters, one statement) or moved (its whole contribution out, then in).
    """
    on_account = "FROM accounts a WHERE a.id = {row}.account_id"
    org, building = "a.organisation_id", "COALESCE(a.building_id, 0)"
    call_new = _call(sql, "NEW", "1", on_account.format(row="NEW"), org, building)
    call_old = _call(sql, "OLD", "-1", on_account.format(row="OLD"), org, building)
    promise_new = _promise_in_call(sql, "NEW", "1") + _promise(
        sql, "NEW", "1", on_account.format(row="NEW"), org
    )
    promise_old = _promise_in_call(sql, "OLD", "-1") + _promise(
        sql, "OLD", "-1", on_account.format(row="OLD"), org
    )
    # An account moved to another building or organisation takes its calls and promises along.
    moved = (
        _call(sql, "c", "-1", "FROM calls c WHERE c.account_id = OLD.id", "OLD.organisation_id",
              "COALESCE(OLD.building_id, 0)")
        + _call(sql, "c", "1", "FROM calls c WHERE c.account_id = NEW.id", "NEW.organisation_id",
                "COALESCE(NEW.building_id, 0)")
        + _promise(sql, "p", "-1", "FROM promises p WHERE p.account_id = OLD.id", "OLD.organisation_id")
        + _promise(sql, "p", "1", "FROM promises p WHERE p.account_id = NEW.id", "NEW.organisation_id")
    )  # fmt: skip
    same_call = (
        f"OLD.id = NEW.id AND OLD.account_id = NEW.account_id "
        f"AND {sql.day('OLD.started_at')} = {sql.day('NEW.started_at')}"
    )
    call_changed = (
        "(OLD.answered_at IS NULL) <> (NEW.answered_at IS NULL) "
        "OR COALESCE(OLD.counted_as, '') <> COALESCE(NEW.counted_as, '')"
    )
    turn_changed = (
        "OLD.id <> NEW.id OR OLD.call_id <> NEW.call_id "
        "OR CAST(OLD.tags AS TEXT) <> CAST(NEW.tags AS TEXT)"
    )
    promise_changed = (
        "OLD.id <> NEW.id OR OLD.account_id <> NEW.account_id OR OLD.status <> NEW.status "
        "OR COALESCE(OLD.call_id, 0) <> COALESCE(NEW.call_id, 0) OR OLD.made_at <> NEW.made_at "
        "OR COALESCE(OLD.amount, -1) <> COALESCE(NEW.amount, -1) "
        "OR OLD.debt_at_promise <> NEW.debt_at_promise"
    )
    account_moved = (
        "OLD.organisation_id <> NEW.organisation_id "
        "OR COALESCE(OLD.building_id, 0) <> COALESCE(NEW.building_id, 0)"
    )
    new_call = _call(sql, "NEW", "1", on_account.format(row="NEW"), org, building, whole=False)
    return {
        "report_calls_insert": ("calls", "INSERT", "", new_call),
        "report_calls_update": ("calls", "UPDATE", f"({same_call}) AND ({call_changed})",
                                _call_changed(sql)),
        "report_calls_move": ("calls", "UPDATE", f"NOT ({same_call})", call_old + call_new),
        "report_calls_delete": ("calls", "DELETE", "", call_old),
        "report_turns_insert": ("turns", "INSERT", "", _turn(sql, "NEW", "1")),
        "report_turns_update": ("turns", "UPDATE", turn_changed,
                                _turn(sql, "OLD", "-1") + _turn(sql, "NEW", "1")),
        "report_turns_delete": ("turns", "DELETE", "", _turn(sql, "OLD", "-1")),
        "report_promises_insert": ("promises", "INSERT", "", promise_new),
        "report_promises_update": ("promises", "UPDATE", promise_changed, promise_old + promise_new),
        "report_promises_delete": ("promises", "DELETE", "", promise_old),
        "report_accounts_moved": ("accounts", "UPDATE", account_moved, moved),
    }  # fmt: skip


def _create_triggers(postgres: bool) -> None:
    for name, (table, event, condition, body) in _bodies(_Sql(postgres)).items():
        when = f"WHEN ({condition}) " if condition else ""
        if not postgres:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when}BEGIN {body} END"
            )
            continue
        before = table == "turns"
        result = ("OLD" if event == "DELETE" else "NEW") if before else "NULL"
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN {result}; END; $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} {'BEFORE' if before else 'AFTER'} {event} ON {table} "
            f"FOR EACH ROW {when}EXECUTE FUNCTION {name}()"
        )  # fmt: skip


def _drop_triggers(postgres: bool) -> None:
    for name, (table, _event, _condition, _body) in _bodies(_Sql(postgres)).items():
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _counters(names: Sequence[str]) -> list[sa.Column[int]]:
    return [
        sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        for name in names
    ]


def backfill(postgres: bool) -> list[str]:
    """The statements that sum every stored call and promise into the (empty) summaries."""
    sql = _Sql(postgres)
    return [
        _call(sql, "c", "1", "FROM calls c JOIN accounts a ON a.id = c.account_id WHERE 1 = 1",
              "a.organisation_id", "COALESCE(a.building_id, 0)"),
        _promise(sql, "p", "1", "FROM promises p JOIN accounts a ON a.id = p.account_id WHERE 1 = 1",
                 "a.organisation_id"),
    ]  # fmt: skip


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "report_call_days",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("building_key", sa.Integer(), nullable=False),
        *_counters(_CALL_VALUES),
        sa.PrimaryKeyConstraint(*_CALL_KEYS, name=op.f("pk_report_call_days")),
    )
    op.create_table(
        "report_promise_days",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *_counters(_PROMISE_VALUES),
        sa.PrimaryKeyConstraint(*_PROMISE_KEYS, name=op.f("pk_report_promise_days")),
    )
    op.create_index("ix_promises_call_id", "promises", ["call_id"])
    op.create_index(
        "ix_calls_counted_started_account", "calls", ["counted_as", "started_at", "account_id"]
    )
    # What is already stored, summed once; from here on the triggers keep it current.
    for statement in backfill(postgres):
        op.execute(statement)
    _create_triggers(postgres)


def downgrade() -> None:
    _drop_triggers(op.get_bind().dialect.name == "postgresql")
    op.drop_index("ix_calls_counted_started_account", table_name="calls")
    op.drop_index("ix_promises_call_id", table_name="promises")
    op.drop_table("report_promise_days")
    op.drop_table("report_call_days")
