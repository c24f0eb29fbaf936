"""The transfers report (issue 16): ``/api/reports/transfers`` and its section on ``/reports``
— counts by outcome, the debtor's wait p50/p95, promises after a transfer; organisations,
roles and bad input. A real server and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.models.campaigns import Call, Promise, PromiseStatus
from storage.models.transfers import TransferMethod, TransferState
from storage.models.users import UserRole
from storage.transfer_reports import percentile_ms
from storage.transfers import end_transfer, mark_connected, mark_ringing, offer_transfer
from tests.web.conftest import WebUser, WebWorld
from tests.web.test_transfer_pops import user_id

MakeUser = Callable[[], Awaitable[WebUser]]
DAY_ONE = dt.datetime(2020, 1, 1, 9, 0, tzinfo=dt.UTC)


def test_percentiles_are_nearest_rank() -> None:
    assert percentile_ms([], 0.5) is None
    assert percentile_ms([7000], 0.95) == 7000
    waits = list(range(1000, 21000, 1000))  # 1 … 20 s
    assert percentile_ms(waits, 0.5) == 10000
    assert percentile_ms(waits, 0.95) == 19000


def _transfer(
    factory: sessionmaker[Session],
    *,
    organisation_id: int,
    account_id: int,
    offered_at: dt.datetime,
    wait_s: float,
    ends: TransferState,
    collector: int | None = None,
    method: TransferMethod = TransferMethod.BRIDGE,
) -> None:
    """One transfer offered at ``offered_at``; connected after ``wait_s`` when ``ends`` is
    ``ended``, else ended that way after ``wait_s``."""
    with factory.begin() as session:
        call = Call(account_id=account_id, script="soft_reminder", started_at=offered_at)
        session.add(call)
        session.flush()
        transfer_id = offer_transfer(
            session,
            organisation_id=organisation_id,
            call_id=call.id,
            account_id=account_id,
            reason="operator_request",
            now=offered_at,
        )
        at = offered_at + dt.timedelta(seconds=wait_s)
        if collector is not None:
            mark_ringing(
                session,
                transfer_id,
                collector_user_id=collector,
                extension="201",
                method=method,
                now=offered_at + dt.timedelta(seconds=1),
            )
        if ends is TransferState.ENDED:
            mark_connected(session, transfer_id, at)
            at += dt.timedelta(minutes=3)
        end_transfer(session, transfer_id, state=ends, end_reason="test", now=at)


@pytest.fixture
def transferred_world(
    web_world: WebWorld, session_factory: sessionmaker[Session]
) -> tuple[WebWorld, int]:
    """On the world's own day in organisation A: 3 connected (4, 6, 20 s), 1 abandoned (25 s),
    1 nobody on the line (0 s), 1 not answered (30 s); the collector recorded a promise
    after one of them, since kept; organisation B: 1 connected. Returns the collector's id."""
    collector = user_id(session_factory, web_world.logins[UserRole.COLLECTOR])
    other = user_id(session_factory, web_world.collector_b)
    # A day of this world's own (the admin sees every organisation of the database).
    day = DAY_ONE + dt.timedelta(days=web_world.org_a)
    a = functools.partial(
        _transfer,
        session_factory,
        organisation_id=web_world.org_a,
        account_id=web_world.account_a,
    )
    for n, wait_s in enumerate((4, 6, 20)):
        method = TransferMethod.REFER if n == 0 else TransferMethod.BRIDGE
        a(
            offered_at=day + dt.timedelta(hours=n),
            wait_s=wait_s,
            ends=TransferState.ENDED,
            collector=collector,
            method=method,
        )
    a(
        offered_at=day,
        wait_s=25,
        ends=TransferState.ABANDONED,
        collector=collector,
    )
    a(offered_at=day, wait_s=0, ends=TransferState.NO_COLLECTOR)
    a(
        offered_at=day,
        wait_s=30,
        ends=TransferState.NO_ANSWER,
        collector=collector,
    )
    _transfer(
        session_factory,
        organisation_id=web_world.org_b,
        account_id=web_world.account_b,
        offered_at=day,
        wait_s=9,
        ends=TransferState.ENDED,
        collector=other,
    )
    with session_factory.begin() as session:
        session.add(
            Promise(
                account_id=web_world.account_a,
                due_on=(day + dt.timedelta(days=5)).date(),
                amount=Decimal("1500.00"),
                debt_at_promise=Decimal("2030.80"),
                status=PromiseStatus.KEPT,
                made_at=day + dt.timedelta(minutes=5),
                made_by=f"user:{collector}",
            )
        )
    return web_world, collector


