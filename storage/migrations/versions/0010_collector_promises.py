"""Collectors' promises: who recorded a promise to pay.

Revision ID: 0010_collector_promises
Revises: 0009_person_ledger
Create Date: 2026-11-23

A collector working an escalation case records the debtor's promise (date and amount) as a
``promises`` row like the robot's, decided kept or broken by the same daily run and summed by
the same report triggers (0004). ``promises.made_by`` says who recorded it: NULL is the robot
(the promise has its ``call_id``), else the collector's actor ("user:<id>").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_collector_promises"
down_revision: str | Sequence[str] | None = "0009_person_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases: a batch rebuild of ``promises`` on SQLite would lose
# the report triggers of migration 0004.
def upgrade() -> None:
    op.add_column("promises", sa.Column("made_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("promises", "made_by")
