"""Live transfers of a call to a collector, and each organisation's wait for an answer.

Revision ID: 0021_transfers
Revises: 0020_collector_lines
Create Date: 2026-12-04

Issue 16: one ``transfers`` row per offer of a person within a call (who was dialled, how,
what became of it, how long the debtor waited), and ``organisations.transfer_wait_s`` —
how long the robot lets a collector's phone ring before it apologises (30 s by default;
existing organisations get the default).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_transfers"
down_revision: str | Sequence[str] | None = "0020_collector_lines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = (
    "'waiting', 'ringing', 'connected', 'ended', 'no_collector', 'no_answer', "
    "'abandoned', 'refused', 'failed'"
)


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(
            sa.Column("transfer_wait_s", sa.Integer(), nullable=False, server_default="30")
        )
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("escalation_reason", sa.Text(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.Column("collector_user_id", sa.Integer(), nullable=True),
        sa.Column("extension", sa.String(length=6), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("wait_ms", sa.Integer(), nullable=True),
        sa.CheckConstraint("method IN ('refer', 'bridge')", name=op.f("ck_transfers_method")),
        sa.CheckConstraint(f"state IN ({_STATES})", name=op.f("ck_transfers_state")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_transfers_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_transfers_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_transfers_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation_cases.id"],
            name=op.f("fk_transfers_escalation_id_escalation_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["collector_user_id"], ["users.id"], name=op.f("fk_transfers_collector_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    op.create_index(op.f("ix_transfers_call_id"), "transfers", ["call_id"])
    op.create_index("ix_transfers_collector_state", "transfers", ["collector_user_id", "state"])
    op.create_index(
        "ix_transfers_organisation_offered", "transfers", ["organisation_id", "offered_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_transfers_organisation_offered", table_name="transfers")
    op.drop_index("ix_transfers_collector_state", table_name="transfers")
    op.drop_index(op.f("ix_transfers_call_id"), table_name="transfers")
    op.drop_table("transfers")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("transfer_wait_s")
