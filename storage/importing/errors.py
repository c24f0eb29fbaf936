"""What can go wrong in an import, all under :class:`ImportFailed`.

- :class:`BadSource`: the file as a whole cannot be used (unreadable, no header row, a bad
  mapping file, an unknown organisation). Nothing was written.
- :class:`RowsRejected`: some rows are bad; every one of them is listed and nothing was
  written.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.errors import StorageError

__all__ = ["BadSource", "ImportFailed", "RowProblem", "RowsRejected"]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad cell: which file, which row (as a spreadsheet numbers it), which column, why."""

    file: str
    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}, строка {self.row}, столбец «{self.column}»: {self.problem}"


class ImportFailed(StorageError):
    """An import that wrote nothing; the message says why in Russian."""


class BadSource(ImportFailed):
    """The file, its header or the mapping cannot be used at all."""


class RowsRejected(ImportFailed):
    """Rows with problems; ``problems`` lists them (up to a cap), ``total`` counts them all."""

    def __init__(self, problems: tuple[RowProblem, ...], total: int) -> None:
        self.problems = problems
        self.total = total
        super().__init__(f"ошибок в файле: {total}; ничего не записано")
