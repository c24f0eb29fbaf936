"""What is owed and paid: debt lines per service and month, payments, what a payment closes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import MONEY, Base, UtcDateTime
from storage.models.debt_book import Account, utc_now
from storage.models.enums import PaymentChannel, enum_column_type

__all__ = ["DebtLine", "Payment", "PaymentAllocation", "SegmentRules"]

ZERO = Decimal("0.00")


class DebtLine(Base):
    """One service for one month on one account: charged, paid, debt and пени.

    ``period`` is the first day of the billed month. The import upserts by
    organisation + account + service + period, so re-importing a file changes nothing.
    """

    __tablename__ = "debt_lines"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "account_id", "service", "period"),
        sa.Index("ix_debt_lines_account_period", "account_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    service: Mapped[str] = mapped_column(sa.String(100))
    period: Mapped[dt.date] = mapped_column(sa.Date)
    charged: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    paid: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    debt: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    peni: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)

    account: Mapped[Account] = relationship()


class Payment(Base):
    """Money received for an account, from a bank register or a cash desk.

    Idempotent import key: organisation + account + date + amount + document number
    (empty when the export has none).
    """

    __tablename__ = "payments"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "account_id", "paid_on", "amount", "document"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    paid_on: Mapped[dt.date] = mapped_column(sa.Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    channel: Mapped[PaymentChannel] = mapped_column(
        enum_column_type(PaymentChannel, column="channel", length=16), default=PaymentChannel.OTHER
    )
    document: Mapped[str] = mapped_column(sa.String(64), default="")  # номер платёжного документа
    # The month the payer named ("за ноябрь 2026"); null when not stated.
    period: Mapped[dt.date | None] = mapped_column(sa.Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)

    account: Mapped[Account] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(back_populates="payment")


class PaymentAllocation(Base):
    """The part of a payment that closes one debt line."""

    __tablename__ = "payment_allocations"
    __table_args__ = (
        sa.UniqueConstraint("payment_id", "debt_line_id"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    debt_line_id: Mapped[int] = mapped_column(sa.ForeignKey("debt_lines.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    debt_line: Mapped[DebtLine] = relationship()


class SegmentRules(Base):
    """An organisation's yellow and red lines (жёлтая / красная черта); absent → defaults."""

    __tablename__ = "segment_rules"

    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id"), primary_key=True
    )
    yellow_debt: Mapped[Decimal] = mapped_column(MONEY)
    yellow_months: Mapped[int] = mapped_column(sa.Integer)
    yellow_bills: Mapped[int] = mapped_column(sa.Integer)
    red_debt: Mapped[Decimal] = mapped_column(MONEY)
    red_months: Mapped[int] = mapped_column(sa.Integer)
    red_bills: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)
