"""1С files through the web: the upload streamed to disk, and the jobs' background thread.

The upload is read part by part from the multipart stream and written to a temporary file
in chunks (the app's 1 MiB body limit applies to buffered bodies only; this one is never
buffered), so a 150 MB, million-line file costs the server a few hundred kilobytes of
memory. The check and the import run on one thread of their own (the importer is
CPU-bound and SQLite has one writer), with their own database sessions: the event loop
only starts them and reads their progress.

Progress goes to the job row (other processes and a reopened page read it there) and to an
in-process board the API reads first. On SQLite the import's write pass holds the database's
only write lock for its whole transaction, so a progress UPDATE from the same job would
wait for its own import: there the write pass reports to the board only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy.orm import Session, sessionmaker

from storage.import_jobs import interrupt_orphans, record_progress, run_job
from storage.models.import_jobs import ImportKind
from storage.models.users import UserRole
from web.errors import BadInput
from web.keys import SESSION_FACTORY

__all__ = [
    "IMPORTS",
    "IMPORT_ROLES",
    "MAX_UPLOAD_BYTES",
    "ImportRunner",
    "LiveProgress",
    "Upload",
    "import_runner_ctx",
    "receive_upload",
]

log = logging.getLogger(__name__)

# Who loads the debt book: the administrator and the campaign manager (who runs the
# campaigns on it). Collectors work cases; a manager (руководитель) reads reports only.
IMPORT_ROLES = (UserRole.ADMIN, UserRole.CAMPAIGN_MANAGER)
MAX_UPLOAD_BYTES = 1024**3  # 1 GiB: a million-line export is ~150 MB
_CHUNK_BYTES = 256 * 1024
_FIELD_BYTES = 64  # kind and organisation id: short values only
_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
_DB_PROGRESS_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class LiveProgress:
    """How far a job running in this process is: the pass and its bytes."""

    phase: str
    done: int
    total: int


class _JobProgress:
    """The importer's progress reporter for one job: the board always, the row when it can."""

    def __init__(self, runner: ImportRunner, job_id: int, row_during_writes: bool) -> None:
        self._runner = runner
        self._job_id = job_id
        self._row_during_writes = row_during_writes
        self._phase = ""
        self._total = 0
        self._written_at = 0.0

    def phase(self, title: str, total: int) -> None:
        """A new pass over the file."""
        self._phase, self._total = title, total
        self.advance_to(0, force=True)

    def advance_to(self, done: int, *, force: bool = False) -> None:
        """The pass has read ``done`` bytes."""
        self._runner.board_set(self._job_id, LiveProgress(self._phase, done, self._total))
        now = time.monotonic()
        if not force and now - self._written_at < _DB_PROGRESS_EVERY_S:
            return
        if self._phase == "Запись" and not self._row_during_writes:
            return
        self._written_at = now
        with self._runner.session_factory.begin() as session:
            record_progress(session, self._job_id, self._phase, done, self._total)


class ImportRunner:
    """The jobs' thread and progress board of one service process."""

    def __init__(self, session_factory: sessionmaker[Session], upload_dir: Path) -> None:
        self.session_factory = session_factory
        self.upload_dir = upload_dir
        self.host = socket.gethostname()[:120]
        # host:pid:boot — see storage.import_jobs.interrupt_orphans.
        self.runner_id = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="napomni-import")
        self._board: dict[int, LiveProgress] = {}
        self._lock = threading.Lock()
        bind = session_factory.kw.get("bind")
        dialect = getattr(getattr(bind, "dialect", None), "name", "")
        self._row_during_writes = dialect != "sqlite"

    def board_set(self, job_id: int, progress: LiveProgress) -> None:
        """Called by the job's thread."""
        with self._lock:
            self._board[job_id] = progress

    def live(self, job_id: int) -> LiveProgress | None:
        """The progress of a job running here, fresher than its row."""
        with self._lock:
            return self._board.get(job_id)

    def submit(self, job_id: int) -> None:
        """Run the job's check or import on the jobs' thread (queued behind others)."""
        self._executor.submit(self._run, job_id)

    def _run(self, job_id: int) -> None:
        try:
            status = run_job(
                self.session_factory, job_id, _JobProgress(self, job_id, self._row_during_writes)
            )
            log.info("import job %d ended: %s", job_id, status.value if status else "skipped")
        finally:
            with self._lock:
                self._board.pop(job_id, None)

    def interrupt_orphans(self) -> None:
        """Mark the jobs of dead processes of this host as interrupted (at start-up)."""
        with self.session_factory.begin() as session:
            files = interrupt_orphans(session, self.host, self.runner_id, _pid_alive)
        for path in files:
            path.unlink(missing_ok=True)

    def shutdown(self) -> None:
        """Stop taking jobs; a job already running finishes (its transaction is whole)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


IMPORTS = web.AppKey("imports", ImportRunner)


async def import_runner_ctx(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: the jobs' thread; orphaned jobs marked interrupted at start-up.

    Must come after the database context (it needs the session factory).
    """
    upload_dir = Path(tempfile.gettempdir()) / "napomni-imports"
    upload_dir.mkdir(mode=0o700, exist_ok=True)
    runner = ImportRunner(app[SESSION_FACTORY], upload_dir)
    await asyncio.to_thread(runner.interrupt_orphans)
    app[IMPORTS] = runner
    try:
        yield
    finally:
        runner.shutdown()


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded file on disk with the form's fields."""

    kind: ImportKind
    organisation_id: int
    file_name: str
    path: Path
    size: int