async def _signed_in(make_user: MakeUser, login: str) -> WebUser:
    user = await make_user()
    assert await user.sign_in(login) == 303
    return user


def _query(world: WebWorld) -> str:
    day = (DAY_ONE + dt.timedelta(days=world.org_a)).date().isoformat()
    return f"from={day}&to={day}"


async def test_the_report_counts_transfers_waits_and_promises_after(
    make_user: MakeUser, transferred_world: tuple[WebWorld, int]
) -> None:
    world, _ = transferred_world
    manager = await _signed_in(make_user, world.logins[UserRole.MANAGER])
    async with manager.http.get(f"/api/reports/transfers?{_query(world)}") as response:
        assert response.status == 200
        report = await response.json()
    assert {k: report[k] for k in ("offered", "connected", "abandoned", "no_collector",
                                   "no_answer", "refused", "failed", "in_progress")} == {
        "offered": 6, "connected": 3, "abandoned": 1, "no_collector": 1, "no_answer": 1,
        "refused": 0, "failed": 0, "in_progress": 0,
    }  # fmt: skip
    assert (report["by_refer"], report["by_bridge"]) == (1, 2)
    # Waits 0, 4, 6, 20, 25, 30 s: nearest rank p50 = 6 s, p95 = 30 s; answered p50 = 6 s.
    assert (report["wait_p50_s"], report["wait_p95_s"]) == ("6.0", "30.0")
    assert report["answered_wait_p50_s"] == "6.0"
    assert report["connected_share"] == "0.5000"
    assert (report["promises"], report["promised_sum"], report["kept"], report["broken"]) == (
        1,
        "1500.00",
        1,
        0,
    )
    # The admin sees both organisations; an empty period has no waits.
    admin = await _signed_in(make_user, world.logins[UserRole.ADMIN])
    async with admin.http.get(f"/api/reports/transfers?{_query(world)}") as response:
        both = await response.json()
    assert (both["offered"], both["connected"]) == (7, 4)
    async with admin.http.get("/api/reports/transfers?from=2001-01-01&to=2001-01-31") as response:
        empty = await response.json()
    assert (empty["offered"], empty["wait_p50_s"], empty["connected_share"]) == (0, None, None)


async def test_the_reports_page_shows_transfers_beside_robot_vs_human(
    make_user: MakeUser, transferred_world: tuple[WebWorld, int]
) -> None:
    world, _ = transferred_world
    manager = await _signed_in(make_user, world.logins[UserRole.CAMPAIGN_MANAGER])
    async with manager.http.get(f"/reports?{_query(world)}") as response:
        assert response.status == 200
        html = await response.text()
    assert "Переводы на специалиста" in html
    assert 'data-test="transfers-offered">6<' in html
    assert 'data-test="transfers-connected">3<' in html
    assert 'data-test="transfers-wait">6,0 / 30,0<' in html
    assert 'data-test="transfer-side"><td>Перевод на специалиста</td><td class="num">3<' in html


async def test_roles_and_bad_dates(make_user: MakeUser, web_world: WebWorld) -> None:
    anonymous = await make_user()
    async with anonymous.http.get("/api/reports/transfers") as response:
        assert response.status == 401
    collector = await _signed_in(make_user, web_world.logins[UserRole.COLLECTOR])
    async with collector.http.get("/api/reports/transfers") as response:
        assert response.status == 403
    manager = await _signed_in(make_user, web_world.logins[UserRole.MANAGER])
    async with manager.http.get("/api/reports/transfers?from=2026-13-01") as response:
        assert response.status == 400
        assert (await response.json())["error"] == "параметр from: дата ГГГГ-ММ-ДД"
    async with manager.http.get("/api/reports/transfers?from=2026-12-01&to=2026-11-01") as response:
        assert response.status == 400
        assert (await response.json())["error"] == "параметр to: раньше, чем from"
    async with manager.http.get("/api/openapi.json") as response:
        paths = (await response.json())["paths"]
    assert "/api/reports/transfers" in paths
    assert "/api/me/pops" in paths
