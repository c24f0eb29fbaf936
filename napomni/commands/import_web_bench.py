"""``napomni bench import-web``: a million-line 1С export uploaded, checked and imported
through the web service (SQLite), with the process's memory and the API's latency meanwhile.

The service runs in this process (its own thread and event loop) and the client streams
the file from disk, so the peak RSS printed is the server's plus a small client: an upper
bound for the server alone. The API is polled twice a second while the job runs; its
slowest answer shows whether the event loop stayed free.
"""

from __future__ import annotations

import asyncio
import math
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.commands.import_bench import LINES_PER_ACCOUNT
from napomni.settings import Settings

if TYPE_CHECKING:
    import aiohttp

__all__ = ["bench_import_web"]

_PASSWORD = "bench-import-web-" + "x" * 8
_POLL_S = 0.5
_JOB_TIMEOUT_S = 3600.0


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


@dataclass(slots=True)
class _Watch:
    """What the poller saw while a job ran."""

    latencies_s: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)


async def _wait(
    http: aiohttp.ClientSession, base: str, job_id: int, watch: _Watch
) -> dict[str, object]:
    deadline = time.monotonic() + _JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        started = time.perf_counter()
        async with http.get(f"{base}/api/imports/{job_id}") as response:
            job: dict[str, object] = await response.json()
        watch.latencies_s.append(time.perf_counter() - started)
        watch.rss_mib.append(_rss_mib())
        if job["status"] not in ("checking", "importing"):
            return job
        await asyncio.sleep(_POLL_S)
    raise click.ClickException(f"загрузка {job_id} не закончилась за {_JOB_TIMEOUT_S:.0f} с")


async def _run(base: str, login: str, organisation_id: int, path: Path) -> None:
    import re

    import aiohttp

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login") as response:
            match = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
        if match is None:
            raise click.ClickException("нет CSRF-токена на странице входа")
        data = {"csrf_token": match.group(1), "login": login, "password": _PASSWORD, "next": ""}
        async with http.post(f"{base}/login", data=data, allow_redirects=False) as response:
            if response.status != 303:
                raise click.ClickException(f"вход не удался: {response.status}")
        async with http.get(f"{base}/api/me") as response:
            csrf = (await response.json())["csrf_token"]
        headers = {"X-CSRF-Token": csrf}
        started = time.perf_counter()
        with path.open("rb") as file:
            form = aiohttp.FormData()
            form.add_field("kind", "debts")
            form.add_field("organisation_id", str(organisation_id))
            form.add_field("file", file, filename="osv.csv", content_type="text/csv")
            async with http.post(f"{base}/api/imports", data=form, headers=headers) as response:
                if response.status != 202:
                    raise click.ClickException(f"файл не принят: {await response.text()}")
                job_id = int((await response.json())["id"])
        uploaded = time.perf_counter()
        click.echo(f"отправка файла: {uploaded - started:.1f} с; память {_rss_mib():.0f} МиБ")
        check = _Watch()
        job = await _wait(http, base, job_id, check)
        checked = time.perf_counter()
        if job["status"] != "checked":
            raise click.ClickException(f"проверка не прошла: {job['status']} {job.get('error')}")
        click.echo(f"проверка (dry run): {checked - uploaded:.1f} с; {_report(check)}")
        async with http.post(f"{base}/api/imports/{job_id}/run", headers=headers) as response:
            if response.status != 202:
                raise click.ClickException(f"импорт не запущен: {await response.text()}")
        work = _Watch()
        job = await _wait(http, base, job_id, work)
        done = time.perf_counter()
        if job["status"] != "done":
            raise click.ClickException(f"импорт не прошёл: {job['status']} {job.get('error')}")
        click.echo(f"импорт: {done - checked:.1f} с; {_report(work)}")
        click.echo(f"строк: {job['rows']}; всего от отправки до конца {done - started:.1f} с")


def _report(watch: _Watch) -> str:
    if not watch.latencies_s:
        return "опросов не было"
    slowest = max(watch.latencies_s) * 1000
    median = sorted(watch.latencies_s)[len(watch.latencies_s) // 2] * 1000
    return (
        f"ответ API: медиана {median:.0f} мс, худший {slowest:.0f} мс "
        f"({len(watch.latencies_s)} опросов, дольше 0,25 с: "
        f"{sum(1 for s in watch.latencies_s if s > 0.25)}); память до {max(watch.rss_mib):.0f} МиБ"
    )


@click.command(
    "import-web",
    help="Загрузка ведомости (по умолчанию 1 000 000 строк) через веб: проверка и импорт, память.",
)
@click.option("--lines", type=click.IntRange(96, 50_000_000), default=1_000_000, show_default=True)
@click.pass_obj
def bench_import_web(settings: Settings, lines: int) -> None:
    from napomni.commands.db import quiet_migration_log
    from storage.database import make_engine, make_session_factory, upgrade_to_heads
    from storage.models import Organisation
    from storage.models.users import UserRole
    from storage.samples import write_debts
    from web.config import WebConfig
    from web.passwords import hash_password
    from web.server import ThreadedServer
    from web.users import NewUser, create_user

    quiet_migration_log(settings)
    directory = settings.data_dir / "bench-import-web"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    try:
        path = directory / "debts.csv"
        accounts = math.ceil(lines / LINES_PER_ACCOUNT)
        started = time.perf_counter()
        write_debts(path, accounts)
        click.echo(
            f"файл: {accounts * LINES_PER_ACCOUNT} строк, {path.stat().st_size / 2**20:.0f} МиБ, "
            f"создан за {time.perf_counter() - started:.1f} с"
        )
        url = f"sqlite:///{directory / 'bench.db'}"
        upgrade_to_heads(url)
        engine = make_engine(url)
        with make_session_factory(engine).begin() as session:
            organisation = Organisation(name="Замер")
            session.add(organisation)
            session.flush()
            organisation_id = organisation.id
            create_user(
                session,
                NewUser("bench-import", hash_password(_PASSWORD), UserRole.ADMIN, (), "Замер"),
            )
        engine.dispose()
        config = WebConfig(database_url=url, secret="bench-import-web-" + "s" * 40)
        with ThreadedServer(config) as server:
            click.echo(
                f"память процесса до загрузки: {_rss_mib():.0f} МиБ "
                f"(пиковая до неё {_peak_rss_mib():.0f} МиБ)"
            )
            asyncio.run(_run(server.url, "bench-import", organisation_id, path))
        click.echo(f"пиковая память процесса (сервер и клиент): {_peak_rss_mib():.0f} МиБ")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
