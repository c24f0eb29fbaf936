"""1С files through the web: upload, the check's preview, the background import, the history.

An upload creates a job that is checked at once (a dry run of the same importer the CLI
uses); the job page shows what would change and, on «Импортировать», runs the import in
the background. Pages poll ``GET /api/imports/{id}`` (``web/static/imports.js``) for the
progress bar. The upload is sent by that script with the ``X-CSRF-Token`` header: the
multipart body is then streamed, never parsed as a whole form by the middleware.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.orm import Session

from storage.import_jobs import (
    JobView,
    create_job,
    discard_job,
    job_problems,
    list_jobs,
    load_job,
    start_import,
)
from storage.importing import RowProblem
from storage.models import Organisation
from storage.models.import_jobs import ImportKind, ImportStatus
from web.access import Principal, roles
from web.db import in_read, in_thread, in_transaction
from web.errors import BadInput, Conflict, NotFound
from web.exports import ExportColumn, ExportTable, to_csv_1c
from web.imports import IMPORT_ROLES, IMPORTS, LiveProgress, receive_upload
from web.pages import render
from web.requests import path_id, principal_of
from web.responses import download, json_ok, see_other, to_jsonable
from web.routing import ApiDoc, Param, RouteTable

__all__ = ["register"]

PROBLEMS_SHOWN = 200
HISTORY_SIZE = 50

KIND_TITLES = {ImportKind.DEBTS: "долги", ImportKind.PAYMENTS: "платежи"}
STATUS_TITLES = {
    ImportStatus.CHECKING: "проверяется",
    ImportStatus.CHECKED: "проверен, ждёт подтверждения",
    ImportStatus.IMPORTING: "импортируется",
    ImportStatus.DONE: "импортирован",
    ImportStatus.REJECTED: "отклонён, ничего не записано",
    ImportStatus.FAILED: "ошибка, ничего не записано",
    ImportStatus.INTERRUPTED: "прерван, ничего не записано",
    ImportStatus.DISCARDED: "отменён",
}
# The importer's two passes (storage.importing): «Проверка» reads every row, «Запись»
# writes them (a dry run writes and rolls back, so it can say exactly what would change).
_PASSES = ("Проверка", "Запись")
_PASS_TITLES = {
    (ImportStatus.CHECKING, "Проверка"): "Проверка строк файла",
    (ImportStatus.CHECKING, "Запись"): "Сверка с базой (ничего не записывается)",
    (ImportStatus.IMPORTING, "Проверка"): "Проверка строк файла",
    (ImportStatus.IMPORTING, "Запись"): "Запись в базу",
}
# What a check or an import reports, in the order a page shows it: (key, title, money?).
SUMMARY_FIELDS: dict[ImportKind, tuple[tuple[str, str, bool], ...]] = {
    ImportKind.DEBTS: (
        ("rows", "Строк в файле", False),
        ("accounts_in_file", "Лицевых счетов в файле", False),
        ("accounts_new", "Новых лицевых счетов", False),
        ("accounts_changed", "Изменённых лицевых счетов", False),
        ("lines_new", "Новых строк долга", False),
        ("lines_changed", "Изменённых строк долга", False),
        ("lines_unchanged", "Строк без изменений", False),
        ("total_debt", "Сумма долга в файле", True),
        ("total_peni", "Сумма пени в файле", True),
        ("people_new", "Новых людей", False),
        ("people_changed", "Изменённых людей", False),
        ("people_former", "Люди, переведённые в бывшие", False),
        ("phones_new", "Новых телефонов", False),
        ("phones_former", "Телефоны, переведённые в бывшие", False),
        ("warnings", "Предупреждений", False),
    ),
    ImportKind.PAYMENTS: (
        ("rows", "Строк в файле", False),
        ("payments_new", "Новых платежей", False),
        ("payments_known", "Уже загруженных платежей", False),
        ("total_amount", "Сумма платежей в файле", True),
        ("amount_new", "Сумма новых платежей", True),
        ("amount_allocated", "Разнесено по строкам долга", True),
        ("lines_closed", "Строк долга закрыто", False),
        ("warnings", "Предупреждений", False),
    ),
}


@dataclass(frozen=True, slots=True)
class JobProgress:
    """The progress bar of a job: a title and a percentage over both passes."""

    title: str
    percent: int


def progress_of(job: JobView, live: LiveProgress | None) -> JobProgress:
    """Both passes of the file are half of the bar each, so it never runs backwards."""
    if not job.status.running:
        return JobProgress(STATUS_TITLES[job.status], 100)
    phase, done, total = (
        (live.phase, live.done, live.total)
        if live
        else (job.phase, job.done_bytes, job.total_bytes)
    )
    if phase not in _PASSES:
        return JobProgress("В очереди", 0)
    share = min(done / total, 1.0) if total > 0 else 0.0
    percent = int((_PASSES.index(phase) + share) * 50)
    return JobProgress(_PASS_TITLES[(job.status, phase)], min(percent, 99))


def _visible_organisations(db: Session, principal: Principal) -> list[tuple[int, str]]:
    query = sa.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    if principal.organisation_ids is not None:
        query = query.where(Organisation.id.in_(principal.organisation_ids))
    return [(id_, name) for id_, name in db.execute(query)]


def _history_scope(principal: Principal) -> list[int] | None:
    ids = principal.organisation_ids
    return None if ids is None else sorted(ids)


def _job_for(db: Session, principal: Principal, job_id: int) -> JobView:
    job = load_job(db, job_id)
    if job is None or not principal.sees_organisation(job.organisation_id):
        raise NotFound("загрузка не найдена")
    return job


def _job_json(job: JobView, live: LiveProgress | None, problems: list[RowProblem]) -> object:
    raw = to_jsonable(job)
    data: dict[str, object] = dict(raw) if isinstance(raw, dict) else {}
    data.pop("runner", None)
    progress = progress_of(job, live)
    data["progress"] = {"title": progress.title, "percent": progress.percent}
    data["status_title"] = STATUS_TITLES[job.status]
    data["problems"] = [{"row": p.row, "column": p.column, "problem": p.problem} for p in problems]
    return data


# --- pages -------------------------------------------------------------------------------


async def imports_page(request: web.Request) -> web.Response:
    """The upload form and the history of imports."""
    principal = principal_of(request)

    def work(db: Session) -> dict[str, object]:
        return {
            "organisations": _visible_organisations(db, principal),
            "jobs": list_jobs(db, _history_scope(principal), limit=HISTORY_SIZE),
        }

    context = await in_read(request.app, work)
    return await render(request, "imports.html", {**context, **_titles()})


def _titles() -> Mapping[str, object]:
    return {"kind_titles": KIND_TITLES, "status_titles": STATUS_TITLES}


async def job_page(request: web.Request) -> web.Response:
    """One job: its progress, the check's preview, its rejected rows, its result."""
    principal = principal_of(request)
    job_id = path_id(request, "job_id")

    def work(db: Session) -> tuple[JobView, list[RowProblem]]:
        job = _job_for(db, principal, job_id)
        return job, job_problems(db, job_id, limit=PROBLEMS_SHOWN)

    job, problems = await in_read(request.app, work)
    live = request.app[IMPORTS].live(job_id)
    context = {
        "job": job,
        "problems": problems,
        "progress": progress_of(job, live),
        "fields": SUMMARY_FIELDS[job.kind],
        **_titles(),
    }
    return await render(request, "import_job.html", context)


