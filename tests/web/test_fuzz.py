"""Every route against hostile bodies and parameters: never a 500, the server stays up
(issue 14). The routes come from the service's own route table — every operation of the
OpenAPI document and every page and form — so a route added later is fuzzed without touching
this test. Each is called as a user whose role it allows (a public one anonymously), on a
real server and database.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.orm import Session, sessionmaker

from storage.models.users import UserRole
from tests.web.conftest import PASSWORD, WebUser, WebWorld, web_config
from web.app import create_app
from web.keys import ROUTES
from web.passwords import hash_password
from web.routing import RouteEntry
from web.throttle import LoginLimits
from web.users import NewUser, create_user

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
    "organisation_id", "extension", "kind", "password",
]  # fmt: skip
_PATH_IDS = ["1", "2147483647", "2147483648", "0", "99999999999999999999"]
# Values tried for a path parameter with a pattern (tokens, names): those it matches are used.
_PATH_WORDS = ["x" * 16, "A" * 65, "-" * 40]
_HOSTILE_QUERY = "?from=9999-12-31&to=0001-01-01&limit=-1&offset=99999999999999999999&q=%00"
_PARAM = re.compile(r"\{(?P<name>\w+)(?::(?P<pattern>(?:[^{}]|\{[^{}]*\})+))?\}")
_BIG_LINE = b"x" * (600 * 1024)  # over aiohttp's 512 KB and 8 KB line limits
_MULTIPART = "multipart/form-data; boundary=zz"
_END = b"--zz--\r\n"


def _part(name: bytes, value: bytes, headers: bytes = b"") -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name + b'"\r\n'
    return b"--zz\r\n" + disposition + headers + b"\r\n" + value + b"\r\n"


def _wrong_forms() -> list[tuple[str, bytes]]:
    """Form bodies a browser never sends: broken multipart, unknown charsets and encodings."""
    return [
        (_MULTIPART, b"--zz\r\nbroken"),
        ("multipart/form-data", _part(b"note", b"x") + _END),  # no boundary
        ("multipart/form-data; boundary=" + "z" * 100, b"--" + b"z" * 100 + b"\r\n"),
        (_MULTIPART, b"--zz\r\nX-Long: " + _BIG_LINE + b"\r\n\r\nv\r\n" + _END),
        (_MULTIPART, _part(b"note", _BIG_LINE) + _END),
        (_MULTIPART, b"--zz" + _BIG_LINE),
        (_MULTIPART, _part(b"note", b"x", b"Content-Type: text/plain; charset=bogus-42\r\n") + _END),
        (_MULTIPART, _part(b"_charset_", b"bogus-42") + _part(b"note", b"x") + _END),
        (_MULTIPART, _part(b"note", b"!!!", b"Content-Transfer-Encoding: base64\r\n") + _END),
        (_MULTIPART, _part(b"note", b"x", b"Content-Transfer-Encoding: x-foo\r\n") + _END),
        (_MULTIPART, _part(b"note", b"x", b"Content-Encoding: gzip\r\n") + _END),
        (_MULTIPART, _part(b"note", b"\xff\xfe\xfa") + _END),
        (_MULTIPART, b"--zz\r\n\r\nv\r\n" + _END),  # a part with no name
        (_MULTIPART, _part(b"note", b"--yy\r\n\r\nx\r\n--yy--", b"Content-Type: multipart/mixed; boundary=yy\r\n") + _END),
        (_MULTIPART, b'--zz\r\nContent-Disposition: form-data; name="file"; filename="../../a.csv"\r\n\r\n' + b"y" * 1000 + b"\r\n" + _END),
        ("application/x-www-form-urlencoded; charset=bogus-42", b"name=x&note=x"),
        ("application/x-www-form-urlencoded; charset=utf-16", b"name=x&note=x"),
        ("application/x-www-form-urlencoded", b"name=%ff%fe&note=a%00b&x=" + _BIG_LINE),
    ]  # fmt: skip


def _bodies() -> list[tuple[str, bytes]]:
    """(content type, body) pairs: wrong types, broken JSON and forms, hostile values."""
    bodies: list[tuple[str, bytes]] = [
        ("application/json", _DEEP.encode()),
        ("application/json", b"{"),
        ("application/json", b"[1, 2, 3]"),
        ("application/json", b'"text"'),
        ("application/json", b"\xff\xfe\x00"),
        ("application/json; charset=bogus-42", b'{"name": "x"}'),
        ("application/json; charset=utf-16", b'{"name": "x"}'),
        ("text/plain; charset=bogus-42", b'{"name": "x"}'),
        ("text/plain", b"hello"),
        ("application/x-www-form-urlencoded", b"a=%00&b=" + b"x" * 10_000),
        *_wrong_forms(),
    ]
    values = itertools.cycle(_VALUES)
    for round_ in range(3):
        body = {field: next(values) for field in _BODY_FIELDS[round_::3]}
        bodies.append(("application/json", json.dumps(body, ensure_ascii=False).encode()))
    for value in _VALUES:
        body = dict.fromkeys(_BODY_FIELDS, value)
        bodies.append(("application/json", json.dumps(body, ensure_ascii=False).encode()))
        form = "&".join(f"{field}={_form_value(value)}" for field in _BODY_FIELDS)
        bodies.append(("application/x-www-form-urlencoded", form.encode()))
    return bodies


def _form_value(value: object) -> str:
    return quote(value if isinstance(value, str) else json.dumps(value), safe="")


def _path_values(pattern: str | None, documented: list[str]) -> list[str]:
    """Ids, and the words a parameter's pattern or its OpenAPI ``enum`` allows."""
    if pattern is None:
        return [*_PATH_IDS, *documented]
    words = pattern.split("|") if re.fullmatch(r"[\w|]+", pattern) else []
    return [v for v in [*_PATH_IDS, *_PATH_WORDS, *words] if re.fullmatch(pattern, v)]


