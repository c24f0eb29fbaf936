"""Every API operation against hostile bodies and parameters: never a 500, the server stays up
(issue 14). The operations come from the service's own OpenAPI document, so a new one is fuzzed
without touching this test. A real server and database, signed in as an admin."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Awaitable, Callable

import pytest

from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld
from tests.web.test_openapi import _document

MakeUser = Callable[[], Awaitable[WebUser]]

_DEEP = "[" * 50_000 + "]" * 50_000
_VALUES: list[object] = [
    10**400, -(10**30), 1e308, -1.5, 0, True, None, "", "\x00", "a\x00b", "x" * 100_000,
    "9999-12-31T23:59:59-12:00", "0001-01-01", "1e999999", "NaN", "../../etc/passwd",
    "<script>alert(1)</script>", "=1+1", [], {}, [[[[[[]]]]]], {"a": {"b": {"c": None}}},
]  # fmt: skip
_BODY_FIELDS = [
    "name", "script", "organisation", "starts_on", "ends_on", "callback_at", "promise_due",
    "promise_amount", "resolution", "note", "phone_id", "status", "filter", "building_id",
    "max_concurrent_calls", "segments", "min_debt", "days_overdue", "text", "login",
]  # fmt: skip
_PATH_IDS = ["1", "2147483647", "2147483648", "0", "99999999999999999999"]


def _operations() -> list[tuple[str, str]]:
    document = _document()
    paths = document["paths"]
    assert isinstance(paths, dict)
    return sorted(
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


def _bodies() -> list[tuple[str, bytes]]:
    """(content type, body) pairs: wrong types, broken JSON, hostile values per field."""
    bodies: list[tuple[str, bytes]] = [
        ("application/json", _DEEP.encode()),
        ("application/json", b"{"),
        ("application/json", b"[1, 2, 3]"),
        ("application/json", b'"text"'),
        ("application/json", b"\xff\xfe\x00"),
        ("text/plain", b"hello"),
        ("application/x-www-form-urlencoded", b"a=%00&b=" + b"x" * 10_000),
        ("multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
    ]
    import json

    values = itertools.cycle(_VALUES)
    for round_ in range(3):
        body = {field: next(values) for field in _BODY_FIELDS[round_::3]}
        bodies.append(("application/json", json.dumps(body, ensure_ascii=False).encode()))
    for value in _VALUES:
        body = dict.fromkeys(_BODY_FIELDS, value)
        bodies.append(("application/json", json.dumps(body, ensure_ascii=False).encode()))
    return bodies


@pytest.mark.slow
async def test_no_operation_answers_500_to_hostile_input(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    admin = await make_user()
    assert await admin.sign_in(web_world.logins[UserRole.ADMIN]) == 303
    failures: list[str] = []
    for method, path in _operations():
        for path_id in _PATH_IDS:
            url = re.sub(r"\{[^}]+\}", path_id, path)
            queries = [
                "",
                "?from=9999-12-31&to=0001-01-01&limit=-1&offset=99999999999999999999&q=%00",
            ]
            for query in queries:
                bodies = _bodies() if method != "GET" else [("", b"")]
                for content_type, body in bodies:
                    headers = {"X-CSRF-Token": admin.csrf}
                    if content_type:
                        headers["Content-Type"] = content_type
                    async with admin.http.request(
                        method, url + query, data=io.BytesIO(body) if body else None, headers=headers,
                        allow_redirects=False,
                    ) as response:  # fmt: skip
                        await response.read()
                        if response.status >= 500:
                            failures.append(
                                f"{method} {url}{query} [{content_type}] → {response.status}"
                            )
            if "{" not in path:
                break  # no path parameter: one id is enough
    assert failures == [], "\n".join(failures[:20])
    async with admin.http.get("/api/me") as response:
        assert response.status == 200  # still up, still signed in
