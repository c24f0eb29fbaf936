"""JSON and file responses: money as exact strings, dates in ISO 8601, files as downloads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from enum import Enum
from urllib.parse import quote

from aiohttp import web

__all__ = ["download", "json_ok", "see_other", "to_jsonable"]


def to_jsonable(value: object) -> object:
    """Dataclasses, money, dates and enums as JSON values (money: ``"12480.50"``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value.as_tuple().exponent == -2 else str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def json_ok(data: object, *, status: int = 200) -> web.Response:
    """A JSON response of ``data`` (see :func:`to_jsonable`)."""
    return web.json_response(
        to_jsonable(data), status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False)
    )


def download(body: bytes, filename: str, content_type: str) -> web.Response:
    """A file download with a Russian file name (RFC 6266 ``filename*``)."""
    ascii_name = filename.encode("ascii", errors="replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return web.Response(
        body=body, content_type=content_type, headers={"Content-Disposition": disposition}
    )


def see_other(location: str) -> web.Response:
    """A 303 redirect returned (not raised), so the middleware can still set the cookie."""
    return web.Response(status=303, headers={"Location": location})
