"""Live transfers in the web (issue 16): the collector's screen pop over Server-Sent Events,
``GET /api/me/pops``, and the transfers report, ``GET /api/reports/transfers``.

The worker that rings the collector is another process, so nothing can tell this one that a
transfer started: the stream reads the database twice a second (:mod:`web.sse`) and sends
``pop`` when a transfer starts ringing at this collector (the whole card), ``update`` when its
state, transcript or case changes.
"""

from __future__ import annotations

from aiohttp import web

from storage.models import utc_now
from storage.models.users import UserRole
from web.access import REPORT_ROLES, roles
from web.db import in_read, in_transaction
from web.pops import PopCard, PopUpdate, PopWatch, record_openings
from web.requests import principal_of
from web.responses import json_ok
from web.routing import ApiDoc, Param, RouteTable
from web.sse import EventStream, event, open_stream, wants_events
from web.transfer_reports import transfer_report
from web.views.reports import report_period

__all__ = ["register"]


POPS = EventStream(poll_s=0.5, reconnect_ms=2000)


def _events(cards: list[PopCard], updates: list[PopUpdate]) -> bytes:
    return b"".join([*(event("pop", c) for c in cards), *(event("update", u) for u in updates)])


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
    if not wants_events(request):
        return json_ok(cards)

    async def poll() -> bytes:
        return _events(*await _poll(request.app, watch))

    label = f"screen pop stream of user {principal.user_id}"
    return await open_stream(request, POPS, label, _events(cards, []), poll)


async def transfers_report_api(request: web.Request) -> web.Response:
    """API: the period's transfers and what came of them."""
    principal = principal_of(request)
    period = report_period(request)
    return json_ok(await in_read(request.app, lambda db: transfer_report(db, principal, period)))


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
