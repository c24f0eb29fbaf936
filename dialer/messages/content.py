"""What a payment message says and what its page shows: the template, the ГОСТ QR string.

The SMS text comes from the organisation's template (``{payee} {account} {amount} {due}
{link}``); the payment page shows what a paper receipt prints and the QR code of ГОСТ Р
56042-2014: ``ST00012`` (UTF-8), then ``Key=Value`` pairs separated by ``|`` — the five
required ones first (Name, PersonalAcc, BankName, BIC, CorrespAcc), then the payee's ИНН
and КПП, the лицевой счёт (PersAcc), the purpose and the sum in kopecks.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import segno

from dialer.messages.errors import TemplateError
from dialer.messages.payee import Payee

__all__ = [
    "DEFAULT_TEMPLATE",
    "TEMPLATE_FIELDS",
    "PaymentDetails",
    "check_template",
    "gost_payment_string",
    "new_page_token",
    "payment_qr_png",
    "render_message",
    "rubles",
]

DEFAULT_TEMPLATE = "{payee}: ЛС {account}, к оплате {amount}{due}. Реквизиты и QR: {link}"
TEMPLATE_FIELDS = frozenset({"payee", "account", "amount", "due", "link"})
_KOPECK = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class PaymentDetails:
    """One payment asked of one account: the payee, the ЛС, the sum agreed and by when."""

    payee: Payee
    account_number: str
    amount: Decimal
    due_on: dt.date | None = None
    address: str = ""


def rubles(amount: Decimal) -> str:
    """``Decimal("12480.5")`` → ``"12 480,50 ₽"`` (as receipts print sums)."""
    value = amount.quantize(_KOPECK, rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{value:,.2f}".partition(".")
    return f"{whole.replace(',', ' ')},{fraction} ₽"


def check_template(template: str) -> str:
    """The template itself when every field it names is known; else :class:`TemplateError`."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise TemplateError(f"шаблон сообщения: {err}") from err
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise TemplateError(
            f"шаблон сообщения: неизвестные поля {sorted(unknown)}; "
            f"можно: {sorted(TEMPLATE_FIELDS)}"
        )
    if "link" not in names:
        raise TemplateError("шаблон сообщения: нет поля {link}")
    return template


def render_message(template: str, details: PaymentDetails, link: str) -> str:
    """The SMS text: the organisation's template (or the default) with the details filled in."""
    values: Mapping[str, str] = {
        "payee": details.payee.name,
        "account": details.account_number,
        "amount": rubles(details.amount),
        "due": f" до {details.due_on:%d.%m.%Y}" if details.due_on is not None else "",
        "link": link,
    }
    return check_template(template or DEFAULT_TEMPLATE).format_map(values)


def _clean(value: str) -> str:
    # The standard separates pairs with "|": a value may not contain one.
    return " ".join(value.replace("|", " ").split())


def gost_payment_string(details: PaymentDetails) -> str:
    """The ГОСТ Р 56042-2014 string of the payment (UTF-8 header, sum in kopecks)."""
    payee = details.payee
    kopecks = int((details.amount.quantize(_KOPECK, rounding=ROUND_HALF_UP) * 100).to_integral())
    pairs = [
        ("Name", payee.name),
        ("PersonalAcc", payee.settlement_account),
        ("BankName", payee.bank_name),
        ("BIC", payee.bic),
        ("CorrespAcc", payee.correspondent_account),
        ("PayeeINN", payee.inn),
    ]
    if payee.kpp:
        pairs.append(("KPP", payee.kpp))
    pairs += [
        ("PersAcc", details.account_number),
        ("Purpose", f"Оплата ЖКУ по ЛС {details.account_number}"),
        ("Sum", str(kopecks)),
    ]
    return "ST00012|" + "|".join(f"{key}={_clean(value)}" for key, value in pairs)


def payment_qr_png(details: PaymentDetails, *, scale: int = 6) -> bytes:
    """The QR code of :func:`gost_payment_string` as a PNG (segno, UTF-8, level M)."""
    qr = segno.make(gost_payment_string(details), encoding="utf-8", error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def new_page_token() -> str:
    """An unguessable token for a payment page link (192 random bits, URL-safe)."""
    return secrets.token_urlsafe(24)
