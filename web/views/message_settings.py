"""An organisation's SMS settings for the campaign team: the payee's bank details and the
message template, checked before they are stored (БИК, account keys, ИНН, template fields)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.orm import Session

from dialer.messages import DEFAULT_TEMPLATE, MessageError, Payee
from dialer.messages.payees import MessageSettings, load_message_settings, save_message_settings
from storage.models import Organisation
from web.access import CAMPAIGN_ROLES, Principal, roles
from web.db import in_read, in_transaction
from web.errors import NotFound
from web.pages import render
from web.requests import path_id, principal_of, read_form
from web.responses import see_other
from web.routing import RouteTable

__all__ = ["register"]

_FIELDS = ("name", "inn", "kpp", "bank_name", "bic", "settlement_account",
           "correspondent_account", "template", "sender", "link_ttl_days")  # fmt: skip


def _organisations(db: Session, principal: Principal) -> list[tuple[int, str]]:
    query = sa.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    if principal.organisation_ids is not None:
        query = query.where(Organisation.id.in_(sorted(principal.organisation_ids)))
    return [(int(i), str(n)) for i, n in db.execute(query)]


def _form_of(settings: MessageSettings | None) -> dict[str, str]:
    if settings is None:
        return {"sender": "Napomni", "link_ttl_days": "30"}
    payee = settings.payee
    return {
        "name": payee.name, "inn": payee.inn, "kpp": payee.kpp or "",
        "bank_name": payee.bank_name, "bic": payee.bic,
        "settlement_account": payee.settlement_account,
        "correspondent_account": payee.correspondent_account,
        "template": settings.template, "sender": settings.sender,
        "link_ttl_days": str(settings.link_ttl_days),
    }  # fmt: skip


def _parse(form: Mapping[str, str]) -> MessageSettings:
    days = form.get("link_ttl_days", "").strip()
    if not days.isascii() or not days.isdigit():
        raise MessageError("срок действия ссылки: целое число дней")
    payee = Payee(
        name=form.get("name", "").strip(),
        inn=form.get("inn", "").strip(),
        bank_name=form.get("bank_name", "").strip(),
        bic=form.get("bic", "").strip(),
        settlement_account=form.get("settlement_account", "").strip(),
        correspondent_account=form.get("correspondent_account", "").strip(),
        kpp=form.get("kpp", "").strip() or None,
    )
    return MessageSettings(
        payee, form.get("template", "").strip(), form.get("sender", "").strip(), int(days)
    )


def _context(db: Session, principal: Principal, organisation_id: int | None) -> dict[str, object]:
    organisations = _organisations(db, principal)
    chosen = organisation_id or (organisations[0][0] if organisations else None)
    if chosen is not None and chosen not in {i for i, _ in organisations}:
        raise NotFound("нет такой организации")
    settings = load_message_settings(db, chosen) if chosen is not None else None
    return {
        "organisations": organisations,
        "chosen": chosen,
        "form": _form_of(settings),
        "configured": settings is not None,
        "default_template": DEFAULT_TEMPLATE,
    }


async def settings_page(request: web.Request) -> web.Response:
    """The form of one organisation (the first visible one unless ``?organisation_id=``)."""
    principal = principal_of(request)
    raw = request.query.get("organisation_id", "")
    chosen = int(raw) if raw.isascii() and raw.isdigit() else None
    context = await in_read(request.app, lambda db: _context(db, principal, chosen))
    context["notice"] = request.query.get("notice", "")[:200]
    context["error"] = ""
    return await render(request, "message_settings.html", context)


async def save_settings(request: web.Request) -> web.StreamResponse:
    """Validate and store; on a refusal the form comes back with the message."""
    principal = principal_of(request)
    organisation_id = path_id(request, "organisation_id")
    posted = await read_form(request)
    form = {name: str(posted.get(name, ""))[:500] for name in _FIELDS}
    try:
        settings = _parse(form)
    except MessageError as err:
        context = await in_read(request.app, lambda db: _context(db, principal, organisation_id))
        context.update(form=form, error=str(err), notice="")
        return await render(request, "message_settings.html", context, status=400)

    def work(db: Session) -> None:
        _context(db, principal, organisation_id)  # refuses an organisation not theirs
        save_message_settings(db, organisation_id, settings)

    await in_transaction(request.app, work)
    query = urlencode({"organisation_id": organisation_id, "notice": "Сохранено"})
    return see_other(f"/messages/settings?{query}")


def register(table: RouteTable) -> None:
    """Add this module's routes."""
    policy = roles(*CAMPAIGN_ROLES)
    table.add("GET", "/messages/settings", settings_page, policy, name="message_settings")
    table.add("POST", r"/messages/settings/{organisation_id:\d+}", save_settings, policy)
