"""1С files through the web: upload, dry-run preview, background import, errors, history, roles.

A real server and database (SQLite and PostgreSQL); the files go through the same importer
as ``napomni import``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage.import_jobs import create_job, interrupt_orphans, load_job
from storage.models import Account, DebtLine, Payment
from storage.models.import_jobs import ImportJob, ImportKind, ImportStatus
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld

MakeUser = Callable[[], Awaitable[WebUser]]

HEADER = "Лицевой счет;ФИО;Адрес;Телефон;Услуга;Период;Начислено;Оплачено;Сальдо конечное;Пени"
JOB_TIMEOUT_S = 60.0


@pytest.fixture(autouse=True)
def _no_leftover_uploads(
    web_world: WebWorld, session_factory: sessionmaker[Session]
) -> Iterator[None]:
    """Checked files nobody imported stay on disk by design: the tests' ones are deleted."""
    yield
    with session_factory() as session:
        paths = session.scalars(
            sa.select(ImportJob.stored_path).where(
                ImportJob.organisation_id.in_((web_world.org_a, web_world.org_b)),
                ImportJob.stored_path.is_not(None),
            )
        ).all()
    for path in paths:
        if path:
            Path(path).unlink(missing_ok=True)


def debts_csv(prefix: str, *, bad_period: bool = False) -> bytes:
    """Two accounts, three lines; with ``bad_period`` the third data row (line 4) is bad."""
    rows = [
        HEADER,
        f"{prefix}-1;Иванова Анна Петровна;г. Тверь, ул. Советская, д. 5, кв. 12;8 916 123-45-67;Отопление;10.2026;1000,00;0,00;1000,00;0,00",
        f"{prefix}-1;Иванова Анна Петровна;г. Тверь, ул. Советская, д. 5, кв. 12;8 916 123-45-67;ХВС;10.2026;200,50;0,00;200,50;0,00",
        f"{prefix}-2;Петров Иван Ильич;г. Тверь, ул. Советская, д. 5, кв. 13;8 916 765-43-21;Отопление;{'13.2026' if bad_period else '10.2026'};900,00;0,00;900,00;1,50",
    ]  # fmt: skip
    return ("\r\n".join(rows) + "\r\n").encode("utf-8")


def _form(kind: str, organisation_id: int, body: bytes, name: str = "osv.csv") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("kind", kind)
    form.add_field("organisation_id", str(organisation_id))
    form.add_field("file", body, filename=name, content_type="text/csv")
    return form


async def upload(user: WebUser, kind: str, organisation_id: int, body: bytes) -> tuple[int, dict[str, object]]:  # fmt: skip
    async with user.http.post(
        "/api/imports", data=_form(kind, organisation_id, body), headers={"X-CSRF-Token": user.csrf}
    ) as response:
        return response.status, await response.json()


