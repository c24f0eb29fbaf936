"""A campaign's live view: the Server-Sent Events stream and the server-rendered figures,
on the real server and both databases."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from sqlalchemy.orm import Session, sessionmaker

from storage.models import utc_now
from storage.models.campaigns import Attempt, AttemptStatus, Call, Turn
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld
from web.sse import SSE_STOPPING

MakeUser = Callable[[], Awaitable[WebUser]]
SSE = {"Accept": "text/event-stream"}


async def _started_campaign(user: WebUser, organisation_id: int) -> int:
    headers = {"X-CSRF-Token": user.csrf}
    body = {"organisation_id": organisation_id, "name": "Вживую", "min_debt": "500"}
    async with user.http.post("/api/campaigns", json=body, headers=headers) as response:
        assert response.status == 201
        campaign_id = int((await response.json())["id"])
    async with user.http.post(f"/api/campaigns/{campaign_id}/start", headers=headers) as response:
        assert response.status == 200
    return campaign_id


async def _next_event(response: aiohttp.ClientResponse) -> tuple[str, dict[str, object]]:
    """The next event of the stream (comments and ``retry:`` lines skipped)."""
    name, data = "message", ""
    while True:
        raw = await asyncio.wait_for(response.content.readline(), 10)
        if raw == b"":
            raise EOFError("the stream ended")
        line = raw.decode().rstrip("\n")
        if line == "":
            if data:
                return name, json.loads(data)
            continue
        field, _, value = line.partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data = value


def _add_live_call(factory: sessionmaker[Session], campaign_id: int) -> tuple[int, str]:
    """A call the worker has just begun, with one turn written: the robot spoke, the
    debtor answered."""
    debtor_says = "заплачу в пятницу, честное слово"
    with factory.begin() as session:
        attempt = session.scalars(
            sa.select(Attempt).where(Attempt.campaign_id == campaign_id)
        ).one()
        now = utc_now()
        # what the worker's claim does before it dials
        attempt.status, attempt.lease_owner, attempt.claimed_at = (
            AttemptStatus.CLAIMED, "test-worker", now)  # fmt: skip
        call = Call(attempt_id=attempt.id, account_id=attempt.account_id,
                    script="soft_reminder", started_at=now, answered_at=now)  # fmt: skip
        session.add(call)
        session.flush()
        session.add(Turn(call_id=call.id, index=0, robot_text="Здравствуйте! Это Напомни.",
                         debtor_text=debtor_says))  # fmt: skip
        return call.id, debtor_says


async def test_stream_needs_sign_in_role_and_organisation(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    manager = await make_user()
    assert await manager.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    campaign_id = await _started_campaign(manager, web_world.org_a)
    anonymous = await make_user()
    async with anonymous.http.get(f"/api/campaigns/{campaign_id}/live", headers=SSE) as response:
        assert response.status == 401
    collector = await make_user()
    assert await collector.sign_in(web_world.logins[UserRole.COLLECTOR]) == 303
    async with collector.http.get(f"/api/campaigns/{campaign_id}/live", headers=SSE) as response:
        assert response.status == 403
    admin = await make_user()
    assert await admin.sign_in(web_world.logins[UserRole.ADMIN]) == 303
    other_campaign = await _started_campaign(admin, web_world.org_b)
    async with manager.http.get(f"/api/campaigns/{other_campaign}/live", headers=SSE) as response:
        assert response.status == 404  # another organisation's campaign: as if it did not exist
    async with admin.http.get(f"/api/campaigns/{other_campaign}/live") as response:
        assert response.status == 200  # no event-stream asked for: one snapshot as JSON
        snapshot = await response.json()
    assert snapshot["campaign_id"] == other_campaign
    assert snapshot["planned"] == 1


async def test_event_shows_a_new_call_and_its_turn(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    manager = await make_user()
    assert await manager.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    campaign_id = await _started_campaign(manager, web_world.org_a)
    async with manager.http.get(f"/api/campaigns/{campaign_id}/live", headers=SSE) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        name, first = await _next_event(response)
        assert name == "snapshot"
        assert first["calls"] == []
        assert first["planned"] == 1
        assert first["finished"] == 0
        assert isinstance(first["left_out"], dict)
        call_id, debtor_says = await asyncio.to_thread(_add_live_call, session_factory, campaign_id)
        name, changed = await _next_event(response)
    assert name == "snapshot"
    calls = changed["calls"]
    assert isinstance(calls, list)
    assert [c["call_id"] for c in calls] == [call_id]
    assert calls[0]["lines"] == [
        {"speaker": "robot", "text": "Здравствуйте! Это Напомни."},
        {"speaker": "debtor", "text": debtor_says},
    ]
    today = changed["today"]
    assert isinstance(today, dict)
    assert today["calls"] == 1
    assert today["answered"] == 1
    assert changed["in_progress"] == 1

    # The page without JavaScript shows the same figures and the transcript.
    async with manager.http.get(f"/campaigns/{campaign_id}") as response:
        html = await response.text()
    assert 'id="campaign-live"' in html
    assert debtor_says in html
    assert "/static/campaign_live.js" in html
    assert "Почему остальным не звоним сейчас" in html


async def test_stream_closes_when_the_server_stops(
    make_user: MakeUser, web_world: WebWorld, web_server: TestServer
) -> None:
    manager = await make_user()
    assert await manager.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    campaign_id = await _started_campaign(manager, web_world.org_a)
    async with manager.http.get(f"/api/campaigns/{campaign_id}/live", headers=SSE) as response:
        assert (await _next_event(response))[0] == "snapshot"
        web_server.app[SSE_STOPPING].set()  # what on_shutdown does when the server stops
        name, data = await _next_event(response)
        assert (name, data) == ("close", {"reason": "server"})
        assert await asyncio.wait_for(response.content.read(), 5) == b""


async def test_a_client_that_leaves_ends_its_stream(
    make_user: MakeUser, web_world: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    manager = await make_user()
    assert await manager.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    campaign_id = await _started_campaign(manager, web_world.org_a)
    caplog.set_level(logging.DEBUG, logger="web.sse")
    response = await manager.http.get(f"/api/campaigns/{campaign_id}/live", headers=SSE)
    assert (await _next_event(response))[0] == "snapshot"
    response.close()  # the browser tab is gone
    for _ in range(50):  # the handler notices within a poll and stops reading the database
        if any("client left" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the stream went on after its client left")
    assert str(campaign_id) in caplog.text
    assert "Петров" not in caplog.text
