"""Messages to debtors after a call: the outbox, its delivery reports, payees and opt-outs.

The ``messages`` table *is* the outbox: the call's final transaction inserts a row (or a
``refused`` row saying why nothing may be sent), a sender claims due ``queued`` rows with a
lease, hands them to an SMS gateway and records the gateway's answer; delivery reports
arrive later as ``message_reports`` rows. One message per call (a unique ``call_id``). The
row's id is the message's identity at the gateway, so a retry never makes a second message.

``organisation_payees`` holds each organisation's bank details (what a paper receipt
prints) and its editable message template; ``message_opt_outs`` the debtors' «не
присылайте».
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import MONEY, Base, UtcDateTime
from storage.models.debt_book import utc_now
from storage.models.enums import enum_column_type

__all__ = [
    "MessageOptOut",
    "MessageReport",
    "MessageStatus",
    "OrganisationPayee",
    "OutboxMessage",
]


class MessageStatus(StrEnum):
    """Where a message is: waiting, handed to the gateway, delivered or not, never sent."""

    QUEUED = "queued"  # waiting for its next try (``next_try_at``)
    SENDING = "sending"  # a sender holds the lease and is talking to the gateway
    SENT = "sent"  # the gateway accepted it; a delivery report may follow
    DELIVERED = "delivered"  # the phone got it (delivery report)
    FAILED = "failed"  # rejected by the gateway / SMSC, or out of tries
    REFUSED = "refused"  # never sent: the law, the debtor's will or the number forbid it


class OrganisationPayee(Base):
    """An organisation's payee details (validated by ``dialer.messages.payee``) and template."""

    __tablename__ = "organisation_payees"

    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id"), primary_key=True
    )
    name: Mapped[str] = mapped_column(sa.String(160))  # получатель платежа
    inn: Mapped[str] = mapped_column(sa.String(12))
    kpp: Mapped[str | None] = mapped_column(sa.String(9))
    bank_name: Mapped[str] = mapped_column(sa.String(160))
    bic: Mapped[str] = mapped_column(sa.String(9))
    settlement_account: Mapped[str] = mapped_column(sa.String(20))  # расчётный счёт
    correspondent_account: Mapped[str] = mapped_column(sa.String(20))
    sender: Mapped[str] = mapped_column(sa.String(11), default="Napomni")  # SMS sender name
    # The SMS text with {payee} {account} {amount} {due} {link}; empty: the default.
    template: Mapped[str] = mapped_column(sa.Text, default="")
    link_ttl_days: Mapped[int] = mapped_column(sa.Integer, default=30)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class OutboxMessage(Base):
    """One message to a debtor's phone, from the call that asked for it to its delivery."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.Index("ix_messages_status_next_try_at", "status", "next_try_at"),
        sa.Index("ix_messages_account_created", "account_id", "created_at"),
        # An SMPP receipt names the message by the SMSC's id: found through this index.
        sa.Index("ix_messages_gateway_ref", "gateway", "gateway_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    phone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("phones.id"))
    call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id"), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32))  # scripts' MessageKind
    channel: Mapped[str] = mapped_column(sa.String(16), default="sms")
    status: Mapped[MessageStatus] = mapped_column(
        enum_column_type(MessageStatus, column="status", length=16),
        default=MessageStatus.QUEUED,
    )
    reason: Mapped[str | None] = mapped_column(sa.String(64))  # why refused / failed
    text: Mapped[str] = mapped_column(sa.Text, default="")
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    due_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    # The payment page: an unguessable token (the link) valid until ``page_expires_at``.
    page_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    page_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    page_opened_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    page_opens: Mapped[int] = mapped_column(sa.Integer, default=0)
    tries: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_try_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    gateway: Mapped[str | None] = mapped_column(sa.String(16))  # kannel / smpp
    gateway_ref: Mapped[str | None] = mapped_column(sa.String(64))
    error_code: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class MessageReport(Base):
    """A delivery report from the gateway (status code as the gateway numbers it)."""

    __tablename__ = "message_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("messages.id"), index=True)
    status: Mapped[int] = mapped_column(sa.Integer)  # Kannel: 1 delivered, 2 failed, 8 acked…
    detail: Mapped[str] = mapped_column(sa.String(200), default="")  # SMSC answer, no text
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)


class MessageOptOut(Base):
    """A debtor's «не присылайте»: no message to the account (or to one of its phones)."""

    __tablename__ = "message_opt_outs"
    __table_args__ = (sa.Index("ix_message_opt_outs_account_lifted", "account_id", "lifted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    phone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("phones.id"))
    source: Mapped[str] = mapped_column(sa.String(100), default="manual")  # call:<id>, user:<id>
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
