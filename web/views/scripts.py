"""Script pages and API: the library with titles and purposes, a script's texts edited in a
form (saved as a new version after the loader's check), and a rehearsal in the browser.

Everybody signed in may read and rehearse (a collector hears what the robot told the debtor
before the transfer); only campaign managers and admins save a new version. The rehearsal
page posts the answers typed so far to ``/api/scripts/{name}/rehearsal`` (with the
``X-CSRF-Token`` header, ``web/static/script_rehearsal.js``) and plays each robot line from
``/api/scripts/voice``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from dialer.rehearsal import MAX_ANSWERS, RehearsalUnavailable
from dialer.script_library import (
    LineKey,
    ScriptEditInvalid,
    UnknownScript,
    resolve_script,
    save_texts,
)
from web.access import ALL_ROLES, CAMPAIGN_ROLES, Principal, roles
from web.db import in_read, in_transaction
from web.errors import BadInput, Conflict, NotFound
from web.pages import render
from web.requests import json_object, principal_of, query_int, query_text, read_form
from web.responses import json_ok, see_other
from web.routing import ApiDoc, Param, RouteTable
from web.scripts_library import (
    REHEARSAL,
    organisations_of,
    parse_line_key,
    script_page,
    scripts_of,
    visible_organisation,
)

__all__ = ["register"]

_MAX_LINE = 1000
_MAX_ANSWER = 300
_MAX_VOICE_TEXT = 1000
_EDIT_ROLES = frozenset(CAMPAIGN_ROLES)


def _org_query(request: web.Request) -> int | None:
    value = query_int(request, "organisation_id", 0, low=0, high=2**31 - 1)
    return value or None


def _name(request: web.Request) -> str:
    return request.match_info["name"]


def _line_text(key: LineKey, raw: object) -> str:
    if not isinstance(raw, str):
        raise BadInput(f"узел {key.node}, {key.where}: ожидается текст")
    text = " ".join(raw.replace("\r", " ").replace("\n", " ").split())
    if len(text) > _MAX_LINE or any(ord(ch) < 32 for ch in text):
        raise BadInput(f"узел {key.node}, {key.where}: не длиннее {_MAX_LINE} символов")
    return text


def _int_field(data: Mapping[str, object], name: str, *, required: bool) -> int | None:
    raw = data.get(name)
    if raw in (None, "") and not required:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 10:
        value = int(raw)
    else:
        raise BadInput(f"{name}: ожидается целое число")
    if not 1 <= value <= 2**31 - 1:
        raise BadInput(f"{name}: ожидается целое число от 1")
    return value


def _save(
    db: Session, principal: Principal, org: int | None, name: str, base: int | None,
    edits: Mapping[LineKey, str],
) -> int:  # fmt: skip
    organisation = visible_organisation(db, principal, org)
    try:
        return save_texts(
            db, organisation, name, edits, author_id=principal.user_id, base_version=base
        )
    except UnknownScript as err:
        raise NotFound(str(err)) from err


# --- pages ------------------------------------------------------------------------------


async def scripts_page(request: web.Request) -> web.Response:
    """The library: every script with its title, purpose and the organisation's version."""
    principal = principal_of(request)
    org = _org_query(request)

    def work(db: Session) -> dict[str, object]:
        chosen, items = scripts_of(db, principal, org)
        return {
            "organisations": organisations_of(db, principal),
            "organisation_id": chosen,
            "scripts": items,
        }

    return await render(request, "scripts.html", await in_read(request.app, work))


async def script_page_view(request: web.Request) -> web.Response:
    """One script: the texts of a version in a form, its versions, the rehearsal."""
    principal = principal_of(request)
    org, name = _org_query(request), _name(request)
    version = query_int(request, "version", 0, low=0, high=2**31 - 1) or None
    page = await in_read(request.app, lambda db: script_page(db, principal, org, name, version))
    return await render(
        request,
        "script.html",
        {
            "page": page,
            "can_edit": principal.role in _EDIT_ROLES,
            "notice": query_text(request, "notice"),
            "problems": (),
        },
    )


async def save_script_form(request: web.Request) -> web.StreamResponse:
    """Save the form's texts as a new version; with problems, the form again beside them."""
    principal = principal_of(request)
    name = _name(request)
    form = await read_form(request)
    org = _int_field(form, "organisation_id", required=True)
    base = _int_field(form, "base_version", required=False)
    edits: dict[LineKey, str] = {}
    for field, raw in form.items():
        key = parse_line_key(field)
        if key is not None:
            edits[key] = _line_text(key, raw)
    try:
        version = await in_transaction(
            request.app, lambda db: _save(db, principal, org, name, base, edits)
        )
    except ScriptEditInvalid as err:
        by_field, problems = err.by_field, err.problems
        page = await in_read(
            request.app,
            lambda db: script_page(db, principal, org, name, base, typed=edits, problems=by_field),
        )
        return await render(
            request,
            "script.html",
            {"page": page, "can_edit": True, "notice": "", "problems": problems},
            status=400,
        )
    query = urlencode({"organisation_id": org, "notice": f"Сохранена версия {version}"})
    return see_other(f"/scripts/{name}?{query}")