async def _start(request: web.Request) -> int:
    principal = principal_of(request)
    job_id = path_id(request, "job_id")
    runner = request.app[IMPORTS]

    def work(db: Session) -> bool:
        _job_for(db, principal, job_id)
        return start_import(db, job_id, runner.runner_id)

    if not await in_transaction(request.app, work):
        raise Conflict("импорт уже запущен или файл не прошёл проверку")
    runner.submit(job_id)
    return job_id


async def _discard(request: web.Request) -> int:
    principal = principal_of(request)
    job_id = path_id(request, "job_id")

    def work(db: Session) -> bool:
        _job_for(db, principal, job_id)
        path = discard_job(db, job_id)
        if path is not None:
            path.unlink(missing_ok=True)
            return True
        return False

    if not await in_transaction(request.app, work):
        raise Conflict("отменить можно только проверенный, но не импортированный файл")
    return job_id


async def run_form(request: web.Request) -> web.Response:
    """«Импортировать»: the checked file is imported in the background."""
    job_id = await _start(request)
    return see_other(f"/imports/{job_id}")


async def discard_form(request: web.Request) -> web.Response:
    """«Отказаться»: the checked file is dropped."""
    job_id = await _discard(request)
    return see_other(f"/imports/{job_id}")


async def problems_csv(request: web.Request) -> web.Response:
    """The rejected rows as a CSV for 1С/Excel (formula-safe, like every export)."""
    principal = principal_of(request)
    job_id = path_id(request, "job_id")

    def work(db: Session) -> tuple[JobView, list[RowProblem]]:
        return _job_for(db, principal, job_id), job_problems(db, job_id)

    job, problems = await in_read(request.app, work)
    table = ExportTable(
        title="Ошибки загрузки",
        columns=(
            ExportColumn("Файл"),
            ExportColumn("Строка", "int"),
            ExportColumn("Столбец"),
            ExportColumn("Ошибка"),
        ),  # fmt: skip
        rows=[(job.file_name, p.row, p.column, p.problem) for p in problems],
    )
    body = await in_thread(request.app, lambda: to_csv_1c(table))
    return download(body, f"ошибки-загрузки-{job_id}.csv", "text/csv")


