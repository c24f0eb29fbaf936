"""Campaign pages and API: list with progress, create from a filter with a preview,
start / pause / stop, attempts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.orm import Session

from dialer.campaigns.errors import CampaignConfigError, CampaignError
from dialer.campaigns.filters import AccountFilter
from dialer.campaigns.service import (
    CampaignSpec,
    check_buildings,
    create_campaign,
    library_titles,
    pause_campaign,
    start_campaign,
    stop_campaign,
)
from dialer.script_library import pin_campaign
from storage.models import Building, Organisation, utc_now
from storage.models.campaigns import Attempt, AttemptStatus
from web.access import CAMPAIGN_ROLES, REPORT_ROLES, Principal, roles
from web.campaigns import (
    campaign_attempts,
    campaign_progress,
    list_campaigns,
    preview_campaign,
    visible_campaign,
)
from web.db import in_read, in_transaction
from web.errors import BadInput, Conflict, NotFound
from web.live import LEFT_OUT_TITLES
from web.pages import render
from web.requests import json_object, path_id, principal_of, query_int, read_form
from web.responses import json_ok, see_other
from web.routing import ApiDoc, Handler, Param, RouteTable
from web.views.campaign_live import page_snapshot

__all__ = ["CampaignForm", "parse_campaign_form", "register"]


@dataclass(frozen=True, slots=True)
class CampaignForm:
    """A campaign as typed into the form or sent to the API."""

    organisation_id: int
    name: str
    script: str
    starts_on: dt.date
    account_filter: AccountFilter


def _text(data: Mapping[str, object], name: str, default: str = "", max_length: int = 200) -> str:
    raw = data.get(name, default)
    if raw is None:
        return default
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise BadInput(f"{name}: ожидается строка")
    text = str(raw).strip()
    if len(text) > max_length or any(ord(ch) < 32 for ch in text):
        raise BadInput(f"{name}: не длиннее {max_length} символов, без управляющих символов")
    return text


def _int(data: Mapping[str, object], name: str, default: int | None, low: int, high: int) -> int:
    text = _text(data, name)
    if text == "":
        if default is None:
            raise BadInput(f"{name}: обязательное поле")
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise BadInput(f"{name}: ожидается целое число")
    value = int(text)
    if not low <= value <= high:
        raise BadInput(f"{name}: допустимо от {low} до {high}")
    return value


def parse_campaign_form(data: Mapping[str, object], *, today: dt.date) -> CampaignForm:
    """Validate a campaign form or API body; a bad field is named in the error."""
    organisation_id = _int(data, "organisation_id", None, 1, 2**31 - 1)
    name = _text(data, "name")
    script = _text(data, "script", "soft_reminder", 100) or "soft_reminder"
    starts_text = _text(data, "starts_on")
    try:
        starts_on = dt.date.fromisoformat(starts_text) if starts_text else today
    except ValueError as err:
        raise BadInput("starts_on: дата в виде ГГГГ-ММ-ДД") from err
    min_debt_text = _text(data, "min_debt", "0.01").replace(",", ".") or "0.01"
    try:
        min_debt = Decimal(min_debt_text)
    except InvalidOperation as err:
        raise BadInput("min_debt: ожидается сумма в рублях") from err
    if not min_debt.is_finite() or not Decimal("0") <= min_debt <= Decimal("100000000"):
        raise BadInput("min_debt: от 0 до 100 000 000 рублей")
    months = _int(data, "min_months_overdue", 1, 1, 120)
    building = _int(data, "building_id", 0, 0, 2**31 - 1)
    service = _text(data, "service", "", 100)
    choice = {
        "segments": _text(data, "segment", "", 16),
        "debtor_types": _text(data, "debtor_type", "", 16),
    }
    try:  # one of each at most ("" = any); the filter names a bad value
        chosen = AccountFilter.from_json({k: [v] for k, v in choice.items() if v})
    except CampaignConfigError as err:
        raise BadInput(str(err)) from err
    return CampaignForm(
        organisation_id=organisation_id,
        name=name,
        script=script,
        starts_on=starts_on,
        account_filter=AccountFilter(
            building_ids=(building,) if building else (),
            service=service or None,
            min_debt=min_debt.quantize(Decimal("0.01")),
            min_months_overdue=months,
            segments=chosen.segments,
            debtor_types=chosen.debtor_types,
        ),
    )


def _organisation_name(session: Session, principal: Principal, organisation_id: int) -> str:
    if not principal.sees_organisation(organisation_id):
        raise NotFound("организация не найдена")
    name = session.scalar(sa.select(Organisation.name).where(Organisation.id == organisation_id))
    if name is None:
        raise NotFound("организация не найдена")
    return name


def _create(session: Session, principal: Principal, form: CampaignForm) -> int:
    if not form.name:
        raise BadInput("name: дайте кампании название")
    organisation = _organisation_name(session, principal, form.organisation_id)
    try:
        campaign = create_campaign(
            session,
            CampaignSpec(
                organisation=organisation,
                name=form.name,
                script=form.script,
                starts_on=form.starts_on,
                account_filter=form.account_filter,
            ),
            utc_now(),
        )
    except CampaignError as err:
        raise BadInput(str(err)) from err
    except sa.exc.IntegrityError as err:
        raise Conflict("кампания с таким названием уже есть") from err
    # The campaign says what its scripts say today, even after later edits on the web.
    pin_campaign(
        session,
        campaign.id,
        campaign.organisation_id,
        (campaign.script, campaign.thanks_script, campaign.broken_promise_script),
    )
    return campaign.id


def _start_counts(session: Session, campaign_id: int) -> tuple[int, int]:
    row = session.execute(
        sa.select(
            sa.func.sum(sa.case((Attempt.status == AttemptStatus.PENDING, 1), else_=0)),
            sa.func.sum(sa.case((Attempt.reason == "already_active", 1), else_=0)),
        ).where(Attempt.campaign_id == campaign_id)
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def _act(session: Session, principal: Principal, campaign_id: int, action: str) -> str:
    campaign = visible_campaign(session, principal, campaign_id)
    now = utc_now()
    try:
        match action:
            case "start":
                start_campaign(session, campaign, now)
                # A campaign made with the CLI pins its scripts' versions when first started.
                pin_campaign(
                    session,
                    campaign.id,
                    campaign.organisation_id,
                    (campaign.script, campaign.thanks_script, campaign.broken_promise_script),
                )
                # Counted here rather than taken from StartReport: its INSERT … SELECT
                # rowcounts come back as -1 from psycopg on PostgreSQL.
                queued, held = _start_counts(session, campaign_id)
                return f"Запущено: в очереди {queued}, заняты другой кампанией {held}"
            case "pause":
                pause_campaign(session, campaign, now)
                return "Кампания приостановлена"
            case "stop":
                cancelled = stop_campaign(session, campaign, now)
                return f"Кампания остановлена, отменено попыток: {cancelled}"
            case _:
                raise NotFound("нет такого действия")
    except CampaignError as err:
        raise Conflict(str(err)) from err


def _choices(session: Session, principal: Principal) -> dict[str, object]:
    orgs = sa.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    buildings = sa.select(Building.id, Building.organisation_id, Building.address).order_by(
        Building.address
    )
    if principal.organisation_ids is not None:
        visible = sorted(principal.organisation_ids)
        orgs = orgs.where(Organisation.id.in_(visible))
        buildings = buildings.where(Building.organisation_id.in_(visible))
    return {
        "organisations": [tuple(r) for r in session.execute(orgs)],
        "buildings": [tuple(r) for r in session.execute(buildings.limit(2000))],
        "scripts": library_titles(),
    }


async def campaigns_page(request: web.Request) -> web.Response:
    """The list of campaigns with live progress."""
    principal = principal_of(request)
    items = await in_read(request.app, lambda db: list_campaigns(db, principal))
    return await render(
        request, "campaigns.html", {"campaigns": items, "notice": request.query.get("notice", "")}
    )


async def new_campaign_page(request: web.Request) -> web.Response:
    """The form; with an organisation chosen it shows the preview of the filter."""
    principal = principal_of(request)
    query = dict(request.query)
    today = dt.date.today()

    def work(db: Session) -> dict[str, object]:
        context = _choices(db, principal)
        context.update(form=query, preview=None, error="")
        if query.get("organisation_id"):
            try:
                form = parse_campaign_form(query, today=today)
                _organisation_name(db, principal, form.organisation_id)
                check_buildings(db, form.organisation_id, form.account_filter)
                context["preview"] = preview_campaign(db, form.organisation_id, form.account_filter)
            except (BadInput, NotFound) as err:
                context["error"] = err.message
            except CampaignConfigError as err:
                context["error"] = str(err)
        return context

    context = await in_read(request.app, work)
    return await render(request, "campaign_new.html", context)


async def create_campaign_form(request: web.Request) -> web.StreamResponse:
    """Create from the form and go to the campaign's page."""
    principal = principal_of(request)
    form = parse_campaign_form(dict(await read_form(request)), today=dt.date.today())
    campaign_id = await in_transaction(request.app, lambda db: _create(db, principal, form))
    return see_other(f"/campaigns/{campaign_id}")


