"""Collectors on the line (issue 16, first part): a collector's status, the admin's extension
form, the line API; roles, CSRF and organisations. A real server and database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage.collectors import set_extension
from storage.models.users import CollectorLine, LineStatus, User, UserRole
from tests.web.conftest import WebUser, WebWorld

MakeUser = Callable[[], Awaitable[WebUser]]


def _user_id(factory: sessionmaker[Session], login: str) -> int:
    with factory() as session:
        found = session.scalar(sa.select(User.id).where(User.login == login))
    assert found is not None
    return found


def _status(factory: sessionmaker[Session], user_id: int) -> str | None:
    with factory() as session:
        status = session.scalar(
            sa.select(CollectorLine.status).where(CollectorLine.user_id == user_id)
        )
    return None if status is None else status.value


async def _signed_in(make_user: MakeUser, login: str) -> WebUser:
    user = await make_user()
    assert await user.sign_in(login) == 303
    return user


async def test_a_collector_sets_their_status_with_the_buttons(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    login = web_world.logins[UserRole.COLLECTOR]
    collector = await _signed_in(make_user, login)
    async with collector.http.get("/escalations") as response:
        html = await response.text()
    assert 'data-status="away"' in html
    assert "добавочный номер не задан" in html
    assert html.count('action="/line-status"') == 3
    async with collector.http.post(
        "/line-status",
        data={"csrf_token": collector.csrf, "status": "online", "next": "/escalations"},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/escalations"
    assert _status(session_factory, _user_id(session_factory, login)) == "online"
    async with collector.http.get("/escalations") as response:
        html = await response.text()
    assert 'data-status="online"' in html
    assert "на линии" in html
    # A foreign target is not followed: back to the queue.
    async with collector.http.post(
        "/line-status",
        data={"csrf_token": collector.csrf, "status": "away", "next": "//evil.example/"},
        allow_redirects=False,
    ) as response:
        assert response.headers["Location"] == "/escalations"
    async with collector.http.post(
        "/line-status", data={"csrf_token": collector.csrf, "status": "lunch"}
    ) as response:
        assert response.status == 400
        assert "status: одно из online, busy, away" in await response.text()


async def test_status_changes_need_the_csrf_token(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    login = web_world.logins[UserRole.COLLECTOR]
    collector = await _signed_in(make_user, login)
    async with collector.http.post(
        "/line-status", data={"status": "online"}, allow_redirects=False
    ) as response:
        assert response.status == 403
    async with collector.http.post(
        "/line-status", data={"csrf_token": "forged", "status": "online"}, allow_redirects=False
    ) as response:
        assert response.status == 403
    async with collector.http.post("/api/me/line-status", json={"status": "online"}) as response:
        assert response.status == 403
    assert _status(session_factory, _user_id(session_factory, login)) is None


async def test_the_status_api(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    collector = await _signed_in(make_user, web_world.logins[UserRole.COLLECTOR])
    headers = {"X-CSRF-Token": collector.csrf}
    async with collector.http.post(
        "/api/me/line-status", json={"status": "busy"}, headers=headers
    ) as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "busy"
    assert body["status_changed_at"].endswith("+00:00")
    for wrong in ({"status": "BUSY"}, {"status": None}, {}, {"status": ["online"]}):
        async with collector.http.post(
            "/api/me/line-status", json=wrong, headers=headers
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"].startswith("status:")
    for role in (UserRole.ADMIN, UserRole.MANAGER, UserRole.CAMPAIGN_MANAGER):
        other = await _signed_in(make_user, web_world.logins[role])
        async with other.http.post(
            "/api/me/line-status", json={"status": "online"}, headers={"X-CSRF-Token": other.csrf}
        ) as response:
            assert response.status == 403
        async with other.http.post(
            "/line-status", data={"csrf_token": other.csrf, "status": "online"}
        ) as response:
            assert response.status == 403
    anonymous = await make_user()
    async with anonymous.http.post("/api/me/line-status", json={"status": "online"}) as response:
        assert response.status == 401


async def test_an_admin_sets_an_extension_on_the_users_page(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    login = web_world.logins[UserRole.COLLECTOR]
    collector_id = _user_id(session_factory, login)
    admin = await _signed_in(make_user, web_world.logins[UserRole.ADMIN])
    async with admin.http.post(
        f"/users/{collector_id}/extension",
        data={"csrf_token": admin.csrf, "extension": " 205 "},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
    async with admin.http.get("/users") as response:
        html = await response.text()
    row = html.split(f'data-test="user-{login}"', 1)[1].split("</tr>", 1)[0]
    assert 'name="extension" value="205"' in row
    assert "отошёл" in row
    async with admin.http.post(
        f"/users/{collector_id}/extension", data={"extension": "206"}, allow_redirects=False
    ) as response:
        assert response.status == 403  # no CSRF token
    async with admin.http.post(
        f"/users/{collector_id}/extension",
        data={"csrf_token": admin.csrf, "extension": "2o5"},
        allow_redirects=False,
    ) as response:
        assert response.status == 400
        assert "добавочный номер (extension): от 2 до 6 цифр" in await response.text()
    async with admin.http.post(
        f"/users/{collector_id}/extension",
        data={"csrf_token": admin.csrf, "extension": ""},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
    with session_factory() as session:
        assert set_extension.__module__ == "storage.collectors"  # the CLI's function too
        assert session.get_one(User, collector_id).organisations[0].extension is None


async def test_the_extension_api_for_admins_only(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    collector_id = _user_id(session_factory, web_world.logins[UserRole.COLLECTOR])
    manager_id = _user_id(session_factory, web_world.logins[UserRole.MANAGER])
    second_id = _user_id(session_factory, web_world.collector_b)
    admin = await _signed_in(make_user, web_world.logins[UserRole.ADMIN])
    headers = {"X-CSRF-Token": admin.csrf}

    async def put(user_id: int, body: object) -> tuple[int, dict[str, object]]:
        async with admin.http.post(
            f"/api/users/{user_id}/extension", json=body, headers=headers
        ) as response:
            return response.status, await response.json()

    assert await put(collector_id, {"extension": "207"}) == (
        200,
        {"id": collector_id, "login": web_world.logins[UserRole.COLLECTOR], "extension": "207"},
    )
    assert (await put(second_id, {"extension": "207"}))[0] == 200  # another organisation
    status, body = await put(manager_id, {"extension": "208"})
    assert (status, "только у взыскателя" in str(body["error"])) == (400, True)
    for wrong in ({}, {"extension": 207}, {"extension": "1"}, {"extension": "1234567"}):
        status, body = await put(collector_id, wrong)
        assert status == 400
        assert "extension" in str(body["error"])
    assert (await put(2_000_000_000, {"extension": "209"}))[0] == 404
    assert (await put(collector_id, {"extension": None}))[1]["extension"] is None
    for role in (UserRole.MANAGER, UserRole.COLLECTOR, UserRole.CAMPAIGN_MANAGER):
        other = await _signed_in(make_user, web_world.logins[role])
        async with other.http.post(
            f"/api/users/{collector_id}/extension",
            json={"extension": "210"},
            headers={"X-CSRF-Token": other.csrf},
        ) as response:
            assert response.status == 403


async def _line(user: WebUser, query: str = "") -> tuple[int, dict[str, Any]]:
    async with user.http.get(f"/api/collectors/line{query}") as response:
        return response.status, await response.json()


async def test_the_line_shows_only_ones_own_organisations_collectors(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    login = web_world.logins[UserRole.COLLECTOR]
    collector_id = _user_id(session_factory, login)
    other_id = _user_id(session_factory, web_world.collector_b)
    with session_factory.begin() as session:
        set_extension(session, collector_id, "301")
        set_extension(session, other_id, "302")
    collector = await _signed_in(make_user, login)
    async with collector.http.post(
        "/api/me/line-status", json={"status": "online"}, headers={"X-CSRF-Token": collector.csrf}
    ) as response:
        assert response.status == 200

    for role in (UserRole.COLLECTOR, UserRole.MANAGER):
        user = collector if role is UserRole.COLLECTOR else await _signed_in(make_user, web_world.logins[role])  # fmt: skip
        status, body = await _line(user)
        assert status == 200
        assert body["online"] == 1
        rows = body["collectors"]
        assert isinstance(rows, list)
        assert [(r["user_id"], r["extension"], r["status"]) for r in rows] == [
            (collector_id, "301", "online")
        ]
        assert set(rows[0]) == {
            "user_id", "display_name", "organisation_id", "extension", "status", "status_changed_at",
        }  # fmt: skip
        assert rows[0]["display_name"] == "Сотрудник collector"
        assert rows[0]["organisation_id"] == web_world.org_a
        assert (await _line(user, f"?organisation_id={web_world.org_b}"))[0] == 404
        assert (await _line(user, "?organisation_id=x"))[0] == 400

    admin = await _signed_in(make_user, web_world.logins[UserRole.ADMIN])
    status, body = await _line(admin)
    assert status == 200
    everyone = {r["user_id"] for r in body["collectors"]}
    assert {collector_id, other_id} <= everyone
    status, body = await _line(admin, f"?organisation_id={web_world.org_b}")
    assert [(r["user_id"], r["status"]) for r in body["collectors"]] == [(other_id, "away")]

    campaigns = await _signed_in(make_user, web_world.logins[UserRole.CAMPAIGN_MANAGER])
    assert (await _line(campaigns))[0] == 403
    assert (await _line(await make_user()))[0] == 401


@pytest.mark.parametrize("status", list(LineStatus))
async def test_every_status_is_shown_in_russian(
    make_user: MakeUser, web_world: WebWorld, status: LineStatus
) -> None:
    collector = await _signed_in(make_user, web_world.logins[UserRole.COLLECTOR])
    async with collector.http.post(
        "/line-status", data={"csrf_token": collector.csrf, "status": status.value}
    ) as response:
        html = await response.text()  # followed back to the queue
    title = {"online": "на линии", "busy": "занят", "away": "отошёл"}[status.value]
    assert f'data-status="{status.value}">{title}</strong>' in html
