"""One head again: the outbox (0012) and the first word (0015) both follow 0011.

Revision ID: 0016_one_head
Revises: 0012_message_outbox, 0015_first_word
Create Date: 2026-12-04

No schema change: a merge point, so ``alembic upgrade head`` (singular) works and the next
migration has one parent.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0016_one_head"
down_revision: str | Sequence[str] | None = ("0012_message_outbox", "0015_first_word")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
