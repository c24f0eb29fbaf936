"""A 1С debt export (оборотно-сальдовая ведомость по ЛС) as debt records.

One row is one service for one month on one account, with the account's address,
owner and phones repeated on each row (as 1С prints them).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter

from storage.importing.columns import DEBT_FIELDS, HeaderLayout
from storage.importing.records import Requirement, Row, RowReader
from storage.importing.values import (
    BadValue,
    Cell,
    ParsedPhone,
    money_from_text,
    parse_date,
    parse_money,
    parse_period,
    parse_phones,
    parse_share,
    parse_text,
    parse_time_zone,
    period_from_text,
)
from storage.models import PersonRole

__all__ = ["DEBT_FIELDS", "DEBT_REQUIRED", "DebtRecord", "DebtRowParser", "Holder", "building_of"]

DEBT_REQUIRED: tuple[Requirement, ...] = (
    (("account",),),
    (("service",),),
    (("period",),),
    (("debt",), ("charged", "paid")),
)
_ZERO = Decimal("0.00")
_FLAT_SUFFIX = re.compile(r",?\s*(?:кв|квартира|пом|помещение|комн|комната)\.?\s*\S+.*$", re.I)
_SNILS = re.compile(r"^\d{3}-?\d{3}-?\d{3}[ -]?\d{2}$")
_INN = re.compile(r"^\d{12}$")
_ROLES = {
    "собственник": PersonRole.OWNER,
    "владелец": PersonRole.OWNER,
    "наниматель": PersonRole.TENANT,
    "арендатор": PersonRole.TENANT,
    "зарегистрирован": PersonRole.REGISTERED,
    "зарегистрированный": PersonRole.REGISTERED,
    "член семьи": PersonRole.REGISTERED,
}


@dataclass(frozen=True, slots=True)
class Holder:
    """The account-level part of a row (address, owner, phones): the same on every line
    of an account, so it is parsed once per distinct set of cells and shared."""

    full_name: str | None = None
    role: PersonRole | None = None
    share: Decimal | None = None
    birth_date: dt.date | None = None
    passport: str | None = None
    snils: str | None = None
    inn: str | None = None
    phones: tuple[ParsedPhone, ...] = ()
    address: str | None = None
    building: str | None = None
    flat: str | None = None
    area_m2: Decimal | None = None
    time_zone: str | None = None


@dataclass(frozen=True, slots=True)
class DebtRecord:
    """One validated debt row."""

    row: int
    account: str
    service: str
    period: dt.date
    charged: Decimal
    paid: Decimal
    debt: Decimal
    peni: Decimal
    holder: Holder


def building_of(address: str) -> str:
    """The house part of a flat's address: ``…, д. 5, кв. 12`` → ``…, д. 5``."""
    return _FLAT_SUFFIX.sub("", address).strip(" ,")


def _role(cell: Cell) -> PersonRole:
    text = parse_text(cell).lower()
    for word, role in _ROLES.items():
        if text.startswith(word):
            return role
    raise BadValue(f"неизвестный статус: «{parse_text(cell)}» (собственник, наниматель…)")


def _snils(cell: Cell) -> str:
    text = parse_text(cell)
    if not _SNILS.fullmatch(text):
        raise BadValue("не СНИЛС (ожидается 123-456-789 01)")
    digits = re.sub(r"\D", "", text)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}"


def _inn(cell: Cell) -> str:
    text = parse_text(cell)
    if not _INN.fullmatch(text):
        raise BadValue("не ИНН физического лица (ожидается 12 цифр)")
    return text


def _area(cell: Cell) -> Decimal:
    value = parse_money(cell)
    if value <= 0:
        raise BadValue(f"площадь должна быть больше нуля: «{parse_text(cell)}»")
    return value


_HOLDER_KEYS = (
    "full_name", "role", "share", "birth_date", "passport", "snils", "inn",
    "phone", "address", "building", "flat", "area", "time_zone",
)  # fmt: skip
_HOLDER_CACHE_SIZE = 32768  # accounts; both passes of a 1M-line file hit it
# (problems, warnings) of a holder, as (field key, message) pairs
_Notes = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


