"""``GET /metrics``: scraped from the real server and parsed by Prometheus's own text parser.

The database gauges are counted from real rows (a campaign's attempts, outbox messages)
added between two scrapes, so the figures are checked as exact differences whatever other
tests left in the shared database. Access: a token when one is set (401 without it, from
anywhere), this machine only without one, and never through a proxy header.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Account, utc_now
from storage.models.campaigns import Attempt, AttemptStatus, Campaign, CampaignStatus
from storage.models.messages import MessageStatus, OutboxMessage
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld, web_config
from web.app import create_app
from web.metrics import metrics_app

MakeUser = Callable[[], Awaitable[WebUser]]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
TOKEN = "metrics-token-" + "y" * 24


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, labels), and every family's type."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(server: TestServer, **headers: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.make_url("/metrics"), headers=headers) as response,
    ):
        return response.status, await response.text()


def seed_queue_and_outbox(
    factory: sessionmaker[Session], world: WebWorld, status: CampaignStatus
) -> None:
    """A campaign of ``status`` with 2 due and 1 future pending attempt, 1 claimed; messages."""
    now = utc_now()
    tag = uuid.uuid4().hex[:8]
    with factory.begin() as session:
        campaign = Campaign(
            organisation_id=world.org_a,
            name=f"метрики {tag}",
            script="soft_reminder",
            starts_on=now.date(),
            status=status,
        )
        accounts = [
            Account(organisation_id=world.org_a, number=f"M{tag}-{i}", address="ул. Ленина, 10")
            for i in range(4)
        ]
        session.add_all([campaign, *accounts])
        session.flush()
        plan = [
            (AttemptStatus.PENDING, now - dt.timedelta(minutes=5)),
            (AttemptStatus.PENDING, now - dt.timedelta(minutes=1)),
            (AttemptStatus.PENDING, now + dt.timedelta(days=1)),
            (AttemptStatus.CLAIMED, now - dt.timedelta(minutes=2)),
        ]
        for account, (attempt_status, due_at) in zip(accounts, plan, strict=True):
            session.add(
                Attempt(
                    campaign_id=campaign.id,
                    account_id=account.id,
                    script="soft_reminder",
                    status=attempt_status,
                    due_at=due_at,
                    debt_snapshot=Decimal("1200.00"),
                    debt_as_of=now,
                    time_zone="Europe/Moscow",
                )
            )
        for message_status in (MessageStatus.QUEUED, MessageStatus.QUEUED, MessageStatus.FAILED):
            session.add(
                OutboxMessage(
                    organisation_id=world.org_a,
                    account_id=world.account_a,
                    kind="payment_link",
                    status=message_status,
                    created_at=now,
                )
            )


async def test_scrape_parses_with_histograms_database_gauges_and_sign_in_failures(
    web_server: TestServer,
    make_user: MakeUser,
    web_world: WebWorld,
    session_factory: sessionmaker[Session],
) -> None:
    status, text = await scrape(web_server)
    assert status == 200, text
    before, types = parse(text)
    assert types["napomni_attempts_open"] == "gauge"
    assert types["napomni_messages"] == "gauge"
    assert types["napomni_sign_in_failures"] == "counter"

    seed_queue_and_outbox(session_factory, web_world, CampaignStatus.ACTIVE)
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.ADMIN], "не тот пароль") == 401

    async with (
        aiohttp.ClientSession() as http,
        http.get(web_server.make_url("/metrics")) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        after, _ = parse(await response.text())

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    open_ = "napomni_attempts_open"
    assert grew(open_, campaign_status="active", attempt_status="pending") == 3
    assert grew(open_, campaign_status="active", attempt_status="claimed") == 1
    assert grew(open_, campaign_status="paused", attempt_status="pending") == 0
    assert grew("napomni_attempts_due", campaign_status="active") == 2
    assert grew("napomni_messages", status="queued") == 2
    assert grew("napomni_messages", status="failed") == 1
    assert grew("napomni_sign_in_failures_total", reason="wrong") == 1
    # Every status is exposed, zero or not, so a series never vanishes from a graph.
    for campaign in CampaignStatus:
        assert (
            "napomni_attempts_due",
            frozenset({("campaign_status", campaign.value)}),
        ) in after
    for message in MessageStatus:
        assert ("napomni_messages", frozenset({("status", message.value)})) in after
    # Labels are statuses and reasons only: no phone, name or id leaks into a scrape.
    text_after = await scrape(web_server)
    assert web_world.phone not in text_after[1]
    assert web_world.person_name not in text_after[1]


async def test_the_worker_registry_exposes_histogram_buckets() -> None:
    from dialer.metrics import TURN_LATENCY_BUCKETS_S, CallMetrics

    metrics = CallMetrics()
    metrics.turn_latency.observe(0.35)
    server = TestServer(metrics_app(metrics.registry, ""), host="127.0.0.1")
    await server.start_server()
    try:
        status, text = await scrape(server)
    finally:
        await server.close()
    assert status == 200
    samples, types = parse(text)
    assert types["napomni_turn_latency_seconds"] == "histogram"
    assert types["napomni_first_word_seconds"] == "histogram"
    buckets = {
        dict(labels)["le"]: count
        for (name, labels), count in samples.items()
        if name == "napomni_turn_latency_seconds_bucket"
    }
    assert len(buckets) == len(TURN_LATENCY_BUCKETS_S) + 1  # and +Inf
    assert buckets["0.3"] == 0
    assert buckets["0.4"] == 1
    assert buckets["+Inf"] == 1
    assert value(samples, "napomni_turn_latency_seconds_count") == 1


@pytest.fixture
async def token_server(database_url: str) -> AsyncIterator[TestServer]:
    config = web_config(database_url)
    app = create_app(
        type(config)(
            database_url=config.database_url,
            secret=config.secret,
            db_threads=config.db_threads,
            metrics_token=TOKEN,
        )
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def test_a_token_is_required_when_set(token_server: TestServer) -> None:
    status, _ = await scrape(token_server)
    assert status == 401
    status, _ = await scrape(token_server, Authorization="Bearer " + TOKEN[:-1] + "z")
    assert status == 401
    status, _ = await scrape(token_server, Authorization="Basic " + TOKEN)
    assert status == 401
    status, text = await scrape(token_server, Authorization="Bearer " + TOKEN)
    assert status == 200
    assert "napomni_attempts_open" in text


async def test_without_a_token_a_proxied_request_is_refused(web_server: TestServer) -> None:
    # A reverse proxy on this machine connects from 127.0.0.1: its header gives it away.
    status, _ = await scrape(web_server, **{"X-Forwarded-For": "203.0.113.7"})
    assert status == 403
    status, _ = await scrape(web_server, Forwarded="for=203.0.113.7")
    assert status == 403


async def test_other_routes_keep_their_sign_in(web_server: TestServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            web_server.make_url("/api/me"), headers={"Authorization": "Bearer " + TOKEN}
        ) as response,
    ):
        assert response.status == 401
