"""From file rows to field values: find the header row, skip totals and blank rows.

An import reads its file twice: once to validate every row, once to write. Both passes
go through :func:`read_rows`, so they see exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from storage.importing.columns import ColumnMapping, FieldSpec, HeaderLayout, resolve_header
from storage.importing.errors import BadSource, RowProblem
from storage.importing.source import TableFile
from storage.importing.values import BadValue, Cell, is_blank, parse_text

__all__ = [
    "HEADER_SEARCH_ROWS",
    "ImportProgress",
    "NoProgress",
    "Requirement",
    "Row",
    "RowReader",
    "read_rows",
]

HEADER_SEARCH_ROWS = 30
_TOTAL_WORDS = ("итого", "всего")

T = TypeVar("T")

# Each requirement is a set of alternatives; one alternative is a group of fields that
# must all be present (e.g. "debt" or "charged" + "paid").
Requirement = tuple[tuple[str, ...], ...]


class ImportProgress(Protocol):
    """Where an import reports how far it is (a progress bar, or nothing)."""

    def phase(self, title: str, total: int) -> None:
        """A new pass begins; ``total`` is in the same unit as ``advance_to``."""

    def advance_to(self, done: int) -> None:
        """The pass has reached ``done`` (bytes of the file)."""


class NoProgress:
    """Progress reported nowhere."""

    def phase(self, title: str, total: int) -> None:
        """Ignored."""

    def advance_to(self, done: int) -> None:
        """Ignored."""


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its number in the file, its cells (padded to the header's width)."""

    number: int
    raw: list[Cell]
    layout: HeaderLayout

    @property
    def cells(self) -> dict[str, Cell]:
        """The cell of each mapped field, constants from the mapping file included."""
        values = {key: self.raw[index] for key, index in self.layout.positions.items()}
        values.update(self.layout.constants)
        return values


class RowReader:
    """Parses cells of one row, collecting every problem instead of stopping at the first."""

    __slots__ = ("file", "headers", "problems", "row", "warnings")

    def __init__(self, file: str, headers: dict[str, str]) -> None:
        self.file = file
        self.headers = headers
        self.row = 0
        self.problems: list[RowProblem] = []
        self.warnings: list[RowProblem] = []

    def problem(self, key: str, message: str) -> None:
        """Record a problem with the column of ``key``."""
        self.problems.append(RowProblem(self.file, self.row, self.headers.get(key, key), message))

    def warning(self, key: str, message: str) -> None:
        """Record a problem that does not reject the row."""
        self.warnings.append(RowProblem(self.file, self.row, self.headers.get(key, key), message))

    def required(self, cells: Mapping[str, Cell], key: str, parse: Callable[[Cell], T]) -> T | None:
        """The parsed value of a field that must be filled, or None after recording why."""
        cell = cells.get(key)
        if is_blank(cell):
            self.problem(key, "пустое значение")
            return None
        return self.optional(cells, key, parse)

    def optional(self, cells: Mapping[str, Cell], key: str, parse: Callable[[Cell], T]) -> T | None:
        """The parsed value of a field that may be empty (None when empty or bad)."""
        cell = cells.get(key)
        if is_blank(cell):
            return None
        try:
            return parse(cell)
        except BadValue as err:
            self.problem(key, str(err))
            return None


def _meets(layout: HeaderLayout, requirement: Requirement) -> bool:
    present = set(layout.positions) | set(layout.constants)
    return any(set(group) <= present for group in requirement)


def _titles(requirement: Requirement, fields: Sequence[FieldSpec]) -> str:
    titles = {spec.key: spec.title for spec in fields}
    return " или ".join(" + ".join(titles[key] for key in group) for group in requirement)


def _is_total_or_blank(cells: list[Cell]) -> bool:
    first = cells[0] if cells else None
    if isinstance(first, str) and first and not first[0].isspace():
        return first[0] in "ИиВв" and first.lower().startswith(_TOTAL_WORDS)
    for cell in cells:
        if is_blank(cell):
            continue
        return parse_text(cell).lower().startswith(_TOTAL_WORDS)
    return True