# --- API --------------------------------------------------------------------------------


async def scripts_api(request: web.Request) -> web.Response:
    """API: the organisation's library."""
    principal = principal_of(request)
    org = _org_query(request)
    _, items = await in_read(request.app, lambda db: scripts_of(db, principal, org))
    return json_ok(items)


async def script_api(request: web.Request) -> web.Response:
    """API: a version of a script (the newest by default): its lines and history."""
    principal = principal_of(request)
    org, name = _org_query(request), _name(request)
    version = query_int(request, "version", 0, low=0, high=2**31 - 1) or None
    page = await in_read(request.app, lambda db: script_page(db, principal, org, name, version))
    return json_ok(
        {
            "organisation_id": page.organisation_id,
            "name": page.name,
            "title": page.title,
            "purpose": page.purpose,
            "version": page.version,
            "latest": page.latest,
            "lines": [
                {"field": line.name, "node": line.node, "label": line.label, "text": line.text}
                for line in page.lines
            ],
            "history": page.history,
        }
    )


def _edits_of(body: Mapping[str, object]) -> dict[LineKey, str]:
    lines = body.get("lines")
    if not isinstance(lines, dict) or len(lines) > 2000:
        raise BadInput("lines: ожидается объект «поле: текст»")
    edits: dict[LineKey, str] = {}
    for field, raw in lines.items():
        key = parse_line_key(str(field))
        if key is None:
            raise BadInput(f"lines: {str(field)[:80]!r} — не строка сценария")
        edits[key] = _line_text(key, raw)
    return edits


async def save_script_api(request: web.Request) -> web.Response:
    """API: save edited texts as a new version; problems by node and field, nothing saved."""
    principal = principal_of(request)
    name = _name(request)
    body = await json_object(request)
    org = _int_field(body, "organisation_id", required=True)
    base = _int_field(body, "base_version", required=False)
    edits = _edits_of(body)
    try:
        version = await in_transaction(
            request.app, lambda db: _save(db, principal, org, name, base, edits)
        )
    except ScriptEditInvalid as err:
        return json_ok(
            {
                "error": "сценарий не прошёл проверку, ничего не сохранено",
                "problems": [
                    {"node": node, "field": field, "messages": messages}
                    for (node, field), messages in err.by_field.items()
                ],
            },
            status=400,
        )
    return json_ok({"version": version}, status=201)


def _answers_of(body: Mapping[str, object]) -> list[str]:
    answers = body.get("answers", [])
    if not isinstance(answers, list) or len(answers) > MAX_ANSWERS:
        raise BadInput(f"answers: список не длиннее {MAX_ANSWERS} ответов")
    out = []
    for i, answer in enumerate(answers):
        if not isinstance(answer, str) or len(answer) > _MAX_ANSWER:
            raise BadInput(f"answers[{i}]: текст не длиннее {_MAX_ANSWER} символов")
        out.append(" ".join(answer.split()))
    return out


async def rehearsal_api(request: web.Request) -> web.Response:
    """API: the rehearsal with the answers typed so far: every line, what is asked next."""
    principal = principal_of(request)
    name = _name(request)
    body = await json_object(request)
    org = _int_field(body, "organisation_id", required=True)
    version = _int_field(body, "version", required=False)
    answers = _answers_of(body)

    def load(db: Session) -> object:
        organisation = visible_organisation(db, principal, org)
        try:
            return resolve_script(db, organisation, name, version)
        except UnknownScript as err:
            raise NotFound(str(err)) from err

    script = await in_read(request.app, load)
    stage = request.app[REHEARSAL]
    try:  # the classifier's first load and every turn are CPU work: off the event loop
        result = await asyncio.to_thread(stage.run, script, answers, dt.date.today())  # type: ignore[arg-type]
    except RehearsalUnavailable as err:
        raise Conflict(str(err)) from err
    return json_ok(
        {
            "lines": [
                {
                    "speaker": line.speaker,
                    "text": line.text,
                    "tags": line.tags,
                    "audio": f"/api/scripts/voice?text={quote(line.text)}"
                    if line.speaker == "robot"
                    else None,
                }
                for line in result.lines
            ],
            "asked": result.asked,
            "outcome": result.outcome,
        }
    )


async def voice_api(request: web.Request) -> web.StreamResponse:
    """API: the robot's voice saying a line, as a WAV (8 kHz, 16-bit, mono)."""
    principal_of(request)
    text = query_text(request, "text", max_length=_MAX_VOICE_TEXT)
    if not any(ch.isalpha() for ch in text):
        raise BadInput("параметр text: нужен текст реплики")
    try:  # synthesis runs Festival: seconds of work, never on the event loop
        wav = await asyncio.to_thread(request.app[REHEARSAL].wav, text)
    except RehearsalUnavailable as err:
        raise Conflict(str(err)) from err
    return web.Response(
        body=wav, content_type="audio/wav", headers={"Cache-Control": "private, max-age=3600"}
    )


