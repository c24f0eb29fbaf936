"""One contact ledger per person: accounts of one person share the ledger row of the first.

Revision ID: 0009_person_ledger
Revises: 0007_plan_indexes
Create Date: 2026-11-23

230-ФЗ art. 7 limits contacts with a debtor — a person — per day, week and month, whatever
the account or campaign. ``accounts.ledger_account_id`` points an account at the first
account of the same person (set by ``storage.debtors.link_debtors``); NULL keeps its own.
The plan triggers of 0003 are redefined to read and copy the person's ledger row, and a new
trigger refreshes an account's open attempts when its link changes.

Frozen: the trigger bodies are spelled out here (not imported from the models).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_person_ledger"
down_revision: str | Sequence[str] | None = "0007_plan_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEDGER_COPY = (
    "day", "week", "month", "day_conversations", "day_messages", "week_conversations",
    "week_messages", "month_conversations", "month_messages",
)  # fmt: skip
_OPEN = "status IN ('pending', 'claimed')"
_COLUMNS = ", ".join(f"ledger_{n}" for n in _LEDGER_COPY)
_VALUES = ", ".join(_LEDGER_COPY)


def _person(row: str) -> str:
    """The ledger account of the attempt ``row``'s account."""
    return f"(SELECT coalesce(ledger_account_id, id) FROM accounts WHERE id = {row}.account_id)"


def _blocked_at_insert(row: str, *, person_ledger: bool) -> str:
    ledger = _person(row) if person_ledger else f"{row}.account_id"
    return (
        f"EXISTS (SELECT 1 FROM stop_flags WHERE account_id = {row}.account_id "
        f"AND lifted_at IS NULL) "
        f"OR NOT EXISTS (SELECT 1 FROM phones WHERE account_id = {row}.account_id "
        f"AND status = 'ok') "
        f"OR EXISTS (SELECT 1 FROM payments WHERE account_id = {row}.account_id "
        f"AND id > {row}.payments_seen_id) "
        f"OR EXISTS (SELECT 1 FROM contact_ledger WHERE account_id = {ledger} "
        f"AND active_attempt_id IS NOT NULL AND active_attempt_id <> {row}.id)"
    )


def _copy_ledger(*, person_ledger: bool) -> str:
    sets = ", ".join(f"ledger_{n} = NEW.{n}" for n in _LEDGER_COPY)
    update = (
        f"UPDATE attempts SET {sets}, recheck = (recheck OR (NEW.active_attempt_id IS NOT NULL "
        "AND NEW.active_attempt_id <> attempts.id)) WHERE {accounts} AND " + _OPEN + ";"
    )
    own = update.format(accounts="account_id = NEW.account_id")
    if not person_ledger:
        return own
    # Two statements, not one with OR: an OR of the two conditions reads the whole attempts
    # table on every ledger update (measured: 100,000 attempts, 20,000 updates, 9 minutes).
    # ``+status`` (SQLite): keeps it off the status index (every pending attempt) and on the
    # account index, the few rows of the linked accounts.
    linked = update.format(
        accounts="account_id IN (SELECT id FROM accounts WHERE ledger_account_id = NEW.account_id)"
    )
    if op.get_bind().dialect.name == "sqlite":  # PostgreSQL has no unary + on text
        linked = linked.replace(f"AND {_OPEN}", f"AND +{_OPEN}")
    return f"{own} {linked}"


def _relink() -> str:
    """An account's link changed: its open attempts copy the new ledger and are rechecked."""
    return (
        f"UPDATE attempts SET ({_COLUMNS}) = (SELECT {_VALUES} FROM contact_ledger "
        "WHERE account_id = coalesce(NEW.ledger_account_id, NEW.id)), recheck = (1 = 1) "
        f"WHERE account_id = NEW.id AND {_OPEN};"
    )


