"""First word: how long the debtor waited, after answering, for the robot's first sound.

Revision ID: 0015_first_word
Revises: 0011_one_head
Create Date: 2026-12-03

A person says «Алло?» into two seconds of silence and hangs up after five: the time from the
answer to the robot's first frame on the wire is what a debtor meets first, and the turn
latency does not include it. A nullable column: older calls and unanswered ones keep NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_first_word"
down_revision: str | Sequence[str] | None = "0011_one_head"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases: a batch rebuild of ``calls`` on SQLite would lose the
# report triggers of migrations 0004 and 0005.
def upgrade() -> None:
    op.add_column("calls", sa.Column("first_word_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("calls", "first_word_ms")
