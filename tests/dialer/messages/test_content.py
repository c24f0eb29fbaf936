"""Bank details checks, the SMS template and the ГОСТ Р 56042-2014 string (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from dialer.messages import (
    Payee,
    PayeeError,
    PaymentDetails,
    TemplateError,
    gost_payment_string,
    render_message,
    rubles,
)
from dialer.messages.payee import inn_ok
from tests.dialer.messages.builders import PAYEE


def test_valid_bank_details_pass() -> None:
    assert Payee(**PAYEE).bic == "044525225"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("bic", "04452522", "БИК"),
        ("bic", "04452522X", "БИК"),
        ("settlement_account", "40702810038000012345", "контрольный ключ"),
        ("settlement_account", "4070281093800001234", "расчётный счёт"),
        ("correspondent_account", "30101810400000000226", "корреспондентский"),
        ("inn", "7707083894", "ИНН"),
        ("kpp", "7736010", "КПП"),
        ("name", "ООО | Ромашка", "получатель"),
    ],
)
def test_bad_bank_details_are_refused_naming_the_field(field: str, value: str, says: str) -> None:
    with pytest.raises(PayeeError, match=says):
        Payee(**{**PAYEE, field: value})


def test_inn_control_digits_of_a_person_and_an_organisation() -> None:
    assert inn_ok("500100732259")
    assert not inn_ok("500100732258")
    assert inn_ok("7707083893")
    assert not inn_ok("770708389")


def _details(**changes: object) -> PaymentDetails:
    base = PaymentDetails(Payee(**PAYEE), "77000042", Decimal("3500.50"), dt.date(2026, 11, 30))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_gost_string_has_the_required_keys_in_order_and_the_sum_in_kopecks() -> None:
    text = gost_payment_string(_details())
    assert text == (
        "ST00012|Name=ООО «УК Тестовый дом»|PersonalAcc=40702810938000012345|"
        "BankName=ПАО Сбербанк|BIC=044525225|CorrespAcc=30101810400000000225|"
        "PayeeINN=7707083893|KPP=773601001|PersAcc=77000042|"
        "Purpose=Оплата ЖКУ по ЛС 77000042|Sum=350050"
    )


def test_a_value_never_breaks_the_separator() -> None:
    text = gost_payment_string(_details(account_number="77|01"))
    assert "PersAcc=77 01|" in text


def test_rubles_as_receipts_print_them() -> None:
    assert rubles(Decimal("12480.5")) == "12 480,50 ₽"
    assert rubles(Decimal("0.005")) == "0,01 ₽"


def test_default_template_names_payee_account_sum_date_and_link() -> None:
    text = render_message("", _details(), "https://pay.example/pay/abc")
    assert text == (
        "ООО «УК Тестовый дом»: ЛС 77000042, к оплате 3 500,50 ₽ до 30.11.2026. "
        "Реквизиты и QR: https://pay.example/pay/abc"
    )


def test_an_organisation_template_is_checked() -> None:
    assert render_message("{payee}, {amount}: {link}", _details(), "L") == (
        "ООО «УК Тестовый дом», 3 500,50 ₽: L"
    )
    with pytest.raises(TemplateError, match="неизвестные поля"):
        render_message("{payee} {phone} {link}", _details(), "L")
    with pytest.raises(TemplateError, match="link"):
        render_message("{payee}", _details(), "L")
