"""Which accounts a campaign calls: a filter over the debt book, compiled to one SQL select."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar, cast

import sqlalchemy as sa

from dialer.campaigns.errors import CampaignConfigError
from dialer.segments import DebtorType, Segment, segment_columns
from storage.models import Account, Person, PersonRole
from storage.models.ledger import DebtLine

__all__ = ["FILTER_SEGMENTS", "AccountFilter", "select_debtors"]

_T = TypeVar("_T")

# A campaign chooses among the segments of accounts with debt ("clear" owes nothing).
FILTER_SEGMENTS = (Segment.GREEN, Segment.YELLOW, Segment.RED)


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """Accounts with debt, optionally narrowed by building, service, size and age of the debt,
    the debtor's role (owner / tenant), the segment (green / yellow / red line) and the
    debtor type (first time, holiday gap, single service, chronic, other).

    An empty tuple means "any". Segments and types are those of :mod:`dialer.segments` with
    the organisation's own lines, on the day the filter is applied.
    """

    building_ids: tuple[int, ...] = ()
    service: str | None = None
    min_debt: Decimal = Decimal("0.01")
    min_months_overdue: int = 1
    debtor_roles: tuple[PersonRole, ...] = ()
    segments: tuple[Segment, ...] = ()
    debtor_types: tuple[DebtorType, ...] = ()

    def __post_init__(self) -> None:
        wrong = [s for s in self.segments if s not in FILTER_SEGMENTS]
        if wrong:
            raise CampaignConfigError(
                f"фильтр: segments: {wrong[0].value!r} — выберите из "
                + ", ".join(s.value for s in FILTER_SEGMENTS)
            )

    @property
    def needs_segments(self) -> bool:
        """Whether the filter narrows by segment or debtor type."""
        return bool(self.segments or self.debtor_types)

    def to_json(self) -> dict[str, object]:
        """The JSON stored on the campaign row."""
        return {
            "building_ids": list(self.building_ids),
            "service": self.service,
            "min_debt": str(self.min_debt),
            "min_months_overdue": self.min_months_overdue,
            "debtor_roles": [r.value for r in self.debtor_roles],
            "segments": [s.value for s in self.segments],
            "debtor_types": [t.value for t in self.debtor_types],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> AccountFilter:
        """Parse the stored JSON; a bad field is named."""
        service = data.get("service")
        return cls(
            building_ids=tuple(_field(data, "building_ids", int)),
            service=str(service) if service else None,
            min_debt=_value(data, "min_debt", "0.01", Decimal),
            min_months_overdue=_value(data, "min_months_overdue", 1, int),
            debtor_roles=tuple(_field(data, "debtor_roles", PersonRole)),
            segments=tuple(_field(data, "segments", Segment)),
            debtor_types=tuple(_field(data, "debtor_types", DebtorType)),
        )


def _field(data: Mapping[str, object], name: str, kind: Callable[[str], _T]) -> list[_T]:
    """A list field of the filter JSON, each item parsed; the field and the item are named."""
    raw = data.get(name) or []
    if not isinstance(raw, list):
        raise CampaignConfigError(f"фильтр кампании: {name}: ожидается список")
    return [_parse(name, item, kind) for item in raw]


def _value(data: Mapping[str, object], name: str, default: object, kind: Callable[[str], _T]) -> _T:
    return _parse(name, data.get(name, default), kind)


def _parse(name: str, item: object, kind: Callable[[str], _T]) -> _T:
    try:
        return kind(str(item))
    except (ValueError, InvalidOperation) as err:
        if isinstance(kind, type) and issubclass(kind, StrEnum):
            allowed = ", ".join(m.value for m in kind)
            raise CampaignConfigError(
                f"фильтр кампании: {name}: {item!r} — допустимо: {allowed}"
            ) from err
        raise CampaignConfigError(f"фильтр кампании: {name}: {item!r} — не число") from err


def select_debtors(
    organisation_id: int,
    account_filter: AccountFilter,
    *,
    as_of: dt.date | None = None,
    with_segments: bool = False,
) -> sa.Select[int, Decimal, str, str | None, str | None]:
    """``(account_id, debt, time_zone, segment, debtor_type)`` of the organisation's accounts
    matching the filter.

    Debt is the sum of the debt lines (services filtered if asked); months overdue is the
    number of months with debt. Segment and debtor type are judged on ``as_of`` (default
    today) over the whole debt book, whatever the service; they are computed only when the
    filter narrows by them or ``with_segments`` asks (else NULL).
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
                Person.account_id == Account.id,
                Person.role.in_(account_filter.debtor_roles),
                Person.former_at.is_(None),
            )
        )
    if not (with_segments or account_filter.needs_segments):
        none = sa.null().cast(sa.String(16))
        return query.add_columns(none.label("segment"), none.label("debtor_type"))
    # Joined after the grouping: each account's segment is computed once, not sorted on.
    segments = segment_columns(organisation_id, as_of or dt.date.today())
    grouped = query.subquery("debtors")
    joined = sa.select(
        grouped.c.id, grouped.c.debt, grouped.c.time_zone, segments.c.segment,
        segments.c.debtor_type,
    ).join(segments, segments.c.account_id == grouped.c.id)  # fmt: skip
    if account_filter.segments:
        joined = joined.where(segments.c.segment.in_([s.value for s in account_filter.segments]))
    if account_filter.debtor_types:
        joined = joined.where(
            segments.c.debtor_type.in_([t.value for t in account_filter.debtor_types])
        )
    return cast("sa.Select[int, Decimal, str, str | None, str | None]", joined)
