"""Collectors on the line: SIP extensions, line status, and claiming a free collector.

The first part of live transfer (issue 16). A collector has one SIP extension (2–6 digits,
unique within each of their organisations; the database refuses a duplicate) and a line
status: on the line (``online``), busy, away. A transfer takes the free collector of the
call's organisation who has been idle longest and marks them busy in one conditional
``UPDATE … WHERE status = 'online'``: when two calls race for the same person only one
update changes the row, the other sees no row changed and tries the next collector. That
holds on PostgreSQL under READ COMMITTED (the losing update waits for the winner's commit,
then re-checks the condition) and on SQLite (one writer at a time, ``BEGIN IMMEDIATE``).

Functions take the caller's session; the caller owns the transaction and should commit a
claim at once (the claimed row stays locked on PostgreSQL until then).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.errors import CollectorLineRefused
from storage.models.debt_book import Organisation
from storage.models.users import CollectorLine, LineStatus, User, UserOrganisation, UserRole

__all__ = [
    "Collector",
    "CollectorOnLine",
    "LineState",
    "collectors_on_line",
    "extension_of",
    "free_collector",
    "line_status_of",
    "parse_extension",
    "parse_line_status",
    "release_collector",
    "set_extension",
    "set_line_status",
]

_EXTENSION_RE = re.compile(r"^[0-9]{2,6}$")
# Losing a race means somebody else got a collector; a few more tries find the next one.
_CLAIM_TRIES = 8


@dataclass(frozen=True, slots=True)
class Collector:
    """A collector claimed for one transferred call: who to dial and how to name them."""

    user_id: int
    display_name: str
    extension: str
    organisation_id: int


@dataclass(frozen=True, slots=True)
class LineState:
    """A collector's line status and when it last changed."""

    user_id: int
    status: LineStatus
    status_changed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CollectorOnLine:
    """A collector as the team's line list shows them (no personal data but the name)."""

    user_id: int
    display_name: str
    organisation_id: int
    extension: str | None
    status: LineStatus
    status_changed_at: dt.datetime | None


def parse_extension(raw: str) -> str:
    """A SIP extension as typed: 2–6 digits (surrounding spaces dropped), else refused."""
    value = raw.strip()
    if not _EXTENSION_RE.match(value):
        raise CollectorLineRefused("добавочный номер (extension): от 2 до 6 цифр, например 201")
    return value


def parse_line_status(raw: object) -> LineStatus:
    """``online`` / ``busy`` / ``away`` from a form or JSON, else refused naming the field."""
    if isinstance(raw, str):
        for status in LineStatus:
            if raw == status.value:
                return status
    choices = ", ".join(s.value for s in LineStatus)
    raise CollectorLineRefused(f"status: одно из {choices}")


def _collector(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise CollectorLineRefused("нет такого пользователя")
    if user.role is not UserRole.COLLECTOR:
        raise CollectorLineRefused(
            f"добавочный номер и статус на линии бывают только у взыскателя (роль collector); "
            f"у {user.login} роль {user.role.value}"
        )
    return user


def set_extension(session: Session, user_id: int, extension: str | None) -> str | None:
    """Set (or with ``None`` clear) a collector's SIP extension in all their organisations.

    Refuses a user who is not a collector, a malformed number, and a number another user of
    one of the same organisations already has (naming them). Returns the extension set.
    """
    user = _collector(session, user_id)
    value = parse_extension(extension) if extension is not None else None
    links = [link.organisation_id for link in user.organisations]
    if value is not None:
        if not links:
            raise CollectorLineRefused(f"добавочный номер: у {user.login} нет организаций")
        taken = session.execute(
            sa.select(User.login, Organisation.name)
            .join(UserOrganisation, UserOrganisation.user_id == User.id)
            .join(Organisation, Organisation.id == UserOrganisation.organisation_id)
            .where(
                UserOrganisation.organisation_id.in_(links),
                UserOrganisation.extension == value,
                User.id != user_id,
            )
            .limit(1)
        ).first()
        if taken is not None:
            raise CollectorLineRefused(
                f"добавочный номер {value} уже у {taken.login} в организации «{taken.name}»"
            )
    try:
        with session.begin_nested():  # a concurrent admin's same number: refused, not a 500
            session.execute(
                sa.update(UserOrganisation)
                .where(UserOrganisation.user_id == user_id)
                .values(extension=value)
                .execution_options(synchronize_session="fetch")
            )
    except IntegrityError as err:
        raise CollectorLineRefused(
            f"добавочный номер {value} только что занят другим пользователем этой организации"
        ) from err
    return value


def _ensure_line(session: Session, user_id: int, now: dt.datetime) -> None:
    """The collector's line row, made ``away`` if missing (a concurrent maker is no error)."""
    values = {"user_id": user_id, "status": LineStatus.AWAY.value, "status_changed_at": now}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(CollectorLine).values(**values).on_conflict_do_nothing(index_elements=["user_id"])
    )


