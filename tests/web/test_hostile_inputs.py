"""What a probe of the running service sent and got a 500 for: each is a 400 naming the field
(issue 14, item 7), on a real server and database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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


def _multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--zz--\r\n"


def _part(name: str, value: bytes, headers: bytes = b"") -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"\r\n'.encode()
    return b"--zz\r\n" + disposition + headers + b"\r\n" + value + b"\r\n"


async def test_a_multipart_line_over_512_kb_to_the_login_form(make_user: MakeUser) -> None:
    """Anonymous: a value line and a part header line over 512 KB, with and without the
    form's CSRF token (the middleware reads the form for it when no header carries it)."""
    user = await make_user()
    token = (await user.form_token("/login")).encode()
    line = b"x" * (600 * 1024)
    bodies = {
        "value": _multipart(_part("csrf_token", token), _part("login", line), _part("password", b"y")),
        "header": _multipart(_part("csrf_token", token), b"--zz\r\nX-Long: " + line + b"\r\n\r\nv\r\n"),
        "no line break": b"--zz" + line,
    }  # fmt: skip
    for what, body in bodies.items():
        for headers in ({}, {"X-CSRF-Token": token.decode()}):
            async with user.http.post(
                "/login", data=body, allow_redirects=False,
                headers={**headers, "Content-Type": "multipart/form-data; boundary=zz"},
            ) as response:  # fmt: skip
                text = await response.text()
                expected = (401,) if what == "value" else (400,)  # a long name is a wrong one
                assert response.status in expected, (what, headers, response.status, text[:300])
                if response.status == 400:
                    assert "тело запроса" in text


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=bogus-42", "application/json; charset=utf-16", "text/plain; charset=bogus-42"],
)  # fmt: skip
async def test_a_body_in_an_unknown_charset(
    make_user: MakeUser, web_world: WebWorld, content_type: str
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    async with user.http.post(
        "/api/campaigns", data=b'{"name": "x"}',
        headers={"X-CSRF-Token": user.csrf, "Content-Type": content_type},
    ) as response:  # fmt: skip
        assert response.status == 400, await response.text()
        assert "тело запроса" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=bogus-42", b"name=x"),
        ("multipart/form-data", _multipart(_part("name", b"x"))),  # no boundary
        ("multipart/form-data; boundary=zz", _multipart(_part("name", b"x", b"Content-Transfer-Encoding: x-foo\r\n"))),
        ("multipart/form-data; boundary=zz", _multipart(_part("name", b"abc", b"Content-Transfer-Encoding: base64\r\n"))),
        ("multipart/form-data; boundary=zz", _multipart(_part("_charset_", b"bogus-42"), _part("name", b"x"))),
        ("multipart/form-data; boundary=zz", _multipart(_part("name", b"\xff\xfe"))),
    ],
    ids=["charset", "no-boundary", "transfer-encoding", "base64", "_charset_", "not-utf-8"],
)  # fmt: skip
async def test_a_form_that_cannot_be_read(
    make_user: MakeUser, web_world: WebWorld, content_type: str, body: bytes
) -> None:
    """A form page, with the CSRF header (the handler reads the form) and without it (the
    middleware reads it for the token): 400 naming the body, never a 500."""
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    for headers in ({"X-CSRF-Token": user.csrf}, {}):
        async with user.http.post(
            "/campaigns", data=body, allow_redirects=False,
            headers={**headers, "Content-Type": content_type},
        ) as response:  # fmt: skip
            text = await response.text()
            assert response.status == 400, (headers, text[:300])
            assert "тело запроса" in text


async def test_a_nul_byte_in_the_login_name(make_user: MakeUser) -> None:
    """On PostgreSQL it had reached the text column: a 500. Now a wrong name (and counted)."""
    user = await make_user()
    token = await user.form_token("/login")
    async with user.http.post(
        "/login",
        data={"csrf_token": token, "login": "adm\x00in", "password": "x", "next": ""},
        allow_redirects=False,
    ) as response:
        text = await response.text()
        assert response.status == 401, text
        assert "Неверный логин или пароль" in text
