"""Login throttling on a real server: per login name, per client address, across restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from napomni.cli import cli
from storage.models.users import LoginFailure, UserRole
from tests.web.conftest import PASSWORD, SECRET, WebUser, WebWorld, web_config
from web.app import create_app
from web.throttle import LoginLimits

WRONG = "не-тот-пароль-42"


@pytest.fixture(autouse=True)
def no_failures(session_factory: sessionmaker[Session]) -> Iterator[None]:
    """Every test here starts and ends with no failures stored (all come from 127.0.0.1)."""
    with session_factory.begin() as session:
        session.execute(sa.delete(LoginFailure))
    yield
    with session_factory.begin() as session:
        session.execute(sa.delete(LoginFailure))


async def _server(database_url: str, limits: LoginLimits | None = None) -> TestServer:
    config = web_config(database_url)
    if limits is not None:
        config = dataclasses.replace(config, login_limits=limits)
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def servers(database_url: str) -> AsyncIterator[list[TestServer]]:
    started: list[TestServer] = []
    try:
        yield started
    finally:
        for server in started:
            await server.close()


async def _try(server: TestServer, login: str, password: str) -> tuple[int, str | None, str]:
    """One sign-in through the form: (status, Retry-After, page text)."""
    user = WebUser(server)
    try:
        token = await user.form_token("/login")
        async with user.http.post(
            "/login",
            data={"csrf_token": token, "login": login, "password": password, "next": ""},
            allow_redirects=False,
        ) as response:
            return response.status, response.headers.get("Retry-After"), await response.text()
    finally:
        await user.close()


async def test_five_failures_block_the_login_even_after_a_restart(
    servers: list[TestServer],
    database_url: str,
    web_world: WebWorld,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    login = web_world.logins[UserRole.COLLECTOR]
    servers.append(await _server(database_url))
    for _ in range(5):
        assert (await _try(servers[0], login, WRONG))[0] == 401
    status, retry_after, html = await _try(servers[0], login, PASSWORD)
    assert status == 429  # refused before the password is even checked
    assert retry_after is not None
    assert 800 < int(retry_after) <= 901
    assert "Слишком много неудачных попыток входа" in html
    assert "Попробуйте снова через 15 мин." in html
    # Another server process on the same database (or this one restarted) agrees.
    await servers[0].close()
    servers.append(await _server(database_url))
    assert (await _try(servers[1], login, PASSWORD))[0] == 429
    # Another login from the same address is not blocked by this one.
    assert (await _try(servers[1], web_world.logins[UserRole.MANAGER], PASSWORD))[0] == 303
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert login not in logged
    assert WRONG not in logged
    assert PASSWORD not in logged


async def test_a_successful_sign_in_clears_the_login_s_failures(
    servers: list[TestServer], database_url: str, web_world: WebWorld
) -> None:
    login = web_world.logins[UserRole.MANAGER]
    servers.append(await _server(database_url))
    for _ in range(4):
        assert (await _try(servers[0], login, WRONG))[0] == 401
    assert (await _try(servers[0], login, PASSWORD))[0] == 303
    for _ in range(4):
        assert (await _try(servers[0], login, WRONG))[0] == 401
    assert (await _try(servers[0], login, PASSWORD))[0] == 303


async def test_one_address_trying_many_names_is_blocked(
    servers: list[TestServer], database_url: str, web_world: WebWorld
) -> None:
    servers.append(await _server(database_url, LoginLimits(per_login=5, per_address=3)))
    for k in range(3):
        assert (await _try(servers[0], f"guess-{k}", WRONG))[0] == 401
    status, retry_after, _ = await _try(servers[0], web_world.logins[UserRole.ADMIN], PASSWORD)
    assert status == 429
    assert retry_after is not None


async def test_napomni_user_unblock_lifts_the_login_block(
    servers: list[TestServer], database_url: str, web_world: WebWorld, tmp_path: Path
) -> None:
    login = web_world.logins[UserRole.CAMPAIGN_MANAGER]
    servers.append(await _server(database_url))
    for _ in range(5):
        assert (await _try(servers[0], login, WRONG))[0] == 401
    assert (await _try(servers[0], login, PASSWORD))[0] == 429
    env = {"NAPOMNI_DATABASE_URL": database_url, "NAPOMNI_WEB_SECRET": SECRET,
           "NAPOMNI_DATA_DIR": str(tmp_path)}  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["user", "unblock", login], env=env)
    assert result.exit_code == 0, result.output
    assert "снято: 5" in result.stdout
    assert (await _try(servers[0], login, PASSWORD))[0] == 303


async def test_parallel_guesses_at_one_name_are_counted_in_turn(
    servers: list[TestServer], database_url: str, web_world: WebWorld
) -> None:
    """16 wrong passwords at once, over two server processes' worth of connections: only the
    limit's 5 are checked (on PostgreSQL 12 had been, issue 14 item 6)."""
    login = web_world.logins[UserRole.COLLECTOR]
    servers.append(await _server(database_url))
    servers.append(await _server(database_url))
    results = await asyncio.gather(*(_try(servers[n % 2], login, WRONG) for n in range(16)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(401) == 5, statuses  # checked and wrong
    assert statuses.count(429) == 11, statuses  # refused unchecked