def _enums(entry: RouteEntry) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for param in entry.api.params if entry.api is not None else ():
        enum = param.schema.get("enum")
        found[param.name] = [str(v) for v in enum] if isinstance(enum, list) else []
    return found


def _urls(entry: RouteEntry) -> list[str]:
    """The route's path with its parameters filled in: every value tried at least once."""
    path, enums = entry.path, _enums(entry)
    params = list(_PARAM.finditer(path))
    values = [_path_values(match["pattern"], enums.get(match["name"], [])) for match in params]
    for match, found in zip(params, values, strict=True):
        assert found, f"{path}: no test value matches {{{match['name']}}}; add one to _PATH_WORDS"
    urls = []
    for index in range(max((len(v) for v in values), default=1)):
        filled = path
        for match, found in zip(params, values, strict=True):
            filled = filled.replace(match.group(0), found[index % len(found)], 1)
        urls.append(filled)
    return urls


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    entry: RouteEntry
    role: UserRole | None  # None: anonymously (a public route)


def _targets(entries: list[RouteEntry]) -> list[_Target]:
    targets = []
    for entry in entries:
        if entry.method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            continue  # HEAD: GET's handler
        if entry.policy.public:
            targets.append(_Target(entry, None))
            continue
        role = next(r for r in UserRole if entry.policy.allows(r))
        targets.append(_Target(entry, role))
    return sorted(targets, key=lambda t: (t.entry.path, t.entry.method))


@pytest.fixture
async def fuzz_server(database_url: str) -> AsyncIterator[TestServer]:
    """The service with a secret of its own and no sign-in limit: the fuzz's hundreds of wrong
    sign-ins neither throttle it nor (keyed by another secret) the other tests' servers."""
    config = dataclasses.replace(
        web_config(database_url),
        secret="fuzz-secret-" + "z" * 40,
        login_limits=LoginLimits(per_login=10**9, per_address=10**9),
    )
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def _fuzz_users(factory: sessionmaker[Session], world: WebWorld) -> dict[UserRole, str]:
    """A user per role made for the fuzz (ids far from 1, so no fuzzed path disables them)."""
    tag, password_hash = uuid.uuid4().hex[:8], hash_password(PASSWORD)
    logins: dict[UserRole, str] = {}
    with factory.begin() as session:
        for role in UserRole:
            logins[role] = f"fuzz-{role.value}-{tag}"
            orgs = () if role is UserRole.ADMIN else (world.org_a,)
            create_user(session, NewUser(login=logins[role], password_hash=password_hash,
                                         role=role, organisation_ids=orgs))  # fmt: skip
    return logins


async def _client(server: TestServer, login: str | None) -> WebUser:
    user = WebUser(server)
    if login is None:
        user.csrf = await user.form_token("/login")  # the anonymous session's token
    else:
        assert await user.sign_in(login) == 303
    return user


async def _fuzz(user: WebUser, target: _Target) -> list[str]:
    """Every hostile request at one route; what answered 5xx."""
    failures: list[str] = []
    method = target.entry.method
    for number, url in enumerate(_urls(target.entry)):
        queries = ["", _HOSTILE_QUERY] if method == "GET" else [""]
        bodies = [("", b"")] if method == "GET" else _bodies()
        if method != "GET" and number > 0:
            bodies = bodies[:8]  # other ids: the body matters less than the path
        for query, (content_type, body) in itertools.product(queries, bodies):
            with_token = [True, False] if content_type.startswith(("multipart", "application/x")) else [True]  # fmt: skip
            for token in with_token:  # without the header the middleware reads the form
                headers = {"X-CSRF-Token": user.csrf} if token else {}
                if content_type:
                    headers["Content-Type"] = content_type
                async with user.http.request(
                    method, url + query, data=io.BytesIO(body) if body else None,
                    headers=headers, allow_redirects=False,
                ) as response:  # fmt: skip
                    await response.read()
                    if response.status >= 500:
                        failures.append(
                            f"{method} {url}{query} [{content_type[:40]}, "
                            f"{len(body)} B, token={token}] → {response.status}"
                        )
    return failures


@pytest.mark.slow
async def test_no_route_answers_500_to_hostile_input(
    fuzz_server: TestServer, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    logins = _fuzz_users(session_factory, web_world)
    targets = _targets(fuzz_server.app[ROUTES].entries())
    assert {t.entry.path for t in targets if t.entry.api is not None} >= {
        "/api/campaigns",
        "/api/escalations/{case_id}/note",
    }
    users: dict[UserRole | None, WebUser] = {}
    failures: list[str] = []
    try:
        for target in targets:
            login = logins[target.role] if target.role is not None else None
            if target.role not in users:
                users[target.role] = await _client(fuzz_server, login)
            user = users[target.role]
            failures += await _fuzz(user, target)
            if login is not None:
                async with user.http.get("/api/me") as me:
                    ended = me.status == 401  # sign-out (or a fuzzed path) ended the session
                if ended:
                    await user.close()
                    users[target.role] = await _client(fuzz_server, login)
        assert failures == [], f"{len(failures)} answers 5xx:\n" + "\n".join(failures[:30])
        async with users[UserRole.ADMIN].http.get("/api/me") as response:
            assert response.status == 200  # still up, still signed in
    finally:
        for user in users.values():
            await user.close()
