"""Sessions kept on the server (issue 14, item 2): sign-out, the CLI and idleness end them,
and a copied cookie dies with its session. A real server and database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from napomni.cli import cli
from storage.models import utc_now
from storage.models.users import User, UserRole, WebSession
from tests.web.conftest import WebUser, WebWorld

MakeUser = Callable[[], Awaitable[WebUser]]


async def _me(user: WebUser) -> int:
    async with user.http.get("/api/me") as response:
        return response.status


async def _signed_in_twice(make_user: MakeUser, login: str) -> tuple[WebUser, WebUser]:
    """A signed-in client and a second one holding a copy of its cookie."""
    original = await make_user()
    assert await original.sign_in(login) == 303
    thief = await make_user()
    thief.http.cookie_jar.update_cookies(
        {c.key: c.value for c in original.http.cookie_jar}, original.http._base_url
    )
    assert await _me(thief) == 200
    return original, thief


async def test_sign_out_ends_the_session_for_a_copied_cookie_too(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    original, thief = await _signed_in_twice(make_user, web_world.logins[UserRole.MANAGER])
    async with original.http.post(
        "/logout", headers={"X-CSRF-Token": original.csrf}, allow_redirects=False
    ) as response:
        assert response.status == 303
    assert await _me(original) == 401
    assert await _me(thief) == 401


@pytest.mark.parametrize("command", ["sign-out", "disable", "password"])
async def test_the_cli_ends_every_session_of_the_user(
    make_user: MakeUser, web_world: WebWorld, database_url: str, command: str
) -> None:
    login = web_world.logins[UserRole.CAMPAIGN_MANAGER]
    first, second = await make_user(), await make_user()
    assert await first.sign_in(login) == 303
    assert await second.sign_in(login) == 303
    result = CliRunner().invoke(
        cli,
        ["--database-url", database_url, "user", command, login]
        + (["--password-stdin"] if command == "password" else []),
        input="новый-длинный-пароль-2026\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(": 2.") or "сеансов: 2" in result.output
    assert await _me(first) == 401
    assert await _me(second) == 401
    third = await make_user()
    expected = {"sign-out": 303, "disable": 401, "password": 401}[command]
    assert await third.sign_in(login) == expected  # the old password no longer works either
    if command == "disable":
        assert CliRunner().invoke(cli, ["--database-url", database_url, "user", "enable", login]).exit_code == 0  # fmt: skip
        assert await third.sign_in(login) == 303


async def test_an_idle_session_ends(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    login = web_world.logins[UserRole.COLLECTOR]
    user = await make_user()
    assert await user.sign_in(login) == 303
    with session_factory.begin() as session:
        user_id = session.scalar(sa.select(User.id).where(User.login == login))
        session.execute(
            sa.update(WebSession)
            .where(WebSession.user_id == user_id)
            .values(last_seen_at=utc_now() - dt.timedelta(hours=2))
        )
    assert await _me(user) == 401


async def test_the_database_keeps_no_usable_token(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.MANAGER]) == 303
    cookie = next(c.value for c in user.http.cookie_jar)
    with session_factory() as session:
        hashes = session.scalars(sa.select(WebSession.token_hash)).all()
    assert hashes
    assert all(h not in cookie for h in hashes)


async def test_an_admin_ends_a_users_sessions_and_disables_them_in_the_web(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    login = web_world.logins[UserRole.COLLECTOR]
    victim = await make_user()
    assert await victim.sign_in(login) == 303
    with session_factory() as session:
        user_id = session.scalar(sa.select(User.id).where(User.login == login))
    admin = await make_user()
    assert await admin.sign_in(web_world.logins[UserRole.ADMIN]) == 303
    async with admin.http.get("/users") as page:
        assert page.status == 200
        assert login in await page.text()
    headers = {"X-CSRF-Token": admin.csrf}
    async with admin.http.post(f"/api/users/{user_id}/sign-out", headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["sessions_ended"] == 1
    assert await _me(victim) == 401
    async with admin.http.post(f"/api/users/{user_id}/disable", headers=headers) as response:
        assert (await response.json())["active"] is False
    assert await victim.sign_in(login) == 401
    async with admin.http.post(f"/api/users/{user_id}/enable", headers=headers) as response:
        assert (await response.json())["active"] is True
    assert await victim.sign_in(login) == 303
    # Only admins: a campaign manager gets 403 on the page and the API.
    manager = await make_user()
    assert await manager.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    async with manager.http.get("/users") as page:
        assert page.status == 403
    async with manager.http.post(
        f"/api/users/{user_id}/sign-out", headers={"X-CSRF-Token": manager.csrf}
    ) as response:
        assert response.status == 403
