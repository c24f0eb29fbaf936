"""Dialogue scripts edited in the web: each saved edit is a new version of one organisation's
script, and each campaign pins the versions it was created with.

Version 1 of a script is the library file (``scripts/library/<name>.yaml``); it is stored
here, as it was, the first time an organisation saves an edit, so a campaign pinned to
version 1 keeps its wording even when the library file changes with an upgrade.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime
from storage.models.debt_book import utc_now

__all__ = ["CampaignScriptVersion", "ScriptVersion"]


class ScriptVersion(Base):
    """One version of one organisation's script: the whole YAML text as it was saved."""

    __tablename__ = "script_versions"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "script", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    script: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(sa.Text)
    # None: version 1 copied from the library file, not typed by anyone.
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)


class CampaignScriptVersion(Base):
    """The version of one script a campaign runs (its main, thanks and broken-promise scripts)."""

    __tablename__ = "campaign_script_versions"

    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    script: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    version: Mapped[int]
