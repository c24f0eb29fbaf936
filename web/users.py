"""Users of the service: creating them, signing in, and the principal of a session.

Functions take the caller's SQLAlchemy session (the caller owns the transaction).
Passwords arrive here only as argon2 hashes, except in :func:`authenticate`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from storage.models import Organisation, utc_now
from storage.models.users import CollectorLine, User, UserOrganisation, UserRole, WebSession
from web.access import Principal
from web.errors import UserError
from web.passwords import verify_password

__all__ = [
    "NewUser",
    "SessionCheck",
    "authenticate",
    "create_user",
    "UserChange",
    "UserRow",
    "change_user",
    "end_user_sessions",
    "list_users",
    "end_web_session",
    "load_principal",
    "resolve_organisations",
    "start_web_session",
    "touch_web_session",
]

_LOGIN_RE = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user to create; ``password_hash`` is already an argon2 hash."""

    login: str
    password_hash: str
    role: UserRole
    organisation_ids: Sequence[int] = ()
    display_name: str = ""


def resolve_organisations(session: Session, names_or_ids: Sequence[str]) -> list[int]:
    """Organisation ids for names or numeric ids as typed on the command line."""
    found: list[int] = []
    for item in names_or_ids:
        key = item.strip()
        query = sa.select(Organisation.id)
        if key.isdigit():
            query = query.where(Organisation.id == int(key))
        else:
            query = query.where(Organisation.name == key)
        organisation_id = session.scalar(query)
        if organisation_id is None:
            raise UserError(f"организация {key!r} не найдена")
        found.append(organisation_id)
    return found


def create_user(session: Session, new: NewUser) -> int:
    """Create a user; returns its id. Refuses a taken login or a role without organisations."""
    if not _LOGIN_RE.match(new.login):
        raise UserError(f"логин {new.login!r}: 2–64 символа, латинские буквы, цифры и . _ @ -")
    if new.role is not UserRole.ADMIN and not new.organisation_ids:
        raise UserError(
            f"роль {new.role.value}: укажите хотя бы одну организацию (--org), "
            "иначе пользователь ничего не увидит"
        )
    taken = session.scalar(sa.select(User.id).where(User.login == new.login))
    if taken is not None:
        raise UserError(f"логин {new.login!r} уже занят")
    user = User(
        login=new.login,
        display_name=new.display_name,
        password_hash=new.password_hash,
        role=new.role,
        active=True,
        session_epoch=0,
    )
    user.organisations = [
        UserOrganisation(organisation_id=org) for org in sorted(set(new.organisation_ids))
    ]
    session.add(user)
    session.flush()
    return user.id


def authenticate(session: Session, login: str, password: str) -> tuple[int, int] | None:
    """``(user_id, session_epoch)`` if the login and password match an active user.

    Argon2 verification is CPU-heavy: call this off the event loop.
    """
    user = session.scalar(sa.select(User).where(User.login == login.strip()))
    if not verify_password(user.password_hash if user is not None else None, password):
        return None
    if user is None or not user.active:
        return None
    user.last_login_at = utc_now()
    return user.id, user.session_epoch


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_web_session(session: Session, user_id: int, now: dt.datetime) -> str:
    """A new server-side session for ``user_id``; the token for its cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(token_hash=_token_hash(token), user_id=user_id, created_at=now, last_seen_at=now)
    )
    return token


def end_web_session(session: Session, token: str, why: str, now: dt.datetime) -> None:
    """End one session (sign-out)."""
    session.execute(
        sa.update(WebSession)
        .where(WebSession.token_hash == _token_hash(token), WebSession.ended_at.is_(None))
        .values(ended_at=now, ended_why=why)
    )


def end_user_sessions(session: Session, user_id: int, why: str, now: dt.datetime) -> int:
    """End every session of a user (password changed, disabled, signed out by an admin)."""
    result = session.execute(
        sa.update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=now, ended_why=why)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class SessionCheck:
    """How a request's session stands: its principal, and whether to note it was used."""

    principal: Principal | None
    touch: int | None = None  # the row to mark as used now (at most once a minute)


