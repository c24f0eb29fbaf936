"""Versions of an organisation's dialogue scripts and the versions campaigns pin.

The text is kept whole (the YAML as saved) and validated by the caller before it is saved:
storage does not know what a script is. The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models.debt_book import utc_now
from storage.models.script_versions import CampaignScriptVersion, ScriptVersion
from storage.models.users import User

__all__ = [
    "LIBRARY_VERSION",
    "VersionInfo",
    "latest_versions",
    "pin_campaign_scripts",
    "pinned_version",
    "save_script_version",
    "script_history",
    "script_version_text",
]

LIBRARY_VERSION = 1
"""The version number of the library file, before any edit."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One saved version: its number, who saved it (None: the library file) and when."""

    version: int
    author: str | None
    created_at: dt.datetime


def latest_versions(session: Session, organisation_id: int) -> dict[str, int]:
    """The newest saved version of each of the organisation's edited scripts."""
    rows = session.execute(
        sa.select(ScriptVersion.script, sa.func.max(ScriptVersion.version))
        .where(ScriptVersion.organisation_id == organisation_id)
        .group_by(ScriptVersion.script)
    )
    return {str(name): int(version) for name, version in rows}


def script_version_text(
    session: Session, organisation_id: int, script: str, version: int | None
) -> tuple[int, str] | None:
    """(version, text) of the organisation's script: ``version``, or the newest when None;
    None when the organisation has not saved that version (then it is the library file)."""
    query = sa.select(ScriptVersion.version, ScriptVersion.text).where(
        ScriptVersion.organisation_id == organisation_id, ScriptVersion.script == script
    )
    if version is not None:
        query = query.where(ScriptVersion.version == version)
    row = session.execute(query.order_by(ScriptVersion.version.desc()).limit(1)).first()
    return None if row is None else (int(row[0]), str(row[1]))


def save_script_version(
    session: Session,
    organisation_id: int,
    script: str,
    text: str,
    *,
    author_id: int | None,
    library_text: str,
) -> int:
    """Store ``text`` as the next version and return its number.

    The first edit also stores the library file as version 1, so campaigns pinned to it keep
    its words. Two saves at once collide on the unique (organisation, script, version): the
    loser's transaction fails and nothing of it is written.
    """
    latest = session.scalar(
        sa.select(sa.func.max(ScriptVersion.version)).where(
            ScriptVersion.organisation_id == organisation_id, ScriptVersion.script == script
        )
    )
    now = utc_now()
    if latest is None:
        session.add(
            ScriptVersion(
                organisation_id=organisation_id,
                script=script,
                version=LIBRARY_VERSION,
                text=library_text,
                author_id=None,
                created_at=now,
            )
        )
        latest = LIBRARY_VERSION
    version = int(latest) + 1
    session.add(
        ScriptVersion(
            organisation_id=organisation_id,
            script=script,
            version=version,
            text=text,
            author_id=author_id,
            created_at=now,
        )
    )
    session.flush()
    return version


def script_history(session: Session, organisation_id: int, script: str) -> list[VersionInfo]:
    """The organisation's versions of ``script``, newest first."""
    rows = session.execute(
        sa.select(ScriptVersion.version, User.login, ScriptVersion.created_at)
        .outerjoin(User, User.id == ScriptVersion.author_id)
        .where(ScriptVersion.organisation_id == organisation_id, ScriptVersion.script == script)
        .order_by(ScriptVersion.version.desc())
    )
    return [VersionInfo(int(v), login, created) for v, login, created in rows]


def pin_campaign_scripts(
    session: Session, campaign_id: int, organisation_id: int, scripts: Iterable[str]
) -> dict[str, int]:
    """Record, for each script the campaign names, the organisation's newest version now
    (the library file's when never edited); an already pinned script keeps its version."""
    latest = latest_versions(session, organisation_id)
    pinned = {
        str(name): int(version)
        for name, version in session.execute(
            sa.select(CampaignScriptVersion.script, CampaignScriptVersion.version).where(
                CampaignScriptVersion.campaign_id == campaign_id
            )
        )
    }
    for name in scripts:
        if name in pinned:
            continue
        pinned[name] = latest.get(name, LIBRARY_VERSION)
        session.add(
            CampaignScriptVersion(campaign_id=campaign_id, script=name, version=pinned[name])
        )
    session.flush()
    return pinned


def pinned_version(session: Session, campaign_id: int, script: str) -> int | None:
    """The version of ``script`` the campaign runs; None when it pinned none (made elsewhere)."""
    return session.scalar(
        sa.select(CampaignScriptVersion.version).where(
            CampaignScriptVersion.campaign_id == campaign_id,
            CampaignScriptVersion.script == script,
        )
    )
