"""Login throttling: too many failed sign-ins for one login name or one client address.

Failures are rows of ``login_failures`` (so the limit survives a restart and holds across
several server processes on one database). A login name or address is stored only as a
keyed hash (HMAC with the service secret): the table never holds what people typed in
the login field, which is sometimes a password. A successful sign-in clears its login
name's failures; the address keeps its own, so one address cannot try many names.

Check, password test and count happen under one lock per login name and address
(:func:`hold_subjects`: a transaction-level advisory lock on PostgreSQL; SQLite's single
writer serialises the transaction already), so parallel guesses are counted one after the
other: 16 at once for one name on PostgreSQL had let 12 through the limit of 5.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models.users import LoginFailure

__all__ = [
    "LoginLimits",
    "LoginSubjects",
    "clear_login",
    "hold_subjects",
    "record_failure",
    "retry_after_s",
]

LOGIN = "login"
ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """At most ``per_login`` failures for one login name and ``per_address`` for one client
    address within ``window_s`` seconds. An office behind one address has several people,
    hence the wider address limit."""

    per_login: int = 5
    per_address: int = 20
    window_s: int = 15 * 60


@dataclass(frozen=True, slots=True)
class LoginSubjects:
    """The keyed hashes of one sign-in's login name and client address."""

    login: str
    address: str

    @classmethod
    def of(cls, secret: str, login: str, address: str) -> LoginSubjects:
        """Hash ``login`` (case-folded, trimmed) and ``address`` with ``secret``."""

        def key(kind: str, value: str) -> str:
            message = f"{kind}\0{value}".encode()
            return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

        return cls(key(LOGIN, login.strip().casefold()), key(ADDRESS, address))

    def pairs(self, limits: LoginLimits) -> tuple[tuple[str, str, int], ...]:
        """(subject, key, limit) for each thing counted."""
        return ((LOGIN, self.login, limits.per_login), (ADDRESS, self.address, limits.per_address))


def hold_subjects(session: Session, subjects: LoginSubjects) -> None:
    """Lock both subjects until the transaction ends (before checking them)."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE, one writing transaction at a time
    # A 63-bit key from each hash, always taken in the same order (no deadlock).
    for key in sorted({subjects.login, subjects.address}):
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(int(key[:15], 16))))


def retry_after_s(
    session: Session, subjects: LoginSubjects, limits: LoginLimits, now: dt.datetime
) -> int | None:
    """Seconds until a sign-in may be tried again, or ``None`` when it may be tried now.

    Blocked while ``limit`` failures lie within the window; it opens when the oldest of
    the latest ``limit`` leaves the window.
    """
    since = now - dt.timedelta(seconds=limits.window_s)
    waits: list[int] = []
    for subject, key, limit in subjects.pairs(limits):
        latest = list(
            session.scalars(
                sa.select(LoginFailure.failed_at)
                .where(
                    LoginFailure.subject == subject,
                    LoginFailure.subject_key == key,
                    LoginFailure.failed_at > since,
                )
                .order_by(LoginFailure.failed_at.desc())
                .limit(limit)
            )
        )
        if len(latest) >= limit:
            opens = latest[-1] + dt.timedelta(seconds=limits.window_s)
            waits.append(max(1, int((opens - now).total_seconds()) + 1))
    return max(waits) if waits else None


def record_failure(
    session: Session, subjects: LoginSubjects, limits: LoginLimits, now: dt.datetime
) -> None:
    """Count a failed sign-in against both subjects; forget their failures out of the window."""
    since = now - dt.timedelta(seconds=limits.window_s)
    for subject, key, _limit in subjects.pairs(limits):
        session.execute(
            sa.delete(LoginFailure).where(
                LoginFailure.subject == subject,
                LoginFailure.subject_key == key,
                LoginFailure.failed_at <= since,
            )
        )
        session.add(LoginFailure(subject=subject, subject_key=key, failed_at=now))
    session.flush()


def clear_login(session: Session, subjects: LoginSubjects) -> int:
    """A successful sign-in (or an admin's unblock): its login name starts afresh (the
    address keeps its count). Returns how many failures were forgotten."""
    result = session.execute(
        sa.delete(LoginFailure).where(
            LoginFailure.subject == LOGIN, LoginFailure.subject_key == subjects.login
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