class DebtRowParser:
    """Parses debt rows; the account-level cells are parsed once per distinct combination.

    Problems found in those cells are still reported on every row that carries them.
    """

    def __init__(self) -> None:
        self._holders: dict[tuple[Cell, ...], tuple[Holder | None, _Notes]] = {}
        self._layout: HeaderLayout | None = None
        self._holder_keys: tuple[str, ...] = ()
        self._holder_cells: Callable[[Sequence[Cell]], tuple[Cell, ...]] = _pick(())
        self._fast: tuple[int, ...] | None = None

    def _compile(self, layout: HeaderLayout) -> None:
        present = set(layout.positions) | set(layout.constants)
        self._layout = layout
        self._holder_keys = tuple(k for k in _HOLDER_KEYS if k in present)
        self._holder_cells = _pick(tuple(layout.positions.get(k, -1) for k in self._holder_keys))
        fast_keys = ("account", "service", "period", "charged", "paid", "debt", "peni")
        usable = not layout.constants and all(k in layout.positions for k in fast_keys)
        self._fast = tuple(layout.positions[k] for k in fast_keys) if usable else None

    def __call__(self, row: Row, reader: RowReader) -> DebtRecord | None:
        """A record, or None with the row's problems added to ``reader``."""
        reader.row = row.number
        if row.layout is not self._layout:
            self._compile(row.layout)
        if self._fast is not None:
            record = self._fast_path(row, reader, self._fast)
            if record is not None:
                return record
        return self._careful(row, reader)

    def _fast_path(self, row: Row, reader: RowReader, at: tuple[int, ...]) -> DebtRecord | None:
        """The common case (every cell a clean string) without the careful checks;
        None sends the row to the careful path, which names every problem."""
        raw: list[str] = row.raw  # type: ignore[assignment]  # a non-str cell raises below
        try:
            account = raw[at[0]].strip()
            if not account:
                return None
            holder = self._holder(self._holder_cells(raw), reader)
            if holder is None or reader.problems:
                return None
            return DebtRecord(
                row=row.number,
                account=account,
                service=_service(raw[at[1]]),
                period=period_from_text(raw[at[2]]),
                charged=money_from_text(raw[at[3]]),
                paid=money_from_text(raw[at[4]]),
                debt=money_from_text(raw[at[5]]),
                peni=_nonnegative(money_from_text(raw[at[6]])),
                holder=holder,
            )
        except (AttributeError, TypeError, BadValue):
            return None
        finally:
            if reader.problems:
                reader.problems.clear()
                reader.warnings.clear()

    def _careful(self, row: Row, reader: RowReader) -> DebtRecord | None:
        reader.row = row.number
        reader.warnings.clear()
        before = len(reader.problems)
        cells = row.cells
        account = reader.required(cells, "account", parse_text)
        service = reader.required(cells, "service", parse_text)
        period = reader.required(cells, "period", parse_period)
        if "debt" in cells:
            debt = reader.required(cells, "debt", parse_money)
            charged = reader.optional(cells, "charged", parse_money)
            paid = reader.optional(cells, "paid", parse_money)
        else:  # no debt column: the debt is what was charged and not paid
            charged = reader.required(cells, "charged", parse_money)
            paid = reader.required(cells, "paid", parse_money)
            debt = charged - paid if charged is not None and paid is not None else None
        peni = reader.optional(cells, "peni", parse_money) or _ZERO
        if peni < 0:
            reader.problem("peni", f"пени не может быть отрицательной: {peni}")
        holder = self._holder(tuple(cells.get(key) for key in self._holder_keys), reader)
        if len(reader.problems) > before or holder is None:
            return None
        if account is None or service is None or period is None or debt is None:
            return None
        return DebtRecord(
            row=row.number,
            account=account,
            service=service,
            period=period,
            charged=charged if charged is not None else debt,
            paid=paid if paid is not None else _ZERO,
            debt=debt,
            peni=peni,
            holder=holder,
        )

    def _holder(self, key: tuple[Cell, ...], reader: RowReader) -> Holder | None:
        cached = self._holders.get(key)
        if cached is None:
            if len(self._holders) >= _HOLDER_CACHE_SIZE:
                self._holders.clear()
            holder_cells = dict(zip(self._holder_keys, key, strict=True))
            cached = self._holders[key] = _parse_holder(holder_cells)
            # Warnings (a bad phone) are told once per account, not on each of its lines.
            for field_key, message in cached[1][1]:
                reader.warning(field_key, message)
        holder, (problems, _warnings) = cached
        for field_key, message in problems:
            reader.problem(field_key, message)
        return holder


def _pick(indices: tuple[int, ...]) -> Callable[[Sequence[Cell]], tuple[Cell, ...]]:
    """A fast getter of the cells at ``indices`` (-1: a field given as a constant → None)."""
    if any(i < 0 for i in indices) or len(indices) < 2:
        return lambda raw: tuple(raw[i] if i >= 0 else None for i in indices)
    getter: Callable[[Sequence[Cell]], tuple[Cell, ...]] = itemgetter(*indices)
    return getter


@lru_cache(maxsize=1024)
def _service(cell: str) -> str:
    text = " ".join(cell.split())
    if not text:
        raise BadValue("пустое значение")
    return text


def _nonnegative(peni: Decimal) -> Decimal:
    if peni < 0:
        raise BadValue("пени не может быть отрицательной")
    return peni


def _parse_holder(cells: dict[str, Cell]) -> tuple[Holder | None, _Notes]:
    scratch = RowReader("", {})
    phones, phone_problems = parse_phones(cells.get("phone"))
    address = parse_text(cells.get("address")) or None
    holder = Holder(
        full_name=parse_text(cells.get("full_name")) or None,
        role=scratch.optional(cells, "role", _role),
        share=scratch.optional(cells, "share", parse_share),
        birth_date=scratch.optional(cells, "birth_date", parse_date),
        passport=parse_text(cells.get("passport")) or None,
        snils=scratch.optional(cells, "snils", _snils),
        inn=scratch.optional(cells, "inn", _inn),
        phones=phones,
        address=address,
        building=parse_text(cells.get("building")) or (building_of(address) if address else None),
        flat=parse_text(cells.get("flat")) or None,
        area_m2=scratch.optional(cells, "area", _area),
        time_zone=scratch.optional(cells, "time_zone", parse_time_zone),
    )
    problems = tuple((p.column, p.problem) for p in scratch.problems)
    warnings = tuple(("phone", message) for message in phone_problems)
    return (None if problems else holder), (problems, warnings)
