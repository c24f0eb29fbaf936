"""The collectors' queue: pages and API (take, resolve, callback, note, phone status)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from dialer.campaigns.promises import local_zone
from dialer.messages import account_messages
from storage.models import utc_now
from storage.models.users import UserRole
from web.access import ESCALATION_ROLES, Principal, roles
from web.accounts import load_card
from web.cases import works_case
from web.collector_promises import AMOUNT_FIELD, DUE_FIELD, parse_promise
from web.db import in_read, in_transaction
from web.errors import BadInput, Conflict
from web.escalations import (
    RESOLUTION_TITLES,
    add_note,
    case_row,
    list_queue,
    mark_phone,
    promise_on_case,
    resolve_case,
    schedule_callback,
    take_case,
)
from web.pages import render
from web.pops import case_transfer_note
from web.requests import json_object, path_id, principal_of, read_form
from web.responses import json_ok, see_other
from web.routing import ApiDoc, Param, RouteTable
from web.views.collector_line import LINE_STATUS_TITLES, my_line

__all__ = ["register"]

Action = Callable[[Session, Principal, int, Mapping[str, object]], None]


def _text(data: Mapping[str, object], name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadInput(f"{name}: ожидается строка")
    return value


def _int(data: Mapping[str, object], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool):
        raise BadInput(f"{name}: ожидается целое число")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 11:
        number = int(value)
    else:
        raise BadInput(f"{name}: ожидается целое число")
    if not 1 <= number <= 2**31 - 1:
        raise BadInput(f"{name}: нет такого")
    return number


_FIRST_CALLBACK = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_LAST_CALLBACK = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _when(data: Mapping[str, object], time_zone: str = "Europe/Moscow") -> dt.datetime:
    from zoneinfo import ZoneInfo

    raw = _text(data, "callback_at").strip()
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError as err:
        raise BadInput("callback_at: дата и время, например 2026-11-24T10:30") from err
    if when.tzinfo is None:
        # The form's datetime-local has no zone: the collector means Moscow time.
        when = when.replace(tzinfo=ZoneInfo(time_zone))
    try:  # 9999-12-31T23:00-05:00 is past the last datetime once in UTC
        in_utc = when.astimezone(dt.UTC)
    except OverflowError as err:
        raise BadInput("callback_at: дата вне допустимого диапазона") from err
    if not _FIRST_CALLBACK <= in_utc <= _LAST_CALLBACK:
        raise BadInput("callback_at: год от 2000 до 2100")
    return when


def _do_take(db: Session, p: Principal, case_id: int, data: Mapping[str, object]) -> None:
    take_case(db, p, case_id)


def _given(data: Mapping[str, object], name: str) -> bool:
    value = data.get(name)
    return value is not None and value != ""


def _do_resolve(db: Session, p: Principal, case_id: int, data: Mapping[str, object]) -> None:
    # The date and amount are optional here: a promise recorded on the card before counts.
    promise = None
    if _given(data, DUE_FIELD) or _given(data, AMOUNT_FIELD):
        promise = parse_promise(data.get(DUE_FIELD), data.get(AMOUNT_FIELD))
    resolve_case(db, p, case_id, _text(data, "resolution"), _text(data, "note"), promise)


def _do_promise(db: Session, p: Principal, case_id: int, data: Mapping[str, object]) -> None:
    promise_on_case(db, p, case_id, parse_promise(data.get(DUE_FIELD), data.get(AMOUNT_FIELD)))


def _do_callback(db: Session, p: Principal, case_id: int, data: Mapping[str, object]) -> None:
    schedule_callback(db, p, case_id, _when(data), _text(data, "note"))


def _do_note(db: Session, p: Principal, case_id: int, data: Mapping[str, object]) -> None:
    add_note(db, p, case_id, _text(data, "note"))


def _do_phone(db: Session, p: Principal, case_id: int, data: Mapping[str, object]) -> None:
    mark_phone(db, p, case_id, _int(data, "phone_id"), _text(data, "status"))


ACTIONS: dict[str, tuple[Action, str]] = {
    "take": (_do_take, "Взять обращение в работу"),
    "resolve": (_do_resolve, "Закрыть с итогом (с обещанием оплатить — дата и сумма)"),
    "promise": (_do_promise, "Записать обещание оплатить: дата и сумма"),
    "callback": (_do_callback, "Назначить повторный звонок"),
    "note": (_do_note, "Добавить заметку"),
    "phone": (_do_phone, "Отметить телефон: неверный или не звонить"),
}


async def queue_page(request: web.Request) -> web.Response:
    """The queue: cases by priority and age."""
    principal = principal_of(request)
    collector = principal.role is UserRole.COLLECTOR

    def work(db: Session) -> dict[str, object]:
        line = my_line(db, principal.user_id) if collector else None
        return {"cases": list_queue(db, principal), "line": line}

    context = await in_read(request.app, work)
    return await render(request, "escalations.html", {**context, "line_titles": LINE_STATUS_TITLES})


async def case_page(request: web.Request) -> web.Response:
    """One case with the account card (the opening is audited)."""
    principal = principal_of(request)
    case_id = path_id(request, "case_id")

    def work(db: Session) -> dict[str, object]:
        case = case_row(db, principal, case_id)
        card = load_card(db, principal, case.account_id, works_case=works_case)
        return {
            "case": case,
            "card": card,
            "messages": account_messages(db, case.account_id),
            "resolutions": RESOLUTION_TITLES,
            # The promise form's bounds (checked again when stored).
            "owed": card.debt_total + card.peni_total,
            "today_local": utc_now().astimezone(local_zone(card.time_zone)).date().isoformat(),
            # A case from a call transferred live to a collector (issue 16).
            "transfer": case_transfer_note(db, case_id),
        }

    context = await in_transaction(request.app, work)
    context["error"] = request.query.get("error", "")[:300]
    return await render(request, "case.html", context)


def _form_action(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    action, _ = ACTIONS[name]

    async def handler(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        case_id = path_id(request, "case_id")
        data = {k: v for k, v in (await read_form(request)).items() if isinstance(v, str)}
        try:
            await in_transaction(request.app, lambda db: action(db, principal, case_id, data))
        except (BadInput, Conflict) as refused:
            # Back to the case with the message above the forms (nothing was stored).
            query = urlencode({"error": refused.message})
            return see_other(f"/escalations/{case_id}?{query}")
        return see_other(f"/escalations/{case_id}" if name != "resolve" else "/escalations")

    return handler


def _api_action(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    action, _ = ACTIONS[name]

    async def handler(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        case_id = path_id(request, "case_id")
        data: Mapping[str, object] = {}
        if request.can_read_body:
            data = await json_object(request)
        await in_transaction(request.app, lambda db: action(db, principal, case_id, data))
        return json_ok(await in_read(request.app, lambda db: case_row(db, principal, case_id)))

    return handler


async def queue_api(request: web.Request) -> web.Response:
    """API: the queue."""
    principal = principal_of(request)
    return json_ok(await in_read(request.app, lambda db: list_queue(db, principal)))


_CASE = {
    "type": "object",
    "required": ["id", "account_id", "status", "reasons", "priority", "debt"],
    "properties": {
        "id": {"type": "integer"},
        "account_id": {"type": "integer"},
        "account_number": {"type": "string"},
        "address": {"type": "string"},
        "status": {"type": "string"},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "priority": {"type": "integer"},
        "debt": {"type": "string"},
        "assignee": {"type": ["string", "null"]},
        "mine": {"type": "boolean"},
        "opened_at": {"type": "string"},
        "age_days": {"type": "integer"},
        "notes": {"type": "string"},
        "callback_at": {"type": ["string", "null"], "description": "Перезвонить в (UTC)"},
        "callback_due": {"type": "boolean", "description": "Время перезвонить пришло"},
    },
}
_PROMISE_FIELDS: dict[str, object] = {
    DUE_FIELD: {
        "type": "string",
        "format": "date",
        "description": "Дата оплаты: не раньше сегодняшнего дня по времени должника",
    },
    AMOUNT_FIELD: {
        "type": ["number", "string"],
        "description": "Сумма, ₽: больше нуля и не больше долга с пени",
    },
}
_BODIES: dict[str, dict[str, object] | None] = {
    "take": None,
    "resolve": {
        "type": "object",
        "required": ["resolution"],
        "description": "«promise» (договорились об оплате) требует promise_due и promise_amount, "
        "если обещание не записано на обращении раньше",
        "properties": {
            "resolution": {"type": "string", "enum": [r.value for r in RESOLUTION_TITLES]},
            "note": {"type": "string", "maxLength": 2000},
            **_PROMISE_FIELDS,
        },
    },
    "promise": {
        "type": "object",
        "required": [DUE_FIELD, AMOUNT_FIELD],
        "properties": _PROMISE_FIELDS,
    },
    "callback": {
        "type": "object",
        "required": ["callback_at"],
        "properties": {
            "callback_at": {"type": "string", "format": "date-time"},
            "note": {"type": "string", "maxLength": 2000},
        },
    },
    "note": {
        "type": "object",
        "required": ["note"],
        "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 2000}},
    },
    "phone": {
        "type": "object",
        "required": ["phone_id", "status"],
        "properties": {
            "phone_id": {"type": "integer", "minimum": 1},
            "status": {"type": "string", "enum": ["wrong", "do_not_call"]},
        },
    },
}


def register(table: RouteTable) -> None:
    """Add this module's routes."""
    policy = roles(*ESCALATION_ROLES)
    table.add("GET", "/escalations", queue_page, policy, name="escalations")
    table.add("GET", r"/escalations/{case_id:\d+}", case_page, policy)
    for name in ACTIONS:
        table.add("POST", rf"/escalations/{{case_id:\d+}}/{name}", _form_action(name), policy)
    table.add(
        "GET",
        "/api/escalations",
        queue_api,
        policy,
        api=ApiDoc("listEscalations", "Очередь обращений: сначала назначенные перезвоны, время которых пришло, затем по приоритету и возрасту", "escalations",
                   {"type": "array", "items": _CASE}, errors=(401, 403)),
    )  # fmt: skip
    case_param = Param("case_id", "path", {"type": "integer", "minimum": 1}, "Обращение")
    for name, (_, summary) in ACTIONS.items():
        table.add(
            "POST",
            f"/api/escalations/{{case_id}}/{name}",
            _api_action(name),
            policy,
            api=ApiDoc(f"{name}Escalation", summary, "escalations", _CASE, params=(case_param,),
                       body=_BODIES[name], errors=(400, 401, 403, 404, 409)),
        )  # fmt: skip
