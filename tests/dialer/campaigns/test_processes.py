"""Worker processes sharing one campaign: each account called once; SIGTERM is graceful."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage.models.campaigns import Attempt, Call
from tests.dialer.campaigns.builders import build_book, started_campaign
from tests.dialer.campaigns.standins import run_worker_process

SPAWN = multiprocessing.get_context("spawn")


def _callable_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _calls(factory: sessionmaker[Session], campaign: int) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(
                sa.select(Attempt.account_id)
                .join(Call, Call.attempt_id == Attempt.id)
                .where(Attempt.campaign_id == campaign)
            )
        )


def _wait(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _zone_open_now() -> tuple[str, ...]:
    """Zones where a call may start right now (the test runs on the real clock)."""
    from zoneinfo import ZoneInfo

    from dialer.compliance import HoursPolicy, ProductionCalendar, is_callable_at

    names = [f"Etc/GMT{o:+d}" for o in range(-12, 13)]  # every whole-hour offset
    now = _callable_now()
    open_ = tuple(
        n
        for n in names
        if is_callable_at(
            now + dt.timedelta(minutes=5), ZoneInfo(n), ProductionCalendar(), HoursPolicy()
        )
    )
    return open_[:1]


def test_three_worker_processes_call_every_account_once(
    session_factory: sessionmaker[Session], database_url: str, unique_name: str
) -> None:
    zones = _zone_open_now()
    book = build_book(session_factory, unique_name, 30, zones=zones)
    campaign = started_campaign(session_factory, book, _callable_now())
    workers = [
        SPAWN.Process(target=run_worker_process, args=(database_url, f"p{i}", campaign, 0.05))
        for i in range(3)
    ]
    for process in workers:
        process.start()
    try:
        _wait(lambda: len(_calls(session_factory, campaign)) >= 30, 120, "30 calls")
        time.sleep(0.5)  # let any double call (there must be none) show up
    finally:
        for process in workers:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in workers:
            process.join(30)
    assert [p.exitcode for p in workers] == [0, 0, 0]
    called = _calls(session_factory, campaign)
    assert sorted(called) == sorted(book.account_ids)  # every account once, nobody twice
    with session_factory() as session:
        left = session.scalar(
            sa.select(sa.func.count()).where(
                Attempt.campaign_id == campaign, Attempt.status == "claimed"
            )
        )
    assert left == 0


def test_sigterm_lets_calls_in_flight_finish(
    session_factory: sessionmaker[Session], database_url: str, unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 3, zones=_zone_open_now())
    campaign = started_campaign(session_factory, book, _callable_now())
    process = SPAWN.Process(target=run_worker_process, args=(database_url, "term", campaign, 2.0))
    process.start()
    try:
        _wait(lambda: len(_calls(session_factory, campaign)) >= 3, 60, "three calls to start")
    finally:
        if process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
        process.join(30)
    assert process.exitcode == 0
    with session_factory() as session:
        statuses = session.execute(
            sa.select(Attempt.status, Attempt.outcome).where(
                Attempt.campaign_id == campaign, Attempt.number == 1
            )
        ).all()
    assert sorted((str(s), o) for s, o in statuses) == [("done", "conversation")] * 3


@pytest.fixture(autouse=True)
def _needs_an_open_zone() -> None:
    if not _zone_open_now():
        pytest.skip("no time zone is inside the calling window right now")
