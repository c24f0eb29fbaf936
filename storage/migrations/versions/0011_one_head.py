"""One head again: the parts added this round branched off 0004 and 0009.

Revision ID: 0011_one_head
Revises: 0005_reports_by_service, 0008_turn_timings, 0010_collector_promises
Create Date: 2026-11-23

No schema change: a merge point, so ``alembic upgrade head`` (singular) works and the next
migration has one parent.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0011_one_head"
down_revision: str | Sequence[str] | None = (
    "0005_reports_by_service",
    "0008_turn_timings",
    "0010_collector_promises",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
