"""Cell parsers: the ways 1С writes money, dates, months, phones, shares and time zones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from storage.importing.values import (
    BadValue,
    parse_date,
    parse_money,
    parse_period,
    parse_phones,
    parse_share,
    parse_time_zone,
)
from storage.models import PhoneKind


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1 234,56", "1234.56"),
        ("1\u00a0234\u00a0567,5", "1234567.50"),
        ("1\u202f234,00", "1234.00"),
        ("1234.56", "1234.56"),
        ("-0,5", "-0.50"),
        (" 0 ", "0.00"),
        ("12 345,67 руб.", "12345.67"),
        (1234.5, "1234.50"),
        (12, "12.00"),
    ],
)
def test_money_as_1c_prints_it(cell: str | float, expected: str) -> None:
    assert parse_money(cell) == Decimal(expected)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("12,345", "больше двух знаков после запятой: «12,345»"),
        ("1.234,56", "не сумма: «1.234,56»"),
        ("двести", "не сумма: «двести»"),
        ("1e5", "не сумма: «1e5»"),
    ],
)
def test_money_that_is_not_money(cell: str, message: str) -> None:
    with pytest.raises(BadValue) as err:
        parse_money(cell)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "cell",
    ["ноябрь 2026", "Ноябрь 2026 г.", "НОЯБРЯ 2026", "нояб. 2026", "11.2026", "01.11.2026",
     "2026-11", "15.11.2026 0:00:00", dt.datetime(2026, 11, 15, 0, 0)],
)  # fmt: skip
def test_periods(cell: str | dt.datetime) -> None:
    assert parse_period(cell) == dt.date(2026, 11, 1)


@pytest.mark.parametrize("cell", ["13.2026", "брюмер 2026", "2026", "ноябрь"])
def test_bad_periods(cell: str) -> None:
    with pytest.raises(BadValue) as err:
        parse_period(cell)
    assert str(err.value) == f"не период: «{cell}» (ожидается «ноябрь 2026» или «11.2026»)"


def test_dates() -> None:
    assert parse_date("05.11.2026") == dt.date(2026, 11, 5)
    assert parse_date("05.11.2026 0:00:00") == dt.date(2026, 11, 5)
    assert parse_date("2026-11-05") == dt.date(2026, 11, 5)
    with pytest.raises(BadValue, match="^нет такой даты: «31.02.2026»$"):
        parse_date("31.02.2026")
    with pytest.raises(BadValue, match=r"^не дата: «вчера» \(ожидается дд.мм.гггг\)$"):
        parse_date("вчера")


def test_phones_become_e164_with_their_kind() -> None:
    phones, problems = parse_phones("8 (916) 123-45-67, (4822) 34-56-78; +7 916 1234567")
    assert [(p.number, p.kind) for p in phones] == [
        ("+79161234567", PhoneKind.MOBILE),
        ("+74822345678", PhoneKind.LANDLINE),
    ]
    assert problems == ()


def test_bad_phones_are_named_one_by_one() -> None:
    phones, problems = parse_phones("8-916-12; нет; 89161234567")
    assert [p.number for p in phones] == ["+79161234567"]
    assert problems == ("неверный номер телефона: «8-916-12»", "не телефон: «нет»")


@pytest.mark.parametrize(
    ("cell", "expected"), [("1/2", "0.5"), ("0,25", "0.25"), ("50%", "0.5"), ("1", "1")]
)
def test_shares(cell: str, expected: str) -> None:
    assert parse_share(cell) == Decimal(expected)


def test_bad_share() -> None:
    with pytest.raises(BadValue, match=r"^доля вне \(0; 1\]: «3/2»$"):
        parse_share("3/2")


@pytest.mark.parametrize(
    ("cell", "zone"),
    [("МСК+2", "Asia/Yekaterinburg"), ("UTC+3", "Europe/Moscow"), ("мск", "Europe/Moscow"),
     ("Asia/Novosibirsk", "Asia/Novosibirsk")],
)  # fmt: skip
def test_time_zones(cell: str, zone: str) -> None:
    assert parse_time_zone(cell) == zone


def test_unknown_time_zone() -> None:
    with pytest.raises(BadValue, match="^неизвестный часовой пояс: «Марс/Олимп»$"):
        parse_time_zone("Марс/Олимп")
