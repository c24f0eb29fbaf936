"""The collector's screen pop (issue 16): ``GET /api/me/pops`` over Server-Sent Events, and
the case a transferred call leaves. A real server and database; the transfers are written
through :mod:`storage.transfers` as the worker (another process) writes them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from sqlalchemy.orm import Session, sessionmaker

from dialer.escalation import EscalationReason, escalate
from storage.models import utc_now
from storage.models.campaigns import Call, EscalationCase, Promise, Turn
from storage.models.transfers import TransferMethod, TransferState
from storage.models.users import AccountOpening, User, UserRole
from storage.transfers import (
    attach_case,
    end_transfer,
    mark_connected,
    mark_ringing,
    offer_transfer,
)
from tests.web.conftest import WebUser, WebWorld, web_config
from web.app import create_app

MakeUser = Callable[[], Awaitable[WebUser]]
SSE = {"Accept": "text/event-stream"}


def user_id(factory: sessionmaker[Session], login: str) -> int:
    with factory() as session:
        found = session.scalar(sa.select(User.id).where(User.login == login))
    assert found is not None
    return found


def start_call(factory: sessionmaker[Session], account_id: int, turns: int = 2) -> int:
    """A call in progress on ``account_id`` with ``turns`` stored turns; its id."""
    with factory.begin() as session:
        call = Call(account_id=account_id, script="soft_reminder", started_at=utc_now())
        session.add(call)
        session.flush()
        for index in range(turns):
            add_turn(session, call.id, index)
        return call.id


def add_turn(session: Session, call_id: int, index: int) -> None:
    """One more turn, as the session stores it while the call goes on."""
    texts = [
        ("Здравствуйте! Звоню по поводу долга за отопление.", "соедините с оператором"),
        ("Уточните, пожалуйста, в чём вопрос?", "сумма неправильная я всё платил"),
        ("Соединяю со специалистом, оставайтесь на линии.", None),
    ]
    robot, debtor = texts[index % len(texts)]
    tags = {"dispute_amount": 0.93} if index == 1 else {}
    session.add(Turn(call_id=call_id, index=index, robot_text=robot, debtor_text=debtor, tags=tags))


def ring(
    factory: sessionmaker[Session],
    *,
    organisation_id: int,
    account_id: int,
    call_id: int,
    collector: int,
) -> int:
    """The robot offers a person and the collector's phone rings: the transfer's id."""
    now = utc_now()
    with factory.begin() as session:
        transfer_id = offer_transfer(
            session,
            organisation_id=organisation_id,
            call_id=call_id,
            account_id=account_id,
            reason="dispute",
            now=now,
        )
    with factory.begin() as session:
        mark_ringing(
            session,
            transfer_id,
            collector_user_id=collector,
            extension="201",
            method=TransferMethod.BRIDGE,
            now=now + dt.timedelta(milliseconds=300),
        )
    return transfer_id


async def signed_in(make_user: MakeUser, login: str) -> WebUser:
    user = await make_user()
    assert await user.sign_in(login) == 303
    return user


class EventReader:
    """Reads ``event:``/``data:`` pairs off an SSE response, with a bounded wait."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, timeout_s: float = 5.0) -> tuple[str, dict[str, Any]]:
        name = ""
        async with asyncio.timeout(timeout_s):
            while True:
                raw = await self.response.content.readline()
                if raw == b"":
                    raise EOFError("the stream ended")
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name:
                    return name, json.loads(line.removeprefix("data: "))


async def test_only_signed_in_collectors_get_pops(make_user: MakeUser, web_world: WebWorld) -> None:
    anonymous = await make_user()
    async with anonymous.http.get("/api/me/pops", headers=SSE) as response:
        assert response.status == 401
    for role in (UserRole.ADMIN, UserRole.CAMPAIGN_MANAGER, UserRole.MANAGER):
        user = await signed_in(make_user, web_world.logins[role])
        async with user.http.get("/api/me/pops", headers=SSE) as response:
            assert response.status == 403, role


