"""Import jobs: a 1С file uploaded on the web, checked (dry run), then imported in the background.

The job row is the truth about a job: its status, how far it is, what the check found
would change, what the import changed, why it was refused. :func:`run_job` is the one
place that runs the importer for a job, on whatever thread the caller gives it; it opens
its own sessions (the importer's transaction, and short ones for the job row), so the
caller's thread holds nothing. Nothing here logs a file's cells or names: ids and counts.

A job whose process died (a restart, a crash) would stay «checking» or «importing» for ever;
:func:`interrupt_orphans` marks such jobs as interrupted when a service starts. Its import
was one transaction, so nothing of it was written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage.importing import (
    BadSource,
    DebtImportSummary,
    ImportProgress,
    PaymentImportSummary,
    RowProblem,
    RowsRejected,
    import_debts,
    import_payments,
)
from storage.models import Organisation, utc_now
from storage.models.import_jobs import ImportJob, ImportKind, ImportProblem, ImportStatus
from storage.models.users import User

__all__ = [
    "JobView",
    "create_job",
    "discard_job",
    "interrupt_orphans",
    "job_problems",
    "list_jobs",
    "load_job",
    "record_progress",
    "run_job",
    "start_import",
]

log = logging.getLogger(__name__)

WARNINGS_KEPT = 20  # warnings kept on the job row as examples; the count is kept in full
_PROBLEM_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as pages and the API show it (with its organisation's and user's names)."""

    id: int
    organisation_id: int
    organisation: str
    user: str
    kind: ImportKind
    file_name: str
    file_bytes: int
    status: ImportStatus
    phase: str
    done_bytes: int
    total_bytes: int
    rows: int | None
    preview: dict[str, object] | None
    result: dict[str, object] | None
    error: str | None
    problems_total: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    runner: str


def create_job(
    session: Session,
    *,
    organisation_id: int,
    user_id: int | None,
    kind: ImportKind,
    file_name: str,
    file_bytes: int,
    stored_path: Path,
    runner: str,
) -> int:
    """A new job in ``checking``: the caller then hands it to :func:`run_job`."""
    now = utc_now()
    job = ImportJob(
        organisation_id=organisation_id,
        user_id=user_id,
        kind=kind.value,
        file_name=file_name[:255],
        file_bytes=file_bytes,
        stored_path=str(stored_path),
        status=ImportStatus.CHECKING.value,
        phase="",
        done_bytes=0,
        total_bytes=file_bytes,
        runner=runner,
        problems_total=0,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    return job.id


def _select_views() -> sa.Select[ImportJob, str, str]:
    return (
        sa.select(ImportJob, Organisation.name, User.display_name)
        .join(Organisation, Organisation.id == ImportJob.organisation_id)
        .outerjoin(User, User.id == ImportJob.user_id)
    )


def _view(job: ImportJob, organisation: str, user: str | None) -> JobView:
    return JobView(
        id=job.id,
        organisation_id=job.organisation_id,
        organisation=organisation,
        user=user or "—",
        kind=ImportKind(job.kind),
        file_name=job.file_name,
        file_bytes=job.file_bytes,
        status=ImportStatus(job.status),
        phase=job.phase,
        done_bytes=job.done_bytes,
        total_bytes=job.total_bytes,
        rows=job.rows,
        preview=job.preview,
        result=job.result,
        error=job.error,
        problems_total=job.problems_total,
        created_at=job.created_at,
        finished_at=job.finished_at,
        runner=job.runner,
    )


def load_job(session: Session, job_id: int) -> JobView | None:
    """One job, or ``None`` (the caller checks that the user may see its organisation)."""
    found = session.execute(_select_views().where(ImportJob.id == job_id)).first()
    if found is None:
        return None
    job, organisation, user = found
    return _view(job, organisation, user)


def list_jobs(
    session: Session, organisation_ids: Sequence[int] | None, *, limit: int = 50
) -> list[JobView]:
    """The latest jobs of these organisations (``None``: every organisation), newest first."""
    query = _select_views().order_by(ImportJob.created_at.desc(), ImportJob.id.desc()).limit(limit)
    if organisation_ids is not None:
        query = query.where(ImportJob.organisation_id.in_(organisation_ids))
    return [_view(job, organisation, user) for job, organisation, user in session.execute(query)]


def job_problems(session: Session, job_id: int, *, limit: int | None = None) -> list[RowProblem]:
    """The rejected rows of a job, in file order (the file name is the job's)."""
    name = session.scalar(sa.select(ImportJob.file_name).where(ImportJob.id == job_id)) or ""
    query = (
        sa.select(ImportProblem.row, ImportProblem.column, ImportProblem.problem)
        .where(ImportProblem.job_id == job_id)
        .order_by(ImportProblem.row, ImportProblem.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        RowProblem(name, row, column, problem) for row, column, problem in session.execute(query)
    ]


def record_progress(session: Session, job_id: int, phase: str, done: int, total: int) -> None:
    """How far a running job is (bytes of the file in the current pass)."""
    session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status.in_(_RUNNING))
        .values(phase=phase[:32], done_bytes=done, total_bytes=total, updated_at=utc_now())
    )