async def campaign_page(request: web.Request) -> web.Response:
    """One campaign: progress, actions, attempts."""
    principal = principal_of(request)
    campaign_id = path_id(request, "campaign_id")

    def work(db: Session) -> dict[str, object]:
        campaign = visible_campaign(db, principal, campaign_id)
        return {
            "campaign": campaign_progress(db, campaign),
            "attempts": campaign_attempts(db, campaign, limit=200),
            # the same figures the live stream sends, so the page without JS shows them too
            "live": page_snapshot(db, principal, campaign_id, utc_now()),
            "left_out_titles": LEFT_OUT_TITLES,
        }

    context = await in_read(request.app, work)
    context["notice"] = request.query.get("notice", "")[:200]
    return await render(request, "campaign.html", context)


async def campaign_action_form(request: web.Request) -> web.StreamResponse:
    """Start, pause or stop from the page."""
    principal = principal_of(request)
    campaign_id = path_id(request, "campaign_id")
    action = request.match_info["action"]
    notice = await in_transaction(request.app, lambda db: _act(db, principal, campaign_id, action))
    from urllib.parse import quote

    return see_other(f"/campaigns/{campaign_id}?notice={quote(notice)}")


async def campaigns_api(request: web.Request) -> web.Response:
    """API: campaigns with progress."""
    principal = principal_of(request)
    return json_ok(await in_read(request.app, lambda db: list_campaigns(db, principal)))