async def test_a_collector_sees_only_their_own_transfers_of_their_organisations(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    me = user_id(session_factory, web_world.logins[UserRole.COLLECTOR])
    other_org_collector = user_id(session_factory, web_world.collector_b)
    mine = ring(
        session_factory,
        organisation_id=web_world.org_a,
        account_id=web_world.account_a,
        call_id=start_call(session_factory, web_world.account_a),
        collector=me,
    )
    # A transfer to the other organisation's collector, and one of the other organisation
    # wrongly routed to me: neither shows on my screen.
    ring(
        session_factory,
        organisation_id=web_world.org_b,
        account_id=web_world.account_b,
        call_id=start_call(session_factory, web_world.account_b),
        collector=other_org_collector,
    )
    ring(
        session_factory,
        organisation_id=web_world.org_b,
        account_id=web_world.account_b,
        call_id=start_call(session_factory, web_world.account_b),
        collector=me,
    )
    collector = await signed_in(make_user, web_world.logins[UserRole.COLLECTOR])
    async with collector.http.get("/api/me/pops") as response:
        assert response.status == 200
        [pop] = await response.json()
    assert pop["transfer_id"] == mine
    assert pop["state"] == "ringing"
    assert pop["debtor_name"] == web_world.person_name
    assert pop["reason_title"] == "спор о сумме"
    assert [line["speaker"] for line in pop["transcript"]] == ["robot", "debtor"] * 2
    assert pop["transcript"][3]["tags"] == ["не согласен с суммой"]
    assert [d["period"] for d in pop["debts"]] == ["октябрь 2026"]  # September is paid
    assert pop["case_url"] is None
    other = await signed_in(make_user, web_world.collector_b)
    async with other.http.get("/api/me/pops") as response:
        [theirs] = await response.json()
    assert theirs["transfer_id"] != mine
    assert web_world.person_name not in json.dumps(theirs, ensure_ascii=False)
    # Showing the card is audited as an opening of the account.
    with session_factory() as session:
        opened = session.scalar(
            sa.select(sa.func.count()).where(
                AccountOpening.user_id == me, AccountOpening.account_id == web_world.account_a
            )
        )
    assert opened == 1


async def test_a_pop_arrives_when_the_phone_rings_and_follows_the_call_to_its_case(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    me = user_id(session_factory, web_world.logins[UserRole.COLLECTOR])
    collector = await signed_in(make_user, web_world.logins[UserRole.COLLECTOR])
    call_id = start_call(session_factory, web_world.account_a)
    async with collector.http.get("/api/me/pops", headers=SSE) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = EventReader(response)
        transfer_id = ring(
            session_factory,
            organisation_id=web_world.org_a,
            account_id=web_world.account_a,
            call_id=call_id,
            collector=me,
        )
        name, pop = await events.next()
        assert (name, pop["transfer_id"], pop["account_number"]) == (
            "pop",
            transfer_id,
            f"A{web_world.logins[UserRole.COLLECTOR].split('-')[-1]}",
        )
        with session_factory.begin() as session:
            add_turn(session, call_id, 2)
        name, update = await events.next()
        assert name == "update"
        assert update["transcript"][-1]["text"] == "Соединяю со специалистом, оставайтесь на линии."
        assert update["state"] == "ringing"
        with session_factory.begin() as session:
            mark_connected(session, transfer_id, utc_now())
        name, update = await events.next()
        assert (name, update["state"], update["state_title"]) == (
            "update",
            "connected",
            "идёт разговор",
        )
        case_id = end_call_with_case(session_factory, web_world, call_id, transfer_id)
        name, update = await events.next()
        assert (name, update["state"], update["case_url"]) == (
            "update",
            "ended",
            f"/escalations/{case_id}",
        )


def end_call_with_case(
    factory: sessionmaker[Session], world: WebWorld, call_id: int, transfer_id: int
) -> int:
    """The debtor hangs up after talking to the collector; the call's end opens the case."""
    now = utc_now()
    with factory.begin() as session:
        end_transfer(
            session, transfer_id, state=TransferState.ENDED, end_reason="debtor_hung_up", now=now
        )
        case = escalate(
            session,
            organisation_id=world.org_a,
            account_id=world.account_a,
            reasons=[EscalationReason.DISPUTE],
            debt=Decimal("2030.80"),
            now=now,
            call_id=call_id,
        )
        assert case is not None
        attach_case(session, call_id, case.id)
        return case.id


async def test_the_transferred_case_is_the_collectors_and_takes_the_outcome(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    me = user_id(session_factory, web_world.logins[UserRole.COLLECTOR])
    call_id = start_call(session_factory, web_world.account_a)
    transfer_id = ring(
        session_factory,
        organisation_id=web_world.org_a,
        account_id=web_world.account_a,
        call_id=call_id,
        collector=me,
    )
    with session_factory.begin() as session:
        mark_connected(session, transfer_id, utc_now())
    case_id = end_call_with_case(session_factory, web_world, call_id, transfer_id)
    collector = await signed_in(make_user, web_world.logins[UserRole.COLLECTOR])
    async with collector.http.get(f"/escalations/{case_id}") as response:
        html = await response.text()
    assert "Переведён на вас, звонок" in html
    assert f"(№{call_id})" in html
    assert f'action="/escalations/{case_id}/resolve"' in html  # the case is theirs already
    due = (utc_now() + dt.timedelta(days=10)).date().isoformat()
    async with collector.http.post(
        f"/escalations/{case_id}/resolve",
        data={
            "csrf_token": collector.csrf,
            "resolution": "promise",
            "promise_due": due,
            "promise_amount": "1500",
            "note": "договорились по телефону",
        },
        allow_redirects=False,
    ) as response:
        assert response.status == 303
    with session_factory() as session:
        case = session.get(EscalationCase, case_id)
        assert case is not None
        assert case.status == "closed"
        promise = session.scalar(
            sa.select(Promise).where(Promise.account_id == web_world.account_a).limit(1)
        )
        assert promise is not None
        assert promise.made_by == f"user:{me}"
    # Another collector of the organisation sees who took the call.
    admin = await signed_in(make_user, web_world.logins[UserRole.ADMIN])
    async with admin.http.get(f"/escalations/{case_id}") as response:
        assert "Переведён на специалиста Сотрудник collector" in await response.text()


async def test_the_stream_closes_when_the_server_stops(
    database_url: str, web_world: WebWorld
) -> None:
    """A real shutdown: ``on_shutdown`` tells the open stream, which ends before the wait
    for open requests runs out."""
    server = TestServer(create_app(web_config(database_url)), host="127.0.0.1")
    await server.start_server()
    collector = WebUser(server)
    closing: asyncio.Task[None] | None = None
    try:
        assert await collector.sign_in(web_world.logins[UserRole.COLLECTOR]) == 303
        async with collector.http.get("/api/me/pops", headers=SSE) as response:
            assert response.status == 200
            events = EventReader(response)
            closing = asyncio.create_task(server.close())
            name, data = await events.next()
            assert (name, data) == ("close", {"reason": "server"})
            # The blank line that ends the close event, then the end of the stream.
            assert await asyncio.wait_for(response.content.read(), 5) == b"\n"
        await asyncio.wait_for(asyncio.shield(closing), 10)
    finally:
        await collector.close()
        if closing is None:
            await server.close()
        else:
            await closing


async def test_a_client_that_leaves_ends_its_stream(
    make_user: MakeUser,
    web_world: WebWorld,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    me = user_id(session_factory, web_world.logins[UserRole.COLLECTOR])
    collector = await signed_in(make_user, web_world.logins[UserRole.COLLECTOR])
    ring(
        session_factory,
        organisation_id=web_world.org_a,
        account_id=web_world.account_a,
        call_id=start_call(session_factory, web_world.account_a),
        collector=me,
    )
    caplog.set_level(logging.DEBUG, logger="web.sse")
    response = await collector.http.get("/api/me/pops", headers=SSE)
    assert (await EventReader(response).next())[0] == "pop"
    response.close()  # the browser tab is gone
    for _ in range(50):  # the handler notices within a poll and stops reading the database
        if any("client left" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the stream went on after its client left")
    assert str(me) in caplog.text
    assert web_world.person_name not in caplog.text  # the card is never logged
