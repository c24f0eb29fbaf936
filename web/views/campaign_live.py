"""A campaign's live view over Server-Sent Events: ``GET /api/campaigns/{id}/live``.

The worker runs in another process, so the stream cannot be told of a new call or turn:
it reads the database about once a second (on the database threads, never on the event
loop) and sends a ``snapshot`` event only when something changed, a comment line as a
heartbeat otherwise, so proxies keep the connection open and a gone client is noticed.
A stream ends by itself after a while (the browser's ``EventSource`` reconnects, and the
sign-in and role are checked again), when the client leaves, or when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging

from aiohttp import web
from sqlalchemy.orm import Session

from dialer.compliance import ProductionCalendar
from storage.models import utc_now
from web.access import CAMPAIGN_ROLES, REPORT_ROLES, Principal, roles
from web.campaigns import visible_campaign
from web.db import in_read
from web.errors import NotFound
from web.live import LiveSnapshot, live_snapshot, why_not_now
from web.requests import path_id, principal_of
from web.responses import json_ok, to_jsonable
from web.routing import ApiDoc, Param, RouteTable

__all__ = ["LIVE_STOPPING", "install", "page_snapshot", "register"]

log = logging.getLogger(__name__)

POLL_S = 1.0
HEARTBEAT_S = 15.0
# The "why not now" dry run is the costly read: refreshed less often than the rest.
PLAN_EVERY_S = 10.0
STREAM_LIFETIME_S = 600.0
RECONNECT_MS = 3000

LIVE_STOPPING = web.AppKey("live_stopping", asyncio.Event)


def page_snapshot(
    session: Session, principal: Principal, campaign_id: int, now: dt.datetime
) -> LiveSnapshot:
    """The live view for the server-rendered page (the same figures the stream sends)."""
    campaign = visible_campaign(session, principal, campaign_id)
    left_out = why_not_now(session, campaign, now, ProductionCalendar())
    return live_snapshot(session, campaign, now, left_out=left_out)


def _read(
    db: Session,
    principal: Principal,
    campaign_id: int,
    calendar: ProductionCalendar,
    left_out: dict[str, int] | None,
) -> LiveSnapshot:
    now = utc_now()
    campaign = visible_campaign(db, principal, campaign_id)
    fresh = left_out if left_out is not None else why_not_now(db, campaign, now, calendar)
    return live_snapshot(db, campaign, now, left_out=fresh)


def _event(name: str, data: object) -> bytes:
    # json.dumps never writes a raw newline, so one "data:" line carries the whole event.
    text = json.dumps(to_jsonable(data), ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {text}\n\n".encode()


async def _wait_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


async def campaign_live_stream(request: web.Request) -> web.StreamResponse:
    """SSE (``Accept: text/event-stream``): the campaign's live figures, calls in progress
    and "why not now", as they change; any other client gets one snapshot as JSON."""
    principal = principal_of(request)
    campaign_id = path_id(request, "campaign_id")
    app, calendar = request.app, ProductionCalendar()
    # The first read refuses a campaign of another organisation before the stream starts.
    snapshot = await in_read(app, lambda db: _read(db, principal, campaign_id, calendar, None))
    if "text/event-stream" not in request.headers.get("Accept", ""):
        return json_ok(snapshot)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
            "X-Content-Type-Options": "nosniff",
        }
    )
    await response.prepare(request)
    await _stream(request, response, snapshot, calendar)
    return response


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    snapshot: LiveSnapshot,
    calendar: ProductionCalendar,
) -> None:
    app, principal = request.app, principal_of(request)
    campaign_id, stopping = snapshot.campaign_id, request.app[LIVE_STOPPING]
    loop = asyncio.get_running_loop()
    started = planned_at = quiet_since = loop.time()
    left_out, sent = snapshot.left_out, _event("snapshot", snapshot)
    try:
        await response.write(f"retry: {RECONNECT_MS}\n\n".encode() + sent)
        while not stopping.is_set() and loop.time() - started < STREAM_LIFETIME_S:
            await _wait_or_stop(stopping, POLL_S)
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError  # the client left between two polls
            if stopping.is_set():
                break
            known = None if loop.time() - planned_at >= PLAN_EVERY_S else left_out
            try:
                snapshot = await in_read(
                    app, functools.partial(_read, principal=principal, campaign_id=campaign_id,
                                           calendar=calendar, left_out=known)
                )  # fmt: skip
            except NotFound:
                break  # the campaign went (or the organisation's rights did)
            if known is None:
                planned_at, left_out = loop.time(), snapshot.left_out
            event = _event("snapshot", snapshot)
            if event != sent:
                await response.write(event)
                sent, quiet_since = event, loop.time()
            elif loop.time() - quiet_since >= HEARTBEAT_S:
                await response.write(b": heartbeat\n\n")
                quiet_since = loop.time()
        reason = "server" if stopping.is_set() else "renew"
        await response.write(_event("close", {"reason": reason}))
        await response.write_eof()
    except ConnectionResetError:
        log.debug("live stream of campaign %s: the client left", campaign_id)
    except asyncio.CancelledError:
        # aiohttp cancels the handler of a connection the client closed.
        log.debug("live stream of campaign %s: the client left (cancelled)", campaign_id)
        raise


async def _stop_streams(app: web.Application) -> None:
    app[LIVE_STOPPING].set()


def install(app: web.Application) -> None:
    """The stop signal the streams wait on, set when the server begins to shut down
    (``on_shutdown`` runs before aiohttp waits for the open requests to finish)."""
    app[LIVE_STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)


_SNAPSHOT = {
    "type": "object",
    "required": ["campaign_id", "status", "planned", "finished", "percent_done", "today",
                 "totals", "calls", "left_out"],
    "properties": {
        "campaign_id": {"type": "integer"},
        "status": {"type": "string"},
        "planned": {"type": "integer"},
        "finished": {"type": "integer"},
        "in_progress": {"type": "integer"},
        "percent_done": {"type": "integer"},
        "today": {"type": "object"},
        "totals": {"type": "object"},
        "calls": {"type": "array", "items": {"type": "object"}},
        "left_out": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}  # fmt: skip


def register(table: RouteTable) -> None:
    """Add this module's routes (the same roles as the campaign page)."""
    read = roles(*{*CAMPAIGN_ROLES, *REPORT_ROLES})
    table.add(
        "GET",
        "/api/campaigns/{campaign_id}/live",
        campaign_live_stream,
        read,
        api=ApiDoc(
            "campaignLive",
            "Кампания вживую: ход, звонки с расшифровкой, цифры за день, почему остальным "
            "не звоним сейчас; с Accept: text/event-stream — поток Server-Sent Events "
            "(события snapshot и close)",
            "campaigns",
            _SNAPSHOT,
            params=(Param("campaign_id", "path", {"type": "integer", "minimum": 1}, "Кампания"),),
            errors=(401, 403, 404),
        ),
    )
