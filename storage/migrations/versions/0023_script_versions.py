"""Script versions edited in the web, and the versions each campaign runs.

Revision ID: 0023_script_versions
Revises: 0022_import_jobs
Create Date: 2026-12-04

A collection team edits a script's wording on the web; each save is a new version of that
organisation's script (version 1 is the library file). A campaign pins the versions it was
created with, so a call placed next week says what the campaign was set up to say.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_script_versions"
down_revision: str | Sequence[str] | None = "0022_import_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "script_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("script", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_script_versions_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_script_versions_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_versions")),
        sa.UniqueConstraint(
            "organisation_id",
            "script",
            "version",
            name=op.f("uq_script_versions_organisation_id_script_version"),
        ),
    )
    op.create_table(
        "campaign_script_versions",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("script", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_script_versions_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "script", name=op.f("pk_campaign_script_versions")),
    )


def downgrade() -> None:
    op.drop_table("campaign_script_versions")
    op.drop_table("script_versions")
