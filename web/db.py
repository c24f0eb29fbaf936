"""Storage from the event loop: synchronous SQLAlchemy on the service's own threads.

Each call opens a session and a short transaction in a worker thread, runs ``work`` and
commits (or rolls back on an exception). Templates are rendered on the same threads, so
the event loop never touches the disk or the database.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session

from web.keys import DB_EXECUTOR, READ_SESSION_FACTORY, SESSION_FACTORY

__all__ = ["in_read", "in_thread", "in_transaction", "make_read_engine"]

T = TypeVar("T")


async def in_transaction(app: web.Application, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one transaction on a database thread; return its result."""
    factory = app[SESSION_FACTORY]

    def run() -> T:
        with factory.begin() as session:
            return work(session)

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app[DB_EXECUTOR], run)


async def in_read(app: web.Application, work: Callable[[Session], T]) -> T:
    """Run read-only ``work(session)`` on a database thread; nothing it does is committed.

    On SQLite this goes through the reader engine (see :func:`make_read_engine`), so pages
    and reports never queue behind the writers' ``BEGIN IMMEDIATE``.
    """
    factory = app[READ_SESSION_FACTORY]

    def run() -> T:
        with factory() as session:
            try:
                return work(session)
            finally:
                session.rollback()

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app[DB_EXECUTOR], run)


def make_read_engine(url: str, busy_timeout_ms: int = 30_000) -> Engine | None:
    """A read-only SQLite engine (WAL readers take no write lock); ``None`` for other databases.

    The storage engine starts every SQLite transaction with ``BEGIN IMMEDIATE`` so that
    writers queue instead of failing; a reader needs no lock at all, and ``query_only``
    makes sure it never writes.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    engine = create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000})

    def on_connect(dbapi_connection: DBAPIConnection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA query_only=ON")
        finally:
            cursor.close()

    event.listen(engine, "connect", on_connect)
    return engine


async def in_thread(app: web.Application, work: Callable[[], T]) -> T:
    """Run CPU or file work (rendering, hashing, exports) on the service's threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app[DB_EXECUTOR], functools.partial(work))
