"""``GET /metrics`` in the Prometheus text format, and who may read it.

Not public: with ``NAPOMNI_METRICS_TOKEN`` set, a scraper sends ``Authorization: Bearer
<token>`` (compared in constant time) from any address; without a token only this machine
may read it — the TCP peer must be 127.0.0.1 or ::1 and the request must not have come
through a proxy (a ``Forwarded`` / ``X-Forwarded-For`` header), because a reverse proxy on the
same host would otherwise make every outside request look local.

The web service knows its own sign-in failures; the queue and the outbox are counted from
the database at scrape time (:class:`DatabaseCollector`, a few grouped ``COUNT`` queries
over indexed status columns). The worker serves its call figures
(:class:`dialer.metrics.CallMetrics`) with :func:`metrics_app` under the same rule.
Labels carry statuses only, never a number, a name or an id.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterator
from typing import Final

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from storage.models import utc_now
from storage.models.campaigns import (
    OPEN_ATTEMPT_STATUSES,
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignStatus,
)
from storage.models.messages import MessageStatus, OutboxMessage
from web.access import public
from web.db import in_thread
from web.keys import CONFIG, READ_SESSION_FACTORY
from web.routing import RouteTable

__all__ = [
    "METRICS",
    "DatabaseCollector",
    "WebMetrics",
    "metrics_app",
    "metrics_refusal",
    "register",
]

_PROXY_HEADERS: Final = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


class DatabaseCollector(Collector):
    """The attempt queue and the outbox, counted when Prometheus scrapes (never cached)."""

    def __init__(self, factory: Callable[[], sessionmaker[Session]]) -> None:
        self._factory = factory  # read lazily: the engine is made when the app starts

    def describe(self) -> Iterator[Metric]:
        """The families without values: registering must not query the database."""
        yield from _families()

    def collect(self) -> Iterator[Metric]:
        """Run the counts (on a database thread, see :func:`metrics_view`)."""
        queued, due, messages = _families()
        with self._factory()() as session:
            open_counts = _open_attempts(session)
            due_counts = _due_attempts(session)
            message_counts = _messages(session)
            session.rollback()
        for campaign in CampaignStatus:
            for attempt in OPEN_ATTEMPT_STATUSES:
                queued.add_metric(
                    [campaign.value, attempt], open_counts.get((campaign.value, attempt), 0)
                )
            due.add_metric([campaign.value], due_counts.get(campaign.value, 0))
        for status in MessageStatus:
            messages.add_metric([status.value], message_counts.get(status.value, 0))
        yield queued
        yield due
        yield messages


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "napomni_attempts_open",
            "Attempts in the queue (pending: waiting for its time; claimed: a worker is "
            "calling), by the status of their campaign.",
            labels=["campaign_status", "attempt_status"],
        ),
        GaugeMetricFamily(
            "napomni_attempts_due",
            "Pending attempts whose time has come (what the workers have yet to take), "
            "by the status of their campaign.",
            labels=["campaign_status"],
        ),
        GaugeMetricFamily(
            "napomni_messages",
            "Messages in the outbox by status.",
            labels=["status"],
        ),
    )


def _open_attempts(session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        sa.select(Campaign.status, Attempt.status, sa.func.count())
        .select_from(Attempt)
        .join(Campaign, Campaign.id == Attempt.campaign_id)
        .where(Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
        .group_by(Campaign.status, Attempt.status)
    )
    return {(str(c), str(a)): int(n) for c, a, n in rows}


def _due_attempts(session: Session) -> dict[str, int]:
    rows = session.execute(
        sa.select(Campaign.status, sa.func.count())
        .select_from(Attempt)
        .join(Campaign, Campaign.id == Attempt.campaign_id)
        .where(Attempt.status == AttemptStatus.PENDING, Attempt.due_at <= utc_now())
        .group_by(Campaign.status)
    )
    return {str(c): int(n) for c, n in rows}


def _messages(session: Session) -> dict[str, int]:
    rows = session.execute(
        sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
    )
    return {str(s): int(n) for s, n in rows}


class WebMetrics:
    """The web service's registry: sign-in failures, the database counts, the process."""

    def __init__(self, factory: Callable[[], sessionmaker[Session]]) -> None:
        self.registry = CollectorRegistry()
        self.sign_in_failures = Counter(
            "napomni_sign_in_failures",
            "Refused sign-ins: wrong (a wrong login or password), throttled (refused unchecked "
            "while the login name or the address is over its limit).",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("wrong", "throttled"):
            self.sign_in_failures.labels(reason=reason)
        ProcessCollector(registry=self.registry)
        self.registry.register(DatabaseCollector(factory))


METRICS = web.AppKey("metrics", WebMetrics)


def _loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a Unix socket or something else that is no IP address
        return False


def metrics_refusal(request: web.BaseRequest, token: str) -> web.Response | None:
    """The refusal for a scrape that may not read the metrics, or ``None`` to let it."""
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return web.Response(
            status=401,
            text="нужен токен метрик (Authorization: Bearer …)\n",
            headers={"WWW-Authenticate": 'Bearer realm="napomni-metrics"'},
        )
    if _loopback(request.remote) and not any(h in request.headers for h in _PROXY_HEADERS):
        return None
    return web.Response(
        status=403, text="метрики открыты только с этого компьютера (или задайте токен)\n"
    )


def _exposition(registry: CollectorRegistry) -> web.Response:
    response = web.Response(body=generate_latest(registry))
    # The classic text format every Prometheus 2.x and 3.x reads (our names are plain ASCII).
    response.headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
    return response


async def metrics_view(request: web.Request) -> web.Response:
    """The Prometheus text exposition (the database counts run on a database thread)."""
    refused = metrics_refusal(request, request.app[CONFIG].metrics_token)
    if refused is not None:
        return refused
    registry = request.app[METRICS].registry
    return await in_thread(request.app, lambda: _exposition(registry))


def register(app: web.Application, table: RouteTable) -> None:
    """Add ``/metrics``: public to the session check, guarded by :func:`metrics_refusal`."""
    app[METRICS] = WebMetrics(lambda: app[READ_SESSION_FACTORY])
    table.add("GET", "/metrics", metrics_view, public(), name="metrics")


def metrics_app(registry: CollectorRegistry, token: str) -> web.Application:
    """A server of one route, ``GET /metrics`` for ``registry`` (the worker's call figures).

    The worker's registry holds in-process figures only, so it is rendered on the loop.
    """

    async def view(request: web.Request) -> web.Response:
        refused = metrics_refusal(request, token)
        return refused if refused is not None else _exposition(registry)

    app = web.Application()
    app.router.add_get("/metrics", view)
    return app
