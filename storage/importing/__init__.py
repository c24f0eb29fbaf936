"""Importing 1С exports (debts, payments) into the debt book.

Public API::

    import_debts(session_factory, path, organisation=..., mapping_path=..., dry_run=...)
    import_payments(session_factory, path, organisation=..., mapping_path=..., dry_run=...)

Both validate every row before writing anything and raise :class:`ImportFailed`
(:class:`BadSource` or :class:`RowsRejected`) when nothing was written.
"""

from storage.importing.book import DebtChanges
from storage.importing.errors import BadSource, ImportFailed, RowProblem, RowsRejected
from storage.importing.importer import (
    DebtImportSummary,
    PaymentImportSummary,
    import_debts,
    import_payments,
)
from storage.importing.payments import PaymentChanges
from storage.importing.records import ImportProgress, NoProgress

__all__ = [
    "BadSource",
    "DebtChanges",
    "DebtImportSummary",
    "ImportFailed",
    "ImportProgress",
    "NoProgress",
    "PaymentChanges",
    "PaymentImportSummary",
    "RowProblem",
    "RowsRejected",
    "import_debts",
    "import_payments",
]
