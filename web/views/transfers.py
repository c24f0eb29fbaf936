"""Live transfers in the web (issue 16): the collector's screen pop over Server-Sent Events,
``GET /api/me/pops``, and the transfers report, ``GET /api/reports/transfers``.

The worker that rings the collector is another process, so nothing can tell this one that a
transfer started: the stream reads the database every :data:`POLL_S` on the database threads
(never on the event loop) and sends ``pop`` when a transfer starts ringing at this collector
(the whole card), ``update`` when its state, transcript or case changes, a comment line as a
heartbeat otherwise (proxies keep the connection, a gone client is noticed). It ends by itself
after a while (the browser's ``EventSource`` reconnects and the sign-in is checked again),
when the client leaves, or when the server begins to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import web

from storage.models import utc_now
from storage.models.users import UserRole
from web.access import REPORT_ROLES, roles
from web.db import in_read, in_transaction
from web.pops import PopCard, PopUpdate, PopWatch, record_openings
from web.requests import principal_of
from web.responses import json_ok, to_jsonable
from web.routing import ApiDoc, Param, RouteTable
from web.transfer_reports import transfer_report
from web.views.reports import _period as report_period

__all__ = ["POPS_STOPPING", "install", "register"]

log = logging.getLogger(__name__)

POLL_S = 0.5
HEARTBEAT_S = 15.0
STREAM_LIFETIME_S = 600.0
RECONNECT_MS = 2000

POPS_STOPPING = web.AppKey("pops_stopping", asyncio.Event)


def _event(name: str, data: object) -> bytes:
    # json.dumps never writes a raw newline, so one "data:" line carries the whole event.
    text = json.dumps(to_jsonable(data), ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {text}\n\n".encode()


def _events(cards: list[PopCard], updates: list[PopUpdate]) -> bytes:
    return b"".join([*(_event("pop", c) for c in cards), *(_event("update", u) for u in updates)])


async def _poll(app: web.Application, watch: PopWatch) -> tuple[list[PopCard], list[PopUpdate]]:
    cards, updates = await in_read(app, lambda db: watch.poll(db, utc_now()))
    if cards:  # showing a card is audited (who opened which account)
        await in_transaction(app, lambda db: record_openings(db, watch.principal, cards))
    return cards, updates


async def pops_stream(request: web.Request) -> web.StreamResponse:
    """SSE (``Accept: text/event-stream``): the collector's screen pops as they ring; any
    other client gets the pops ringing or connected now as JSON."""
    principal = principal_of(request)
    watch = PopWatch(principal)
    cards, _ = await _poll(request.app, watch)
    if "text/event-stream" not in request.headers.get("Accept", ""):
        return json_ok(cards)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
            "X-Content-Type-Options": "nosniff",
        }
    )
    await response.prepare(request)
    await _stream(request, response, watch, _events(cards, []))
    return response


async def _stream(
    request: web.Request, response: web.StreamResponse, watch: PopWatch, first: bytes
) -> None:
    stopping = request.app[POPS_STOPPING]
    loop = asyncio.get_running_loop()
    started = quiet_since = loop.time()
    try:
        await response.write(f"retry: {RECONNECT_MS}\n\n".encode() + first)
        while not stopping.is_set() and loop.time() - started < STREAM_LIFETIME_S:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), POLL_S)
            if stopping.is_set():
                break
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError  # nobody to tell: stop reading the database
            sent = _events(*await _poll(request.app, watch))
            if sent:
                await response.write(sent)
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= HEARTBEAT_S:
                await response.write(b": heartbeat\n\n")
                quiet_since = loop.time()
        reason = "server" if stopping.is_set() else "renew"
        await response.write(_event("close", {"reason": reason}))
        await response.write_eof()
    except ConnectionResetError:
        log.debug("screen pop stream of user %s: the client left", watch.principal.user_id)
    except asyncio.CancelledError:
        # aiohttp cancels the handler when the connection drops while it waits.
        log.debug("screen pop stream of user %s: the client left", watch.principal.user_id)
        raise


async def transfers_report_api(request: web.Request) -> web.Response:
    """API: the period's transfers and what came of them."""
    principal = principal_of(request)
    period = report_period(request)
    return json_ok(await in_read(request.app, lambda db: transfer_report(db, principal, period)))


