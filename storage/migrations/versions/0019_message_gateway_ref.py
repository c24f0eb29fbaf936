"""Messages found by the gateway's own reference: an index on (gateway, gateway_ref).

Revision ID: 0019_message_gateway_ref
Revises: 0018_web_sessions
Create Date: 2026-12-10

Kannel's delivery reports carry our outbox id; an SMSC reached over SMPP names a message
only by the id it gave in submit_sm_resp, which the sender stores as ``gateway_ref``. The
column was there since 0012; receipts now look it up, so it gets an index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019_message_gateway_ref"
down_revision: str | Sequence[str] | None = "0018_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_gateway_ref", "messages", ["gateway", "gateway_ref"])


def downgrade() -> None:
    op.drop_index("ix_messages_gateway_ref", table_name="messages")
