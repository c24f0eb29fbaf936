"""Transparency: per building, what share of the charges was collected.

The seeds want debtors shown what their money does: a plain, printable table per
building — charged, paid, share collected, debt — over a period of months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models import Account, Building, DebtLine, Organisation
from web.access import Principal

__all__ = ["BuildingShare", "TransparencyReport", "building_shares", "month_range"]

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class BuildingShare:
    """One building's figures over the report's months."""

    building_id: int | None
    organisation: str
    address: str
    accounts: int
    charged: Decimal
    paid: Decimal
    debt: Decimal

    @property
    def share(self) -> Decimal | None:
        """Paid ÷ charged; ``None`` when nothing was charged."""
        if self.charged <= 0:
            return None
        return (self.paid / self.charged).quantize(Decimal("0.0001"))


@dataclass(frozen=True, slots=True)
class TransparencyReport:
    """The report: its months and one row per building, plus the total."""

    first_period: dt.date
    last_period: dt.date
    rows: Sequence[BuildingShare]
    total: BuildingShare


def month_range(last: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """The first days of the first and the last of ``months`` months ending with ``last``."""
    last_first = last.replace(day=1)
    index = last_first.year * 12 + last_first.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1), last_first


def _money(value: object) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


def building_shares(
    session: Session,
    principal: Principal,
    first_period: dt.date,
    last_period: dt.date,
    *,
    organisation_id: int | None = None,
) -> TransparencyReport:
    """Charged, paid and debt per building for periods ``first..last`` (first days of months)."""
    where: list[sa.ColumnElement[bool]] = [
        DebtLine.period >= first_period,
        DebtLine.period <= last_period,
    ]
    if principal.organisation_ids is not None:
        where.append(DebtLine.organisation_id.in_(sorted(principal.organisation_ids)))
    if organisation_id is not None:
        where.append(DebtLine.organisation_id == organisation_id)
    rows = session.execute(
        sa.select(
            Account.building_id,
            Organisation.name,
            sa.func.coalesce(Building.address, "без дома"),
            sa.func.count(sa.distinct(DebtLine.account_id)),
            sa.func.sum(DebtLine.charged),
            sa.func.sum(DebtLine.paid),
            sa.func.sum(DebtLine.debt),
        )
        .join(Account, Account.id == DebtLine.account_id)
        .join(Organisation, Organisation.id == DebtLine.organisation_id)
        .outerjoin(Building, Building.id == Account.building_id)
        .where(*where)
        .group_by(Account.building_id, Organisation.name, Building.address)
        .order_by(Organisation.name, sa.func.coalesce(Building.address, "без дома"))
    ).all()
    shares = [
        BuildingShare(
            building_id=row[0],
            organisation=row[1],
            address=row[2],
            accounts=int(row[3]),
            charged=_money(row[4]),
            paid=_money(row[5]),
            debt=_money(row[6]),
        )
        for row in rows
    ]
    total = BuildingShare(
        building_id=None,
        organisation="",
        address="Итого",
        accounts=sum(r.accounts for r in shares),
        charged=sum((r.charged for r in shares), ZERO),
        paid=sum((r.paid for r in shares), ZERO),
        debt=sum((r.debt for r in shares), ZERO),
    )
    return TransparencyReport(first_period, last_period, shares, total)
