"""A payment register (реестр платежей from 1С or a bank) and how payments close debt lines.

A new payment is allocated to the account's open debt lines: the month (and service) it
names first, then the oldest debt first. Each allocation lowers the line's debt and
raises its paid amount; money beyond every open line stays on the payment as an advance.
A payment already stored (same account, date, amount and document number) is skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.importing.columns import PAYMENT_FIELDS
from storage.importing.records import Requirement, Row, RowReader
from storage.importing.values import (
    Cell,
    parse_date,
    parse_money,
    parse_period,
    parse_text,
)
from storage.models import (
    Base,
    ContactEvent,
    ContactKind,
    DebtLine,
    Payment,
    PaymentAllocation,
    PaymentChannel,
    utc_now,
)

__all__ = [
    "PAYMENT_FIELDS",
    "PAYMENT_REQUIRED",
    "PaymentChanges",
    "PaymentRecord",
    "PaymentWriter",
    "parse_channel",
    "parse_payment_row",
]

PAYMENT_REQUIRED: tuple[Requirement, ...] = (
    (("account",),),
    (("paid_on",),),
    (("amount",),),
)
_ZERO = Decimal("0.00")
_CHANNEL_WORDS = (
    (("почт",), PaymentChannel.POST),
    (("касс", "наличн"), PaymentChannel.CASH),
    (("онлайн", "интернет", "сайт", "сбп", "приложен", "эквайринг", "личный кабинет"), PaymentChannel.ONLINE),
    (("банк", "сбер", "втб", "газпромбанк", "альфа", "тинькофф", "т-банк", "платёжн", "платежн"), PaymentChannel.BANK),
)  # fmt: skip

_tables = Base.metadata.tables
_payments = _tables[Payment.__tablename__]
_allocations = _tables[PaymentAllocation.__tablename__]
_lines = _tables[DebtLine.__tablename__]
_events = _tables[ContactEvent.__tablename__]


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """One validated payment row."""

    row: int
    account: str
    paid_on: dt.date
    amount: Decimal
    document: str
    channel: PaymentChannel
    period: dt.date | None
    service: str | None


def parse_channel(cell: Cell) -> PaymentChannel:
    """``Сбербанк онлайн`` → online, ``Почта России`` → post; unknown words → other."""
    text = parse_text(cell).lower()
    for words, channel in _CHANNEL_WORDS:
        if any(word in text for word in words):
            return channel
    return PaymentChannel.OTHER


def parse_payment_row(row: Row, reader: RowReader, today: dt.date) -> PaymentRecord | None:
    """A record, or None with the row's problems added to ``reader``."""
    reader.row = row.number
    before = len(reader.problems)
    cells = row.cells
    account = reader.required(cells, "account", parse_text)
    paid_on = reader.required(cells, "paid_on", parse_date)
    amount = reader.required(cells, "amount", parse_money)
    period = reader.optional(cells, "period", parse_period)
    if amount is not None and amount <= 0:
        reader.problem("amount", f"сумма платежа должна быть больше нуля: {amount}")
    if paid_on is not None and paid_on > today:
        reader.problem("paid_on", f"дата в будущем: {paid_on:%d.%m.%Y}")
    if len(reader.problems) > before or account is None or paid_on is None or amount is None:
        return None
    return PaymentRecord(
        row=row.number,
        account=account,
        paid_on=paid_on,
        amount=amount,
        document=parse_text(cells.get("document"))[:64],
        channel=parse_channel(cells.get("channel")),
        period=period,
        service=parse_text(cells.get("service")) or None,
    )


@dataclass(slots=True)
class PaymentChanges:
    """What a payment import changed (or would change)."""

    payments_new: int = 0
    payments_known: int = 0
    amount_new: Decimal = _ZERO
    amount_allocated: Decimal = _ZERO
    lines_closed: int = 0