def load_principal(
    session: Session,
    user_id: int,
    epoch: int,
    csrf_token: str,
    token: str | None = None,
    *,
    now: dt.datetime | None = None,
    idle_s: int | None = None,
) -> SessionCheck:
    """The principal of a signed session, or none if the user is gone, blocked, signed out,
    the server-side session ended or it was idle longer than ``idle_s``."""
    user = session.scalar(
        sa.select(User).where(User.id == user_id).options(selectinload(User.organisations))
    )
    if user is None or not user.active or user.session_epoch != epoch or token is None:
        return SessionCheck(None)
    row = session.scalar(sa.select(WebSession).where(WebSession.token_hash == _token_hash(token)))
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return SessionCheck(None)
    now = now or utc_now()
    if idle_s is not None and row.last_seen_at < now - dt.timedelta(seconds=idle_s):
        return SessionCheck(None)
    touch = row.id if row.last_seen_at < now - dt.timedelta(seconds=60) else None
    organisation_ids = (
        None
        if user.role is UserRole.ADMIN
        else frozenset(link.organisation_id for link in user.organisations)
    )
    principal = Principal(
        user_id=user.id,
        login=user.login,
        display_name=user.display_name or user.login,
        role=user.role,
        organisation_ids=organisation_ids,
        csrf_token=csrf_token,
    )
    return SessionCheck(principal, touch)


def touch_web_session(session: Session, row_id: int, now: dt.datetime) -> None:
    """Note that a session was used (the idle timeout counts from here)."""
    session.execute(sa.update(WebSession).where(WebSession.id == row_id).values(last_seen_at=now))


UserChange = str  # "disable", "enable", "sign_out" or "password"
_CHANGES = ("disable", "enable", "sign_out", "password")


def change_user(
    session: Session, user: User, change: UserChange, now: dt.datetime, password_hash: str = ""
) -> int:
    """Disable, enable, sign out or set the password of ``user``; every change ends the
    user's sessions (and bumps the epoch, which ends a cookie from before them). Returns how
    many sessions ended."""
    if change not in _CHANGES:
        raise UserError(f"действие: одно из {', '.join(_CHANGES)}")
    if change == "disable":
        user.active = False
    elif change == "enable":
        user.active = True
    elif change == "password":
        if not password_hash:
            raise UserError("пароль: не задан")
        user.password_hash = password_hash
    user.session_epoch += 1
    return end_user_sessions(session, user.id, change, now)


@dataclass(frozen=True, slots=True)
class UserRow:
    """A user as the admin's list shows them."""

    id: int
    login: str
    display_name: str
    role: str
    active: bool
    sessions: int
    last_login_at: dt.datetime | None
    extension: str | None = None  # a collector's SIP extension
    line_status: str | None = None  # a collector's: online, busy, away


def list_users(session: Session, now: dt.datetime, idle_s: int) -> list[UserRow]:
    """Every user with the sessions open now (not ended, used within ``idle_s``), and a
    collector's extension and line status."""
    open_sessions = dict(
        session.execute(
            sa.select(WebSession.user_id, sa.func.count())
            .where(
                WebSession.ended_at.is_(None),
                WebSession.last_seen_at >= now - dt.timedelta(seconds=idle_s),
            )
            .group_by(WebSession.user_id)
        ).all()
    )
    extensions: dict[int, str | None] = {
        user_id: extension
        for user_id, extension in session.execute(
            sa.select(UserOrganisation.user_id, sa.func.max(UserOrganisation.extension)).group_by(
                UserOrganisation.user_id
            )
        )
    }
    statuses: dict[int, str] = {
        user_id: status.value
        for user_id, status in session.execute(
            sa.select(CollectorLine.user_id, CollectorLine.status)
        )
    }
    collector = UserRole.COLLECTOR
    return [
        UserRow(
            u.id,
            u.login,
            u.display_name,
            u.role.value,
            u.active,
            int(open_sessions.get(u.id, 0)),
            u.last_login_at,
            extensions.get(u.id) if u.role is collector else None,
            statuses.get(u.id, "away") if u.role is collector else None,
        )  # fmt: skip
        for u in session.scalars(sa.select(User).order_by(User.login))
    ]
