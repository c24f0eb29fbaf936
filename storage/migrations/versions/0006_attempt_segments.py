"""Attempts carry the account's segment and debtor type as they were when queued.

Revision ID: 0006_attempt_segments
Revises: 0004_report_summaries
Create Date: 2026-11-23

Frozen: column types are spelled out here (not imported from the models). Reports group
reasons by segment from these snapshots; the segment itself is not stored anywhere else
(it is computed from the debt book with the organisation's lines), so an attempt's copy is
what the account was when the campaign chose it. Nullable: attempts queued before this
revision have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_attempt_segments"
down_revision: str | Sequence[str] | None = "0004_report_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite >= 3.35 drops columns in place): a batch
# rebuild of ``attempts`` on SQLite would lose the plan triggers of migration 0003.
def upgrade() -> None:
    op.add_column("attempts", sa.Column("segment", sa.String(16), nullable=True))
    op.add_column("attempts", sa.Column("debtor_type", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("attempts", "debtor_type")
    op.drop_column("attempts", "segment")
