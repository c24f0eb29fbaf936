"""Collectors on the line (issue 16, the first part of live transfer): a collector says
«на линии / занят / отошёл»; the team sees who is on the line and at which extension.

The status form is on the queue page (three buttons, a CSRF-protected POST, no script
needed). The line list names collectors by their display name only: no logins, no phones.
Admins set extensions on ``/users`` (see :mod:`web.views.users`).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from sqlalchemy.orm import Session

from storage.collectors import (
    CollectorOnLine,
    LineState,
    collectors_on_line,
    extension_of,
    line_status_of,
    parse_line_status,
    set_line_status,
)
from storage.errors import CollectorLineRefused
from storage.models import utc_now
from storage.models.users import LineStatus, UserRole
from web.access import roles
from web.db import in_read, in_transaction
from web.errors import BadInput, NotFound
from web.requests import json_object, principal_of, query_int, read_form
from web.responses import json_ok, see_other
from web.routing import ApiDoc, Param, RouteTable

__all__ = ["LINE_ROLES", "LINE_STATUS_TITLES", "my_line", "register"]

LINE_STATUS_TITLES = {
    LineStatus.ONLINE.value: "на линии",
    LineStatus.BUSY.value: "занят",
    LineStatus.AWAY.value: "отошёл",
}
# Who may see the line: those who run the team or are on it; never another organisation's.
LINE_ROLES = (UserRole.ADMIN, UserRole.MANAGER, UserRole.COLLECTOR)


def my_line(db: Session, user_id: int) -> dict[str, object]:
    """What the status form shows a collector: status, since when, extension."""
    state = line_status_of(db, user_id)
    return {
        "status": state.status.value if state is not None else LineStatus.AWAY.value,
        "since": state.status_changed_at if state is not None else None,
        "extension": extension_of(db, user_id),
    }


def _set(db: Session, user_id: int, raw: object) -> LineState:
    try:
        return set_line_status(db, user_id, parse_line_status(raw), utc_now())
    except CollectorLineRefused as err:
        raise BadInput(str(err)) from err


def _back_to(raw: object) -> str:
    """Where the form came from: a path of ours only (never ``//elsewhere``)."""
    if not isinstance(raw, str) or len(raw) > 200 or not (raw.isascii() and raw.isprintable()):
        return "/escalations"
    ours = raw.startswith("/") and not raw.startswith("//") and "\\" not in raw
    return raw if ours else "/escalations"


async def status_form(request: web.Request) -> web.StreamResponse:
    """The three buttons: set my status, back to the page the form was on."""
    principal = principal_of(request)
    form = await read_form(request)
    status = form.get("status")
    await in_transaction(request.app, lambda db: _set(db, principal.user_id, status))
    return see_other(_back_to(form.get("next")))


async def status_api(request: web.Request) -> web.Response:
    """API: set my status (``{"status": "online" | "busy" | "away"}``)."""
    principal = principal_of(request)
    data: Mapping[str, object] = await json_object(request)
    state = await in_transaction(
        request.app, lambda db: _set(db, principal.user_id, data.get("status"))
    )
    return json_ok({"status": state.status, "status_changed_at": state.status_changed_at})


def _row(c: CollectorOnLine) -> dict[str, object]:
    return {
        "user_id": c.user_id,
        "display_name": c.display_name,
        "organisation_id": c.organisation_id,
        "extension": c.extension,
        "status": c.status,
        "status_changed_at": c.status_changed_at,
    }


async def line_api(request: web.Request) -> web.Response:
    """API: the collectors of my organisations (or of one), who is on the line."""
    principal = principal_of(request)
    wanted = query_int(request, "organisation_id", 0, low=0, high=2**31 - 1)
    if wanted and not principal.sees_organisation(wanted):
        raise NotFound("organisation_id: нет такой организации")
    organisations = [wanted] if wanted else principal.organisation_ids
    rows = await in_read(request.app, lambda db: collectors_on_line(db, organisations))
    return json_ok(
        {
            "online": sum(1 for c in rows if c.status is LineStatus.ONLINE),
            "collectors": [_row(c) for c in rows],
        }
    )


_STATUS = {"type": "string", "enum": [s.value for s in LineStatus]}
_STATE = {
    "type": "object",
    "required": ["status", "status_changed_at"],
    "properties": {"status": _STATUS, "status_changed_at": {"type": "string"}},
}
_LINE = {
    "type": "object",
    "required": ["online", "collectors"],
    "properties": {
        "online": {"type": "integer", "description": "Сколько взыскателей на линии"},
        "collectors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["user_id", "display_name", "organisation_id", "status"],
                "properties": {
                    "user_id": {"type": "integer"},
                    "display_name": {"type": "string"},
                    "organisation_id": {"type": "integer"},
                    "extension": {"type": ["string", "null"]},
                    "status": _STATUS,
                    "status_changed_at": {"type": ["string", "null"]},
                },
            },
        },
    },
}


def register(table: RouteTable) -> None:
    """Add this module's routes: the status for collectors, the line for the team."""
    mine = roles(UserRole.COLLECTOR)
    table.add("POST", "/line-status", status_form, mine, name="line_status")
    table.add(
        "POST", "/api/me/line-status", status_api, mine,
        api=ApiDoc("setMyLineStatus", "Мой статус на линии: на линии, занят, отошёл", "line",
                   _STATE, body={"type": "object", "required": ["status"],
                                 "properties": {"status": _STATUS}},
                   errors=(400, 401, 403)),
    )  # fmt: skip
    table.add(
        "GET", "/api/collectors/line", line_api, roles(*LINE_ROLES),
        api=ApiDoc("listCollectorsOnLine", "Взыскатели: кто на линии, добавочный номер, статус",
                   "line", _LINE,
                   params=(Param("organisation_id", "query", {"type": "integer", "minimum": 1},
                                 "Только эта организация"),),
                   errors=(400, 401, 403, 404)),
    )  # fmt: skip
