"""Health, sign-in and sign-out, the start page, ``/api/me`` and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.orm import Session

from storage.models import utc_now
from storage.models.users import UserRole
from web.access import ALL_ROLES, public, roles
from web.db import in_read, in_transaction
from web.keys import CONFIG, ROUTES
from web.metrics import METRICS
from web.openapi import build_openapi
from web.pages import render
from web.requests import PRINCIPAL, SESSION, SET_SESSION, principal_of, read_form
from web.responses import see_other
from web.routing import ApiDoc, RouteTable
from web.sessions import SessionData
from web.throttle import (
    LoginSubjects,
    clear_login,
    hold_subjects,
    record_failure,
    retry_after_s,
)
from web.users import authenticate, end_web_session, start_web_session

__all__ = ["register", "safe_next"]

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
_MOSCOW = ZoneInfo("Europe/Moscow")  # the forms speak Moscow time

_HOME_BY_ROLE = {
    UserRole.ADMIN: "/campaigns",
    UserRole.CAMPAIGN_MANAGER: "/campaigns",
    UserRole.COLLECTOR: "/escalations",
    UserRole.MANAGER: "/reports",
}


def safe_next(value: str | None) -> str | None:
    """A local path to go back to after sign-in; anything else (other hosts…) is dropped."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(ch) < 32 for ch in value):
        return None
    return value


async def healthz(request: web.Request) -> web.Response:
    """200 when the service and its database answer."""
    await in_read(request.app, lambda db: db.execute(sa.text("SELECT 1")).scalar_one())
    return web.json_response({"status": "ok"})


async def login_page(request: web.Request) -> web.StreamResponse:
    """The sign-in form (a signed-in user goes straight on)."""
    next_path = safe_next(request.query.get("next"))
    principal = request.get(PRINCIPAL)
    if principal is not None:
        raise web.HTTPSeeOther(next_path or _HOME_BY_ROLE[principal.role])
    return await render(request, "login.html", {"next": next_path or "", "error": ""})


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check the login and password; on success a new signed session."""
    form = await read_form(request)
    login = form.get("login")
    password = form.get("password")
    next_field = form.get("next")
    next_path = safe_next(next_field if isinstance(next_field, str) else None)
    if not isinstance(login, str) or not isinstance(password, str) or not login or not password:
        return await render(
            request,
            "login.html",
            {"next": next_path or "", "error": "Введите логин и пароль."},
            status=400,
        )
    login_value, password_value = login[:64], password[:256]
    config = request.app[CONFIG]
    limits = config.login_limits
    subjects = LoginSubjects.of(config.secret, login_value, request.remote or "")

    def attempt(db: Session) -> tuple[int, int, str] | int | None:
        """The user, or the seconds to wait (refused unchecked), or ``None`` (wrong)."""
        hold_subjects(db, subjects)  # parallel guesses at one name are counted in turn
        now = utc_now()
        wait = retry_after_s(db, subjects, limits, now)
        if wait is not None:
            return wait
        # No login holds a control character; a NUL would not even reach PostgreSQL's
        # text column. Such a name is a wrong name (and counts as a failure).
        plausible = not any(ord(ch) < 32 for ch in login_value)
        found = authenticate(db, login_value, password_value) if plausible else None
        if found is None:
            record_failure(db, subjects, limits, now)
            return None
        clear_login(db, subjects)
        return found[0], found[1], start_web_session(db, found[0], now)

    result = await in_transaction(request.app, attempt)
    if isinstance(result, int):
        log.info("sign-in throttled for %d s", result)
        request.app[METRICS].sign_in_failures.labels(reason="throttled").inc()
        response = await render(
            request,
            "login.html",
            {"next": next_path or "", "error": _retry_text(result)},
            status=429,
        )
        response.headers["Retry-After"] = str(result)
        return response
    if result is None:
        log.info("sign-in refused")
        request.app[METRICS].sign_in_failures.labels(reason="wrong").inc()
        return await render(
            request,
            "login.html",
            {"next": next_path or "", "error": "Неверный логин или пароль."},
            status=401,
        )
    user_id, epoch, token = result
    log.info("user %s signed in", user_id)
    request[SET_SESSION] = request[SESSION].signed_in(user_id, epoch, token)
    return see_other(next_path or "/")


def _retry_text(wait_s: int) -> str:
    """ "Too many tries", in Russian, with when to try again (server time)."""
    minutes = max(1, -(-wait_s // 60))
    at = (utc_now() + dt.timedelta(seconds=wait_s)).astimezone(_MOSCOW).strftime("%H:%M")
    return (
        "Слишком много неудачных попыток входа. "
        f"Попробуйте снова через {minutes} мин. (после {at} МСК)."
    )


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session (the cookie is replaced by an anonymous one)."""
    principal = principal_of(request)
    token = request[SESSION].token
    if token is not None:  # the server forgets it: a copy of the cookie is worth nothing now
        await in_transaction(
            request.app, lambda db: end_web_session(db, token, "sign_out", utc_now())
        )
    log.info("user %s signed out", principal.user_id)
    request[SET_SESSION] = SessionData.anonymous()
    return see_other("/login")


async def home(request: web.Request) -> web.StreamResponse:
    """The start page of each role."""
    principal = principal_of(request)
    return see_other(_HOME_BY_ROLE[principal.role])


async def me(request: web.Request) -> web.Response:
    """Who is signed in, and the CSRF token for state-changing API calls."""
    principal = principal_of(request)
    return web.json_response(
        {
            "id": principal.user_id,
            "login": principal.login,
            "display_name": principal.display_name,
            "role": principal.role.value,
            "organisation_ids": (
                None if principal.organisation_ids is None else sorted(principal.organisation_ids)
            ),
            "csrf_token": principal.csrf_token,
        }
    )


async def openapi_document(request: web.Request) -> web.Response:
    """The OpenAPI document of every API route."""
    return web.json_response(build_openapi(request.app[ROUTES].entries(), version=API_VERSION))


_ME_SCHEMA = {
    "type": "object",
    "required": ["id", "login", "role", "csrf_token"],
    "properties": {
        "id": {"type": "integer"},
        "login": {"type": "string"},
        "display_name": {"type": "string"},
        "role": {"type": "string", "enum": [role.value for role in UserRole]},
        "organisation_ids": {"type": ["array", "null"], "items": {"type": "integer"}},
        "csrf_token": {"type": "string"},
    },
}


def register(table: RouteTable) -> None:
    """Add this module's routes."""
    table.add(
        "GET",
        "/healthz",
        healthz,
        public(),
        name="healthz",
        api=ApiDoc(
            operation_id="healthz",
            summary="Проверка, что сервис и база отвечают",
            tag="service",
            response={
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"const": "ok"}},
            },
            errors=(),
        ),
    )
    table.add("GET", "/login", login_page, public(), name="login")
    table.add("POST", "/login", login_submit, public())
    table.add("POST", "/logout", logout, roles(*ALL_ROLES), name="logout")
    table.add("GET", "/", home, roles(*ALL_ROLES), name="home")
    table.add(
        "GET",
        "/api/me",
        me,
        roles(*ALL_ROLES),
        api=ApiDoc(
            operation_id="me",
            summary="Текущий пользователь и CSRF-токен",
            tag="session",
            response=_ME_SCHEMA,
            errors=(401,),
        ),
    )
    table.add(
        "GET",
        "/api/openapi.json",
        openapi_document,
        public(),
        api=ApiDoc(
            operation_id="openapi",
            summary="Этот документ",
            tag="service",
            response={"type": "object"},
            errors=(),
        ),
    )
