"""Collectors on the line: a SIP extension per collector, their line status and since when.

Revision ID: 0020_collector_lines
Revises: 0019_message_gateway_ref
Create Date: 2026-12-04

The first part of live transfer (issue 16). The extension is kept on each of the user's
organisation links, so a unique index refuses two collectors of one organisation with the
same extension (NULLs are distinct on SQLite and PostgreSQL alike). The line status is one
row per collector; existing collectors start «отошёл» (away) until they say otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_collector_lines"
down_revision: str | Sequence[str] | None = "0019_message_gateway_ref"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("user_organisations", sa.Column("extension", sa.String(6), nullable=True))
    op.create_index(
        "ix_user_organisations_organisation_id_extension",
        "user_organisations",
        ["organisation_id", "extension"],
        unique=True,
    )
    op.create_table(
        "collector_lines",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('online', 'busy', 'away')", name=op.f("ck_collector_lines_status")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_collector_lines_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_collector_lines")),
    )
    op.create_index(
        "ix_collector_lines_status_changed", "collector_lines", ["status", "status_changed_at"]
    )
    op.execute(
        "INSERT INTO collector_lines (user_id, status, status_changed_at) "
        "SELECT id, 'away', CURRENT_TIMESTAMP FROM users WHERE role = 'collector'"
    )


def downgrade() -> None:
    op.drop_index("ix_collector_lines_status_changed", table_name="collector_lines")
    op.drop_table("collector_lines")
    op.drop_index("ix_user_organisations_organisation_id_extension", "user_organisations")
    with op.batch_alter_table("user_organisations") as batch:
        batch.drop_column("extension")
