"""Which accounts a campaign calls: a filter over the debt book, compiled to one SQL select."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from dialer.campaigns.errors import CampaignConfigError
from storage.models import Account, Person, PersonRole
from storage.models.ledger import DebtLine

__all__ = ["AccountFilter", "select_debtors"]


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """Accounts with debt, optionally narrowed by building, service, size and age of the debt,
    and the debtor's type (owner / tenant)."""

    building_ids: tuple[int, ...] = ()
    service: str | None = None
    min_debt: Decimal = Decimal("0.01")
    min_months_overdue: int = 1
    debtor_roles: tuple[PersonRole, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The JSON stored on the campaign row."""
        return {
            "building_ids": list(self.building_ids),
            "service": self.service,
            "min_debt": str(self.min_debt),
            "min_months_overdue": self.min_months_overdue,
            "debtor_roles": [r.value for r in self.debtor_roles],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> AccountFilter:
        """Parse the stored JSON; a bad field is named."""
        try:
            buildings = data.get("building_ids") or []
            roles = data.get("debtor_roles") or []
            if not isinstance(buildings, list) or not isinstance(roles, list):
                raise CampaignConfigError("фильтр: building_ids и debtor_roles — списки")
            service = data.get("service")
            return cls(
                building_ids=tuple(int(str(b)) for b in buildings),
                service=str(service) if service else None,
                min_debt=Decimal(str(data.get("min_debt", "0.01"))),
                min_months_overdue=int(str(data.get("min_months_overdue", 1))),
                debtor_roles=tuple(PersonRole(str(r)) for r in roles),
            )
        except (ValueError, InvalidOperation) as err:
            raise CampaignConfigError(f"фильтр кампании: {err}") from err


def select_debtors(
    organisation_id: int, account_filter: AccountFilter
) -> sa.Select[int, Decimal, str]:
    """``(account_id, debt, time_zone)`` of the organisation's accounts matching the filter.

    Debt is the sum of the debt lines (services filtered if asked); months overdue is the
    number of months with debt.
    """
    debt = sa.func.sum(DebtLine.debt)
    query = (
        sa.select(Account.id, debt.label("debt"), Account.time_zone)
        .join(DebtLine, DebtLine.account_id == Account.id)
        .where(Account.organisation_id == organisation_id, DebtLine.debt > Decimal("0"))
        .group_by(Account.id, Account.time_zone)
        .having(debt >= account_filter.min_debt)
        .having(sa.func.count(sa.distinct(DebtLine.period)) >= account_filter.min_months_overdue)
    )
    if account_filter.building_ids:
        query = query.where(Account.building_id.in_(account_filter.building_ids))
    if account_filter.service:
        query = query.where(DebtLine.service == account_filter.service)
    if account_filter.debtor_roles:
        query = query.where(
            sa.exists().where(
                Person.account_id == Account.id, Person.role.in_(account_filter.debtor_roles)
            )
        )
    return query
