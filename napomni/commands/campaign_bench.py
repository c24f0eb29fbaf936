"""``napomni bench campaigns``: planning over a million accounts, and claiming throughput.

Builds a synthetic debt book set-based (one ``INSERT … SELECT`` per table over a recursive
counter) in a fresh database, starts a campaign over it, marks some accounts paid, stopped
or capped, then times ``plan_campaign`` (one set-based statement) and the full streamed
listing, and the claim + complete cycle of four workers with an instant stand-in call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from dialer.campaigns.attempts import AttemptOutcome, ClaimedAttempt

__all__ = ["bench_campaigns"]

# Monday 2026-11-23, 09:00 UTC: noon in Moscow, inside the window in every zone used.
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
ZONES = ("Europe/Moscow", "Asia/Novosibirsk", "Europe/Kaliningrad", "Asia/Yekaterinburg")


def _build(factory: sessionmaker[Session], accounts: int, name: str) -> int:
    import sqlalchemy as sa

    from dialer.campaigns.service import CampaignSpec, create_campaign, start_campaign
    from storage.models import Organisation

    zone_case = (
        "CASE n.i % 4 " + " ".join(f"WHEN {k} THEN '{z}'" for k, z in enumerate(ZONES)) + " END"
    )
    counter = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
    with factory.begin() as session:
        organisation = Organisation(name=name)
        session.add(organisation)
        session.flush()
        org = organisation.id
        stamp = {"now": NOW, "org": org, "count": accounts}
        session.execute(
            sa.text(
                counter
                + "INSERT INTO accounts (organisation_id, number, address, time_zone, created_at, updated_at) "
                f"SELECT :org, 'B' || n.i, '', {zone_case}, :now, :now FROM n"
            ),
            stamp,
        )
        session.execute(
            sa.text(
                "INSERT INTO phones (account_id, number, kind, status, source, created_at) "
                "SELECT id, '+7999' || id, 'mobile', 'ok', 'import', :now FROM accounts WHERE organisation_id = :org"
            ),
            stamp,
        )
        session.execute(
            sa.text(
                "INSERT INTO debt_lines (organisation_id, account_id, service, period, charged, paid, debt, peni, updated_at) "
                "SELECT :org, id, 'ЖКУ', :period, 5000, 0, 5000 + id % 20000, 0, :now FROM accounts WHERE organisation_id = :org"
            ),
            {**stamp, "period": dt.date(2026, 10, 1)},
        )
        campaign = create_campaign(
            session,
            CampaignSpec(
                organisation=name,
                name=f"{name}-campaign",
                script="soft_reminder",
                starts_on=NOW.date(),
                max_concurrent_calls=100,
                max_new_per_minute=100000,
            ),  # fmt: skip
            NOW,
        )
        start_campaign(session, campaign, NOW)
        cid = campaign.id
        # Ledgers: 20 % talked to today (capped), 1 % stopped, 2 % paid since the snapshot.
        session.execute(
            sa.text(
                "UPDATE contact_ledger SET day = :day, week = :week, month = :month, "
                "day_conversations = 1, week_conversations = 1, month_conversations = 1 "
                "WHERE account_id % 5 = 0 AND account_id IN (SELECT id FROM accounts WHERE organisation_id = :org)"
            ),
            {"day": NOW.date(), "week": NOW.date(), "month": NOW.date().replace(day=1), "org": org},
        )
        session.execute(
            sa.text(
                "INSERT INTO stop_flags (account_id, flag, source, note, set_at) "
                "SELECT id, 'bankrupt', 'bench', '', :now FROM accounts WHERE organisation_id = :org AND id % 100 = 1"
            ),
            stamp,
        )
        session.execute(
            sa.text(
                "INSERT INTO payments (organisation_id, account_id, paid_on, amount, channel, document, created_at) "
                "SELECT :org, id, :day, 30000, 'bank', 'bench', :now FROM accounts WHERE organisation_id = :org AND id % 50 = 3"
            ),
            {**stamp, "day": NOW.date()},
        )
    return cid


class _InstantCall:
    """A stand-in call that ends at once as a conversation (measures the queue, not SIP)."""

    async def run(self, attempt: ClaimedAttempt) -> AttemptOutcome:
        from dialer.campaigns.attempts import AttemptOutcome
        from dialer.compliance import CallOutcome

        return AttemptOutcome(CallOutcome.CONVERSATION)


async def _claim_run(url: str, campaign: int, workers: int, seconds: float) -> tuple[int, float]:
    from dialer.worker import Worker, WorkerConfig
    from storage.database import make_engine, make_session_factory

    engines = [make_engine(url) for _ in range(workers)]
    try:
        crew = [
            Worker(
                make_session_factory(engine),
                _InstantCall(),
                WorkerConfig(
                    worker_id=f"bench-{i}",
                    concurrency=8,
                    poll_interval_s=0.01,
                    campaign_ids=frozenset({campaign}),
                ),  # fmt: skip
                clock=lambda: NOW,
            )
            for i, engine in enumerate(engines)
        ]
        stop = asyncio.Event()
        started = time.perf_counter()
        tasks = [asyncio.create_task(w.run(stop)) for w in crew]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        return sum(w.stats.completed for w in crew), elapsed
    finally:
        for engine in engines:
            engine.dispose()


@click.command(
    "campaigns",
    help="Планирование кампании на N ЛС и пропускная способность захвата 4 обработчиками.",
)
@click.option(
    "--accounts", type=int, default=1_000_000, show_default=True, help="Сколько ЛС сгенерировать."
)
@click.option(
    "--database-url",
    "url",
    default=None,
    help="Пустая база для замера (по умолчанию временный SQLite).",
)
@click.option(
    "--claim-seconds",
    type=float,
    default=10.0,
    show_default=True,
    help="Сколько секунд мерить захват.",
)
@click.pass_obj
def bench_campaigns(
    settings: Settings, accounts: int, url: str | None, claim_seconds: float
) -> None:
    from dialer.campaigns.planning import left_out_rows, plan_campaign
    from dialer.campaigns.service import find_campaign
    from dialer.compliance import ProductionCalendar
    from storage.database import make_engine, make_session_factory, upgrade_to_heads

    temp = tempfile.TemporaryDirectory(prefix="napomni-bench-") if url is None else None
    url = url or f"sqlite:///{Path(temp.name if temp else '.') / 'bench.db'}"
    try:
        upgrade_to_heads(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        campaign_id = _build(factory, accounts, f"bench-{time.time_ns()}")
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load: statistics, and the visibility map
            # that lets the plan's grouped count read the index alone.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            with engine.begin() as connection:  # committed, or the statistics are thrown away
                connection.exec_driver_sql("ANALYZE")
        click.echo(
            f"{engine.dialect.name}: {accounts} ЛС построены и поставлены в очередь за {time.perf_counter() - started:.1f} с"
        )
        calendar = ProductionCalendar()
        with factory() as session:
            campaign = find_campaign(session, str(campaign_id))
            timings = []
            for _ in range(5):  # the first reads from disk, the rest from the page cache
                began = time.perf_counter()
                plan = plan_campaign(session, campaign, NOW, calendar)
                timings.append(time.perf_counter() - began)
            began = time.perf_counter()
            listed = sum(1 for _ in left_out_rows(session, campaign, NOW, calendar))
            listing = time.perf_counter() - began
        click.echo(
            f"план (сводка + {len(plan.claims)} звонков): первый {timings[0]:.3f} с, "
            f"затем лучший {min(timings[1:]):.3f} с, медиана {statistics.median(timings[1:]):.3f} с"
        )
        click.echo(f"  причины: {dict(sorted(plan.left_out.items()))}")
        click.echo(f"полный список пропущенных ({listed} строк, потоком): {listing:.2f} с")
        completed, elapsed = asyncio.run(_claim_run(url, campaign_id, 4, claim_seconds))
        click.echo(
            f"захват + запись исхода, 4 обработчика: {completed} попыток за {elapsed:.1f} с = {completed / elapsed:.0f} в секунду"
        )
        engine.dispose()
    finally:
        if temp is not None:
            temp.cleanup()
