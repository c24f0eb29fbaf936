"""Importing a 1С export: validate every row first, then write everything in one transaction.

Pass 1 reads the whole file (streaming) and collects every problem; duplicate keys are
found from 8-byte hashes (a sorted array, so memory stays small). Any problem → nothing
is written and :class:`RowsRejected` lists them. Pass 2 reads the file again and writes
chunk by chunk inside one transaction; a dry run does the same and rolls back, so it
reports exactly what would change.
"""

from __future__ import annotations

import datetime as dt
import logging
from array import array
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import OrganisationNotFound
from storage.importing.book import DebtBookWriter, DebtChanges
from storage.importing.columns import ColumnMapping, FieldSpec, HeaderLayout, load_mapping
from storage.importing.debts import DEBT_FIELDS, DEBT_REQUIRED, DebtRecord, DebtRowParser
from storage.importing.errors import BadSource, RowProblem, RowsRejected
from storage.importing.payments import (
    PAYMENT_FIELDS,
    PAYMENT_REQUIRED,
    PaymentChanges,
    PaymentRecord,
    PaymentWriter,
    parse_payment_row,
)
from storage.importing.records import (
    ImportProgress,
    NoProgress,
    Requirement,
    Row,
    RowReader,
    read_rows,
)
from storage.importing.values import BadValue, is_blank, parse_money
from storage.models import Account
from storage.organisations import ensure_organisation, find_organisation

__all__ = [
    "CHUNK_ROWS",
    "MAX_REPORTED_PROBLEMS",
    "DebtImportSummary",
    "PaymentImportSummary",
    "import_debts",
    "import_payments",
]

log = logging.getLogger(__name__)

CHUNK_ROWS = 5000
MAX_REPORTED_PROBLEMS = 100_000
R = TypeVar("R", DebtRecord, PaymentRecord)


