"""What a probe of the running service sent and got a 500 for: each is a 400 naming the field
(issue 14, item 7), on a real server and database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld
from tests.web.test_collector_promises import _collector_on_case, _open_case

MakeUser = Callable[[], Awaitable[WebUser]]


async def _status(user: WebUser, path: str, body: object) -> tuple[int, str]:
    async with user.http.post(path, json=body, headers={"X-CSRF-Token": user.csrf}) as response:
        return response.status, await response.text()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("callback_at", "9999-12-31T23:00-05:00"),
        ("callback_at", "0001-01-01T00:30+05:00"),
        ("promise_amount", 1e308),
        ("promise_amount", "1e999999"),
        ("promise_amount", "1e308"),
    ],
)
async def test_far_dates_and_huge_numbers_name_their_field(
    make_user: MakeUser,
    web_world: WebWorld,
    session_factory: sessionmaker[Session],
    field: str,
    value: object,
) -> None:
    case_id = _open_case(session_factory, web_world)
    user = await _collector_on_case(make_user, web_world, case_id)
    action = "callback" if field == "callback_at" else "promise"
    body = {field: value}
    if action == "promise":
        body["promise_due"] = "2099-01-01"
    status, text = await _status(user, f"/api/escalations/{case_id}/{action}", body)
    assert status == 400, text
    assert field in text


async def test_json_nested_100000_deep(make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]) -> None:  # fmt: skip
    case_id = _open_case(session_factory, web_world)
    user = await _collector_on_case(make_user, web_world, case_id)
    body = "[" * 100_000 + "]" * 100_000
    async with user.http.post(
        f"/api/escalations/{case_id}/note",
        data=body,
        headers={"X-CSRF-Token": user.csrf, "Content-Type": "application/json"},
    ) as response:
        assert response.status == 400, await response.text()


@pytest.mark.parametrize("path", ["/api/reports/paid_after", "/reports"])
async def test_reports_to_the_end_of_time(make_user: MakeUser, web_world: WebWorld, path: str) -> None:  # fmt: skip
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.MANAGER]) == 303
    for query in ("from=9999-12-31&to=9999-12-31", "from=0001-01-01&to=0001-01-02"):
        async with user.http.get(f"{path}?{query}") as response:
            text = await response.text()
            assert response.status == 400, text
            assert "from" in text


async def test_a_multipart_line_over_512_kb_to_the_login_form(make_user: MakeUser) -> None:
    user = await make_user()
    form = aiohttp.FormData()
    form.add_field("login", "x" * (600 * 1024))
    form.add_field("password", "y")
    async with user.http.post("/login", data=form, allow_redirects=False) as response:
        assert response.status in (400, 403, 413), await response.text()


async def test_a_nul_byte_in_the_login_name(make_user: MakeUser) -> None:
    user = await make_user()
    token = await user.form_token("/login")
    async with user.http.post(
        "/login",
        data={"csrf_token": token, "login": "adm\x00in", "password": "x", "next": ""},
        allow_redirects=False,
    ) as response:
        assert response.status in (200, 303, 400, 401), await response.text()
