"""1С imports started from the web: one row per uploaded file, its rejected rows beside it.

An import job checks the file first (a dry run: what would change) and waits for the user
to confirm; the import then runs in the background and records its progress and result on
the row, so the page can be closed and reopened. The uploaded file lives on disk only
until the job ends (``stored_path``). ``runner`` names the process that works on the job,
so a restarted service can tell its own unfinished jobs from another process's.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime
from storage.models.debt_book import utc_now

__all__ = ["ImportJob", "ImportKind", "ImportProblem", "ImportStatus"]


class ImportKind(StrEnum):
    """What the file holds."""

    DEBTS = "debts"  # оборотно-сальдовая ведомость по ЛС
    PAYMENTS = "payments"  # реестр платежей


class ImportStatus(StrEnum):
    """Where a job is."""

    CHECKING = "checking"  # the dry run is reading the file
    CHECKED = "checked"  # the preview is ready; waits for «Импортировать»
    IMPORTING = "importing"  # the import is writing (one transaction)
    DONE = "done"  # written
    REJECTED = "rejected"  # bad rows or an unusable file: nothing written
    FAILED = "failed"  # an unexpected error: nothing written
    INTERRUPTED = "interrupted"  # the service stopped while the job ran: nothing written
    DISCARDED = "discarded"  # the user dropped the checked file

    @property
    def running(self) -> bool:
        """A thread is (or should be) working on the job."""
        return self in (ImportStatus.CHECKING, ImportStatus.IMPORTING)

    @property
    def final(self) -> bool:
        """Nothing more happens to the job."""
        return self not in (ImportStatus.CHECKING, ImportStatus.CHECKED, ImportStatus.IMPORTING)


class ImportJob(Base):
    """One uploaded 1С file, from its check to its result."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        sa.Index("ix_import_jobs_organisation_created", "organisation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # ImportKind
    file_name: Mapped[str] = mapped_column(sa.String(255))
    file_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # The upload on disk while the job may still read it; None once the job has ended.
    stored_path: Mapped[str | None] = mapped_column(sa.String(1024))
    status: Mapped[str] = mapped_column(sa.String(16))  # ImportStatus
    phase: Mapped[str] = mapped_column(sa.String(32), default="")  # «Проверка», «Запись»
    done_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    runner: Mapped[str] = mapped_column(sa.String(200), default="")  # host:pid:boot
    rows: Mapped[int | None] = mapped_column(sa.Integer)
    # What the dry run found would change, and what the import changed (counts and sums).
    preview: Mapped[dict[str, object] | None] = mapped_column(sa.JSON)
    result: Mapped[dict[str, object] | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)  # why the file as a whole was refused
    problems_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ImportProblem(Base):
    """One rejected cell of a job's file (row as a spreadsheet numbers it, column, why)."""

    __tablename__ = "import_problems"
    __table_args__ = (sa.Index("ix_import_problems_job_row", "job_id", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(sa.Integer)
    column: Mapped[str] = mapped_column(sa.String(200))
    problem: Mapped[str] = mapped_column(sa.Text)
