"""Server-rendered pages: the Jinja2 environment, Russian formatting, rendering off the loop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from storage.models.users import UserRole
from web.access import CAMPAIGN_ROLES, CARD_ROLES, ESCALATION_ROLES, REPORT_ROLES, Principal
from web.db import in_thread
from web.errors import RequestRefused
from web.keys import TEMPLATES
from web.requests import PRINCIPAL, SESSION

__all__ = [
    "MONTHS_NOMINATIVE",
    "NavItem",
    "format_date",
    "format_money",
    "format_period",
    "make_environment",
    "navigation",
    "render",
    "render_error",
]

MONTHS_NOMINATIVE = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip
_NBSP = "\u00a0"
# Timestamps are stored in UTC; the team reads them in Moscow time.
TEAM_ZONE = ZoneInfo("Europe/Moscow")

TITLES: dict[str, str] = {
    # escalation reasons
    "dispute": "спор о сумме", "operator_request": "просит оператора", "refusal": "отказ",
    "service_complaint": "жалоба на услуги", "already_paid": "говорит, что оплатил",
    "installment_request": "просит рассрочку", "misunderstood": "робот не понял",
    "broken_promise": "нарушил обещание", "wrong_person_no_other_phone": "не тот человек",
    "repeated_no_answer": "не отвечает",
    # contact history
    "import": "загрузка", "call": "звонок", "message": "сообщение", "letter": "письмо",
    "visit": "визит", "escalation": "эскалация", "promise": "обещание", "payment": "платёж",
    "note": "заметка", "phone_status": "телефон", "court": "суд",
    # payment channels
    "bank": "банк", "post": "почта", "cash": "касса", "online": "онлайн", "other": "другое",
    # call outcomes
    "conversation": "разговор", "voicemail": "автоответчик", "third_party": "другой человек",
    "hung_up": "бросили трубку", "no_answer": "не ответили", "busy": "занято",
    "rejected": "отклонён", "unreachable": "недоступен", "failed": "сбой",
    # classifier tags
    "promise_to_pay": "обещает оплатить", "financial_hardship": "нет денег",
    "dispute_amount": "не согласен с суммой", "wrong_person": "не тот человек",
    "unaware": "не знал о долге", "away": "был в отъезде", "callback_later": "перезвонить позже",
    "payment_question": "как оплатить", "confirm": "да", "deny": "нет",
}  # fmt: skip


def title(value: object) -> str:
    """A code (reason, tag, outcome, channel…) in Russian; unknown codes as they are."""
    text = str(value)
    return TITLES.get(text, text)


def format_money(value: Decimal | int | None) -> str:
    """``Decimal("12480.5")`` → ``12 480,50 ₽`` (Russian grouping, comma for kopecks)."""
    if value is None:
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "−" if amount < 0 else ""
    whole, _, kopecks = f"{abs(amount):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{_NBSP.join(groups)},{kopecks}{_NBSP}₽"


def format_date(value: dt.date | dt.datetime | None) -> str:
    """``23.11.2026``; a timestamp also gets its time, in the team's zone (Moscow)."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        local = value.astimezone(TEAM_ZONE) if value.tzinfo is not None else value
        return local.strftime("%d.%m.%Y %H:%M")
    return value.strftime("%d.%m.%Y")


def format_period(value: dt.date | None) -> str:
    """The billed month: ``ноябрь 2026``."""
    if value is None:
        return "—"
    return f"{MONTHS_NOMINATIVE[value.month - 1]} {value.year}"


def format_share(value: float | Decimal | None) -> str:
    """A fraction as percent: ``0.8734`` → ``87,3 %``."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}".replace(".", ",") + f"{_NBSP}%"


def make_environment() -> jinja2.Environment:
    """Templates from the package (``web/templates``), autoescaped, with our filters."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=jinja2.select_autoescape(("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = format_money
    env.filters["date"] = format_date
    env.filters["period"] = format_period
    env.filters["share"] = format_share
    env.filters["ru"] = title
    return env


@dataclass(frozen=True, slots=True)
class NavItem:
    """One link of the top menu."""

    href: str
    title: str


def navigation(principal: Principal | None) -> list[NavItem]:
    """The menu a role sees (links it could not open are not shown)."""
    if principal is None:
        return []
    role = principal.role
    items: list[NavItem] = []
    if role in CAMPAIGN_ROLES:
        items.append(NavItem("/campaigns", "Кампании"))
        items.append(NavItem("/messages/settings", "СМС"))
    if role in ESCALATION_ROLES:
        items.append(NavItem("/escalations", "Очередь"))
    if role in CARD_ROLES:
        items.append(NavItem("/accounts", "Лицевые счета"))
    if role in (UserRole.ADMIN, UserRole.CAMPAIGN_MANAGER):  # web.imports.IMPORT_ROLES
        items.append(NavItem("/imports", "Загрузка из 1С"))
    items.append(NavItem("/scripts", "Сценарии"))
    if role in REPORT_ROLES:
        items.append(NavItem("/reports", "Отчёты"))
    items.append(NavItem("/transparency", "Прозрачность"))
    if role is UserRole.ADMIN:
        items.append(NavItem("/users", "Пользователи"))
    return items


_ROLE_TITLES = {
    UserRole.ADMIN: "администратор",
    UserRole.CAMPAIGN_MANAGER: "менеджер кампаний",
    UserRole.COLLECTOR: "взыскатель",
    UserRole.MANAGER: "руководитель",
}


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, object],
    *,
    status: int = 200,
) -> web.Response:
    """Render ``template`` on a worker thread with the common context; an HTML response."""
    principal = request.get(PRINCIPAL)
    session = request.get(SESSION)
    full = {
        "principal": principal,
        "role_title": _ROLE_TITLES.get(principal.role, "") if principal is not None else "",
        "csrf_token": session.csrf_token if session is not None else "",
        "nav": navigation(principal),
        "current_path": request.path,
        **context,
    }
    env = request.app[TEMPLATES]
    html = await in_thread(request.app, lambda: env.get_template(template).render(full))
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


async def render_error(request: web.Request, refused: RequestRefused) -> web.Response:
    """A page that says what went wrong, in Russian, with the right status."""
    titles = {400: "Ошибка в запросе", 403: "Нет доступа", 404: "Не найдено", 409: "Нельзя"}
    return await render(
        request,
        "error.html",
        {"title": titles.get(refused.status, "Ошибка"), "message": refused.message},
        status=refused.status,
    )
