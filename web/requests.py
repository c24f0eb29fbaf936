"""What a handler reads from a request: the principal, the session, validated parameters."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from web.access import Principal
from web.errors import BadInput, NotFound, NotSignedIn
from web.sessions import SessionData

__all__ = [
    "MAX_ID",
    "PRINCIPAL",
    "SESSION",
    "SET_SESSION",
    "UNREADABLE_BODY",
    "is_api",
    "json_object",
    "path_id",
    "principal_of",
    "query_int",
    "query_text",
    "read_form",
]

# What aiohttp raises on a body it cannot read: a line or part header past its limits
# (HttpProcessingError), an unknown charset or transfer encoding (LookupError, RuntimeError),
# bytes that are not that charset, bad base64, a broken or nested multipart (ValueError and,
# in places, AssertionError). Caught only around its body readers.
UNREADABLE_BODY = (HttpProcessingError, LookupError, RuntimeError, ValueError, AssertionError)

# Ids are 32-bit on PostgreSQL; a larger number from the URL is simply "not found".
MAX_ID = 2**31 - 1

PRINCIPAL = web.RequestKey("principal", Principal)
SESSION = web.RequestKey("session", SessionData)
# A handler that signs in or out puts the new session here; the middleware writes the cookie.
SET_SESSION = web.RequestKey("set_session", SessionData)


def is_api(request: web.Request) -> bool:
    """JSON API requests get JSON errors; pages get pages and redirects."""
    return request.path.startswith("/api/")


def principal_of(request: web.Request) -> Principal:
    """The signed-in user of a request under a role policy."""
    principal: Principal | None = request.get(PRINCIPAL)
    if principal is None:
        raise NotSignedIn("нужно войти в систему")
    return principal


def path_id(request: web.Request, name: str) -> int:
    """A positive integer id from the URL path; anything else is "not found"."""
    raw = request.match_info.get(name, "")
    if not raw.isascii() or not raw.isdigit():
        raise NotFound(f"{name}: нет такого")
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"{name}: нет такого")
    return value


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``; a bad value names the parameter."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 12:
        raise BadInput(f"параметр {name}: ожидается целое число")
    value = int(raw)
    if not low <= value <= high:
        raise BadInput(f"параметр {name}: допустимо от {low} до {high}")
    return value


def query_text(request: web.Request, name: str, *, max_length: int = 200) -> str:
    """A text query parameter (stripped); too long or with control characters is refused."""
    raw = request.query.get(name, "").strip()
    if len(raw) > max_length:
        raise BadInput(f"параметр {name}: не длиннее {max_length} символов")
    if any(ord(ch) < 32 for ch in raw):
        raise BadInput(f"параметр {name}: недопустимые символы")
    return raw


async def json_object(request: web.Request) -> Mapping[str, object]:
    """The request body as a JSON object; anything else (not JSON, not an object, nested
    past the parser's depth) is a 400 naming the body."""
    try:
        body = await request.json()
    except (*UNREADABLE_BODY, RecursionError) as err:  # RecursionError: "[[[[…" 100,000 deep
        raise BadInput("тело запроса: ожидается JSON-объект") from err
    if not isinstance(body, dict):
        raise BadInput("тело запроса: ожидается JSON-объект")
    return body


async def read_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form fields (urlencoded or multipart, read once and kept by aiohttp).

    A body that cannot be read as a form — a broken or nested multipart, an unknown charset
    or transfer encoding, a line past aiohttp's limits — is a 400 naming the body, not a 500
    whose traceback would carry the start of what was typed.
    """
    try:
        return await request.post()
    except UNREADABLE_BODY as err:
        raise BadInput(
            "тело запроса: форма не читается (испорчена или в неизвестной кодировке)"
        ) from err