async def _stop_streams(app: web.Application) -> None:
    app[POPS_STOPPING].set()


def install(app: web.Application) -> None:
    """The stop signal the streams wait on, set when the server begins to shut down
    (``on_shutdown`` runs before aiohttp waits for the open requests to finish)."""
    app[POPS_STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)


_LINE = {
    "type": "object",
    "properties": {
        "speaker": {"type": "string", "enum": ["robot", "debtor"]},
        "text": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
_POP = {
    "type": "object",
    "required": ["transfer_id", "call_id", "account_id", "state", "account_number", "transcript"],
    "properties": {
        "transfer_id": {"type": "integer"},
        "call_id": {"type": "integer"},
        "account_id": {"type": "integer"},
        "state": {"type": "string", "enum": ["ringing", "connected"]},
        "state_title": {"type": "string"},
        "reason": {"type": "string"},
        "reason_title": {"type": "string", "description": "Почему робот перевёл звонок"},
        "ringing_at": {"type": "string"},
        "account_number": {"type": "string"},
        "address": {"type": "string"},
        "debtor_name": {"type": "string"},
        "debt_total": {"type": "string"},
        "peni_total": {"type": "string"},
        "debts": {"type": "array", "items": {"type": "object"}},
        "transcript": {"type": "array", "items": _LINE},
        "promises": {"type": "array", "items": {"type": "object"}},
        "account_url": {"type": "string"},
        "case_url": {"type": ["string", "null"]},
    },
}
_COUNT = {"type": "integer", "minimum": 0}
_SECONDS = {"type": ["string", "null"], "description": "Секунды"}
_MONEY = {"type": "string", "description": "Рубли"}
_REPORT = {
    "type": "object",
    "required": ["offered", "connected", "abandoned", "no_collector", "no_answer"],
    "properties": {
        "first": {"type": "string", "format": "date"},
        "last": {"type": "string", "format": "date"},
        "offered": {**_COUNT, "description": "Предложено переводов"},
        "connected": {**_COUNT, "description": "Соединено (специалист ответил)"},
        "abandoned": {**_COUNT, "description": "Должник положил трубку, не дождавшись"},
        "no_collector": {**_COUNT, "description": "Никого не было на линии"},
        "no_answer": {**_COUNT, "description": "Специалист не ответил вовремя"},
        "refused": _COUNT,
        "failed": _COUNT,
        "in_progress": _COUNT,
        "by_refer": _COUNT,
        "by_bridge": _COUNT,
        "connected_share": {"type": ["string", "null"]},
        "wait_p50_s": _SECONDS,
        "wait_p95_s": _SECONDS,
        "answered_wait_p50_s": _SECONDS,
        "promises": {**_COUNT, "description": "Обещаний после перевода"},
        "promised_sum": _MONEY,
        "kept": _COUNT,
        "kept_sum": _MONEY,
        "broken": _COUNT,
        "resolutions": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}


def register(table: RouteTable) -> None:
    """Add this module's routes (before the reports' ``/api/reports/{name}``)."""
    table.add(
        "GET",
        "/api/me/pops",
        pops_stream,
        roles(UserRole.COLLECTOR),
        api=ApiDoc(
            "myPops",
            "Переводы звонков на меня (экран взыскателя): лицевой счёт, долг по услугам, "
            "расшифровка разговора с роботом, причина перевода, прошлые обещания; с Accept: "
            "text/event-stream — поток Server-Sent Events (события pop, update и close)",
            "escalations",
            {"type": "array", "items": _POP},
            errors=(401, 403),
        ),
    )
    table.add(
        "GET",
        "/api/reports/transfers",
        transfers_report_api,
        roles(*REPORT_ROLES),
        api=ApiDoc(
            "transferReport",
            "Переводы на специалиста за период: предложено, соединено, брошено в ожидании, "
            "никого на линии, не ответили, ожидание p50/p95, обещания и итоги после перевода",
            "reports",
            _REPORT,
            params=(
                Param("from", "query", {"type": "string", "format": "date"}, "С даты"),
                Param("to", "query", {"type": "string", "format": "date"}, "По дату"),
            ),
            errors=(400, 401, 403),
        ),
    )