# --- API ---------------------------------------------------------------------------------


async def upload_api(request: web.Request) -> web.Response:
    """API: upload a debts or payments file; its check starts at once (202)."""
    principal = principal_of(request)
    runner = request.app[IMPORTS]
    upload = await receive_upload(request, runner)
    try:
        if not principal.sees_organisation(upload.organisation_id):
            raise BadInput("поле organisation_id: нет такой организации")

        def work(db: Session) -> int:
            if db.get(Organisation, upload.organisation_id) is None:
                raise BadInput("поле organisation_id: нет такой организации")
            return create_job(
                db,
                organisation_id=upload.organisation_id,
                user_id=principal.user_id,
                kind=upload.kind,
                file_name=upload.file_name,
                file_bytes=upload.size,
                stored_path=upload.path,
                runner=runner.runner_id,
            )

        job_id = await in_transaction(request.app, work)
    except BaseException:
        await asyncio.to_thread(upload.path.unlink, missing_ok=True)
        raise
    runner.submit(job_id)
    return json_ok({"id": job_id, "url": f"/imports/{job_id}"}, status=202)


async def jobs_api(request: web.Request) -> web.Response:
    """API: the history of imports (newest first)."""
    principal = principal_of(request)
    jobs = await in_read(
        request.app, lambda db: list_jobs(db, _history_scope(principal), limit=HISTORY_SIZE)
    )
    return json_ok([_job_json(job, None, []) for job in jobs])


async def job_api(request: web.Request) -> web.Response:
    """API: one job with its progress and the first rejected rows."""
    principal = principal_of(request)
    job_id = path_id(request, "job_id")

    def work(db: Session) -> tuple[JobView, list[RowProblem]]:
        return _job_for(db, principal, job_id), job_problems(db, job_id, limit=PROBLEMS_SHOWN)

    job, problems = await in_read(request.app, work)
    return json_ok(_job_json(job, request.app[IMPORTS].live(job_id), problems))


async def run_api(request: web.Request) -> web.Response:
    """API: import a checked file (202; poll the job)."""
    job_id = await _start(request)
    return json_ok({"id": job_id, "url": f"/imports/{job_id}"}, status=202)


