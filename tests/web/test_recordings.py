"""Call recordings: every fetch audited; a collector hears only the calls of their cases
(issue 14, item 11). A real server and database; the file is a real WAV."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from sqlalchemy.orm import Session, sessionmaker

from speech.audio import silence, write_wav
from storage.models import utc_now
from storage.models.campaigns import Call
from storage.models.users import AccountOpening, OpeningPurpose, UserRole
from tests.web.conftest import WebUser, WebWorld, web_config
from tests.web.test_collector_promises import _open_case
from web.app import create_app


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[TestServer]:
    config = dataclasses.replace(web_config(database_url), recordings_dir=tmp_path)
    started = TestServer(create_app(config), host="127.0.0.1")
    await started.start_server()
    try:
        yield started
    finally:
        await started.close()


def _recorded_call(factory: sessionmaker[Session], world: WebWorld, directory: Path) -> int:
    write_wav(directory / "call.wav", silence(0.5))
    with factory.begin() as session:
        call = Call(account_id=world.account_a, script="soft_reminder", started_at=utc_now(),
                    recording_path="call.wav")  # fmt: skip
        session.add(call)
        session.flush()
        return call.id


def _audited(factory: sessionmaker[Session], world: WebWorld) -> int:
    with factory() as session:
        return int(
            session.scalar(
                sa.select(sa.func.count()).where(
                    AccountOpening.account_id == world.account_a,
                    AccountOpening.purpose == OpeningPurpose.RECORDING,
                )
            )
            or 0
        )


async def _fetch(server: TestServer, login: str, call_id: int, take: int | None = None) -> int:
    user = WebUser(server)
    try:
        assert await user.sign_in(login) == 303
        if take is not None:
            async with user.http.post(f"/api/escalations/{take}/take", headers={"X-CSRF-Token": user.csrf}) as taken:  # fmt: skip
                assert taken.status == 200
        async with user.http.get(f"/calls/{call_id}/recording") as response:
            await response.read()
            return response.status
    finally:
        await user.close()


async def test_a_recording_is_audited_and_a_collector_hears_only_their_cases(
    server: TestServer, web_world: WebWorld, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    call_id = _recorded_call(session_factory, web_world, tmp_path)
    assert await _fetch(server, web_world.logins[UserRole.CAMPAIGN_MANAGER], call_id) == 200
    assert _audited(session_factory, web_world) == 1
    collector = web_world.logins[UserRole.COLLECTOR]
    assert await _fetch(server, collector, call_id) == 404  # no case of theirs on the account
    assert _audited(session_factory, web_world) == 1
    case_id = _open_case(session_factory, web_world)
    assert await _fetch(server, collector, call_id, take=case_id) == 200
    assert _audited(session_factory, web_world) == 2
    assert await _fetch(server, web_world.collector_b, call_id) == 404  # another organisation