def read_rows(
    path: Path,
    fields: Sequence[FieldSpec],
    required: Sequence[Requirement],
    mapping: ColumnMapping,
    progress: ImportProgress,
    title: str,
    total_lines: list[Row] | None = None,
) -> Iterator[tuple[HeaderLayout, Row]]:
    """Every data row of ``path`` with the layout found in its header row.

    ``required`` lists requirements; each is a tuple of alternative field groups.
    The header is the first of the first 30 rows that satisfies all of them. The file's
    total lines («Итого», «Всего») are not data; given ``total_lines``, they are put there.
    """
    with TableFile(path) as table:
        progress.phase(title, table.size)
        rows = table.rows()
        try:
            layout = _find_header(rows, path.name, fields, required, mapping)
            width = max(layout.positions.values(), default=-1) + 1
            last: tuple[int, int, bool] | None = None  # the last data row: number, cells, blank end
            for count, (number, cells) in enumerate(rows, start=1):
                first = cells[0] if cells else None
                # Most rows start with an account number: skip the total/blank check for them.
                if not (isinstance(first, str) and first[:1].isdigit()) and _is_total_or_blank(
                    cells
                ):
                    if total_lines is not None and any(not is_blank(c) for c in cells):
                        padded = cells + [None] * max(0, width - len(cells))
                        total_lines.append(Row(number, padded, layout))  # «Итого»: checked later
                    continue
                last = (number, len(cells), bool(cells) and is_blank(cells[-1]))
                if len(cells) < width:
                    cells = cells + [None] * (width - len(cells))
                yield layout, Row(number, cells, layout)
                if count % 4096 == 0:
                    progress.advance_to(table.bytes_read)
            if last is not None and table.format.kind == "csv":
                _refuse_cut_end(path, last, width)
            progress.advance_to(table.size)
        finally:
            rows.close()


def _refuse_cut_end(path: Path, last: tuple[int, int, bool], width: int) -> None:
    """A text export cut short (a copy that stopped, a full disk) ends mid-row: refuse it.

    Its last row is shorter than the header, or — cut right after a separator — ends in an
    empty cell with no line break after it. Padded with empties it would import with its
    tail (пени, the debt) silently zero. Runs in the validation pass: nothing is written.
    """
    number, cells, blank_end = last
    with path.open("rb") as raw:
        raw.seek(max(path.stat().st_size - 1, 0))
        ends_with_newline = raw.read(1) in (b"\n", b"\r")
    if cells < width:
        raise BadSource(
            f"{path.name}, строка {number}: {cells} столбцов из {width} заголовка — файл "
            "обрезан? Выгрузите его заново; ничего не записано"
        )
    if blank_end and not ends_with_newline:
        raise BadSource(
            f"{path.name}, строка {number}: последняя строка оборвана после разделителя (нет "
            "перевода строки, последний столбец пуст) — файл обрезан? Выгрузите его заново; "
            "ничего не записано"
        )


def _find_header(
    rows: Iterator[tuple[int, list[Cell]]],
    file: str,
    fields: Sequence[FieldSpec],
    required: Sequence[Requirement],
    mapping: ColumnMapping,
) -> HeaderLayout:
    best: HeaderLayout | None = None
    best_score = -1
    for number, cells in rows:
        if all(is_blank(c) for c in cells):
            if number >= HEADER_SEARCH_ROWS:
                break
            continue
        layout = resolve_header(cells, number, fields, mapping, file)
        score = sum(_meets(layout, requirement) for requirement in required)
        if score == len(required):
            return layout
        if score > best_score:  # the closest row names what is missing
            best, best_score = layout, score
        if number >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise BadSource(f"{file}: нет ни одной строки с данными")
    missing = [_titles(req, fields) for req in required if not _meets(best, req)]
    raise BadSource(
        f"{file}: не найдена строка заголовка в первых {HEADER_SEARCH_ROWS} строках; "
        f"нет столбцов: {'; '.join(missing)} "
        "(переименуйте столбцы или укажите их в файле соответствий --mapping)"
    )
