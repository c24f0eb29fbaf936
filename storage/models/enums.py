"""Closed sets of the debt book, stored as short strings (portable across SQLite and PostgreSQL)."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

__all__ = [
    "ContactKind",
    "PaymentChannel",
    "PersonRole",
    "PhoneKind",
    "PhoneSource",
    "PhoneStatus",
    "enum_column_type",
]


class PersonRole(StrEnum):
    """Who the person is to the account."""

    OWNER = "owner"  # собственник
    TENANT = "tenant"  # наниматель (социальный наём)
    REGISTERED = "registered"  # зарегистрированный член семьи


class PhoneKind(StrEnum):
    """What kind of number it is (decided by ``phonenumbers``)."""

    MOBILE = "mobile"
    LANDLINE = "landline"
    UNKNOWN = "unknown"


class PhoneStatus(StrEnum):
    """Whether the number may be called."""

    OK = "ok"
    WRONG = "wrong"  # не тот человек / не существует
    DO_NOT_CALL = "do_not_call"  # отказ от звонков (ст. 7 230-ФЗ), never dialled again


class PhoneSource(StrEnum):
    """Where the number came from."""

    IMPORT = "import"  # выгрузка 1С
    CALL = "call"  # debtor gave it during a call
    COLLECTOR = "collector"  # entered by a collector
    MANUAL = "manual"  # entered by an operator


class PaymentChannel(StrEnum):
    """How the money came in."""

    BANK = "bank"
    POST = "post"
    CASH = "cash"
    ONLINE = "online"
    OTHER = "other"


class ContactKind(StrEnum):
    """Every kind of interaction with an account that the history records.

    Stored without a database CHECK so that a later part adding a kind needs no migration.
    """

    IMPORT = "import"
    CALL = "call"
    MESSAGE = "message"  # SMS, мессенджер, e-mail
    LETTER = "letter"  # уведомление почтой, претензия
    VISIT = "visit"
    ESCALATION = "escalation"
    PROMISE = "promise"
    PAYMENT = "payment"
    NOTE = "note"
    PHONE_STATUS = "phone_status"
    COURT = "court"  # судебный приказ, иск


def enum_column_type(
    enum: type[StrEnum], *, column: str | None = None, length: int = 32, check: bool = True
) -> sa.Enum:
    """A VARCHAR column type for a :class:`StrEnum`, storing the values (not the names).

    With ``check`` the database refuses other values through a CHECK constraint named
    ``ck_<table>_<column>`` (``ck_<table>_<enum name in lower case>`` without ``column``).
    """
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=check,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
        name=column or enum.__name__.lower(),
    )
