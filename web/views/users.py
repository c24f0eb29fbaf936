"""Users for admins: who can sign in, their open sessions; disable, enable, sign out; a
collector's SIP extension.

The same changes as ``napomni user disable|enable|sign-out|extension`` (a password is set
with ``napomni user password``: it is not typed into a page another admin may be looking
at). Every change but the extension ends all sessions of that user at once.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web
from sqlalchemy.orm import Session

from storage.collectors import set_extension
from storage.errors import CollectorLineRefused
from storage.models import utc_now
from storage.models.users import User, UserRole
from web.access import roles
from web.db import in_read, in_transaction
from web.errors import BadInput, NotFound
from web.keys import CONFIG
from web.pages import render
from web.requests import json_object, path_id, principal_of, read_form
from web.responses import json_ok, see_other
from web.routing import ApiDoc, Handler, Param, RouteTable
from web.users import change_user, list_users
from web.views.collector_line import LINE_STATUS_TITLES

__all__ = ["register"]

ACTIONS = {
    "disable": "Отключить: вход запрещён, все сеансы закончены",
    "enable": "Включить снова",
    "sign-out": "Закончить все сеансы",
}


def _apply(db: Session, user_id: int, action: str) -> dict[str, object]:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("нет такого пользователя")
    ended = change_user(db, user, action.replace("-", "_"), utc_now())
    return {"id": user.id, "login": user.login, "active": user.active, "sessions_ended": ended}


def _set_extension(db: Session, user_id: int, raw: object) -> dict[str, object]:
    """The one code path of ``napomni user extension`` too: ``storage.collectors``."""
    if raw is not None and not isinstance(raw, str):
        raise BadInput("extension: ожидается строка из 2–6 цифр или null (снять)")
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("нет такого пользователя")
    wanted = raw.strip() if raw is not None else ""
    try:
        extension = set_extension(db, user_id, wanted or None)
    except CollectorLineRefused as err:
        raise BadInput(str(err)) from err
    return {"id": user.id, "login": user.login, "extension": extension}


async def extension_form(request: web.Request) -> web.StreamResponse:
    """The extension field of a collector's row: set it, or clear it with an empty field."""
    principal_of(request)
    user_id = path_id(request, "user_id")
    raw = (await read_form(request)).get("extension", "")
    done = await in_transaction(request.app, lambda db: _set_extension(db, user_id, raw))
    told = done["extension"] or "снят"
    return see_other(f"/users?notice={done['login']}: добавочный номер {told}")


async def extension_api(request: web.Request) -> web.Response:
    """API: set (``{"extension": "201"}``) or clear (``null``) a collector's extension."""
    principal_of(request)
    user_id = path_id(request, "user_id")
    data = await json_object(request)
    if "extension" not in data:
        raise BadInput("extension: укажите номер (2–6 цифр) или null, чтобы снять")
    raw = data["extension"]
    return json_ok(await in_transaction(request.app, lambda db: _set_extension(db, user_id, raw)))


async def users_page(request: web.Request) -> web.Response:
    """The list of users with their open sessions and the actions."""
    principal_of(request)
    idle_s = request.app[CONFIG].session_idle_s
    users = await in_read(request.app, lambda db: list_users(db, utc_now(), idle_s))
    notice = request.query.get("notice", "")[:200]
    return await render(
        request,
        "users.html",
        {"users": users, "notice": notice, "line_titles": LINE_STATUS_TITLES},
    )


def _form_action(action: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        principal_of(request)
        user_id = path_id(request, "user_id")
        done = await in_transaction(request.app, lambda db: _apply(db, user_id, action))
        return see_other(
            f"/users?notice={done['login']}: закончено сеансов {done['sessions_ended']}"
        )

    return handler


def _api_action(action: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        principal_of(request)
        user_id = path_id(request, "user_id")
        return json_ok(await in_transaction(request.app, lambda db: _apply(db, user_id, action)))

    return handler


async def users_api(request: web.Request) -> web.Response:
    """API: the users and their open sessions."""
    principal_of(request)
    idle_s = request.app[CONFIG].session_idle_s
    users = await in_read(request.app, lambda db: list_users(db, utc_now(), idle_s))
    return json_ok([dataclasses.asdict(u) for u in users])


_USER = {
    "type": "object",
    "required": ["id", "login", "active", "sessions_ended"],
    "properties": {
        "id": {"type": "integer"},
        "login": {"type": "string"},
        "active": {"type": "boolean"},
        "sessions_ended": {"type": "integer"},
    },
}
_USERS = {"type": "array", "items": {"type": "object"}}
_EXTENSION = {
    "type": "object",
    "required": ["id", "login", "extension"],
    "properties": {
        "id": {"type": "integer"},
        "login": {"type": "string"},
        "extension": {"type": ["string", "null"]},
    },
}


def register(table: RouteTable) -> None:
    """Add this module's routes (admins only)."""
    policy = roles(UserRole.ADMIN)
    table.add("GET", "/users", users_page, policy, name="users")
    table.add(
        "GET", "/api/users", users_api, policy,
        api=ApiDoc("listUsers", "Пользователи и их открытые сеансы", "users", _USERS,
                   errors=(401, 403)),
    )  # fmt: skip
    user_param = Param("user_id", "path", {"type": "integer", "minimum": 1}, "Пользователь")
    for action, summary in ACTIONS.items():
        table.add("POST", rf"/users/{{user_id:\d+}}/{action}", _form_action(action), policy)
        table.add(
            "POST", f"/api/users/{{user_id}}/{action}", _api_action(action), policy,
            api=ApiDoc(f"{action.replace('-', '_')}User", summary, "users", _USER,
                       params=(user_param,), errors=(401, 403, 404)),
        )  # fmt: skip
    table.add("POST", r"/users/{user_id:\d+}/extension", extension_form, policy)
    table.add(
        "POST", "/api/users/{user_id}/extension", extension_api, policy,
        api=ApiDoc("setUserExtension", "Добавочный SIP-номер взыскателя (null — снять)", "users",
                   _EXTENSION, params=(user_param,),
                   body={"type": "object", "required": ["extension"],
                         "properties": {"extension": {"type": ["string", "null"],
                                                      "pattern": "^[0-9]{2,6}$"}}},
                   errors=(400, 401, 403, 404)),
    )  # fmt: skip
