"""Plan indexes: the attempts marked ``recheck`` and the finished ones, each in its own
partial index, so the plan reads them as small ranges.

Revision ID: 0007_plan_indexes
Revises: 0004_report_summaries
Create Date: 2026-11-23

Why: SQLite's statistics (``sqlite_stat1``) hold one average per index prefix, so with a
single campaign it believes "campaign = ? AND status IN (done, cancelled)" or "recheck = 1"
match a third of the table and scans the whole of it (0.26 s each at a million open
attempts). A partial index is used whenever the query's WHERE implies its predicate, and its
own size tells the planner how small it is. PostgreSQL benefits the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_plan_indexes"
down_revision: str | Sequence[str] | None = "0004_report_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('pending', 'claimed')"
_FINISHED = "status IN ('done', 'cancelled')"


def upgrade() -> None:
    # The predicate is spelled as the queries spell it ("recheck = 1" / "= true"): SQLite
    # proves a partial index usable by matching the query's terms against it.
    true = "1" if op.get_bind().dialect.name == "sqlite" else "true"
    recheck = sa.text(f"recheck = {true} AND {_OPEN}")
    op.create_index(
        "ix_attempts_recheck",
        "attempts",
        ["campaign_id", "time_zone", "payments_seen_id"],
        sqlite_where=recheck,
        postgresql_where=recheck,
    )
    finished = sa.text(_FINISHED)
    op.create_index(
        "ix_attempts_finished",
        "attempts",
        ["campaign_id", "account_id", "id"],
        sqlite_where=finished,
        postgresql_where=finished,
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_finished", "attempts")
    op.drop_index("ix_attempts_recheck", "attempts")
