"""The aiohttp application: ``create_app(config)`` owns everything the service runs on.

The database engine and the worker threads are made in ``cleanup_ctx`` (disposed only if
start-up succeeded); state lives under typed ``web.AppKey`` keys, never in globals.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from storage.database import make_engine, make_session_factory
from web import metrics, sse
from web.config import WebConfig
from web.db import make_read_engine
from web.imports import import_runner_ctx
from web.keys import (
    CONFIG,
    DB_EXECUTOR,
    READ_SESSION_FACTORY,
    ROUTES,
    SESSION_FACTORY,
    SIGNER,
    TEMPLATES,
)
from web.pages import make_environment
from web.requests import PRINCIPAL
from web.routing import RouteTable
from web.scripts_library import rehearsal_ctx
from web.security import security_middleware
from web.sessions import SessionSigner

__all__ = ["AccessLogger", "create_app"]

log = logging.getLogger(__name__)


# Payment links and the delivery-report URL carry secrets in the path: never logged.
_TOKEN_IN_PATH = re.compile(r"^(/pay/|/messages/dlr/)[^/]+")


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path without the query string, status, time, user id.

    Query strings carry searches (names, phone digits), so they never reach the log; the
    token of a payment link or of the delivery-report URL is cut from the path.
    """

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        principal = request.get(PRINCIPAL)
        user = principal.user_id if principal is not None else "-"
        self.logger.info(
            "%s %s %s %.1fms user=%s",
            request.method,
            _TOKEN_IN_PATH.sub(r"\1…", request.path),
            response.status,
            time * 1000,
            user,
        )


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    engine = make_engine(config.database_url)
    executor = ThreadPoolExecutor(max_workers=config.db_threads, thread_name_prefix="napomni-web")
    reader = make_read_engine(config.database_url)
    app[SESSION_FACTORY] = make_session_factory(engine)
    app[READ_SESSION_FACTORY] = make_session_factory(reader if reader is not None else engine)
    app[DB_EXECUTOR] = executor
    try:
        yield
    finally:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, engine.dispose)
        if reader is not None:
            await loop.run_in_executor(executor, reader.dispose)
        executor.shutdown(wait=False, cancel_futures=True)


def create_app(config: WebConfig) -> web.Application:
    """The whole web service for ``config``; run it with ``web.run_app`` or an ``AppRunner``."""
    from web.views import accounts as account_views
    from web.views import auth as auth_views
    from web.views import campaign_live as campaign_live_views
    from web.views import campaigns as campaign_views
    from web.views import collector_line as collector_line_views
    from web.views import escalations as escalation_views
    from web.views import imports as import_views
    from web.views import message_settings as message_settings_views
    from web.views import messages as message_views
    from web.views import reports as report_views
    from web.views import scripts as script_views
    from web.views import transfers as transfer_views
    from web.views import transparency as transparency_views
    from web.views import users as users_views

    app = web.Application(middlewares=[security_middleware], client_max_size=1024**2)
    app[CONFIG] = config
    app[SIGNER] = SessionSigner(config.secret, config.session_max_age_s)
    app[TEMPLATES] = make_environment()
    table = RouteTable(app)
    app[ROUTES] = table
    auth_views.register(table)
    account_views.register(table)
    campaign_views.register(table)
    campaign_live_views.register(table)
    sse.install(app)  # live and screen pop streams end when the server begins to stop
    escalation_views.register(table)
    transfer_views.register(table)  # before the reports' /api/reports/{name}
    report_views.register(table)
    script_views.register(table)
    transparency_views.register(table)
    message_views.register(table)
    message_settings_views.register(table)
    users_views.register(table)
    collector_line_views.register(table)
    import_views.register(table)
    metrics.register(app, table)
    table.add_static("/static", str(files("web") / "static"))
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(import_runner_ctx)  # after _database: it needs the sessions
    app.cleanup_ctx.append(rehearsal_ctx)  # the classifier and voice of script rehearsals
    return app
