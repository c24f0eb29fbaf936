"""The security middleware: session, sign-in, role policy, CSRF, errors, headers.

Order of checks for every request:
1. the matched route must be in the route table (deny by default: a route registered
   without a policy answers 403 whoever asks);
2. the session cookie is verified and the user re-read from the database (a blocked
   user or a bumped ``session_epoch`` ends the session at once);
3. a role policy needs a signed-in user of an allowed role;
4. a state-changing method needs the session's CSRF token (form field or header).
Logs carry the user id, method and path only: never query strings, bodies or names.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import SystemRoute

from storage.models import utc_now
from web.access import Principal
from web.db import in_read, in_transaction
from web.errors import BadInput, Forbidden, NotSignedIn, RequestRefused
from web.keys import CONFIG, ROUTES, SIGNER
from web.requests import PRINCIPAL, SESSION, SET_SESSION, is_api, read_form
from web.responses import see_other
from web.sessions import COOKIE_NAME, CSRF_FIELD, CSRF_HEADER, SessionData
from web.users import load_principal, touch_web_session

__all__ = ["security_middleware"]

log = logging.getLogger(__name__)

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "media-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
}


async def _principal(request: web.Request, session: SessionData) -> Principal | None:
    if session.user_id is None:
        return None
    user_id, epoch, csrf, token = session.user_id, session.epoch, session.csrf_token, session.token
    now, idle_s = utc_now(), request.app[CONFIG].session_idle_s
    check = await in_read(
        request.app,
        lambda db: load_principal(db, user_id, epoch, csrf, token, now=now, idle_s=idle_s),
    )
    if check.touch is not None:  # at most once a minute per session: reads stay reads
        row = check.touch
        await in_transaction(request.app, lambda db: touch_web_session(db, row, now))
    return check.principal


async def _csrf_ok(request: web.Request, session: SessionData) -> bool:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type in _FORM_TYPES:
        form = await read_form(request)
        field = form.get(CSRF_FIELD)
        token = field if isinstance(field, str) else None
    return session.csrf_matches(token)


async def _render_refusal(request: web.Request, refused: RequestRefused) -> web.StreamResponse:
    if is_api(request):
        return web.json_response(
            {"error": refused.message, "status": refused.status}, status=refused.status
        )
    if isinstance(refused, NotSignedIn):
        target = request.path_qs if request.method == "GET" else "/"
        return see_other(location=f"/login?next={quote(target, safe='')}")
    from web.pages import render_error

    return await render_error(request, refused)


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Enforce sign-in, roles and CSRF on every route; see the module docstring."""
    app = request.app
    signer = app[SIGNER]
    cookie = request.cookies.get(COOKIE_NAME)
    loaded = signer.loads(cookie)
    session = loaded if loaded is not None else SessionData.anonymous()
    request[SESSION] = session
    try:
        response = await _guarded(request, handler, session)
    except RequestRefused as refused:
        response = await _render_refusal(request, refused)
    except HttpProcessingError:
        # A handler streaming the body itself (an upload) met a line or part header past
        # aiohttp's limits: the client's fault, and its text stays out of the log.
        unreadable = BadInput("тело запроса: строка или заголовок части длиннее допустимого")
        response = await _render_refusal(request, unreadable)
    except web.HTTPException as http_error:
        if is_api(request) and http_error.status >= 400:
            response = web.json_response(
                {"error": http_error.reason, "status": http_error.status}, status=http_error.status
            )
        else:
            raise
    _finish(request, response, session, cookie_was_valid=loaded is not None)
    return response


async def _guarded(
    request: web.Request, handler: Handler, session: SessionData
) -> web.StreamResponse:
    route = request.match_info.route
    entry = request.app[ROUTES].entry_for(route)
    principal = await _principal(request, session)
    if principal is not None:
        request[PRINCIPAL] = principal
    if entry is None:
        if isinstance(route, SystemRoute):  # 404 / 405 from the router
            if principal is None:
                raise NotSignedIn("нужно войти в систему")
            answer: web.StreamResponse = await handler(request)
            return answer
        log.error("route without an access policy refused: %s %s", request.method, route)
        raise Forbidden("доступ к этому адресу не настроен")
    if not entry.policy.public:
        if principal is None:
            raise NotSignedIn("нужно войти в систему")
        if not entry.policy.allows(principal.role):
            log.info(
                "refused: user %s role %s on %s %s",
                principal.user_id,
                principal.role.value,
                request.method,
                entry.path,
            )
            raise Forbidden("у вашей роли нет доступа к этому разделу")
    if request.method in _UNSAFE_METHODS and not await _csrf_ok(request, session):
        raise Forbidden("форма устарела или пришла не с нашей страницы (CSRF); обновите страницу")
    response: web.StreamResponse = await handler(request)
    return response


def _finish(
    request: web.Request,
    response: web.StreamResponse,
    session: SessionData,
    *,
    cookie_was_valid: bool,
) -> None:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.app[CONFIG].cookie_secure:  # served over HTTPS: browsers keep to it for a year
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    if response.prepared:
        return
    replaced = request.get(SET_SESSION)
    if replaced is None and cookie_was_valid:
        return
    config = request.app[CONFIG]
    response.set_cookie(
        COOKIE_NAME,
        request.app[SIGNER].dumps(replaced if replaced is not None else session),
        max_age=config.session_max_age_s,
        httponly=True,
        samesite="Lax",
        secure=config.cookie_secure,
        path="/",
    )
