"""Callbacks a collector scheduled on an escalation case: when the case comes back.

One row per case (the latest time set wins). The collectors' queue puts a case whose
callback is due at the top; closing the case ends it (the queue shows open cases only).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime
from storage.models.debt_book import utc_now

__all__ = ["CaseCallback"]


class CaseCallback(Base):
    """When the collector will call the case's debtor back (``due_at``, UTC)."""

    __tablename__ = "case_callbacks"

    case_id: Mapped[int] = mapped_column(sa.ForeignKey("escalation_cases.id"), primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    set_by: Mapped[str] = mapped_column(sa.String(100))  # user:<id>
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
