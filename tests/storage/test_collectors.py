"""Collectors on the line (issue 16, first part): extensions, line status, claiming a free
collector — on SQLite and PostgreSQL, including concurrent claims for one collector."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.collectors import (
    Collector,
    collectors_on_line,
    free_collector,
    line_status_of,
    parse_extension,
    parse_line_status,
    release_collector,
    set_extension,
    set_line_status,
)
from storage.errors import CollectorLineRefused
from storage.models import Base, Organisation
from storage.models.users import LineStatus, User, UserOrganisation, UserRole

T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


def _org(session: Session, name: str) -> int:
    organisation = Organisation(name=name)
    session.add(organisation)
    session.flush()
    return organisation.id


def _user(
    session: Session,
    login: str,
    orgs: Sequence[int],
    role: UserRole = UserRole.COLLECTOR,
    *,
    active: bool = True,
) -> int:
    tag = login.rsplit("-", 1)[-1] if login.count("-") > 1 else "c"
    user = User(
        login=f"{tag}-{uuid.uuid4().hex[:12]}",
        display_name=f"Имя {tag}",
        password_hash="x",
        role=role,
        active=active,
        session_epoch=0,
    )
    user.organisations = [UserOrganisation(organisation_id=org) for org in orgs]
    session.add(user)
    session.flush()
    return user.id


def _online(session: Session, user_id: int, extension: str, at: dt.datetime) -> None:
    set_extension(session, user_id, extension)
    set_line_status(session, user_id, LineStatus.ONLINE, at)


def test_the_migration_matches_the_models(engine: Engine) -> None:
    mine = {"collector_lines", "user_organisations", "users"}
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if any(f"'{table}'" in repr(d) for table in mine)] == []


@pytest.mark.parametrize("raw", ["", "1", "1234567", "20a", "２０１", "+201", "20 1"])
def test_an_extension_is_two_to_six_digits(raw: str) -> None:
    with pytest.raises(CollectorLineRefused, match="добавочный номер"):
        parse_extension(raw)
    assert parse_extension(" 201 ") == "201"
    assert parse_extension("123456") == "123456"


def test_a_status_is_one_of_three() -> None:
    assert parse_line_status("online") is LineStatus.ONLINE
    for raw in ("ONLINE", "", None, 1, ["online"]):
        with pytest.raises(CollectorLineRefused, match="status"):
            parse_line_status(raw)


def test_an_extension_is_unique_within_an_organisation(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        org_a, org_b = _org(session, f"{unique_name}-a"), _org(session, f"{unique_name}-b")
        first = _user(session, f"{unique_name}-1", [org_a])
        second = _user(session, f"{unique_name}-2", [org_a, org_b])
        other_org = _user(session, f"{unique_name}-3", [org_b])
        manager = _user(session, f"{unique_name}-m", [org_a], UserRole.MANAGER)
        assert set_extension(session, first, "201") == "201"
        with pytest.raises(CollectorLineRefused, match=r"201 уже у 1-[0-9a-f]+ в организации"):
            set_extension(session, second, "201")
        assert set_extension(session, other_org, "201") == "201"  # another organisation
        with pytest.raises(CollectorLineRefused, match="только у взыскателя"):
            set_extension(session, manager, "202")
        with pytest.raises(CollectorLineRefused, match="от 2 до 6 цифр"):
            set_extension(session, second, "2")
        set_extension(session, second, "202")
        assert list(
            session.scalars(
                sa.select(UserOrganisation.extension).where(UserOrganisation.user_id == second)
            )
        ) == ["202", "202"]
        assert set_extension(session, first, None) is None
        # Free in the first organisation now, but the second one's collector has it.
        with pytest.raises(
            CollectorLineRefused, match=r"201 уже у 3-[0-9a-f]+ в организации .*-b»"
        ):
            set_extension(session, second, "201")
        assert set_extension(session, first, "201") == "201"


def test_the_database_itself_refuses_a_duplicate_extension(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        org = _org(session, unique_name)
        first, second = _user(session, f"{unique_name}-1", [org]), _user(session, f"{unique_name}-2", [org])  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), session_factory.begin() as session:
        session.execute(
            sa.update(UserOrganisation)
            .where(UserOrganisation.user_id.in_([first, second]))
            .values(extension="301")
        )


def test_saying_the_same_status_keeps_its_time(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        user = _user(session, unique_name, [_org(session, unique_name)])
        assert line_status_of(session, user) is None
        assert set_line_status(session, user, LineStatus.ONLINE, T0).status_changed_at == T0
        later = T0 + dt.timedelta(minutes=5)
        assert set_line_status(session, user, LineStatus.ONLINE, later).status_changed_at == T0
        state = set_line_status(session, user, LineStatus.AWAY, later)
        assert (state.status, state.status_changed_at) == (LineStatus.AWAY, later)


def test_the_longest_idle_online_collector_with_an_extension_is_claimed(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        org, other = _org(session, f"{unique_name}-a"), _org(session, f"{unique_name}-b")
        recent = _user(session, f"{unique_name}-recent", [org])
        idle = _user(session, f"{unique_name}-idle", [org])
        no_extension = _user(session, f"{unique_name}-noext", [org])
        disabled = _user(session, f"{unique_name}-off", [org])
        away = _user(session, f"{unique_name}-away", [org])
        elsewhere = _user(session, f"{unique_name}-else", [other])
        _online(session, recent, "210", T0 + dt.timedelta(minutes=3))
        _online(session, idle, "211", T0 + dt.timedelta(minutes=1))
        set_line_status(session, no_extension, LineStatus.ONLINE, T0)
        _online(session, disabled, "212", T0)
        session.get_one(User, disabled).active = False
        set_extension(session, away, "213")
        set_line_status(session, away, LineStatus.AWAY, T0)
        _online(session, elsewhere, "210", T0)
    now = T0 + dt.timedelta(minutes=10)
    with session_factory.begin() as session:
        assert free_collector(session, org, now) == Collector(
            idle, session.get_one(User, idle).display_name, "211", org
        )
        claimed = free_collector(session, org, now)
        assert claimed is not None
        assert claimed.user_id == recent
        assert free_collector(session, org, now) is None
        busy = line_status_of(session, idle)
        assert busy is not None
        assert (busy.status, busy.status_changed_at) == (LineStatus.BUSY, now)
        rows = {(c.user_id, c.status) for c in collectors_on_line(session, [org])}
        assert (idle, LineStatus.BUSY) in rows
        assert (away, LineStatus.AWAY) in rows
        assert elsewhere not in {user for user, _ in rows}
        assert disabled not in {u for u, _ in rows}
    with session_factory.begin() as session:
        assert release_collector(session, idle, now + dt.timedelta(minutes=2))
        assert not release_collector(session, idle, now)  # already on the line
        set_line_status(session, recent, LineStatus.AWAY, now)  # left during the call
        assert not release_collector(session, recent, now)
        left = line_status_of(session, recent)
        assert left is not None
        assert left.status is LineStatus.AWAY
        assert free_collector(session, org, now) == Collector(
            idle, session.get_one(User, idle).display_name, "211", org
        )


def _claim_in_thread(
    factory: sessionmaker[Session], org: int, results: list[Collector | None]
) -> threading.Thread:
    def run() -> None:
        with factory.begin() as session:
            results.append(free_collector(session, org, T0 + dt.timedelta(hours=1)))

    thread = threading.Thread(target=run, name="second-claim")
    thread.start()
    return thread


def _wait_for_lock_wait(engine: Engine, timeout_s: float = 10.0) -> None:
    """PostgreSQL: until some backend waits for a row lock (the second claim's UPDATE)."""
    deadline = time.monotonic() + timeout_s
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ).scalar_one()
            connection.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second claim never waited for the first one's row lock")


