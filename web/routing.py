"""Routes registered together with their access policy and, for the API, their OpenAPI entry.

Every handler of the service goes through :class:`RouteTable`; the security middleware
looks the matched route up in the table and refuses one that is not there (deny by
default). The OpenAPI document is built from the same table, so it cannot drift from
the routes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from web.access import Policy

__all__ = [
    "ApiDoc",
    "Handler",
    "JsonSchema",
    "Param",
    "RouteEntry",
    "RouteTable",
    "openapi_path",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonSchema = Mapping[str, object]

_REGEX_IN_PATH = re.compile(r"\{(\w+):[^}]+\}")


def openapi_path(path: str) -> str:
    """``/api/accounts/{account_id:\\d+}`` → ``/api/accounts/{account_id}``."""
    return _REGEX_IN_PATH.sub(r"{\1}", path)


@dataclass(frozen=True, slots=True)
class Param:
    """One path or query parameter of an API operation."""

    name: str
    location: Literal["path", "query"]
    schema: JsonSchema
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class ApiDoc:
    """What the OpenAPI document says about one API operation."""

    operation_id: str
    summary: str
    tag: str
    response: JsonSchema
    params: Sequence[Param] = ()
    body: JsonSchema | None = None
    status: int = 200
    content_type: str = "application/json"
    errors: Sequence[int] = field(default=(400, 401, 403, 404))


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """A registered route: method, path, policy and (for the API) its documentation."""

    method: str
    path: str
    policy: Policy
    api: ApiDoc | None


class RouteTable:
    """Registers routes on an application and remembers their policies."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._policies: dict[AbstractRoute, RouteEntry] = {}

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        policy: Policy,
        *,
        name: str | None = None,
        api: ApiDoc | None = None,
    ) -> None:
        """Register ``handler`` for ``method path`` under ``policy``."""
        route = self._app.router.add_route(method, path, handler, name=name)
        self._policies[route] = RouteEntry(method.upper(), path, policy, api)

    def add_static(self, prefix: str, directory: str) -> None:
        """Static files (styles, scripts) for anybody."""
        from web.access import public

        resource = self._app.router.add_static(prefix, directory, name="static")
        for route in resource:
            self._policies[route] = RouteEntry(route.method, prefix, public(), None)

    def entry_for(self, route: AbstractRoute) -> RouteEntry | None:
        """The registration of a matched route, ``None`` for a route added behind our back."""
        return self._policies.get(route)

    def entries(self) -> list[RouteEntry]:
        """Every registered route, in registration order."""
        return list(self._policies.values())
