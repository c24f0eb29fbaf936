"""Web sessions kept on the server: sign-out, a password change or a disabled user end them.

Revision ID: 0018_web_sessions
Revises: 0017_former_people
Create Date: 2026-12-04

The signed cookie alone could not be taken back: after sign-out a copied cookie worked for
its 12 hours. Each sign-in is now a row (the cookie carries a random token, the table its
SHA-256); a request needs a row that has not ended and was used within the idle timeout.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_web_sessions"
down_revision: str | Sequence[str] | None = "0017_former_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_why", sa.String(32), nullable=True),
    )
    op.create_index("ix_web_sessions_token_hash", "web_sessions", ["token_hash"], unique=True)
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_user_id", "web_sessions")
    op.drop_index("ix_web_sessions_token_hash", "web_sessions")
    op.drop_table("web_sessions")