class PaymentWriter:
    """Stores new payments and allocates them to debt lines, inside the caller's transaction."""

    def __init__(self, session: Session, organisation_id: int, account_ids: dict[str, int]) -> None:
        self._session = session
        self._organisation_id = organisation_id
        self._account_ids = account_ids
        self.changes = PaymentChanges()

    def write(self, records: Sequence[PaymentRecord]) -> None:
        """Write one chunk of payments."""
        ids = {self._account_ids[r.account] for r in records}
        known = {
            tuple(row)
            for row in self._session.execute(
                sa.select(
                    _payments.c.account_id,
                    _payments.c.paid_on,
                    _payments.c.amount,
                    _payments.c.document,
                ).where(
                    _payments.c.organisation_id == self._organisation_id,
                    _payments.c.account_id.in_(ids),
                )
            )
        }
        for record in records:
            account_id = self._account_ids[record.account]
            key = (account_id, record.paid_on, record.amount, record.document)
            if key in known:
                self.changes.payments_known += 1
                continue
            known.add(key)
            self._store(account_id, record)

    def _store(self, account_id: int, record: PaymentRecord) -> None:
        payment_id = self._session.execute(
            sa.insert(_payments).returning(_payments.c.id),
            {
                "organisation_id": self._organisation_id,
                "account_id": account_id,
                "paid_on": record.paid_on,
                "amount": record.amount,
                "channel": record.channel,
                "document": record.document,
                "period": record.period,
                "created_at": utc_now(),
            },
        ).scalar_one()
        allocated = self._allocate(payment_id, account_id, record)
        self.changes.payments_new += 1
        self.changes.amount_new += record.amount
        self.changes.amount_allocated += allocated
        self._session.execute(
            sa.insert(_events),
            {
                "organisation_id": self._organisation_id,
                "account_id": account_id,
                "kind": ContactKind.PAYMENT,
                "occurred_at": dt.datetime.combine(record.paid_on, dt.time(12), dt.UTC),
                "actor": "import",
                "summary": f"Оплата {record.amount} ₽ от {record.paid_on:%d.%m.%Y}",
                "ref_table": _payments.name,
                "ref_id": payment_id,
                "details": {"amount": str(record.amount), "allocated": str(allocated)},
            },
        )

    def _allocate(self, payment_id: int, account_id: int, record: PaymentRecord) -> Decimal:
        open_lines = self._session.execute(
            sa.select(_lines.c.id, _lines.c.service, _lines.c.period, _lines.c.paid, _lines.c.debt)
            .where(_lines.c.account_id == account_id, _lines.c.debt > _ZERO)
            .order_by(_lines.c.period, _lines.c.service)
        ).all()
        remaining = record.amount
        allocations: list[dict[str, Any]] = []
        for line in sorted(open_lines, key=lambda line: not _named(line, record)):
            if remaining <= 0:
                break
            part = min(remaining, line.debt)
            remaining -= part
            allocations.append(
                {"payment_id": payment_id, "debt_line_id": line.id, "amount": part,
                 "b_id": line.id, "paid": line.paid + part, "debt": line.debt - part}
            )  # fmt: skip
        if allocations:
            self._session.execute(
                sa.insert(_allocations),
                [{k: a[k] for k in ("payment_id", "debt_line_id", "amount")} for a in allocations],
            )
            self._session.execute(
                sa.update(_lines)
                .where(_lines.c.id == sa.bindparam("b_id"))
                .values(paid=sa.bindparam("paid"), debt=sa.bindparam("debt"), updated_at=utc_now()),
                [{k: a[k] for k in ("b_id", "paid", "debt")} for a in allocations],
            )
            self.changes.lines_closed += sum(1 for a in allocations if a["debt"] == 0)
        return record.amount - remaining


def _named(line: sa.Row[Any, Any, Any, Any, Any], record: PaymentRecord) -> bool:
    """Whether the payer named this line's month (and service, if they named one)."""
    if record.period is None or line.period != record.period:
        return False
    return record.service is None or line.service == record.service