async def discard_api(request: web.Request) -> web.Response:
    """API: drop a checked file."""
    job_id = await _discard(request)
    return json_ok({"id": job_id})


_MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
_SUMMARY = {"type": ["object", "null"], "additionalProperties": True}
_JOB = {
    "type": "object",
    "required": ["id", "kind", "status", "progress", "problems"],
    "properties": {
        "id": {"type": "integer"},
        "organisation_id": {"type": "integer"},
        "organisation": {"type": "string"},
        "user": {"type": "string"},
        "kind": {"type": "string", "enum": [k.value for k in ImportKind]},
        "file_name": {"type": "string"},
        "file_bytes": {"type": "integer"},
        "status": {"type": "string", "enum": [s.value for s in ImportStatus]},
        "status_title": {"type": "string"},
        "phase": {"type": "string"},
        "done_bytes": {"type": "integer"},
        "total_bytes": {"type": "integer"},
        "rows": {"type": ["integer", "null"]},
        "preview": _SUMMARY,
        "result": _SUMMARY,
        "error": {"type": ["string", "null"]},
        "problems_total": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "progress": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "percent": {"type": "integer"}},
        },
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer"},
                    "column": {"type": "string"},
                    "problem": {"type": "string"},
                },
            },
        },
    },
}
_STARTED = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "integer"}, "url": {"type": "string"}},
}
_JOB_ID = Param("job_id", "path", {"type": "integer", "minimum": 1}, "Загрузка")


def register(table: RouteTable) -> None:
    """Add the import pages and API."""
    policy = roles(*IMPORT_ROLES)
    table.add("GET", "/imports", imports_page, policy)
    table.add("GET", r"/imports/{job_id:\d+}", job_page, policy)
    table.add("POST", r"/imports/{job_id:\d+}/run", run_form, policy)
    table.add("POST", r"/imports/{job_id:\d+}/discard", discard_form, policy)
    table.add("GET", r"/imports/{job_id:\d+}/errors.csv", problems_csv, policy)
    table.add(
        "POST",
        "/api/imports",
        upload_api,
        policy,
        api=ApiDoc(
            operation_id="uploadImport",
            summary=(
                "Загрузить файл 1С (multipart/form-data: kind = debts|payments, "
                "organisation_id, file — CSV или XLSX); проверка начинается сразу"
            ),
            tag="imports",
            response=_STARTED,
            status=202,
            errors=(400, 401, 403),
        ),
    )
    table.add(
        "GET",
        "/api/imports",
        jobs_api,
        policy,
        api=ApiDoc(
            operation_id="listImports",
            summary="История загрузок из 1С (последние 50)",
            tag="imports",
            response={"type": "array", "items": _JOB},
            errors=(401, 403),
        ),
    )
    table.add(
        "GET",
        r"/api/imports/{job_id:\d+}",
        job_api,
        policy,
        api=ApiDoc(
            operation_id="getImport",
            summary="Загрузка: состояние, ход, что изменится или изменилось, ошибки строк",
            tag="imports",
            response=_JOB,
            params=(_JOB_ID,),
            errors=(401, 403, 404),
        ),
    )
    table.add(
        "POST",
        r"/api/imports/{job_id:\d+}/run",
        run_api,
        policy,
        api=ApiDoc(
            operation_id="runImport",
            summary="Импортировать проверенный файл (в фоне)",
            tag="imports",
            response=_STARTED,
            params=(_JOB_ID,),
            status=202,
            errors=(401, 403, 404, 409),
        ),
    )
    table.add(
        "POST",
        r"/api/imports/{job_id:\d+}/discard",
        discard_api,
        policy,
        api=ApiDoc(
            operation_id="discardImport",
            summary="Отказаться от проверенного файла",
            tag="imports",
            response=_STARTED,
            params=(_JOB_ID,),
            errors=(401, 403, 404, 409),
        ),
    )
