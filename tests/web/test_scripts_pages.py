"""Scripts in the web: the library list, editing the texts (loader errors by node and field,
nothing saved), new versions, campaigns pinned to the version they were created with, the
worker's resolution of that version, and the rehearsal with the real classifier and engine.

A real server and database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.runner import ScriptBook
from storage.models.script_versions import CampaignScriptVersion, ScriptVersion
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld

MakeUser = Callable[[], Awaitable[WebUser]]

HELLO = "line:hello:say:0"
NEW_HELLO = "Добрый день! Это {organisation}. Звонок автоматический, разговор записывается."


async def _signed_in(make_user: MakeUser, world: WebWorld, role: UserRole) -> WebUser:
    user = await make_user()
    assert await user.sign_in(world.logins[role]) == 303
    return user


def _versions(factory: sessionmaker[Session], org: int) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(
                sa.select(ScriptVersion.version)
                .where(ScriptVersion.organisation_id == org)
                .order_by(ScriptVersion.version)
            )
        )


async def _save_form(user: WebUser, org: int, fields: dict[str, str]) -> tuple[int, str, str]:
    token = await user.form_token(f"/scripts/soft_reminder?organisation_id={org}")
    async with user.http.post(
        "/scripts/soft_reminder",
        data={"csrf_token": token, "organisation_id": str(org), **fields},
        allow_redirects=False,
    ) as response:
        return response.status, await response.text(), response.headers.get("Location", "")


async def _new_campaign(user: WebUser, org: int, name: str) -> int:
    async with user.http.post(
        "/api/campaigns",
        json={"organisation_id": org, "name": name, "script": "soft_reminder"},
        headers={"X-CSRF-Token": user.csrf},
    ) as response:
        assert response.status == 201, await response.text()
        return int((await response.json())["id"])


async def test_library_listed_with_titles_and_purposes(
    web_world: WebWorld, make_user: MakeUser
) -> None:
    user = await _signed_in(make_user, web_world, UserRole.CAMPAIGN_MANAGER)
    async with user.http.get("/scripts") as response:
        html = await response.text()
    assert response.status == 200
    assert "Мягкое напоминание" in html
    assert "Досудебное уведомление" in html
    assert "дружелюбно узнать причину и дату оплаты" in html
    async with user.http.get(f"/api/scripts?organisation_id={web_world.org_a}") as response:
        items = await response.json()
    assert {item["name"] for item in items} >= {"soft_reminder", "warning", "thanks"}
    assert all(item["version"] == 1 and item["title"] and item["purpose"] for item in items)
    # another organisation's library is not this user's to see
    async with user.http.get(f"/api/scripts?organisation_id={web_world.org_b}") as response:
        assert response.status == 404


async def test_bad_edit_shows_errors_by_node_and_field_and_saves_nothing(
    web_world: WebWorld, make_user: MakeUser, session_factory: sessionmaker[Session]
) -> None:
    user = await _signed_in(make_user, web_world, UserRole.CAMPAIGN_MANAGER)
    status, html, _ = await _save_form(
        user,
        web_world.org_a,
        {HELLO: "Здравствуйте! Это {dept}.", "line:why:say:0": ""},
    )
    assert status == 400
    assert "ничего не сохранено" in html
    errors = re.findall(r'data-field="([^"]+)">([^<]+)<', html)
    fields = {field for field, _ in errors}
    assert fields == {HELLO, "line:why:say:0"}, errors
    assert any("неизвестная переменная {dept}" in text for field, text in errors if field == HELLO)
    assert "Здравствуйте! Это {dept}." in html  # what was typed stays in the form
    assert _versions(session_factory, web_world.org_a) == []
    # the API says the same, by node and field
    async with user.http.post(
        "/api/scripts/soft_reminder/versions",
        json={"organisation_id": web_world.org_a, "lines": {HELLO: "Это {dept}"}},
        headers={"X-CSRF-Token": user.csrf},
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert body["problems"][0]["node"] == "hello"
    assert body["problems"][0]["field"] == "say[0]"
    assert _versions(session_factory, web_world.org_a) == []


async def test_good_edit_is_version_2_and_campaigns_keep_their_version(
    web_world: WebWorld, make_user: MakeUser, session_factory: sessionmaker[Session]
) -> None:
    user = await _signed_in(make_user, web_world, UserRole.CAMPAIGN_MANAGER)
    before = await _new_campaign(user, web_world.org_a, "До правки")
    status, _, location = await _save_form(user, web_world.org_a, {HELLO: NEW_HELLO})
    assert status == 303
    assert "version" not in location
    assert _versions(session_factory, web_world.org_a) == [1, 2]
    after = await _new_campaign(user, web_world.org_a, "После правки")

    async with user.http.get(location) as response:
        html = await response.text()
    assert "Сохранена версия 2" in html
    assert "Добрый день!" in html
    async with user.http.get(
        f"/api/scripts/soft_reminder?organisation_id={web_world.org_a}"
    ) as response:
        body = await response.json()
    assert body["version"] == 2
    assert [h["version"] for h in body["history"]] == [2, 1]
    assert body["history"][0]["author"] == web_world.logins[UserRole.CAMPAIGN_MANAGER]

    with session_factory() as session:
        pins = dict(
            session.execute(
                sa.select(CampaignScriptVersion.campaign_id, CampaignScriptVersion.version).where(
                    CampaignScriptVersion.script == "soft_reminder",
                    CampaignScriptVersion.campaign_id.in_((before, after)),
                )
            ).all()
        )
        assert pins == {before: 1, after: 2}
        # the worker resolves the pinned version: the old campaign keeps the library's words
        book = ScriptBook()
        old = book.for_campaign(session, web_world.org_a, before, "soft_reminder")
        new = book.for_campaign(session, web_world.org_a, after, "soft_reminder")
    assert old.nodes["hello"].say[0].template[0] == "Здравствуйте! Это "
    assert new.nodes["hello"].say[0].template[0] == "Добрый день! Это "
    assert old.nodes.keys() == new.nodes.keys()  # the branching is untouched

    # the other organisation still has the library's version 1
    admin = await _signed_in(make_user, web_world, UserRole.ADMIN)
    async with admin.http.get(
        f"/api/scripts/soft_reminder?organisation_id={web_world.org_b}"
    ) as response:
        assert (await response.json())["version"] == 1
    assert _versions(session_factory, web_world.org_b) == []


async def test_roles_collector_reads_and_rehearses_but_cannot_save(
    web_world: WebWorld, make_user: MakeUser, session_factory: sessionmaker[Session]
) -> None:
    user = await _signed_in(make_user, web_world, UserRole.COLLECTOR)
    async with user.http.get(f"/scripts/soft_reminder?organisation_id={web_world.org_a}") as r:
        html = await r.text()
    assert r.status == 200
    assert "readonly" in html
    assert "Сохранить новой версией" not in html
    async with user.http.post(
        "/api/scripts/soft_reminder/versions",
        json={"organisation_id": web_world.org_a, "lines": {HELLO: NEW_HELLO}},
        headers={"X-CSRF-Token": user.csrf},
    ) as response:
        assert response.status == 403
    # another organisation's script is not rehearsed either
    async with user.http.post(
        "/api/scripts/soft_reminder/rehearsal",
        json={"organisation_id": web_world.org_b, "answers": []},
        headers={"X-CSRF-Token": user.csrf},
    ) as response:
        assert response.status == 404
    # no CSRF token: refused before anything is read
    manager = await _signed_in(make_user, web_world, UserRole.CAMPAIGN_MANAGER)
    async with manager.http.post(
        "/api/scripts/soft_reminder/versions",
        json={"organisation_id": web_world.org_a, "lines": {HELLO: NEW_HELLO}},
    ) as response:
        assert response.status == 403
    assert _versions(session_factory, web_world.org_a) == []


async def test_rehearsal_turns_with_the_real_classifier_and_voice(
    web_world: WebWorld, make_user: MakeUser
) -> None:
    user = await _signed_in(make_user, web_world, UserRole.CAMPAIGN_MANAGER)
    status, _, _ = await _save_form(user, web_world.org_a, {HELLO: NEW_HELLO})
    assert status == 303

    async def rehearse(answers: list[str], version: int | None = None) -> dict[str, object]:
        body: dict[str, object] = {"organisation_id": web_world.org_a, "answers": answers}
        if version is not None:
            body["version"] = version
        async with user.http.post(
            "/api/scripts/soft_reminder/rehearsal", json=body, headers={"X-CSRF-Token": user.csrf}
        ) as response:
            assert response.status == 200, await response.text()
            result: dict[str, object] = await response.json()
            return result

    opening = await rehearse([])
    lines = opening["lines"]
    assert isinstance(lines, list)
    assert lines[0]["speaker"] == "robot"
    assert lines[0]["text"].startswith("Добрый день!")
    assert opening["asked"] == "identity"
    first = await rehearse([], version=1)
    assert first["lines"][0]["text"].startswith("Здравствуйте!")  # type: ignore[index]

    result = await rehearse(["да, это я", "заплачу пятого числа"])
    lines = result["lines"]
    assert isinstance(lines, list)
    debtor = [line for line in lines if line["speaker"] == "debtor"]
    assert [line["text"] for line in debtor] == ["да, это я", "заплачу пятого числа"]
    assert "confirm" in debtor[0]["tags"]
    assert "promise_to_pay" in debtor[1]["tags"]
    assert "пятого" in lines[-1]["text"]
    assert lines[-1]["speaker"] == "robot"
    assert result["asked"] == "open"
    assert result["outcome"] is None

    async with user.http.get(lines[-1]["audio"]) as response:
        wav = await response.read()
    assert response.status == 200
    assert response.content_type == "audio/wav"
    assert wav[:4] == b"RIFF"
    assert wav[8:12] == b"WAVE"
    assert len(wav) > 8000 * 2
