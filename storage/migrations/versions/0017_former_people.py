"""Former owners and their phones: the latest 1С file says who lives in a flat.

Revision ID: 0017_former_people
Revises: 0016_one_head
Create Date: 2026-12-04

A flat sold between two 1С exports kept its old owner and their phone callable, and the
campaign dialled the old owner's phone first: the debt was disclosed to a stranger. People
and phones the latest file no longer lists for an account are marked former (with the date)
and never dialled for it; they stay in the history. Nullable columns: NULL is current.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_former_people"
down_revision: str | Sequence[str] | None = "0016_one_head"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("people", sa.Column("former_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("phones", sa.Column("former_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("phones", "former_at")
    op.drop_column("people", "former_at")