_RUNNING = (ImportStatus.CHECKING.value, ImportStatus.IMPORTING.value)


def start_import(session: Session, job_id: int, runner: str) -> bool:
    """A checked job moves to ``importing``; ``False`` if it is not (any more) checked.

    One conditional UPDATE: two clicks (or two servers) cannot start the same import twice.
    """
    moved = session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ImportStatus.CHECKED.value)
        .values(
            status=ImportStatus.IMPORTING.value,
            phase="",
            done_bytes=0,
            runner=runner,
            updated_at=utc_now(),
        )
    )
    return int(getattr(moved, "rowcount", 0) or 0) == 1


def discard_job(session: Session, job_id: int) -> Path | None:
    """A checked job the user does not want: ``discarded``; returns its file to delete."""
    job = session.get(ImportJob, job_id)
    if job is None or job.status != ImportStatus.CHECKED.value:
        return None
    path = job.stored_path
    job.status = ImportStatus.DISCARDED.value
    job.stored_path = None
    job.finished_at = job.updated_at = utc_now()
    return Path(path) if path else None


def interrupt_orphans(
    session: Session, host: str, own_runner: str, alive: Callable[[int], bool]
) -> list[Path]:
    """Mark as interrupted the running jobs of this host whose process is gone.

    ``runner`` is ``host:pid:boot``: a job of this host belongs to a dead process when that
    pid is not alive, or when it is our own pid but another boot (a container's pid 1 comes
    back with the same pid). Jobs of other hosts are left to their own service. Returns
    the files of the interrupted jobs, for the caller to delete.
    """
    own_pid = own_runner.split(":")[1]
    files: list[Path] = []
    jobs = session.scalars(sa.select(ImportJob).where(ImportJob.status.in_(_RUNNING))).all()
    for job in jobs:
        parts = job.runner.split(":")
        if len(parts) != 3 or parts[0] != host or job.runner == own_runner:
            continue
        pid = parts[1]
        if pid.isdigit() and pid != own_pid and alive(int(pid)):
            continue
        _end(job, ImportStatus.INTERRUPTED)
        job.error = "работа прервана остановкой сервиса; ничего не записано — загрузите файл снова"
        if job.stored_path:
            files.append(Path(job.stored_path))
        job.stored_path = None
        log.info("import job %d interrupted (its process is gone)", job.id)
    return files


def _end(job: ImportJob, status: ImportStatus) -> None:
    job.status = status.value
    job.finished_at = job.updated_at = utc_now()


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _warnings(warnings: Sequence[RowProblem]) -> dict[str, object]:
    return {
        "warnings": len(warnings),
        "warning_examples": [str(w) for w in warnings[:WARNINGS_KEPT]],
    }


def _summary(summary: DebtImportSummary | PaymentImportSummary) -> dict[str, object]:
    """What changed (or would change), as JSON: counts and sums (money as exact strings)."""
    if isinstance(summary, DebtImportSummary):
        changes = summary.changes
        return {
            "rows": summary.rows,
            "total_debt": _money(summary.total_debt),
            "total_peni": _money(summary.total_peni),
            "accounts_in_file": len(changes.accounts_seen),
            "accounts_new": changes.accounts_new,
            "accounts_changed": changes.accounts_changed,
            "lines_new": changes.lines_new,
            "lines_changed": changes.lines_changed,
            "lines_unchanged": changes.lines_unchanged,
            "people_new": changes.people_new,
            "people_changed": changes.people_changed,
            "people_former": changes.people_former,
            "phones_new": changes.phones_new,
            "phones_former": changes.phones_former,
            **_warnings(summary.warnings),
        }
    payments = summary.changes
    return {
        "rows": summary.rows,
        "total_amount": _money(summary.total_amount),
        "payments_new": payments.payments_new,
        "payments_known": payments.payments_known,
        "amount_new": _money(payments.amount_new),
        "amount_allocated": _money(payments.amount_allocated),
        "lines_closed": payments.lines_closed,
        **_warnings(summary.warnings),
    }