def test_two_concurrent_claims_for_one_collector_one_wins(
    session_factory: sessionmaker[Session], engine: Engine, unique_name: str
) -> None:
    with session_factory.begin() as session:
        org = _org(session, unique_name)
        only = _user(session, unique_name, [org])
        _online(session, only, "401", T0)
    results: list[Collector | None] = []
    first = session_factory()
    thread: threading.Thread | None = None
    try:
        with first.begin():
            mine = free_collector(first, org, T0 + dt.timedelta(hours=1))
            assert mine is not None
            assert mine.user_id == only
            # The second claim starts while the first is not committed yet. On PostgreSQL it
            # read the collector as online and its UPDATE waits for our row lock; on SQLite
            # its BEGIN IMMEDIATE waits for our write lock.
            thread = _claim_in_thread(session_factory, org, results)
            if engine.dialect.name == "postgresql":
                _wait_for_lock_wait(engine)
    finally:
        first.close()
        if thread is not None:
            thread.join(timeout=30)
    assert thread is not None
    assert not thread.is_alive()
    assert results == [None]


def test_many_racing_claims_share_the_online_collectors(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        org = _org(session, unique_name)
        collectors = [_user(session, f"{unique_name}-{n}", [org]) for n in range(3)]
        for n, user in enumerate(collectors):
            _online(session, user, f"5{n}0", T0 + dt.timedelta(seconds=n))
    start = threading.Barrier(6, timeout=30)
    results: list[Collector | None] = []
    lock = threading.Lock()

    def claim() -> None:
        start.wait()
        with session_factory.begin() as session:
            got = free_collector(session, org, T0 + dt.timedelta(hours=1))
        with lock:
            results.append(got)

    threads = [threading.Thread(target=claim, name=f"claim-{n}") for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    won = sorted(c.user_id for c in results if c is not None)
    assert won == sorted(collectors)  # each collector once, the rest found nobody
    assert results.count(None) == 3