# --- registration -----------------------------------------------------------------------

_ORG = Param("organisation_id", "query", {"type": "integer", "minimum": 1}, "Организация")
_NAME = Param("name", "path", {"type": "string", "pattern": "^[a-z0-9_]+$"}, "Сценарий")
_SUMMARY = {
    "type": "object",
    "required": ["name", "title", "purpose", "version"],
    "properties": {
        "name": {"type": "string"},
        "title": {"type": "string"},
        "purpose": {"type": "string"},
        "version": {"type": "integer"},
        "nodes": {"type": "integer"},
    },
}
_SCRIPT = {
    "type": "object",
    "required": ["name", "version", "lines"],
    "properties": {
        "organisation_id": {"type": "integer"},
        "name": {"type": "string"},
        "title": {"type": "string"},
        "purpose": {"type": "string"},
        "version": {"type": "integer"},
        "latest": {"type": "integer"},
        "lines": {"type": "array", "items": {"type": "object"}},
        "history": {"type": "array", "items": {"type": "object"}},
    },
}
_SAVE_BODY = {
    "type": "object",
    "required": ["organisation_id", "lines"],
    "properties": {
        "organisation_id": {"type": "integer", "minimum": 1},
        "base_version": {"type": "integer", "minimum": 1},
        "lines": {
            "type": "object",
            "description": "«line:<узел>:say|reprompt:<номер>»: новый текст",
            "additionalProperties": {"type": "string", "maxLength": _MAX_LINE},
        },
    },
}
_REHEARSAL_BODY = {
    "type": "object",
    "required": ["organisation_id"],
    "properties": {
        "organisation_id": {"type": "integer", "minimum": 1},
        "version": {"type": "integer", "minimum": 1},
        "answers": {
            "type": "array",
            "maxItems": MAX_ANSWERS,
            "items": {"type": "string", "maxLength": _MAX_ANSWER},
        },
    },
}
_REHEARSAL = {
    "type": "object",
    "required": ["lines", "asked", "outcome"],
    "properties": {
        "lines": {"type": "array", "items": {"type": "object"}},
        "asked": {"type": ["string", "null"]},
        "outcome": {"type": ["string", "null"]},
    },
}


def register(table: RouteTable) -> None:
    """Add this module's routes."""
    read = roles(*ALL_ROLES)
    edit = roles(*CAMPAIGN_ROLES)
    name = r"{name:[a-z0-9_]+}"
    table.add("GET", "/scripts", scripts_page, read, name="scripts")
    table.add("GET", f"/scripts/{name}", script_page_view, read)
    table.add("POST", f"/scripts/{name}", save_script_form, edit)
    table.add(
        "GET", "/api/scripts", scripts_api, read,
        api=ApiDoc("listScripts", "Сценарии библиотеки: название, назначение, версия организации",
                   "scripts", {"type": "array", "items": _SUMMARY}, params=(_ORG,),
                   errors=(400, 401, 403, 404)),
    )  # fmt: skip
    table.add(
        "GET", "/api/scripts/voice", voice_api, read,
        api=ApiDoc("scriptVoice", "Голос робота: реплика в WAV (8 кГц, 16 бит, моно)", "scripts",
                   {"type": "string", "format": "binary"}, content_type="audio/wav",
                   params=(Param("text", "query", {"type": "string", "maxLength": _MAX_VOICE_TEXT},
                                 "Текст реплики"),),
                   errors=(400, 401, 403, 409)),
    )  # fmt: skip
    table.add(
        "GET", f"/api/scripts/{name}", script_api, read,
        api=ApiDoc("getScript", "Тексты версии сценария (по умолчанию новейшей) и история версий",
                   "scripts", _SCRIPT,
                   params=(_NAME, _ORG, Param("version", "query", {"type": "integer", "minimum": 1},
                                              "Версия")),
                   errors=(400, 401, 403, 404)),
    )  # fmt: skip
    table.add(
        "POST", f"/api/scripts/{name}/versions", save_script_api, edit,
        api=ApiDoc("saveScriptVersion",
                   "Сохранить изменённые тексты новой версией (проверка тем же загрузчиком)",
                   "scripts", {"type": "object", "required": ["version"],
                               "properties": {"version": {"type": "integer"}}},
                   params=(_NAME,), body=_SAVE_BODY, status=201, errors=(400, 401, 403, 404)),
    )  # fmt: skip
    table.add(
        "POST", f"/api/scripts/{name}/rehearsal", rehearsal_api, read,
        api=ApiDoc("rehearseScript",
                   "Репетиция: ответы должника → реплики робота (настоящие классификатор и движок)",
                   "scripts", _REHEARSAL, params=(_NAME,), body=_REHEARSAL_BODY,
                   errors=(400, 401, 403, 404, 409)),
    )  # fmt: skip
