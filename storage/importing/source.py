"""Reading an export row by row, never the whole file: CSV (any 1С encoding/delimiter) or XLSX.

CSV: UTF-8 with or without BOM, UTF-16 with BOM, otherwise cp1251 (1С's default);
the delimiter (``;``, tab or ``,``) is the one that splits the first lines into the most
consistent number of fields. XLSX: the first sheet, through openpyxl's read-only mode.
Row numbers are those a spreadsheet shows (the first line is 1).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from storage.importing.errors import BadSource
from storage.importing.values import Cell

__all__ = ["SourceFormat", "TableFile", "detect_format"]

_SAMPLE_BYTES = 64 * 1024
_DELIMITERS = (";", "\t", ",")


@dataclass(frozen=True, slots=True)
class SourceFormat:
    """How a file is to be read."""

    kind: Literal["csv", "xlsx"]
    encoding: str = "utf-8"
    delimiter: str = ";"


def _encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # Not final: the sample may end in the middle of a multi-byte letter.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


def _delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:-1] or text.splitlines() if line.strip()][:50]
    best, best_score = ";", (0, 0)
    for candidate in _DELIMITERS:
        counts = Counter(len(fields) for fields in csv.reader(lines, delimiter=candidate))
        counts.pop(1, None)
        counts.pop(0, None)
        if not counts:
            continue
        width, frequency = max(counts.items(), key=lambda item: (item[1], item[0]))
        if (frequency, width) > best_score:
            best, best_score = candidate, (frequency, width)
    return best


def detect_format(path: Path) -> SourceFormat:
    """Sniff the format from the name and the first 64 KiB."""
    try:
        with path.open("rb") as raw:
            sample = raw.read(_SAMPLE_BYTES)
    except OSError as err:
        raise BadSource(f"{path.name}: файл не открывается: {err.strerror or err}") from err
    if sample.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        return SourceFormat("xlsx")
    if not sample.strip():
        raise BadSource(f"{path.name}: файл пуст")
    encoding = _encoding(sample)
    text = sample.decode(encoding, errors="ignore")
    return SourceFormat("csv", encoding, _delimiter(text))


class TableFile:
    """One pass over a file's rows; ``bytes_read`` and ``size`` feed a progress bar.

    Use as a context manager; each ``rows()`` call needs a fresh :class:`TableFile`.
    """

    def __init__(self, path: Path, source_format: SourceFormat | None = None) -> None:
        self.path = path
        self.format = source_format or detect_format(path)
        self.size = path.stat().st_size
        self._binary: IO[bytes] | None = None
        self._text: io.TextIOWrapper | None = None
        self._workbook: object | None = None

    def __enter__(self) -> TableFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (and the workbook)."""
        if self._text is not None:
            self._text.close()
            self._text = None
        if self._binary is not None:
            self._binary.close()
            self._binary = None
        close = getattr(self._workbook, "close", None)
        if close is not None:
            close()
        self._workbook = None

    @property
    def bytes_read(self) -> int:
        """How far into the file the reader is (CSV; XLSX reports 0 until done)."""
        if self._binary is None or self._binary.closed:
            return self.size if self.format.kind == "xlsx" else 0
        return self._binary.tell()

    def rows(self) -> Generator[tuple[int, list[Cell]], None, None]:
        """``(row_number, cells)`` for every row, blank rows included."""
        if self.format.kind == "xlsx":
            return self._xlsx_rows()
        return self._csv_rows()

    def _csv_rows(self) -> Generator[tuple[int, list[Cell]], None, None]:
        self._binary = self.path.open("rb")
        text = self._text = io.TextIOWrapper(
            self._binary, encoding=self.format.encoding, newline=""
        )
        reader = csv.reader(text, delimiter=self.format.delimiter)
        number = 0
        try:
            for fields in reader:
                number += 1
                yield number, fields  # type: ignore[misc]  # csv gives a fresh list of str
        except UnicodeDecodeError as err:
            raise BadSource(
                f"{self.path.name}, строка {number + 1}: не читается в кодировке "
                f"{self.format.encoding}; сохраните файл в UTF-8 или cp1251"
            ) from err
        except csv.Error as err:
            raise BadSource(f"{self.path.name}, строка {number + 1}: испорчен CSV: {err}") from err

    def _xlsx_rows(self) -> Generator[tuple[int, list[Cell]], None, None]:
        import zipfile

        import openpyxl

        try:
            workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except (OSError, zipfile.BadZipFile, KeyError, ValueError) as err:
            raise BadSource(f"{self.path.name}: не читается как XLSX: {err}") from err
        self._workbook = workbook
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