def set_line_status(
    session: Session, user_id: int, status: LineStatus, now: dt.datetime
) -> LineState:
    """The collector ``user_id`` says they are on the line, busy or away.

    Saying the status they already have keeps its time (their place in the idle order).
    """
    _collector(session, user_id)
    _ensure_line(session, user_id, now)
    session.execute(
        sa.update(CollectorLine)
        .where(CollectorLine.user_id == user_id, CollectorLine.status != status)
        .values(status=status, status_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    line = session.execute(
        sa.select(CollectorLine)
        .where(CollectorLine.user_id == user_id)
        .execution_options(populate_existing=True)
    ).scalar_one()
    return LineState(line.user_id, line.status, line.status_changed_at)


def line_status_of(session: Session, user_id: int) -> LineState | None:
    """The user's line status now; ``None`` for somebody who never set one (away)."""
    line = session.get(CollectorLine, user_id)
    return None if line is None else LineState(line.user_id, line.status, line.status_changed_at)


def extension_of(session: Session, user_id: int) -> str | None:
    """The user's SIP extension (``None`` if not set)."""
    return session.scalar(
        sa.select(sa.func.max(UserOrganisation.extension)).where(
            UserOrganisation.user_id == user_id
        )
    )


def collectors_on_line(
    session: Session, organisation_ids: Collection[int] | None
) -> list[CollectorOnLine]:
    """Active collectors of these organisations (every one for ``None``), on the line first,
    then busy, then away; one row per collector and organisation."""
    order = sa.case(
        (CollectorLine.status == LineStatus.ONLINE, 0),
        (CollectorLine.status == LineStatus.BUSY, 1),
        else_=2,
    )
    query = (
        sa.select(
            User.id,
            User.display_name,
            User.login,
            UserOrganisation.organisation_id,
            UserOrganisation.extension,
            CollectorLine.status,
            CollectorLine.status_changed_at,
        )
        .join(UserOrganisation, UserOrganisation.user_id == User.id)
        .outerjoin(CollectorLine, CollectorLine.user_id == User.id)
        .where(User.role == UserRole.COLLECTOR, User.active.is_(True))
        .order_by(UserOrganisation.organisation_id, order, CollectorLine.status_changed_at, User.id)
    )
    if organisation_ids is not None:
        query = query.where(UserOrganisation.organisation_id.in_(list(organisation_ids)))
    return [
        CollectorOnLine(
            user_id=row.id,
            display_name=row.display_name or row.login,
            organisation_id=row.organisation_id,
            extension=row.extension,
            status=row.status if row.status is not None else LineStatus.AWAY,
            status_changed_at=row.status_changed_at,
        )
        for row in session.execute(query)
    ]


def free_collector(session: Session, organisation_id: int, now: dt.datetime) -> Collector | None:
    """Claim the collector of ``organisation_id`` who is on the line with an extension and
    idle longest (status changed longest ago), marking them busy; ``None`` if nobody is free.

    Two concurrent claims never get the same collector (see the module docstring).
    """
    passed: list[int] = []
    for _ in range(_CLAIM_TRIES):
        query = (
            sa.select(User.id, User.display_name, User.login, UserOrganisation.extension)
            .join(UserOrganisation, UserOrganisation.user_id == User.id)
            .join(CollectorLine, CollectorLine.user_id == User.id)
            .where(
                UserOrganisation.organisation_id == organisation_id,
                UserOrganisation.extension.is_not(None),
                CollectorLine.status == LineStatus.ONLINE,
                User.role == UserRole.COLLECTOR,
                User.active.is_(True),
            )
            .order_by(CollectorLine.status_changed_at, User.id)
            .limit(1)
        )
        if passed:
            query = query.where(User.id.not_in(passed))
        candidate = session.execute(query).first()
        if candidate is None:
            return None
        claimed = session.execute(
            sa.update(CollectorLine)
            .where(CollectorLine.user_id == candidate.id, CollectorLine.status == LineStatus.ONLINE)
            .values(status=LineStatus.BUSY, status_changed_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(claimed) == 1:
            return Collector(
                user_id=candidate.id,
                display_name=candidate.display_name or candidate.login,
                extension=candidate.extension,
                organisation_id=organisation_id,
            )
        passed.append(candidate.id)  # another call took them between our read and update
    return None


def release_collector(session: Session, user_id: int, now: dt.datetime) -> bool:
    """After the transferred call: a busy collector is on the line again. A collector who
    meanwhile said «отошёл» stays away. Returns whether the status changed."""
    released = session.execute(
        sa.update(CollectorLine)
        .where(CollectorLine.user_id == user_id, CollectorLine.status == LineStatus.BUSY)
        .values(status=LineStatus.ONLINE, status_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(released) == 1


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