@dataclass(frozen=True, slots=True)
class _Work:
    kind: ImportKind
    organisation: str
    path: Path
    dry_run: bool


def _claim(session_factory: sessionmaker[Session], job_id: int) -> _Work | None:
    with session_factory() as session:
        found = session.execute(
            sa.select(ImportJob, Organisation.name)
            .join(Organisation, Organisation.id == ImportJob.organisation_id)
            .where(ImportJob.id == job_id)
        ).first()
    if found is None:
        return None
    job, organisation = found
    status = ImportStatus(job.status)
    if not status.running or not job.stored_path:
        return None
    return _Work(
        ImportKind(job.kind), organisation, Path(job.stored_path), status is ImportStatus.CHECKING
    )


def _import(
    session_factory: sessionmaker[Session], work: _Work, progress: ImportProgress
) -> DebtImportSummary | PaymentImportSummary:
    if work.kind is ImportKind.DEBTS:
        return import_debts(
            session_factory,
            work.path,
            organisation=work.organisation,
            dry_run=work.dry_run,
            progress=progress,
        )
    return import_payments(
        session_factory,
        work.path,
        organisation=work.organisation,
        dry_run=work.dry_run,
        progress=progress,
    )


def run_job(
    session_factory: sessionmaker[Session], job_id: int, progress: ImportProgress
) -> ImportStatus | None:
    """Run a ``checking`` job's dry run or an ``importing`` job's import, and record the end.

    Blocking (minutes for a million lines): call it on a worker thread. The importer checks
    every row first; a bad row or an unusable file ends the job ``rejected`` with nothing
    written. Returns the job's new status (``None`` if the job was not waiting to run).
    """
    work = _claim(session_factory, job_id)
    if work is None:
        return None
    # The job's file name is what the user uploaded; the importer sees the stored name.
    try:
        summary = _import(session_factory, work, progress)
    except RowsRejected as err:
        _finish(session_factory, job_id, ImportStatus.REJECTED, problems=err.problems,
                problems_total=err.total)  # fmt: skip
        return ImportStatus.REJECTED
    except BadSource as err:
        _finish(session_factory, job_id, ImportStatus.REJECTED, error=_without_path(err, work))
        return ImportStatus.REJECTED
    except Exception as err:  # the job's one boundary: record it, never leave it «running»
        # The message may quote the file's cells: the log gets the type only.
        log.error("import job %d failed: %s", job_id, type(err).__name__)
        _finish(session_factory, job_id, ImportStatus.FAILED,
                error="внутренняя ошибка при импорте; ничего не записано")  # fmt: skip
        return ImportStatus.FAILED
    if work.dry_run:
        _finish(session_factory, job_id, ImportStatus.CHECKED, summary=summary)
        return ImportStatus.CHECKED
    _finish(session_factory, job_id, ImportStatus.DONE, summary=summary)
    return ImportStatus.DONE


def _without_path(err: BadSource, work: _Work) -> str:
    # The importer names the stored file (a random name); the page shows the uploaded one.
    return str(err).replace(work.path.name + ": ", "").replace(work.path.name, "файл")


def _finish(
    session_factory: sessionmaker[Session],
    job_id: int,
    status: ImportStatus,
    *,
    summary: DebtImportSummary | PaymentImportSummary | None = None,
    problems: Iterable[RowProblem] = (),
    problems_total: int = 0,
    error: str | None = None,
) -> None:
    path: str | None = None
    with session_factory.begin() as session:
        job = session.get(ImportJob, job_id)
        if job is None:
            return
        job.status = status.value
        job.updated_at = utc_now()
        job.done_bytes = job.total_bytes
        job.error = error
        if summary is not None:
            job.rows = summary.rows
            if status is ImportStatus.CHECKED:
                job.preview = _summary(summary)
            else:
                job.result = _summary(summary)
        if problems_total:
            job.problems_total = problems_total
            _store_problems(session, job_id, problems)
        if status.final:
            job.finished_at = job.updated_at
            path, job.stored_path = job.stored_path, None
    if path:
        Path(path).unlink(missing_ok=True)


def _store_problems(session: Session, job_id: int, problems: Iterable[RowProblem]) -> None:
    chunk: list[dict[str, object]] = []
    for problem in problems:
        chunk.append({"job_id": job_id, "row": problem.row,
                      "column": problem.column[:200], "problem": problem.problem})  # fmt: skip
        if len(chunk) >= _PROBLEM_CHUNK:
            session.execute(sa.insert(ImportProblem), chunk)
            chunk = []
    if chunk:
        session.execute(sa.insert(ImportProblem), chunk)