async def campaign_api(request: web.Request) -> web.Response:
    """API: one campaign with progress."""
    principal = principal_of(request)
    campaign_id = path_id(request, "campaign_id")
    return json_ok(
        await in_read(
            request.app,
            lambda db: campaign_progress(db, visible_campaign(db, principal, campaign_id)),
        )
    )


async def campaign_attempts_api(request: web.Request) -> web.Response:
    """API: a page of the campaign's attempts."""
    principal = principal_of(request)
    campaign_id = path_id(request, "campaign_id")
    limit = query_int(request, "limit", 200, low=1, high=1000)
    offset = query_int(request, "offset", 0, low=0, high=10_000_000)
    return json_ok(
        await in_read(
            request.app,
            lambda db: campaign_attempts(
                db, visible_campaign(db, principal, campaign_id), limit=limit, offset=offset
            ),
        )
    )


async def _json_body(request: web.Request) -> Mapping[str, object]:
    return await json_object(request)


async def preview_api(request: web.Request) -> web.Response:
    """API: what a filter would select, before creating the campaign."""
    principal = principal_of(request)
    form = parse_campaign_form(await _json_body(request), today=dt.date.today())

    def work(db: Session) -> object:
        _organisation_name(db, principal, form.organisation_id)
        try:  # another organisation's building is refused here too, not previewed as empty
            check_buildings(db, form.organisation_id, form.account_filter)
        except CampaignConfigError as err:
            raise BadInput(str(err)) from err
        return preview_campaign(db, form.organisation_id, form.account_filter)

    return json_ok(await in_read(request.app, work))


async def create_campaign_api(request: web.Request) -> web.Response:
    """API: create a campaign (draft)."""
    principal = principal_of(request)
    form = parse_campaign_form(await _json_body(request), today=dt.date.today())
    campaign_id = await in_transaction(request.app, lambda db: _create(db, principal, form))
    return json_ok({"id": campaign_id}, status=201)


def _action_api(action: str) -> Handler:
    async def campaign_action_api(request: web.Request) -> web.StreamResponse:
        """API: start, pause or stop."""
        principal = principal_of(request)
        campaign_id = path_id(request, "campaign_id")
        message = await in_transaction(
            request.app, lambda db: _act(db, principal, campaign_id, action)
        )
        return json_ok({"message": message})

    return campaign_action_api