def _define_triggers(*, person_ledger: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        ledger = _person("NEW") if person_ledger else "NEW.account_id"
        op.execute(
            "CREATE OR REPLACE FUNCTION plan_copy_ledger() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_copy_ledger(person_ledger=person_ledger)} RETURN NULL; END; $$"
        )
        op.execute(
            "CREATE OR REPLACE FUNCTION plan_new_attempt() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN SELECT {_VALUES} INTO {', '.join(f'NEW.ledger_{n}' for n in _LEDGER_COPY)} "
            f"FROM contact_ledger WHERE account_id = {ledger}; "
            f"NEW.recheck := NEW.recheck OR {_blocked_at_insert('NEW', person_ledger=person_ledger)}; "
            "RETURN NEW; END; $$"
        )
        if person_ledger:
            op.execute(
                "CREATE FUNCTION plan_relink_account() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {_relink()} RETURN NULL; END; $$"
            )
            op.execute(
                "CREATE TRIGGER plan_relink_account AFTER UPDATE OF ledger_account_id ON accounts "
                "FOR EACH ROW WHEN (OLD.ledger_account_id IS DISTINCT FROM NEW.ledger_account_id) "
                "EXECUTE FUNCTION plan_relink_account()"
            )
        else:
            op.execute("DROP TRIGGER IF EXISTS plan_relink_account ON accounts")
            op.execute("DROP FUNCTION IF EXISTS plan_relink_account()")
        return
    op.execute("DROP TRIGGER IF EXISTS plan_copy_ledger")
    op.execute("DROP TRIGGER IF EXISTS plan_new_attempt")
    op.execute(
        "CREATE TRIGGER plan_copy_ledger AFTER UPDATE ON contact_ledger "
        f"BEGIN {_copy_ledger(person_ledger=person_ledger)} END"
    )
    ledger = _person("NEW") if person_ledger else "NEW.account_id"
    op.execute(
        "CREATE TRIGGER plan_new_attempt AFTER INSERT ON attempts "
        f"WHEN NEW.{_OPEN} BEGIN "
        f"UPDATE attempts SET ({_COLUMNS}) = (SELECT {_VALUES} FROM contact_ledger "
        f"WHERE account_id = {ledger}), "
        f"recheck = (recheck OR {_blocked_at_insert('NEW', person_ledger=person_ledger)}) "
        "WHERE id = NEW.id; END"
    )
    if person_ledger:
        op.execute(
            "CREATE TRIGGER plan_relink_account AFTER UPDATE OF ledger_account_id ON accounts "
            "WHEN OLD.ledger_account_id IS NOT NEW.ledger_account_id "
            f"BEGIN {_relink()} END"
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS plan_relink_account")


def upgrade() -> None:
    fk = "fk_accounts_ledger_account_id_accounts"
    if op.get_bind().dialect.name == "sqlite":
        # A plain ADD COLUMN: batch mode would rebuild ``accounts`` and lose its triggers.
        op.execute(
            "ALTER TABLE accounts ADD COLUMN ledger_account_id INTEGER "
            f"CONSTRAINT {fk} REFERENCES accounts (id)"
        )
    else:
        op.add_column("accounts", sa.Column("ledger_account_id", sa.Integer(), nullable=True))
        op.create_foreign_key(fk, "accounts", "accounts", ["ledger_account_id"], ["id"])
    op.create_index("ix_accounts_ledger_account_id", "accounts", ["ledger_account_id"])
    _define_triggers(person_ledger=True)


def downgrade() -> None:
    _define_triggers(person_ledger=False)
    op.drop_index("ix_accounts_ledger_account_id", "accounts")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column that a constraint names only by rebuilding the table, which
        # would lose its triggers: the column stays, unused (NULL keeps each account's own
        # ledger, the meaning it had before).
        return
    op.drop_constraint("fk_accounts_ledger_account_id_accounts", "accounts", type_="foreignkey")
    op.drop_column("accounts", "ledger_account_id")
