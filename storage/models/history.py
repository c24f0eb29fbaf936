"""Contact history: every interaction of any kind with an account, append-only.

Rows are never updated or deleted (database triggers refuse it, see migration
``0001_debt_book``). Calls, escalations, promises and campaigns live in their own tables
added by later migrations; an event points at its row through the free reference
``(ref_table, ref_id)`` so this table needs no foreign key to tables that don't exist yet.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, UtcDateTime
from storage.models.debt_book import Account, utc_now
from storage.models.enums import ContactKind, enum_column_type

__all__ = ["APPEND_ONLY_TABLES", "ContactEvent"]

APPEND_ONLY_TABLES = ("contact_events",)


class ContactEvent(Base):
    """One interaction with an account: an import, a call, a message, a note, a payment…

    ``summary`` is a short human text for the account's timeline (no transcripts);
    ``details`` holds structured extras (tags, amounts as strings, outcome).
    """

    __tablename__ = "contact_events"
    __table_args__ = (
        sa.Index("ix_contact_events_account_occurred", "account_id", "occurred_at"),
        sa.Index("ix_contact_events_ref", "ref_table", "ref_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"))
    phone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("phones.id"))
    # No CHECK: a later part may add a kind without a migration.
    kind: Mapped[ContactKind] = mapped_column(enum_column_type(ContactKind, column="kind", check=False))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    actor: Mapped[str] = mapped_column(sa.String(100), default="system")  # robot, user:<id>, import
    summary: Mapped[str] = mapped_column(sa.String(500), default="")
    ref_table: Mapped[str | None] = mapped_column(sa.String(64))
    ref_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    details: Mapped[dict[str, object] | None] = mapped_column(sa.JSON)

    account: Mapped[Account] = relationship()
