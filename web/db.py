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
from sqlalchemy.orm import Session

from web.keys import DB_EXECUTOR, SESSION_FACTORY

__all__ = ["in_thread", "in_transaction"]

T = TypeVar("T")


async def in_transaction(app: web.Application, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one transaction on a database thread; return its result."""
    factory = app[SESSION_FACTORY]

    def run() -> T:
        with factory.begin() as session:
            return work(session)

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app[DB_EXECUTOR], run)


async def in_thread(app: web.Application, work: Callable[[], T]) -> T:
    """Run CPU or file work (rendering, hashing, exports) on the service's threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app[DB_EXECUTOR], functools.partial(work))
