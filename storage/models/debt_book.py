"""Who owes: organisation → building → account (лицевой счёт) → people → phones.

One install may serve several УК/ТСЖ, so everything hangs off an organisation.
Columns holding identity documents carry ``info={"sensitive": True}``; see
:func:`sensitive_columns`. They are never logged and never shown without a role that
allows it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, UtcDateTime
from storage.models.enums import PersonRole, PhoneKind, PhoneSource, PhoneStatus, enum_column_type

__all__ = [
    "DEFAULT_TIME_ZONE",
    "Account",
    "Building",
    "Organisation",
    "Person",
    "Phone",
    "sensitive_columns",
    "utc_now",
]

DEFAULT_TIME_ZONE = "Europe/Moscow"
SENSITIVE = {"sensitive": True}


def utc_now() -> dt.datetime:
    """The current time, zone-aware UTC (the only kind of timestamp we store)."""
    return dt.datetime.now(dt.UTC)


class Organisation(Base):
    """A managing company, ТСЖ or supplier whose debtors we work with."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    inn: Mapped[str | None] = mapped_column(sa.String(12))  # the company's, not personal
    time_zone: Mapped[str] = mapped_column(sa.String(64), default=DEFAULT_TIME_ZONE)
    # How long a debtor waits for a collector's answer on a live transfer (migration 0021).
    transfer_wait_s: Mapped[int] = mapped_column(sa.Integer, default=30, server_default="30")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)

    buildings: Mapped[list[Building]] = relationship(back_populates="organisation")
    accounts: Mapped[list[Account]] = relationship(back_populates="organisation")


class Building(Base):
    """A house (МКД) the organisation manages."""

    __tablename__ = "buildings"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    address: Mapped[str] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)

    organisation: Mapped[Organisation] = relationship(back_populates="buildings")
    accounts: Mapped[list[Account]] = relationship(back_populates="building")


class Account(Base):
    """A лицевой счёт: one flat (or room) billed by one organisation."""

    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buildings.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(40))  # номер ЛС as 1С prints it
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    flat: Mapped[str | None] = mapped_column(sa.String(20))
    area_m2: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 2, asdecimal=True))
    # IANA zone of the address: calls are allowed by the debtor's local time, not ours.
    time_zone: Mapped[str] = mapped_column(sa.String(64), default=DEFAULT_TIME_ZONE)
    # The first account of the same person (same СНИЛС, ИНН, passport, or name and birth
    # date) in this organisation, whose contact ledger this account shares: 230-ФЗ counts
    # contacts per person, not per flat. NULL: the account keeps its own ledger. Set by
    # storage.debtors.link_debtors (migration 0009).
    ledger_account_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("accounts.id"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)

    organisation: Mapped[Organisation] = relationship(back_populates="accounts")
    building: Mapped[Building | None] = relationship(back_populates="accounts")
    people: Mapped[list[Person]] = relationship(back_populates="account")
    phones: Mapped[list[Phone]] = relationship(back_populates="account")


class Person(Base):
    """Someone on the account: an owner (with a share) or a tenant."""

    __tablename__ = "people"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "full_name"),
        sa.CheckConstraint("share IS NULL OR (share > 0 AND share <= 1)", name="share_fraction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    role: Mapped[PersonRole] = mapped_column(
        enum_column_type(PersonRole, column="role", length=16), default=PersonRole.OWNER
    )
    share: Mapped[Decimal | None] = mapped_column(sa.Numeric(7, 6, asdecimal=True))  # доля, 0–1
    full_name: Mapped[str] = mapped_column(sa.String(200), info=SENSITIVE)
    birth_date: Mapped[dt.date | None] = mapped_column(sa.Date, info=SENSITIVE)
    passport: Mapped[str | None] = mapped_column(sa.String(40), info=SENSITIVE)
    snils: Mapped[str | None] = mapped_column(sa.String(14), info=SENSITIVE)
    inn: Mapped[str | None] = mapped_column(sa.String(12), info=SENSITIVE)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    # Set when the latest 1С file no longer lists this person for the account (sold flat,
    # moved out): kept in the history, never called or addressed for it. NULL: current.
    former_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    account: Mapped[Account] = relationship(back_populates="people")
    phones: Mapped[list[Phone]] = relationship(back_populates="person")


class Phone(Base):
    """A phone number of the account (of a person on it, when known), in E.164."""

    __tablename__ = "phones"
    __table_args__ = (sa.UniqueConstraint("account_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(16), info=SENSITIVE)  # +79161234567
    kind: Mapped[PhoneKind] = mapped_column(
        enum_column_type(PhoneKind, column="kind", length=16), default=PhoneKind.UNKNOWN
    )
    status: Mapped[PhoneStatus] = mapped_column(
        enum_column_type(PhoneStatus, column="status", length=16), default=PhoneStatus.OK
    )
    source: Mapped[PhoneSource] = mapped_column(
        enum_column_type(PhoneSource, column="source", length=16), default=PhoneSource.IMPORT
    )
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    # Set when the number is no longer the account's (the latest 1С file dropped it, or its
    # person became former): never dialled for this account. NULL: current.
    former_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    account: Mapped[Account] = relationship(back_populates="phones")
    person: Mapped[Person | None] = relationship(back_populates="phones")


def sensitive_columns(table: sa.Table) -> list[str]:
    """Names of the columns of ``table`` that hold personal data (152-ФЗ)."""
    return [column.name for column in table.columns if column.info.get("sensitive")]
