"""``napomni bench web``: report pages over a million calls, and API latency under load.

Builds a synthetic call history set-based (``INSERT … SELECT`` over a counter) in a fresh
database, starts the web service on 127.0.0.1 in this process (its own thread and loop),
times every report page and API report, then runs N concurrent signed-in clients against
the JSON API and prints p50/p95/p99 latency. Nothing is asserted: figures are printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["bench_web"]

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
BENCH_PASSWORD = "bench-password-" + "x" * 8
_TAGS = (
    "financial_hardship", "dispute_amount", "service_complaint", "wrong_person",
    "unaware", "away", "refusal", "already_paid",
)  # fmt: skip


def _counter(dialect: str, first: str = "1") -> str:
    if dialect == "postgresql":
        return f"WITH n(i) AS (SELECT generate_series({first}, :count)) "
    return (
        f"WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
    )


# Calls are stored in chunks of this many, one transaction each, as a dialler stores
# them over time: the report summaries' triggers update a few thousand counter rows, and
# PostgreSQL cannot prune a row's old versions while one transaction keeps updating it.
CHUNK_CALLS = 50_000


def _build(factory: sessionmaker[Session], dialect: str, calls: int, name: str) -> tuple[int, int]:
    """Seed one organisation with accounts, debts, payments, calls, turns, promises."""
    import sqlalchemy as sa

    from storage.models import Building, Organisation

    pg = dialect == "postgresql"
    accounts = max(calls // 10, 1000)
    tags = "CASE c.id % 8 " + " ".join(
        f"WHEN {k} THEN '{{\"{tag}\": 0.9, \"promise_to_pay\": 0.8}}'" for k, tag in enumerate(_TAGS)
    ) + " END"  # fmt: skip
    # The day does not follow the building (n.i / 200, not n.i), so calls spread over
    # every day × building as real ones do, not over a few hundred pairs.
    ago = "(:now - (n.i / 200 % 80) * interval '1 day' - (n.i % 600) * interval '1 second')" if pg else (
        "datetime(:now, '-' || (n.i / 200 % 80) || ' days', '-' || (n.i % 600) || ' seconds')"
    )  # fmt: skip
    answered = (
        "c.started_at + interval '5 second'" if pg else "datetime(c.started_at, '+5 seconds')"
    )
    due = "CAST(c.started_at AS DATE) + 5" if pg else "date(c.started_at, '+5 days')"
    paid_on = (
        "CAST(:now AS DATE) - (a.id % 60)" if pg else "date(:now, '-' || (a.id % 60) || ' days')"
    )
    json_cast = "CAST(({tags}) AS JSON)" if pg else "({tags})"
    with factory.begin() as session:
        organisation = Organisation(name=name)
        session.add(organisation)
        session.flush()
        org = organisation.id
        session.add_all(
            Building(organisation_id=org, address=f"ул. Тестовая, {k}") for k in range(1, 201)
        )
        session.flush()
        first_building = session.scalar(
            sa.select(sa.func.min(Building.id)).where(Building.organisation_id == org)
        )
        p = {"now": NOW, "org": org, "count": accounts, "b0": first_building}
        session.execute(sa.text(
            _counter(dialect) + "INSERT INTO accounts (organisation_id, building_id, number, address, "
            "time_zone, created_at, updated_at) SELECT :org, :b0 + n.i % 200, 'W' || n.i, "
            "'ул. Тестовая', 'Europe/Moscow', :now, :now FROM n"), p)  # fmt: skip
        session.execute(sa.text(
            "INSERT INTO debt_lines (organisation_id, account_id, service, period, charged, paid, "
            "debt, peni, updated_at) SELECT :org, id, 'ЖКУ', :period, 5000, 5000 - id % 5000, "
            "id % 5000, 0, :now FROM accounts WHERE organisation_id = :org"),
            {**p, "period": dt.date(2026, 10, 1)})  # fmt: skip
        # Two more services on some accounts, so reasons by service have several rows.
        for service, every in (("Отопление", 3), ("Водоснабжение", 4)):
            session.execute(sa.text(
                "INSERT INTO debt_lines (organisation_id, account_id, service, period, charged, "
                "paid, debt, peni, updated_at) SELECT :org, id, :service, :period, 900, 0, 900, 0, "
                ":now FROM accounts WHERE organisation_id = :org AND id % :every = 0"),
                {**p, "period": dt.date(2026, 10, 1), "service": service, "every": every})  # fmt: skip
        session.execute(sa.text(
            f"INSERT INTO payments (organisation_id, account_id, paid_on, amount, channel, document, "
            f"created_at) SELECT :org, a.id, {paid_on}, 1500, 'bank', 'W' || a.id, :now "
            f"FROM accounts a WHERE a.organisation_id = :org AND a.id % 5 = 0"), p)  # fmt: skip
        first_account = session.scalar(
            sa.text("SELECT min(id) FROM accounts WHERE organisation_id = :org"), p
        )
    for first in range(1, calls + 1, CHUNK_CALLS):
        with factory.begin() as session:
            scope = {"a0": first_account, "accounts": accounts,
                     "before": session.scalar(sa.text("SELECT coalesce(max(id), 0) FROM calls"))}  # fmt: skip
            _chunk(session, dialect, first, min(first + CHUNK_CALLS - 1, calls), scope,
                   {"ago": ago, "answered": answered, "due": due, "json": json_cast.format(tags=tags)})  # fmt: skip
    return org, accounts


def _built(factory: sessionmaker[Session]) -> int:
    """The organisation of the latest history built by this command."""
    import sqlalchemy as sa

    from storage.models import Organisation

    with factory() as session:
        org = session.scalar(
            sa.select(Organisation.id)
            .where(Organisation.name.like("bench-web-%"))
            .order_by(Organisation.id.desc())
        )
    if org is None:
        raise click.ClickException("в базе нет построенной истории: запустите без --reuse")
    return org


def _chunk(
    session: Session,
    dialect: str,
    first: int,
    last: int,
    scope: dict[str, object],
    sql: dict[str, str],
) -> None:
    """Calls ``first..last`` of the counter, with their answers, turns and promises."""
    import sqlalchemy as sa

    mine = "c.account_id >= :a0 AND c.account_id < :a0 + :accounts AND c.id > :before"
    session.execute(sa.text(
        _counter(dialect, ":first") + "INSERT INTO calls (account_id, script, started_at, outcome, "
        f"counted_as) SELECT :a0 + n.i % :accounts, 'soft_reminder', {sql['ago']}, "
        "CASE n.i % 4 WHEN 0 THEN 'conversation' WHEN 1 THEN 'voicemail' ELSE 'no_answer' END, "
        "CASE n.i % 4 WHEN 0 THEN 'conversation' WHEN 1 THEN 'message' ELSE 'none' END FROM n"),
        {"now": NOW, "first": first, "count": last, **scope})  # fmt: skip
    session.execute(sa.text(
        f"UPDATE calls SET answered_at = {sql['answered'].replace('c.', '')} "
        f"WHERE outcome IN ('conversation', 'voicemail') AND account_id >= :a0 "
        f"AND account_id < :a0 + :accounts AND id > :before"), scope)  # fmt: skip
    session.execute(sa.text(
        'INSERT INTO turns (call_id, "index", robot_text, debtor_text, asked, tags, created_at) '
        f"SELECT c.id, 0, 'Почему возникла задолженность?', 'денег нет', 'reason', "
        f"{sql['json']}, c.started_at FROM calls c "
        f"WHERE c.counted_as = 'conversation' AND {mine}"), scope)  # fmt: skip
    session.execute(sa.text(
        f"INSERT INTO promises (account_id, call_id, due_on, amount, debt_at_promise, status, "
        f"made_at) SELECT c.account_id, c.id, {sql['due']}, 1000, 5000, "
        f"CASE c.id % 3 WHEN 0 THEN 'kept' WHEN 1 THEN 'broken' ELSE 'made' END, c.started_at "
        f"FROM calls c WHERE c.counted_as = 'conversation' AND c.id % 2 = 0 AND {mine}"), scope)  # fmt: skip


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _sign_in(base: str, login: str) -> dict[str, str]:
    import re

    import aiohttp

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login") as response:
            match = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
        if match is None:
            raise click.ClickException("нет CSRF-токена на странице входа")
        async with http.post(
            f"{base}/login",
            data={"csrf_token": match.group(1), "login": login, "password": BENCH_PASSWORD},
            allow_redirects=False,
        ) as response:
            if response.status != 303:
                raise click.ClickException(f"вход не удался: {response.status}")
        return {cookie.key: cookie.value for cookie in jar}


async def _time_pages(base: str, cookies: dict[str, str], paths: list[str], runs: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession(cookies=cookies) as http:
        for path in paths:
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                async with http.get(f"{base}{path}") as response:
                    await response.read()
                    if response.status != 200:
                        raise click.ClickException(f"{path}: {response.status}")
                times.append(time.perf_counter() - started)
            click.echo(
                f"  {path:<44} медиана {statistics.median(times) * 1000:7.0f} мс, "
                f"макс {max(times) * 1000:7.0f} мс"
            )


async def _load(
    base: str, cookies: dict[str, str], clients: int, requests: int, accounts: list[int]
) -> None:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    remaining = requests
    rng = random.Random(7)

    def next_path() -> str | None:
        nonlocal remaining
        if remaining <= 0:
            return None
        remaining -= 1
        match remaining % 5:
            case 0:
                return f"/api/accounts/{rng.choice(accounts)}"
            case 1:
                return f"/api/accounts?limit=20&offset={rng.randrange(0, 5000)}"
            case 2:
                return "/api/campaigns"
            case 3:
                return "/api/escalations"
            case _:
                return "/api/me"

    async def client() -> None:
        nonlocal errors
        async with aiohttp.ClientSession(cookies=cookies) as http:
            while (path := next_path()) is not None:
                started = time.perf_counter()
                async with http.get(f"{base}{path}") as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    click.echo(
        f"  {clients} клиентов, {len(latencies)} запросов за {elapsed:.1f} с "
        f"({len(latencies) / elapsed:.0f} запр/с), ошибок {errors}: "
        f"p50 {_percentile(latencies, 0.5) * 1000:.0f} мс, "
        f"p95 {_percentile(latencies, 0.95) * 1000:.0f} мс, "
        f"p99 {_percentile(latencies, 0.99) * 1000:.0f} мс"
    )


@click.command("web", help="Страницы отчётов над N звонками и задержка API под нагрузкой.")
@click.option("--calls", type=int, default=1_000_000, show_default=True, help="Сколько звонков.")
@click.option(
    "--database-url", "url", default=None, help="Пустая база (по умолчанию временный SQLite)."
)
@click.option("--clients", type=int, default=50, show_default=True, help="Одновременных клиентов.")
@click.option("--requests", type=int, default=2000, show_default=True, help="Запросов всего.")
@click.option("--runs", type=int, default=3, show_default=True, help="Повторов каждой страницы.")
@click.option(
    "--reuse",
    is_flag=True,
    help="Не строить: замерить последнюю историю, построенную в --database-url раньше.",
)
@click.pass_obj
def bench_web(
    settings: Settings,
    calls: int,
    url: str | None,
    clients: int,
    requests: int,
    runs: int,
    reuse: bool,
) -> None:
    from napomni.commands.db import quiet_migration_log

    quiet_migration_log(settings)
    import sqlalchemy as sa

    from storage.database import make_engine, make_session_factory, upgrade_to_heads
    from storage.models import Account
    from storage.models.users import UserRole
    from web.config import WebConfig
    from web.passwords import hash_password
    from web.server import ThreadedServer
    from web.users import NewUser, create_user

    temp = tempfile.TemporaryDirectory(prefix="napomni-bench-web-") if url is None else None
    url = url or f"sqlite:///{Path(temp.name if temp else '.') / 'bench.db'}"
    try:
        upgrade_to_heads(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        if reuse:
            # Building takes ~15 min on PostgreSQL: re-measure the history built before.
            org = _built(factory)
            with factory() as session:
                calls = (
                    session.scalar(
                        sa.text(
                            "SELECT count(*) FROM calls c JOIN accounts a ON a.id = c.account_id "
                            "WHERE a.organisation_id = :org"
                        ),
                        {"org": org},
                    )
                    or 0
                )
        else:
            org, _ = _build(factory, engine.dialect.name, calls, f"bench-web-{time.time_ns()}")
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
        login = f"bench-{secrets.token_hex(4)}"
        with factory.begin() as session:
            create_user(
                session,
                NewUser(login, hash_password(BENCH_PASSWORD), UserRole.ADMIN, (), "Замер"),
            )
            account_ids = list(
                session.scalars(
                    sa.select(Account.id).where(Account.organisation_id == org).limit(5000)
                )
            )
        engine.dispose()
        made = "взяты готовые" if reuse else "построены"
        click.echo(
            f"{engine.dialect.name}: {calls} звонков {made} за {time.perf_counter() - started:.1f} с"
        )
        config = WebConfig(database_url=url, secret=secrets.token_urlsafe(48))
        period = "from=2026-08-01&to=2026-11-23"
        pages = [
            f"/reports?{period}",
            f"/reports?{period}&by=month",
            f"/api/reports/reasons?{period}",
            f"/api/reports/funnel?{period}",
            f"/api/reports/promises?{period}",
            f"/api/reports/paid_after?{period}",
            f"/api/reports/reasons?{period}&by=service",
            f"/api/reports/reasons?{period}&by=segment",
            f"/api/reports/robot_vs_human?{period}",
            "/transparency?months=12",
        ]
        with ThreadedServer(config) as server:

            async def run() -> None:
                cookies = await _sign_in(server.url, login)
                click.echo(f"Отчёты над {calls} звонками ({runs} повтора):")
                await _time_pages(server.url, cookies, pages, runs)
                click.echo("API под нагрузкой (127.0.0.1):")
                await _load(server.url, cookies, clients, requests, account_ids)

            asyncio.run(run())
    finally:
        if temp is not None:
            temp.cleanup()
