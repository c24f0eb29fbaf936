"""Writing validated debt records into the debt book, a chunk at a time, with SQLAlchemy Core.

Rows are compared with what is stored: only new or changed rows are written, so
re-importing a file changes nothing (not even ``updated_at``). Accounts, buildings,
people and phones are matched by their natural keys within the organisation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.bulk import insert_rows, update_rows
from storage.importing.debts import DebtRecord
from storage.models import (
    Account,
    Base,
    Building,
    ContactEvent,
    ContactKind,
    DebtLine,
    Person,
    PersonRole,
    Phone,
    PhoneSource,
    PhoneStatus,
    utc_now,
)

__all__ = ["DebtBookWriter", "DebtChanges"]

_tables = Base.metadata.tables
_accounts = _tables[Account.__tablename__]
_buildings = _tables[Building.__tablename__]
_people = _tables[Person.__tablename__]
_phones = _tables[Phone.__tablename__]
_lines = _tables[DebtLine.__tablename__]
_events = _tables[ContactEvent.__tablename__]
_ACCOUNT_FIELDS = ("address", "flat", "area_m2", "time_zone", "building_id")
_PERSON_FIELDS = ("role", "share", "birth_date", "passport", "snils", "inn")
_LINE_FIELDS = ("charged", "paid", "debt", "peni")
_LINE_INSERT_COLUMNS = (
    "organisation_id",
    "account_id",
    "service",
    "period",
    *_LINE_FIELDS,
)


@dataclass(slots=True)
class DebtChanges:
    """What an import changed (or, in a dry run, would change)."""

    accounts_new: int = 0
    accounts_changed: int = 0
    people_new: int = 0
    people_changed: int = 0
    phones_new: int = 0
    people_former: int = 0
    phones_former: int = 0
    lines_new: int = 0
    lines_changed: int = 0
    lines_unchanged: int = 0
    accounts_seen: set[str] = field(default_factory=set, repr=False)


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DebtBookWriter:
    """Upserts debt records of one organisation inside the caller's transaction."""

    def __init__(
        self, session: Session, organisation_id: int, default_time_zone: str, file_name: str
    ) -> None:
        self._session = session
        self._organisation_id = organisation_id
        self._default_time_zone = default_time_zone
        self._file_name = file_name
        self._account_ids: dict[str, int] = {}
        self._building_ids: dict[str, int] = {}
        self._touched: dict[int, list[int]] = {}  # account id → [new lines, changed lines]
        # Who and which numbers this file lists per account: the latest file is the truth.
        self._names: dict[int, set[str]] = {}
        self._numbers: dict[int, set[str]] = {}
        self.changes = DebtChanges()

    def write(self, records: Sequence[DebtRecord]) -> None:
        """Write one chunk (a few thousand records)."""
        self._ensure_buildings({r.holder.building for r in records if r.holder.building})
        new_accounts = self._upsert_accounts(records)
        self._upsert_people(records)
        self._insert_phones(records)
        self._upsert_lines(records, new_accounts)

    def finish(self) -> None:
        """Mark people and phones the file no longer lists as former; add one ``import``
        event to the history of every account the file changed."""
        now = utc_now()
        self._mark_former(now)
        rows = [
            {
                "organisation_id": self._organisation_id,
                "account_id": account_id,
                "kind": ContactKind.IMPORT,
                "occurred_at": now,
                "actor": "import",
                "summary": f"Импорт {self._file_name}: новых строк {new}, изменённых {changed}",
                "details": {"file": self._file_name, "lines_new": new, "lines_changed": changed},
            }
            for account_id, (new, changed) in self._touched.items()
        ]
        for chunk in _chunks(rows, 2000):
            self._session.execute(sa.insert(_events), list(chunk))

    def _ensure_buildings(self, addresses: set[str]) -> None:
        missing = sorted(addresses - self._building_ids.keys())
        if not missing:
            return
        found = self._session.execute(
            sa.select(_buildings.c.address, _buildings.c.id).where(
                _buildings.c.organisation_id == self._organisation_id,
                _buildings.c.address.in_(missing),
            )
        )
        self._building_ids.update({address: id_ for address, id_ in found})
        new = [a for a in missing if a not in self._building_ids]
        if new:
            inserted = self._session.execute(
                sa.insert(_buildings).returning(_buildings.c.address, _buildings.c.id),
                [{"organisation_id": self._organisation_id, "address": a} for a in new],
            )
            self._building_ids.update({address: id_ for address, id_ in inserted})

    def _desired_account(self, record: DebtRecord) -> dict[str, object]:
        return {
            "address": record.holder.address,
            "flat": record.holder.flat,
            "area_m2": record.holder.area_m2,
            "time_zone": record.holder.time_zone,
            "building_id": self._building_ids.get(record.holder.building)
            if record.holder.building
            else None,
        }

    def _upsert_accounts(self, records: Sequence[DebtRecord]) -> set[int]:
        latest: dict[str, DebtRecord] = {}
        for record in records:
            latest[record.account] = record
        self.changes.accounts_seen.update(latest)
        unknown = [n for n in latest if n not in self._account_ids]
        if not unknown:
            return set()
        stored = {
            row.number: row
            for row in self._session.execute(
                sa.select(_accounts.c.id, _accounts.c.number, *_account_columns()).where(
                    _accounts.c.organisation_id == self._organisation_id,
                    _accounts.c.number.in_(unknown),
                )
            )
        }
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        for number in unknown:
            desired = self._desired_account(latest[number])
            row = stored.get(number)
            if row is None:
                desired["time_zone"] = desired["time_zone"] or self._default_time_zone
                desired["address"] = desired["address"] or ""
                inserts.append(
                    {"organisation_id": self._organisation_id, "number": number, **desired}
                )
                continue
            self._account_ids[number] = row.id
            changed = {k: v for k, v in desired.items() if v is not None and v != getattr(row, k)}
            if changed:
                updates.append(
                    {
                        "b_id": row.id,
                        **{k: changed.get(k, getattr(row, k)) for k in _ACCOUNT_FIELDS},
                    }
                )
        new_ids: set[int] = set()
        if inserts:
            now = utc_now()
            for item in inserts:
                item["created_at"] = item["updated_at"] = now
            result = self._session.execute(
                sa.insert(_accounts).returning(_accounts.c.number, _accounts.c.id), inserts
            )
            for number, id_ in result:
                self._account_ids[number] = id_
                new_ids.add(id_)
                self._touched.setdefault(id_, [0, 0])
        if updates:
            self._session.execute(
                sa.update(_accounts)
                .where(_accounts.c.id == sa.bindparam("b_id"))
                .values({k: sa.bindparam(k) for k in _ACCOUNT_FIELDS}),
                updates,
            )
            for item in updates:
                self._touched.setdefault(int(item["b_id"]), [0, 0])  # type: ignore[call-overload]
        self.changes.accounts_new += len(inserts)
        self.changes.accounts_changed += len(updates)
        return new_ids

    def _upsert_people(self, records: Sequence[DebtRecord]) -> None:
        latest: dict[tuple[int, str], DebtRecord] = {}
        for record in records:
            if record.holder.full_name:
                account_id = self._account_ids[record.account]
                latest[(account_id, record.holder.full_name)] = record
                self._names.setdefault(account_id, set()).add(record.holder.full_name)
        if not latest:
            return
        stored = {
            (row.account_id, row.full_name): row
            for row in self._session.execute(
                sa.select(_people).where(_people.c.account_id.in_({k[0] for k in latest}))
            )
        }
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        revived: list[int] = []
        for (account_id, full_name), record in latest.items():
            desired: dict[str, object] = {
                "role": record.holder.role,
                "share": record.holder.share,
                "birth_date": record.holder.birth_date,
                "passport": record.holder.passport,
                "snils": record.holder.snils,
                "inn": record.holder.inn,
            }
            row = stored.get((account_id, full_name))
            if row is None:
                desired["role"] = desired["role"] or PersonRole.OWNER
                inserts.append({"account_id": account_id, "full_name": full_name, **desired})
                continue
            changed = {k: v for k, v in desired.items() if v is not None and v != getattr(row, k)}
            if row.former_at is not None:  # listed again (bought back, moved back in)
                revived.append(row.id)
            if changed:
                merged = {k: changed.get(k, getattr(row, k)) for k in _PERSON_FIELDS}
                updates.append({"b_id": row.id, **merged})
        if inserts:
            self._session.execute(sa.insert(_people), inserts)
        if updates:
            self._session.execute(
                sa.update(_people)
                .where(_people.c.id == sa.bindparam("b_id"))
                .values({k: sa.bindparam(k) for k in _PERSON_FIELDS}),
                updates,
            )
        if revived:
            self._session.execute(
                sa.update(_people).where(_people.c.id.in_(revived)).values(former_at=None)
            )
        self.changes.people_new += len(inserts)
        self.changes.people_changed += len(updates)

    def _insert_phones(self, records: Sequence[DebtRecord]) -> None:
        wanted: dict[tuple[int, str], tuple[DebtRecord, str]] = {}
        for record in records:
            for phone in record.holder.phones:
                key = (self._account_ids[record.account], phone.number)
                wanted.setdefault(key, (record, phone.kind))
                self._numbers.setdefault(key[0], set()).add(phone.number)
        if not wanted:
            return
        account_ids = {k[0] for k in wanted}
        stored: set[tuple[int, str]] = set()
        revived: list[int] = []
        for row in self._session.execute(
            sa.select(
                _phones.c.id, _phones.c.account_id, _phones.c.number, _phones.c.former_at
            ).where(_phones.c.account_id.in_(account_ids))
        ):
            stored.add((row.account_id, row.number))
            if row.former_at is not None and (row.account_id, row.number) in wanted:
                revived.append(row.id)
        if revived:
            self._session.execute(
                sa.update(_phones).where(_phones.c.id.in_(revived)).values(former_at=None)
            )
        new = [key for key in wanted if key not in stored]
        if not new:
            return
        person_ids = {
            (row.account_id, row.full_name): row.id
            for row in self._session.execute(
                sa.select(_people.c.id, _people.c.account_id, _people.c.full_name).where(
                    _people.c.account_id.in_({k[0] for k in new})
                )
            )
        }
        now = utc_now()
        self._session.execute(
            sa.insert(_phones),
            [
                {
                    "account_id": account_id,
                    "person_id": person_ids.get(
                        (account_id, wanted[(account_id, number)][0].holder.full_name or "")
                    ),
                    "number": number,
                    "kind": wanted[(account_id, number)][1],
                    "status": PhoneStatus.OK,
                    "source": PhoneSource.IMPORT,
                    "created_at": now,
                }
                for account_id, number in new
            ],
        )
        self.changes.phones_new += len(new)

    def _mark_former(self, now: object) -> None:
        """People the file no longer lists for an account they were on, and phones it no
        longer lists (or whose person left), stop being the account's: marked former.

        Only accounts the file names someone for are judged on people, and only accounts it
        gives numbers for on imported numbers (a file without a phone column drops none).
        A number a debtor or collector added goes with its person, never on its own.
        """
        judged = sorted(self._names.keys() | self._numbers.keys())
        for chunk in _chunks(judged, 2000):
            people = self._session.execute(
                sa.select(
                    _people.c.id, _people.c.account_id, _people.c.full_name, _people.c.former_at
                ).where(_people.c.account_id.in_(chunk))
            ).all()
            leaving = [
                p.id
                for p in people
                if p.former_at is None
                and p.account_id in self._names
                and p.full_name not in self._names[p.account_id]
            ]
            former_people = {p.id for p in people if p.former_at is not None} | set(leaving)
            phones = self._session.execute(
                sa.select(
                    _phones.c.id,
                    _phones.c.account_id,
                    _phones.c.number,
                    _phones.c.person_id,
                    _phones.c.source,
                ).where(_phones.c.account_id.in_(chunk), _phones.c.former_at.is_(None))  # fmt: skip
            ).all()
            dropped = [
                ph
                for ph in phones
                if ph.person_id in former_people
                or (
                    ph.source == PhoneSource.IMPORT
                    and ph.account_id in self._numbers
                    and ph.number not in self._numbers[ph.account_id]
                )
            ]
            if leaving:
                self._session.execute(
                    sa.update(_people).where(_people.c.id.in_(leaving)).values(former_at=now)
                )
            if dropped:
                self._session.execute(
                    sa.update(_phones)
                    .where(_phones.c.id.in_([ph.id for ph in dropped]))
                    .values(former_at=now)
                )
            for account_id in {p.account_id for p in people if p.id in leaving} | {
                ph.account_id for ph in dropped
            }:
                self._touched.setdefault(account_id, [0, 0])
            self.changes.people_former += len(leaving)
            self.changes.phones_former += len(dropped)

    def _upsert_lines(self, records: Sequence[DebtRecord], new_accounts: set[int]) -> None:
        known = {self._account_ids[r.account] for r in records} - new_accounts
        stored: dict[tuple[int, str, object], sa.Row[Any]] = {}
        if known:
            for row in self._session.execute(
                sa.select(
                    _lines.c.id, _lines.c.account_id, _lines.c.service, _lines.c.period,
                    *(_lines.c[k] for k in _LINE_FIELDS),
                ).where(
                    _lines.c.organisation_id == self._organisation_id,
                    _lines.c.account_id.in_(known),
                )
            ):  # fmt: skip
                stored[(row.account_id, row.service, row.period)] = row
        now = utc_now()
        organisation_id = self._organisation_id
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        for record in records:
            account_id = self._account_ids[record.account]
            values = (record.charged, record.paid, record.debt, record.peni)
            line = stored.get((account_id, record.service, record.period))
            if line is None:
                inserts.append(
                    (organisation_id, account_id, record.service, record.period, *values)
                )
                self._touched.setdefault(account_id, [0, 0])[0] += 1
            elif (line.charged, line.paid, line.debt, line.peni) != values:
                updates.append((*values, now, line.id))
                self._touched.setdefault(account_id, [0, 0])[1] += 1
            else:
                self.changes.lines_unchanged += 1
        connection = self._session.connection()
        insert_rows(
            connection, _lines, _LINE_INSERT_COLUMNS, inserts, constants={"updated_at": now}
        )
        update_rows(connection, _lines, (*_LINE_FIELDS, "updated_at"), updates)
        self.changes.lines_new += len(inserts)
        self.changes.lines_changed += len(updates)


def _account_columns() -> list[sa.Column[Any]]:
    return [_accounts.c[k] for k in _ACCOUNT_FIELDS]
