"""Turn timings: how long the final recognition of each debtor turn took.

Revision ID: 0008_turn_timings
Revises: 0004_report_summaries
Create Date: 2026-11-23

The turn latency (``turns.latency_ms``) was stored; the part of it spent decoding the
debtor's answer was measured but thrown away. A nullable column: older turns and turns the
robot never heard keep NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_turn_timings"
down_revision: str | Sequence[str] | None = "0004_report_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite >= 3.35 drops columns in place): a batch
# rebuild of ``turns`` on SQLite would lose the report triggers of migration 0004.
def upgrade() -> None:
    op.add_column("turns", sa.Column("recognition_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("turns", "recognition_ms")
