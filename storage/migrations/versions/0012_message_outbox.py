"""Messages after a call: the SMS outbox, delivery reports, payees, opt-outs.

Revision ID: 0012_message_outbox
Revises: 0011_one_head
Create Date: 2026-12-03

``messages`` is the outbox written in the call's final transaction (one per call: a unique
``call_id``) and drained by ``napomni messages send``; ``message_reports`` keeps the
gateway's delivery reports; ``organisation_payees`` the bank details and template per
organisation; ``message_opt_outs`` the debtors' «не присылайте».
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_message_outbox"
down_revision: str | Sequence[str] | None = "0011_one_head"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "refused")


def upgrade() -> None:
    op.create_table(
        "organisation_payees",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("inn", sa.String(length=12), nullable=False),
        sa.Column("kpp", sa.String(length=9), nullable=True),
        sa.Column("bank_name", sa.String(length=160), nullable=False),
        sa.Column("bic", sa.String(length=9), nullable=False),
        sa.Column("settlement_account", sa.String(length=20), nullable=False),
        sa.Column("correspondent_account", sa.String(length=20), nullable=False),
        sa.Column("sender", sa.String(length=11), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("link_ttl_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_payees_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_organisation_payees")),
    )
    op.create_table(
        "message_opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("phone_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("set_at", _TIME, nullable=False),
        sa.Column("lifted_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_message_opt_outs_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["phone_id"], ["phones.id"], name=op.f("fk_message_opt_outs_phone_id_phones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_opt_outs")),
    )
    op.create_index(
        "ix_message_opt_outs_account_lifted", "message_opt_outs", ["account_id", "lifted_at"]
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("phone_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                *_MESSAGE_STATUSES,
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("page_token", sa.String(length=64), nullable=True),
        sa.Column("page_expires_at", _TIME, nullable=True),
        sa.Column("page_opened_at", _TIME, nullable=True),
        sa.Column("page_opens", sa.Integer(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_try_at", _TIME, nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", _TIME, nullable=True),
        sa.Column("gateway", sa.String(length=16), nullable=True),
        sa.Column("gateway_ref", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_messages_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_messages_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_messages_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["phone_id"], ["phones.id"], name=op.f("fk_messages_phone_id_phones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("call_id", name=op.f("uq_messages_call_id")),
        sa.UniqueConstraint("page_token", name=op.f("uq_messages_page_token")),
    )
    op.create_index("ix_messages_account_created", "messages", ["account_id", "created_at"])
    op.create_index(op.f("ix_messages_organisation_id"), "messages", ["organisation_id"])
    op.create_index("ix_messages_status_next_try_at", "messages", ["status", "next_try_at"])
    op.create_table(
        "message_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_reports_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_reports")),
    )
    op.create_index(op.f("ix_message_reports_message_id"), "message_reports", ["message_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_message_reports_message_id"), table_name="message_reports")
    op.drop_table("message_reports")
    op.drop_index("ix_messages_status_next_try_at", table_name="messages")
    op.drop_index(op.f("ix_messages_organisation_id"), table_name="messages")
    op.drop_index("ix_messages_account_created", table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_message_opt_outs_account_lifted", table_name="message_opt_outs")
    op.drop_table("message_opt_outs")
    op.drop_table("organisation_payees")
