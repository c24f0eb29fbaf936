"""A campaign's live view over Server-Sent Events: ``GET /api/campaigns/{id}/live``.

The worker runs in another process, so the stream cannot be told of a new call or turn: it
reads the database about once a second (:mod:`web.sse`) and sends a ``snapshot`` event only
when something changed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools

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
from web.responses import json_ok
from web.routing import ApiDoc, Param, RouteTable
from web.sse import EventStream, event, open_stream, wants_events

__all__ = ["page_snapshot", "register"]


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


LIVE = EventStream(poll_s=1.0, reconnect_ms=3000)
# The "why not now" dry run is the costly read: refreshed less often than the rest.
PLAN_EVERY_S = 10.0


async def campaign_live_stream(request: web.Request) -> web.StreamResponse:
    """SSE (``Accept: text/event-stream``): the campaign's live figures, calls in progress
    and "why not now", as they change; any other client gets one snapshot as JSON."""
    principal = principal_of(request)
    campaign_id = path_id(request, "campaign_id")
    app, calendar = request.app, ProductionCalendar()
    # The first read refuses a campaign of another organisation before the stream starts.
    snapshot = await in_read(app, lambda db: _read(db, principal, campaign_id, calendar, None))
    if not wants_events(request):
        return json_ok(snapshot)
    loop = asyncio.get_running_loop()
    planned_at, left_out = loop.time(), snapshot.left_out
    sent = event("snapshot", snapshot)

    async def poll() -> bytes | None:
        nonlocal planned_at, left_out, sent
        known = None if loop.time() - planned_at >= PLAN_EVERY_S else left_out
        try:
            fresh = await in_read(
                app, functools.partial(_read, principal=principal, campaign_id=campaign_id,
                                       calendar=calendar, left_out=known)
            )  # fmt: skip
        except NotFound:
            return None  # the campaign went (or the organisation's rights did)
        if known is None:
            planned_at, left_out = loop.time(), fresh.left_out
        changed = event("snapshot", fresh)
        if changed == sent:
            return b""
        sent = changed
        return changed

    label = f"live stream of campaign {campaign_id}"
    return await open_stream(request, LIVE, label, sent, poll)


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
