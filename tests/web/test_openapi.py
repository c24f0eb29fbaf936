"""The OpenAPI document: valid, complete, and fuzzed (schemathesis) without a server error."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error

from storage.models.users import UserRole
from tests.web.conftest import PASSWORD, WebWorld, web_config
from web.app import create_app
from web.keys import ROUTES
from web.openapi import build_openapi
from web.server import ThreadedServer


def _document() -> dict[str, object]:
    app = create_app(web_config("sqlite:///unused.db"))
    return build_openapi(app[ROUTES].entries(), version="test")


def test_document_is_valid_openapi() -> None:
    document = _document()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    paths = document["paths"]
    assert isinstance(paths, dict)
    for path in ("/healthz", "/api/accounts", "/api/campaigns", "/api/escalations", "/api/me"):
        assert path in paths


def test_every_api_route_is_documented() -> None:
    app = create_app(web_config("sqlite:///unused.db"))
    for entry in app[ROUTES].entries():
        if entry.path.startswith("/api/"):
            assert entry.api is not None, f"{entry.method} {entry.path} is missing from OpenAPI"


@pytest.fixture
def signed_in_api(database_url: str, web_world: WebWorld) -> Iterator[tuple[str, requests.Session]]:
    """A live server and a ``requests`` session of an admin, with the CSRF header set."""
    with ThreadedServer(web_config(database_url)) as server, requests.Session() as http:
        page = http.get(f"{server.url}/login", timeout=10).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match is not None
        answer = http.post(
            f"{server.url}/login",
            data={
                "csrf_token": match.group(1),
                "login": web_world.logins[UserRole.ADMIN],
                "password": PASSWORD,
            },
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 303
        http.headers["X-CSRF-Token"] = http.get(f"{server.url}/api/me", timeout=10).json()[
            "csrf_token"
        ]
        yield server.url, http


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_fuzzed_without_server_errors(
    case: schemathesis.Case, signed_in_api: tuple[str, requests.Session]
) -> None:
    base_url, http = signed_in_api
    case.call_and_validate(base_url=base_url, session=http, checks=[not_a_server_error])
