"""Shared fixtures: a real database on SQLite and, when configured, on PostgreSQL.

``database_url`` is parametrized: every test that uses it runs on SQLite, and on
PostgreSQL when ``NAPOMNI_TEST_POSTGRES_URL`` is set (else that case is skipped with the
reason printed by ``-ra``) — except the calls marked ``one_database``, run on one of them.
Each pytest run gets its own freshly created database, upgraded to all migration heads and
dropped afterwards, so concurrent runs never collide. The database is shared by the tests of
one run: a test creates its own organisation (see ``unique_name``) rather than expecting empty
tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

POSTGRES_ENV = "NAPOMNI_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = f"PostgreSQL: {POSTGRES_ENV} not set"


def _postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV, "").strip() or None


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL of a fresh database of this test run, upgraded to all migration heads."""
    from storage.database import upgrade_to_heads

    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "napomni.db"
        url = f"sqlite:///{path}"
        upgrade_to_heads(url)
        yield url
        return

    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    name = f"napomni_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade_to_heads(url)
            yield url
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``one_database`` is about a call, not about storage: it runs on SQLite
    only. Each of them is a real-time call of 15–85 s, and running it again on PostgreSQL
    added 12 minutes to the suite for the same storage code that ``tests/storage`` and the
    web tests check on both. ``one_database(postgresql_with=ID)`` keeps a whole path on
    PostgreSQL: the case whose id has ``ID`` runs there, the others on SQLite — or on SQLite
    too when no PostgreSQL is configured, so no case is lost to a skip."""
    postgresql = _postgres_admin_url() is not None
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("one_database")
        callspec = getattr(item, "callspec", None)
        database = callspec.params.get("database_url") if callspec is not None else None
        if marker is None or database is None:
            kept.append(item)
            continue
        with_postgresql = marker.kwargs.get("postgresql_with")
        wanted = (
            "sqlite"
            if not postgresql or with_postgresql is None or with_postgresql not in callspec.id
            else "postgresql"
        )
        (kept if database == wanted else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on :func:`database_url` (SQLite: WAL, foreign keys, busy timeout)."""
    from storage.database import make_engine

    built = make_engine(database_url)
    try:
        yield built
    finally:
        built.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on :func:`engine`; the test owns each transaction."""
    from storage.database import make_session_factory

    return make_session_factory(engine)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test of this run uses (for organisations, users, campaigns)."""
    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"
