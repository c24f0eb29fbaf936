"""Account search and the account card: pages and the JSON API."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from sqlalchemy.orm import Session

from dialer.messages import account_messages
from storage.models import Account
from storage.models.campaigns import Call
from storage.models.users import AccountOpening, OpeningPurpose, UserRole
from web.access import CARD_ROLES, roles
from web.accounts import load_card, search_accounts
from web.cases import works_case
from web.db import in_read, in_transaction
from web.errors import NotFound
from web.keys import CONFIG
from web.pages import render
from web.requests import path_id, principal_of, query_int, query_text
from web.responses import json_ok
from web.routing import ApiDoc, Param, RouteTable

__all__ = ["register"]

PAGE_SIZE = 50


async def accounts_page(request: web.Request) -> web.Response:
    """Search accounts by number, address or a person's name."""
    principal = principal_of(request)
    text = query_text(request, "q")
    offset = query_int(request, "offset", 0, low=0, high=10_000_000)
    page = await in_read(
        request.app,
        lambda db: search_accounts(db, principal, text, limit=PAGE_SIZE, offset=offset),
    )
    return await render(request, "accounts.html", {"page": page, "q": text})


async def account_card_page(request: web.Request) -> web.Response:
    """The account card (the opening is audited)."""
    principal = principal_of(request)
    account_id = path_id(request, "account_id")

    def work(db: Session) -> dict[str, object]:
        card = load_card(db, principal, account_id, works_case=works_case)
        return {"card": card, "messages": account_messages(db, account_id)}

    return await render(request, "account.html", await in_transaction(request.app, work))


async def accounts_api(request: web.Request) -> web.Response:
    """API: search accounts."""
    principal = principal_of(request)
    text = query_text(request, "q")
    limit = query_int(request, "limit", PAGE_SIZE, low=1, high=500)
    offset = query_int(request, "offset", 0, low=0, high=10_000_000)
    page = await in_read(
        request.app, lambda db: search_accounts(db, principal, text, limit=limit, offset=offset)
    )
    return json_ok(page)


async def account_api(request: web.Request) -> web.Response:
    """API: one account card (the opening is audited)."""
    principal = principal_of(request)
    account_id = path_id(request, "account_id")
    card = await in_transaction(
        request.app,
        lambda db: load_card(
            db, principal, account_id, purpose=OpeningPurpose.API, works_case=works_case
        ),
    )
    return json_ok(card)


async def call_recording(request: web.Request) -> web.StreamResponse:
    """The stereo recording of a call (robot left, debtor right), for the card's player."""
    principal = principal_of(request)
    call_id = path_id(request, "call_id")
    recordings = request.app[CONFIG].recordings_dir
    if recordings is None:
        raise NotFound("записи нет")
    root = recordings.resolve()

    def work(db: Session) -> Path | None:
        call = db.get(Call, call_id)
        if call is None or call.recording_path is None:
            return None
        account = db.get(Account, call.account_id)
        if account is None or not principal.sees_organisation(account.organisation_id):
            return None
        # A collector hears the calls of the cases they work, as they see those cards only.
        if principal.role is UserRole.COLLECTOR and not works_case(db, principal, account.id):
            return None
        path = (root / call.recording_path).resolve()
        # A stored path may only point inside the recordings directory.
        if not path.is_relative_to(root) or not path.is_file():
            return None
        # A recording is personal data (a voice, what was said): every fetch goes into the
        # 152-ФЗ audit log with the card openings, in the transaction that allows it.
        db.add(
            AccountOpening(
                user_id=principal.user_id,
                organisation_id=account.organisation_id,
                account_id=account.id,
                purpose=OpeningPurpose.RECORDING,
                phones_shown=False,
                documents_shown=False,
            )
        )
        return path

    path = await in_transaction(request.app, work)
    if path is None:
        raise NotFound("записи нет")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


_MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
_DATE = {"type": "string", "format": "date"}
_NULLABLE_STR = {"type": ["string", "null"]}
_ACCOUNT_ROW = {
    "type": "object",
    "required": ["id", "number", "organisation", "address", "debt", "peni"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "organisation": {"type": "string"},
        "address": {"type": "string"},
        "flat": _NULLABLE_STR,
        "debt": _MONEY,
        "peni": _MONEY,
    },
}
_ACCOUNT_PAGE = {
    "type": "object",
    "required": ["items", "total", "limit", "offset"],
    "properties": {
        "items": {"type": "array", "items": _ACCOUNT_ROW},
        "total": {"type": "integer"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
    },
}
_CARD = {
    "type": "object",
    "required": ["id", "number", "people", "phones", "debts", "payments", "history"],
    "properties": {
        "id": {"type": "integer"},
        "organisation_id": {"type": "integer"},
        "organisation": {"type": "string"},
        "number": {"type": "string"},
        "address": {"type": "string"},
        "building": _NULLABLE_STR,
        "flat": _NULLABLE_STR,
        "time_zone": {"type": "string"},
        "people": {"type": "array", "items": {"type": "object"}},
        "phones": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "number", "masked", "status"],
                "properties": {
                    "id": {"type": "integer"},
                    "number": {"type": "string"},
                    "masked": {"type": "boolean"},
                    "status": {"type": "string"},
                    "kind": {"type": "string"},
                    "person_id": {"type": ["integer", "null"]},
                },
            },
        },
        "debts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["service", "period", "charged", "paid", "debt", "peni"],
                "properties": {
                    "service": {"type": "string"},
                    "period": _DATE,
                    "charged": _MONEY,
                    "paid": _MONEY,
                    "debt": _MONEY,
                    "peni": _MONEY,
                },
            },
        },
        "debt_total": _MONEY,
        "peni_total": _MONEY,
        "charged_total": _MONEY,
        "paid_total": _MONEY,
        "payments": {"type": "array", "items": {"type": "object"}},
        "history": {"type": "array", "items": {"type": "object"}},
        "promises": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["made_at", "due_on", "amount", "status", "made_by"],
                "properties": {
                    "made_at": {"type": "string", "format": "date-time"},
                    "due_on": _DATE,
                    "amount": {"type": ["string", "null"], "description": "null: весь долг"},
                    "status": {"type": "string", "enum": ["made", "kept", "broken"]},
                    "made_by": {
                        "type": ["string", "null"],
                        "description": "null: робот в звонке; иначе взыскатель (user:<id>)",
                    },
                },
            },
        },
        "phones_shown": {"type": "boolean"},
        "documents_shown": {"type": "boolean"},
    },
}


def register(table: RouteTable) -> None:
    """Add this module's routes."""
    policy = roles(*CARD_ROLES)
    table.add("GET", "/accounts", accounts_page, policy, name="accounts")
    table.add("GET", r"/accounts/{account_id:\d+}", account_card_page, policy, name="account")
    table.add("GET", r"/calls/{call_id:\d+}/recording", call_recording, policy)
    table.add(
        "GET",
        "/api/accounts",
        accounts_api,
        policy,
        api=ApiDoc(
            operation_id="searchAccounts",
            summary="Поиск лицевых счетов по номеру, адресу или ФИО",
            tag="accounts",
            response=_ACCOUNT_PAGE,
            params=(
                Param("q", "query", {"type": "string", "maxLength": 200}, "Что искать"),
                Param(
                    "limit", "query", {"type": "integer", "minimum": 1, "maximum": 500}, "Сколько"
                ),
                Param("offset", "query", {"type": "integer", "minimum": 0}, "С какого"),
            ),
            errors=(400, 401, 403),
        ),
    )
    table.add(
        "GET",
        "/api/accounts/{account_id}",
        account_api,
        policy,
        api=ApiDoc(
            operation_id="getAccount",
            summary="Карточка лицевого счёта: долги, платежи, история (открытие в журнале аудита)",
            tag="accounts",
            response=_CARD,
            params=(
                Param("account_id", "path", {"type": "integer", "minimum": 1}, "Лицевой счёт"),
            ),
            errors=(401, 403, 404),
        ),
    )