async def _small_field(part: BodyPartReader, name: str) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(_FIELD_BYTES):
        data.extend(chunk)
        if len(data) > _FIELD_BYTES:
            raise BadInput(f"поле {name}: слишком длинное значение")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise BadInput(f"поле {name}: не текст") from err


def _clean_file_name(raw: str | None) -> str:
    name = Path((raw or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable())[:200]
    if not name:
        raise BadInput("файл: не выбран")
    if not name.lower().endswith(_SUFFIXES):
        raise BadInput("файл: нужен CSV или XLSX (выгрузка из 1С)")
    return name


async def _save_file(part: BodyPartReader, runner: ImportRunner, name: str) -> tuple[Path, int]:
    suffix = Path(name).suffix.lower()
    fd, raw_path = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=runner.upload_dir)
    path = Path(raw_path)
    size = 0
    try:
        handle: IO[bytes] = os.fdopen(fd, "wb")
        try:
            buffer = bytearray()
            while chunk := await part.read_chunk(_CHUNK_BYTES):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise BadInput(f"файл: больше {MAX_UPLOAD_BYTES // 1024**2} МиБ")
                buffer.extend(chunk)
                if len(buffer) >= 4 * _CHUNK_BYTES:
                    # The disk write goes to a thread: the loop keeps serving others.
                    await asyncio.to_thread(handle.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await asyncio.to_thread(handle.write, bytes(buffer))
        finally:
            await asyncio.to_thread(handle.close)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    if size == 0:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise BadInput("файл: пустой")
    return path, size


async def receive_upload(request: web.Request, runner: ImportRunner) -> Upload:
    """Read the multipart form (``kind``, ``organisation_id``, ``file``), the file to disk.

    Refused with a :class:`BadInput` naming the field; a refused upload leaves no file.
    """
    if request.content_type != "multipart/form-data":
        raise BadInput(
            "тело запроса: ожидается multipart/form-data с полями kind, organisation_id и file"
        )
    fields: dict[str, str] = {}
    saved: tuple[Path, int, str] | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadInput("тело запроса: вложенные части не принимаются")
            if part.name == "file" and saved is None:
                name = _clean_file_name(part.filename)
                path, size = await _save_file(part, runner, name)
                saved = (path, size, name)
            elif part.name in ("kind", "organisation_id") and part.name not in fields:
                fields[part.name] = await _small_field(part, part.name)
            else:
                raise BadInput(f"тело запроса: лишнее поле {part.name or '(без имени)'}")
        return _upload(fields, saved)
    except (
        ValueError, LookupError, RuntimeError, AssertionError, asyncio.IncompleteReadError,
        HttpProcessingError,
    ) as err:  # fmt: skip
        # aiohttp's multipart reader refuses a broken body with these: a part header line
        # over its limit (LineTooLong), an unknown charset (LookupError) or transfer
        # encoding (RuntimeError), a body cut short.
        if saved is not None:
            await asyncio.to_thread(saved[0].unlink, missing_ok=True)
        raise BadInput("тело запроса: испорченная multipart-форма") from err
    except BaseException:
        if saved is not None:
            await asyncio.to_thread(saved[0].unlink, missing_ok=True)
        raise


def _upload(fields: dict[str, str], saved: tuple[Path, int, str] | None) -> Upload:
    kind_text = fields.get("kind", "")
    org_text = fields.get("organisation_id", "")
    problem: str | None = None
    if kind_text not in {k.value for k in ImportKind}:
        problem = "поле kind: ожидается debts (долги) или payments (платежи)"
    elif not (org_text.isascii() and org_text.isdigit() and 1 <= int(org_text) < 2**31):
        problem = "поле organisation_id: выберите организацию"
    if saved is None:
        raise BadInput(problem or "файл: не выбран")
    path, size, name = saved
    if problem is not None:
        raise BadInput(problem)  # the caller deletes the saved file
    return Upload(ImportKind(kind_text), int(org_text), name, path, size)