_CAMPAIGN_BODY = {
    "type": "object",
    "required": ["organisation_id", "name"],
    "properties": {
        "organisation_id": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "script": {"type": "string", "maxLength": 100},
        "starts_on": {"type": "string", "format": "date"},
        "min_debt": {"type": "string"},
        "min_months_overdue": {"type": "integer", "minimum": 1, "maximum": 120},
        "building_id": {"type": "integer", "minimum": 0},
        "service": {"type": "string", "maxLength": 100},
        "segment": {"type": "string", "enum": ["", "green", "yellow", "red"]},
        "debtor_type": {
            "type": "string",
            "enum": ["", "first_time", "holiday_gap", "single_service", "chronic", "other"],
        },
    },
}
_PROGRESS = {
    "type": "object",
    "required": ["id", "name", "status", "attempts", "dialled", "answered", "promises"],
    "properties": {
        "id": {"type": "integer"},
        "organisation_id": {"type": "integer"},
        "organisation": {"type": "string"},
        "name": {"type": "string"},
        "status": {"type": "string"},
        "script": {"type": "string"},
        "starts_on": {"type": "string", "format": "date"},
        "ends_on": {"type": ["string", "null"]},
        "attempts": {"type": "integer"},
        "pending": {"type": "integer"},
        "dialled": {"type": "integer"},
        "answered": {"type": "integer"},
        "conversations": {"type": "integer"},
        "messages": {"type": "integer"},
        "promises": {"type": "integer"},
        "promised_sum": {"type": "string"},
        "escalations": {"type": "integer"},
    },
}
_PREVIEW = {
    "type": "object",
    "required": ["accounts", "total_debt", "callable_now", "left_out"],
    "properties": {
        "accounts": {"type": "integer"},
        "total_debt": {"type": "string"},
        "callable_now": {"type": "integer"},
        "left_out": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
_ID = Param("campaign_id", "path", {"type": "integer", "minimum": 1}, "Кампания")


def register(table: RouteTable) -> None:
    """Add this module's routes."""
    manage = roles(*CAMPAIGN_ROLES)
    read = roles(*{*CAMPAIGN_ROLES, *REPORT_ROLES})
    table.add("GET", "/campaigns", campaigns_page, read, name="campaigns")
    table.add("GET", "/campaigns/new", new_campaign_page, manage)
    table.add("POST", "/campaigns", create_campaign_form, manage)
    table.add("GET", r"/campaigns/{campaign_id:\d+}", campaign_page, read)
    table.add(
        "POST",
        r"/campaigns/{campaign_id:\d+}/{action:start|pause|stop}",
        campaign_action_form,
        manage,
    )
    table.add(
        "GET",
        "/api/campaigns",
        campaigns_api,
        read,
        api=ApiDoc("listCampaigns", "Кампании с ходом обзвона", "campaigns",
                   {"type": "array", "items": _PROGRESS}, errors=(401, 403)),
    )  # fmt: skip
    table.add(
        "POST",
        "/api/campaigns",
        create_campaign_api,
        manage,
        api=ApiDoc("createCampaign", "Создать кампанию (черновик) по фильтру", "campaigns",
                   {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
                   body=_CAMPAIGN_BODY, status=201, errors=(400, 401, 403, 404, 409)),
    )  # fmt: skip
    table.add(
        "POST",
        "/api/campaigns/preview",
        preview_api,
        manage,
        api=ApiDoc("previewCampaign", "Предпросмотр: сколько счетов, сумма долга, кого нельзя звонить и почему",
                   "campaigns", _PREVIEW, body=_CAMPAIGN_BODY, errors=(400, 401, 403, 404)),
    )  # fmt: skip
    table.add(
        "GET",
        "/api/campaigns/{campaign_id}",
        campaign_api,
        read,
        api=ApiDoc("getCampaign", "Кампания и её ход", "campaigns", _PROGRESS, params=(_ID,),
                   errors=(401, 403, 404)),
    )  # fmt: skip
    table.add(
        "GET",
        "/api/campaigns/{campaign_id}/attempts",
        campaign_attempts_api,
        read,
        api=ApiDoc("listAttempts", "Попытки кампании", "campaigns",
                   {"type": "array", "items": {"type": "object"}},
                   params=(_ID,
                           Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "Сколько"),
                           Param("offset", "query", {"type": "integer", "minimum": 0}, "С какой")),
                   errors=(400, 401, 403, 404)),
    )  # fmt: skip
    for action, summary in (("start", "Запустить (или продолжить)"), ("pause", "Приостановить"),
                            ("stop", "Остановить насовсем")):  # fmt: skip
        table.add(
            "POST",
            f"/api/campaigns/{{campaign_id}}/{action}",
            _action_api(action),
            manage,
            api=ApiDoc(f"{action}Campaign", summary, "campaigns",
                       {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
                       params=(_ID,), errors=(401, 403, 404, 409)),
        )  # fmt: skip