async def wait_job(user: WebUser, job_id: object) -> dict[str, object]:
    """The job once it is no longer running (bounded: names the job on timeout)."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        async with user.http.get(f"/api/imports/{job_id}") as response:
            assert response.status == 200, await response.text()
            job: dict[str, object] = await response.json()
        if job["status"] not in ("checking", "importing"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(
                f"import job {job_id} still {job['status']} after {JOB_TIMEOUT_S} s"
            )
        await asyncio.sleep(0.05)


async def signed_in(make_user: MakeUser, web_world: WebWorld, role: UserRole) -> WebUser:
    user = await make_user()
    assert await user.sign_in(web_world.logins[role]) == 303
    return user


def _accounts(session_factory: sessionmaker[Session], prefix: str) -> list[str]:
    with session_factory() as session:
        return sorted(
            session.scalars(sa.select(Account.number).where(Account.number.like(f"{prefix}-%")))
        )


async def test_a_dry_run_shows_what_would_change_and_writes_nothing(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    user = await signed_in(make_user, web_world, UserRole.CAMPAIGN_MANAGER)
    prefix = f"W{uuid.uuid4().hex[:6]}"
    status, started = await upload(user, "debts", web_world.org_a, debts_csv(prefix))
    assert status == 202, started
    job = await wait_job(user, started["id"])
    assert job["status"] == "checked", job
    preview = job["preview"]
    assert isinstance(preview, dict)
    assert preview["accounts_new"] == 2
    assert preview["lines_new"] == 3
    assert preview["total_debt"] == "2100.50"
    assert preview["phones_new"] == 2
    assert _accounts(session_factory, prefix) == []
    async with user.http.get(f"/imports/{started['id']}") as response:
        html = await response.text()
    assert "Что изменится" in html
    assert "Импортировать" in html


async def test_a_bad_row_is_listed_and_nothing_is_written(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    user = await signed_in(make_user, web_world, UserRole.ADMIN)
    prefix = f"X{uuid.uuid4().hex[:6]}"
    status, started = await upload(user, "debts", web_world.org_a, debts_csv(prefix, bad_period=True))  # fmt: skip
    assert status == 202, started
    job = await wait_job(user, started["id"])
    assert job["status"] == "rejected"
    assert job["problems_total"] == 1
    problems = job["problems"]
    assert isinstance(problems, list)
    assert problems[0]["row"] == 4
    assert problems[0]["column"] == "Период"
    assert _accounts(session_factory, prefix) == []
    async with user.http.post(
        f"/api/imports/{started['id']}/run", headers={"X-CSRF-Token": user.csrf}
    ) as response:
        assert response.status == 409  # a rejected file cannot be imported
    async with user.http.get(f"/imports/{started['id']}/errors.csv") as response:
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        text = (await response.read()).decode("cp1251")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Файл", "Строка", "Столбец", "Ошибка"]
    assert rows[1][:3] == ["osv.csv", "4", "Период"]
    async with user.http.get(f"/imports/{started['id']}") as response:
        html = await response.text()
    assert "Ошибки в строках: 1" in html
    assert "ничего не записано" in html


async def test_a_good_file_is_imported_in_the_background_and_kept_in_the_history(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    user = await signed_in(make_user, web_world, UserRole.CAMPAIGN_MANAGER)
    prefix = f"Y{uuid.uuid4().hex[:6]}"
    _, started = await upload(user, "debts", web_world.org_a, debts_csv(prefix))
    assert (await wait_job(user, started["id"]))["status"] == "checked"
    async with user.http.post(
        f"/api/imports/{started['id']}/run", headers={"X-CSRF-Token": user.csrf}
    ) as response:
        assert response.status == 202, await response.text()
    job = await wait_job(user, started["id"])
    assert job["status"] == "done", job
    result = job["result"]
    assert isinstance(result, dict)
    assert result["lines_new"] == 3
    assert _accounts(session_factory, prefix) == [f"{prefix}-1", f"{prefix}-2"]
    with session_factory() as session:
        lines = session.scalar(
            sa.select(sa.func.count(DebtLine.id))
            .join(Account, Account.id == DebtLine.account_id)
            .where(Account.number.like(f"{prefix}-%"), Account.organisation_id == web_world.org_a)
        )
        stored = session.get(ImportJob, started["id"])
        assert stored is not None
        assert stored.stored_path is None
    assert lines == 3
    # Importing the same file again changes nothing (the importer is idempotent).
    _, again = await upload(user, "debts", web_world.org_a, debts_csv(prefix))
    second = await wait_job(user, again["id"])
    preview = second["preview"]
    assert isinstance(preview, dict)
    assert preview["lines_new"] == 0
    assert preview["lines_unchanged"] == 3
    async with user.http.get("/api/imports") as response:
        history = await response.json()
    mine = next(item for item in history if item["id"] == started["id"])
    assert mine["user"] == f"Сотрудник {UserRole.CAMPAIGN_MANAGER.value}"
    assert mine["file_name"] == "osv.csv"
    assert mine["kind"] == "debts"
    assert mine["rows"] == 3
    async with user.http.get("/imports") as response:
        html = await response.text()
    assert "История загрузок" in html
    assert "импортирован" in html


async def test_payments_for_known_accounts(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    user = await signed_in(make_user, web_world, UserRole.ADMIN)
    with session_factory() as session:
        number = session.scalar(sa.select(Account.number).where(Account.id == web_world.account_a))
    document = f"ПП-{uuid.uuid4().hex[:6]}"
    body = (
        "Лицевой счет;Дата оплаты;Сумма;Номер документа;Способ оплаты\r\n"
        f"{number};05.11.2026;500,00;{document};банк\r\n"
    ).encode()
    _, started = await upload(user, "payments", web_world.org_a, body)
    job = await wait_job(user, started["id"])
    assert job["status"] == "checked", job
    async with user.http.post(
        f"/api/imports/{started['id']}/run", headers={"X-CSRF-Token": user.csrf}
    ) as response:
        assert response.status == 202
    assert (await wait_job(user, started["id"]))["status"] == "done"
    with session_factory() as session:
        assert session.scalar(sa.select(Payment.amount).where(Payment.document == document))


async def test_only_admins_and_campaign_managers_import(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    for role in (UserRole.COLLECTOR, UserRole.MANAGER):
        user = await signed_in(make_user, web_world, role)
        async with user.http.get("/imports") as response:
            assert response.status == 403
        status, _ = await upload(user, "debts", web_world.org_a, debts_csv("Z"))
        assert status == 403
    anonymous = await make_user()
    async with anonymous.http.get("/api/imports") as response:
        assert response.status == 401


async def test_another_organisations_jobs_are_invisible(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    manager = await signed_in(make_user, web_world, UserRole.CAMPAIGN_MANAGER)
    status, refused = await upload(manager, "debts", web_world.org_b, debts_csv("Q"))
    assert status == 400
    assert "organisation_id" in str(refused["error"])
    admin = await signed_in(make_user, web_world, UserRole.ADMIN)
    _, started = await upload(
        admin, "debts", web_world.org_b, debts_csv(f"B{uuid.uuid4().hex[:6]}")
    )
    await wait_job(admin, started["id"])
    for path in (f"/api/imports/{started['id']}", f"/imports/{started['id']}",
                 f"/imports/{started['id']}/errors.csv"):  # fmt: skip
        async with manager.http.get(path) as response:
            assert response.status == 404, path
    async with manager.http.post(
        f"/api/imports/{started['id']}/run", headers={"X-CSRF-Token": manager.csrf}
    ) as response:
        assert response.status == 404
    async with manager.http.get("/api/imports") as response:
        assert all(item["organisation_id"] == web_world.org_a for item in await response.json())


async def test_changes_need_the_csrf_token(make_user: MakeUser, web_world: WebWorld) -> None:
    user = await signed_in(make_user, web_world, UserRole.ADMIN)
    async with user.http.post("/api/imports", data=_form("debts", web_world.org_a, debts_csv("C"))) as response:  # fmt: skip
        assert response.status == 403
    _, started = await upload(user, "debts", web_world.org_a, debts_csv(f"C{uuid.uuid4().hex[:6]}"))
    await wait_job(user, started["id"])
    async with user.http.post(f"/api/imports/{started['id']}/run") as response:
        assert response.status == 403
    async with user.http.post(
        f"/imports/{started['id']}/run", data={"csrf_token": "forged"}, allow_redirects=False
    ) as response:
        assert response.status == 403


async def test_a_broken_upload_is_refused_by_field(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    user = await signed_in(make_user, web_world, UserRole.ADMIN)
    status, body = await upload(user, "salaries", web_world.org_a, debts_csv("K"))
    assert status == 400
    assert "kind" in str(body["error"])
    form = aiohttp.FormData()
    form.add_field("kind", "debts")
    form.add_field("organisation_id", str(web_world.org_a))
    form.add_field("file", b"MZ...", filename="virus.exe")
    async with user.http.post("/api/imports", data=form, headers={"X-CSRF-Token": user.csrf}) as response:  # fmt: skip
        assert response.status == 400
        assert "CSV или XLSX" in (await response.json())["error"]


def test_a_job_of_a_dead_process_is_marked_interrupted(
    session_factory: sessionmaker[Session], web_world: WebWorld, tmp_path: Path
) -> None:
    host = socket.gethostname()
    upload_file = tmp_path / "upload.csv"
    upload_file.write_bytes(debts_csv("D"))
    with session_factory.begin() as session:
        job_id = create_job(
            session, organisation_id=web_world.org_a, user_id=None, kind=ImportKind.DEBTS,
            file_name="osv.csv", file_bytes=10, stored_path=upload_file,
            runner=f"{host}:999999:old",
        )  # fmt: skip
        other_host = create_job(
            session, organisation_id=web_world.org_a, user_id=None, kind=ImportKind.DEBTS,
            file_name="osv.csv", file_bytes=10, stored_path=upload_file,
            runner="elsewhere:1:boot",
        )  # fmt: skip
    with session_factory.begin() as session:
        files = interrupt_orphans(session, host, f"{host}:1234:new", lambda pid: False)
    assert upload_file in files
    with session_factory() as session:
        interrupted = load_job(session, job_id)
        untouched = load_job(session, other_host)
    assert interrupted is not None
    assert interrupted.status is ImportStatus.INTERRUPTED
    assert interrupted.error is not None
    assert "прервана" in interrupted.error
    assert untouched is not None
    assert untouched.status is ImportStatus.CHECKING


def test_the_migration_matches_the_models(engine: sa.Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.models import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [
            d for d in compare_metadata(context, Base.metadata)
            if "'import_jobs'" in repr(d) or "'import_problems'" in repr(d)
        ]  # fmt: skip
    assert differences == []


async def test_a_restarted_service_shows_the_dead_job_as_interrupted(
    database_url: str, web_world: WebWorld, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    import sys

    from aiohttp.test_utils import TestServer

    from tests.web.conftest import web_config
    from web.app import create_app

    # A pid that surely ended: the process that ran the job before the "restart".
    ended = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await ended.wait()
    upload_file = tmp_path / "upload.csv"
    upload_file.write_bytes(debts_csv("R"))
    with session_factory.begin() as session:
        job_id = create_job(
            session, organisation_id=web_world.org_a, user_id=None, kind=ImportKind.DEBTS,
            file_name="osv.csv", file_bytes=10, stored_path=upload_file,
            runner=f"{socket.gethostname()}:{ended.pid}:before",
        )  # fmt: skip
        session.execute(
            sa.update(ImportJob).where(ImportJob.id == job_id).values(status="importing")
        )
    server = TestServer(create_app(web_config(database_url)), host="127.0.0.1")
    await server.start_server()
    try:
        user = WebUser(server)
        try:
            assert await user.sign_in(web_world.logins[UserRole.ADMIN]) == 303
            async with user.http.get(f"/api/imports/{job_id}") as response:
                job = await response.json()
            async with user.http.get(f"/imports/{job_id}") as response:
                html = await response.text()
        finally:
            await user.close()
    finally:
        await server.close()
    assert job["status"] == "interrupted"
    assert "прерван" in html
    assert not upload_file.exists()


async def test_hostile_multipart_bodies_are_a_400(make_user: MakeUser, web_world: WebWorld) -> None:
    user = await signed_in(make_user, web_world, UserRole.ADMIN)
    parts = [
        b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Transfer-Encoding: x-foo\r\n\r\nabc\r\n--zz--\r\n",
        b'--zz\r\nContent-Disposition: form-data; name="kind"\r\n'
        b"Content-Type: text/plain; charset=bogus-42\r\n\r\n" + b"x" * 100 + b"\r\n--zz--\r\n",
        b"--zz\r\nX-Long: " + b"h" * (600 * 1024) + b"\r\n\r\nabc\r\n--zz--\r\n",
        b"--zz\r\nbroken",
    ]
    for body in parts:
        async with user.http.post(
            "/api/imports",
            data=body,
            headers={"X-CSRF-Token": user.csrf, "Content-Type": "multipart/form-data; boundary=zz"},
        ) as response:
            assert response.status in (400, 413), (body[:80], await response.text())
