"""People who use the web service, what they may see, and who opened which account.

A user has one role and a list of organisations whose data they may see (an admin sees
every organisation). The password is stored only as an argon2 hash (the web part hashes
it; storage never sees the password). ``session_epoch`` is bumped to sign out every
session of a user at once (a password change, a blocked account).

``account_openings`` is the audit log of 152-ФЗ: every time someone opens an account's
card or exports its data a row is appended; rows are never updated or deleted (database
triggers refuse it, see migration ``0002_users``).

Collectors on the line (migration ``0020_collector_lines``, the first part of live transfer):
a collector's SIP extension is kept on each of their organisation links, so the database
itself refuses two collectors of one organisation with the same extension; their line
status (на линии / занят / отошёл) and when it changed are one ``collector_lines`` row.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, UtcDateTime
from storage.models.debt_book import Organisation, utc_now
from storage.models.enums import enum_column_type

__all__ = [
    "AUDIT_TABLES",
    "AccountOpening",
    "CollectorLine",
    "LineStatus",
    "LoginFailure",
    "OpeningPurpose",
    "User",
    "UserOrganisation",
    "UserRole",
    "WebSession",
]

AUDIT_TABLES = ("account_openings",)


class UserRole(StrEnum):
    """What a user of the web service does."""

    ADMIN = "admin"  # администратор: всё, включая паспорт/СНИЛС/ИНН и пользователей
    CAMPAIGN_MANAGER = "campaign_manager"  # запускает кампании обзвона
    COLLECTOR = "collector"  # «позвоночник»: работает с эскалациями
    MANAGER = "manager"  # руководитель: отчёты, только чтение


class LineStatus(StrEnum):
    """Whether a collector can take a transferred call now."""

    ONLINE = "online"  # на линии: free, a call may be transferred to them
    BUSY = "busy"  # занят: in a call (set by a transfer or by the collector)
    AWAY = "away"  # отошёл: not taking calls (also everybody who never said otherwise)


class OpeningPurpose(StrEnum):
    """Why an account's data was opened (the audit log's ``purpose``)."""

    CARD = "card"  # the account card page
    API = "api"  # the account through the JSON API
    EXPORT = "export"  # the account's data in an export
    RECORDING = "recording"  # a call's recording played or downloaded


class User(Base):
    """A login of the web service."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Staff member's display name (not a debtor's personal data).
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[UserRole] = mapped_column(enum_column_type(UserRole, column="role", length=32))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    session_epoch: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    organisations: Mapped[list[UserOrganisation]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class WebSession(Base):
    """One sign-in to the web service, kept on the server so it can be ended.

    The cookie carries a random token; only its SHA-256 is stored (a database copy opens no
    session). Ended by sign-out, by a password change or a disabled user, or by idleness.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    ended_why: Mapped[str | None] = mapped_column(sa.String(32))


class UserOrganisation(Base):
    """One organisation a (non-admin) user may see."""

    __tablename__ = "user_organisations"
    __table_args__ = (
        # NULLs are distinct on both databases: any number of users without an extension.
        sa.Index(
            "ix_user_organisations_organisation_id_extension",
            "organisation_id",
            "extension",
            unique=True,
        ),
    )

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id"), primary_key=True, index=True
    )
    # The collector's SIP extension at this organisation's PBX (2–6 digits); the same on
    # every link of one user (set together by ``storage.collectors.set_extension``).
    extension: Mapped[str | None] = mapped_column(sa.String(6))

    user: Mapped[User] = relationship(back_populates="organisations")
    organisation: Mapped[Organisation] = relationship()


class CollectorLine(Base):
    """A collector's line status: on the line, busy, away; and when it last changed.

    A user without a row is away. Longest idle first: the free collector whose status
    changed longest ago gets the next transferred call.
    """

    __tablename__ = "collector_lines"
    __table_args__ = (sa.Index("ix_collector_lines_status_changed", "status", "status_changed_at"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    status: Mapped[LineStatus] = mapped_column(
        enum_column_type(LineStatus, column="status", length=16), default=LineStatus.AWAY
    )
    status_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)


class AccountOpening(Base):
    """Audit: a user opened an account (its card, its API record, an export with it)."""

    __tablename__ = "account_openings"
    __table_args__ = (
        sa.Index("ix_account_openings_account_opened", "account_id", "opened_at"),
        sa.Index("ix_account_openings_user_opened", "user_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    purpose: Mapped[OpeningPurpose] = mapped_column(
        enum_column_type(OpeningPurpose, column="purpose", length=16, check=False)
    )
    # What the user was shown beyond the masked card.
    phones_shown: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    documents_shown: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)


class LoginFailure(Base):
    """One failed login, counted against the login name and against the client address.

    ``subject`` is ``login`` or ``address``; ``subject_key`` is a keyed hash of the login
    name or the address (web.throttle), never the name itself. Rows live in the database
    so the limit holds across restarts and across several server processes; old rows are
    deleted as new ones come.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_subject_key_failed_at", "subject", "subject_key", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(16))
    subject_key: Mapped[str] = mapped_column(sa.String(128))
    failed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