@dataclass(frozen=True, slots=True)
class DebtImportSummary:
    """The outcome of a debt import (or of a dry run: what would change)."""

    file: str
    organisation: str
    dry_run: bool
    rows: int
    total_debt: Decimal
    total_peni: Decimal
    changes: DebtChanges
    warnings: tuple[RowProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentImportSummary:
    """The outcome of a payment import (or of a dry run)."""

    file: str
    organisation: str
    dry_run: bool
    rows: int
    total_amount: Decimal
    changes: PaymentChanges
    warnings: tuple[RowProblem, ...] = ()


@dataclass(slots=True)
class _Validation(Generic[R]):
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problems_total: int = 0
    warnings: list[RowProblem] = field(default_factory=list)
    hashes: array[int] = field(default_factory=lambda: array("q"))
    headers: dict[str, str] = field(default_factory=dict)
    total_lines: list[Row] = field(default_factory=list)  # «Итого» lines, not data

    def add_problems(self, found: list[RowProblem]) -> None:
        self.problems_total += len(found)
        room = MAX_REPORTED_PROBLEMS - len(self.problems)
        self.problems.extend(found[:room])


@dataclass(frozen=True, slots=True)
class _Kind(Generic[R]):
    fields: Sequence[FieldSpec]
    required: Sequence[Requirement]
    parse: Callable[[Row, RowReader], R | None]
    key: Callable[[R], Hashable]
    duplicate: str


def _headers(layout: HeaderLayout, mapping: ColumnMapping) -> dict[str, str]:
    headers = dict(layout.headers)
    for key in layout.constants:
        headers[key] = f"{key} (постоянное значение из {mapping.source})"
    return headers


def _records(
    path: Path, kind: _Kind[R], mapping: ColumnMapping, progress: ImportProgress, title: str,
    state: _Validation[R],
) -> Iterator[tuple[Row, R | None]]:  # fmt: skip
    reader: RowReader | None = None
    rows = read_rows(path, kind.fields, kind.required, mapping, progress, title, state.total_lines)
    for layout, row in rows:
        if reader is None:
            state.headers = _headers(layout, mapping)
            reader = RowReader(path.name, state.headers)
        record = kind.parse(row, reader)
        if reader.problems:
            state.add_problems(reader.problems)
            reader.problems = []
        if reader.warnings and len(state.warnings) < MAX_REPORTED_PROBLEMS:
            state.warnings.extend(reader.warnings)
        reader.warnings = []
        yield row, record


def _validate(
    path: Path, kind: _Kind[R], mapping: ColumnMapping, progress: ImportProgress,
    on_record: Callable[[R], None],
) -> _Validation[R]:  # fmt: skip
    state: _Validation[R] = _Validation()
    for _row, record in _records(path, kind, mapping, progress, "Проверка", state):
        state.rows += 1
        if record is not None:
            state.hashes.append(hash(kind.key(record)))
            on_record(record)
    if state.rows == 0:
        raise BadSource(f"{path.name}: под заголовком нет ни одной строки с данными")
    _report_duplicates(path, kind, mapping, state)
    return state


def _report_duplicates(
    path: Path, kind: _Kind[R], mapping: ColumnMapping, state: _Validation[R]
) -> None:
    hashes = np.frombuffer(state.hashes, dtype=np.int64)
    if hashes.size < 2:
        return
    ordered = np.sort(hashes)
    repeated = set(ordered[1:][ordered[1:] == ordered[:-1]].tolist())
    if not repeated:
        return
    # Rare path: read the file once more to name the rows (and rule out hash collisions).
    first_row: dict[Hashable, int] = {}
    found: list[RowProblem] = []
    column = state.headers.get("account", "account")
    scratch: _Validation[R] = _Validation()
    for row, record in _records(path, kind, mapping, NoProgress(), "", scratch):
        if record is None:
            continue
        key = kind.key(record)
        if hash(key) not in repeated:
            continue
        if key in first_row:
            message = f"повторяет строку {first_row[key]} ({kind.duplicate})"
            found.append(RowProblem(path.name, row.number, column, message))
        else:
            first_row[key] = row.number
    state.add_problems(found)


def _check_total(path: Path, state: _Validation[R], debt: Decimal) -> None:
    """A file's «Итого» line, when it gives the debt column's total, must match its rows: a
    file that lost rows (cut short, filtered by mistake) is refused before anything is
    written."""
    for line in reversed(state.total_lines):
        cell = line.cells.get("debt")
        if is_blank(cell):
            continue
        try:
            stated = parse_money(cell)
        except BadValue:
            continue  # not a sum (a label in that column)
        if abs(stated - debt) > Decimal("0.005"):
            column = state.headers.get("debt", "debt")
            raise BadSource(
                f"{path.name}, строка {line.number} («Итого»): в столбце «{column}» {stated}, а "
                f"строки дают {debt} — строки потеряны или лишние? Ничего не записано"
            )
        return


def _reject_if_bad(state: _Validation[R]) -> None:
    if state.problems_total:
        # File names and cells may hold personal data: the log gets counts only.
        log.info("import rejected: rows=%d problems=%d", state.rows, state.problems_total)
        problems = tuple(sorted(state.problems, key=lambda p: p.row))
        raise RowsRejected(problems, state.problems_total)


def _write_chunks(
    path: Path, kind: _Kind[R], mapping: ColumnMapping, progress: ImportProgress,
    write: Callable[[list[R]], None],
) -> None:  # fmt: skip
    state: _Validation[R] = _Validation()
    chunk: list[R] = []
    for _row, record in _records(path, kind, mapping, progress, "Запись", state):
        if record is None:
            break
        chunk.append(record)
        if len(chunk) >= CHUNK_ROWS:
            write(chunk)
            chunk = []
    if state.problems_total:
        raise BadSource(f"{path.name}: файл изменился во время импорта; ничего не записано")
    if chunk:
        write(chunk)


def _mapping(mapping_path: Path | None, fields: Sequence[FieldSpec]) -> ColumnMapping:
    return load_mapping(mapping_path, fields) if mapping_path is not None else ColumnMapping()


def _debt_key(record: DebtRecord) -> Hashable:
    return (record.account, record.service, record.period)


def _payment_key(record: PaymentRecord) -> Hashable:
    return (record.account, record.paid_on, record.amount, record.document)


def import_debts(
    session_factory: sessionmaker[Session],
    path: Path,
    *,
    organisation: str | None = None,
    mapping_path: Path | None = None,
    dry_run: bool = False,
    progress: ImportProgress | None = None,
) -> DebtImportSummary:
    """Import a debt export into ``organisation`` (created if new).

    Raises :class:`BadSource` or :class:`RowsRejected`; then nothing was written.
    """
    progress = progress or NoProgress()
    mapping = _mapping(mapping_path, DEBT_FIELDS)
    kind: _Kind[DebtRecord] = _Kind(
        DEBT_FIELDS, DEBT_REQUIRED, DebtRowParser(), _debt_key,
        "тот же лицевой счёт, услуга и период",
    )  # fmt: skip
    totals = [Decimal("0.00"), Decimal("0.00")]

    def count(record: DebtRecord) -> None:
        totals[0] += record.debt
        totals[1] += record.peni

    state = _validate(path, kind, mapping, progress, count)
    _reject_if_bad(state)
    _check_total(path, state, totals[0])
    with session_factory() as session:  # closing without commit rolls back
        found = ensure_organisation(session, organisation)
        name = found.name
        writer = DebtBookWriter(session, found.id, found.time_zone, path.name)
        _write_chunks(path, kind, mapping, progress, writer.write)
        writer.finish()
        _finish(session, dry_run)
        log.info(
            "debt import: organisation=%d rows=%d lines_new=%d lines_changed=%d dry_run=%s",
            found.id, state.rows, writer.changes.lines_new, writer.changes.lines_changed, dry_run,
        )  # fmt: skip
    return DebtImportSummary(
        file=path.name,
        organisation=name,
        dry_run=dry_run,
        rows=state.rows,
        total_debt=totals[0],
        total_peni=totals[1],
        changes=writer.changes,
        warnings=tuple(state.warnings),
    )


def import_payments(
    session_factory: sessionmaker[Session],
    path: Path,
    *,
    organisation: str | None = None,
    mapping_path: Path | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
    progress: ImportProgress | None = None,
) -> PaymentImportSummary:
    """Import a payment register into an existing organisation; accounts must exist.

    Raises :class:`BadSource` or :class:`RowsRejected`; then nothing was written.
    """
    progress = progress or NoProgress()
    mapping = _mapping(mapping_path, PAYMENT_FIELDS)
    day = today or dt.date.today()
    kind: _Kind[PaymentRecord] = _Kind(
        PAYMENT_FIELDS, PAYMENT_REQUIRED,
        lambda row, reader: parse_payment_row(row, reader, day), _payment_key,
        "тот же лицевой счёт, дата, сумма и номер документа",
    )  # fmt: skip
    with session_factory() as session:
        try:
            found = find_organisation(session, organisation)
        except OrganisationNotFound as err:
            raise BadSource(f"{path.name}: {err}") from err
        organisation_id, name = found.id, found.name
    rows_by_account: dict[str, list[int]] = {}
    total = [Decimal("0.00")]

    def count(record: PaymentRecord) -> None:
        rows_by_account.setdefault(record.account, []).append(record.row)
        total[0] += record.amount

    state = _validate(path, kind, mapping, progress, count)
    account_ids = _account_ids(session_factory, organisation_id, rows_by_account)
    column = state.headers.get("account", "account")
    state.add_problems([
        RowProblem(path.name, row, column, f"лицевой счёт «{number}» не найден в организации «{name}»")
        for number, rows in rows_by_account.items() if number not in account_ids
        for row in rows
    ])  # fmt: skip
    _reject_if_bad(state)
    with session_factory() as session:
        writer = PaymentWriter(session, organisation_id, account_ids)
        _write_chunks(path, kind, mapping, progress, writer.write)
        _finish(session, dry_run)
        log.info(
            "payment import: organisation=%d rows=%d payments_new=%d dry_run=%s",
            organisation_id, state.rows, writer.changes.payments_new, dry_run,
        )  # fmt: skip
    return PaymentImportSummary(
        file=path.name,
        organisation=name,
        dry_run=dry_run,
        rows=state.rows,
        total_amount=total[0],
        changes=writer.changes,
        warnings=tuple(state.warnings),
    )


def _finish(session: Session, dry_run: bool) -> None:
    if dry_run:
        session.rollback()
    else:
        session.commit()


def _account_ids(
    session_factory: sessionmaker[Session], organisation_id: int, numbers: dict[str, list[int]]
) -> dict[str, int]:
    found: dict[str, int] = {}
    wanted = sorted(numbers)
    with session_factory() as session:
        for start in range(0, len(wanted), CHUNK_ROWS):
            chunk = wanted[start : start + CHUNK_ROWS]
            for number, id_ in session.execute(
                sa.select(Account.number, Account.id).where(
                    Account.organisation_id == organisation_id, Account.number.in_(chunk)
                )
            ):
                found[number] = id_
    return found
