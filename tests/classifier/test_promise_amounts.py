"""Amounts in words and digits, the whole debt, half of it, and none."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from classifier.contract import Asked, TurnContext
from classifier.promises import extract_promise, promise_amount

DEBT = Decimal("12480.50")


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("заплачу три тысячи", Decimal(3000)),
        ("внесу пять тысяч двести рублей", Decimal(5200)),
        ("оплачу трех тысяч пятисот не хватит", Decimal(3500)),
        ("полторы тысячи переведу", Decimal(1500)),
        ("две с половиной тысячи", Decimal(2500)),
        ("тысячу отдам", Decimal(1000)),
        ("двести пятьдесят рублей", Decimal(250)),
        ("двадцать тысяч", Decimal(20000)),
        ("по две тыщи в месяц", Decimal(2000)),
        ("пять тысяч рублей пятьдесят копеек", Decimal("5000.50")),
        ("3000 руб", Decimal(3000)),
        ("3 000 рублей", Decimal(3000)),
        ("заплачу 5000", Decimal(5000)),
        ("500р", Decimal(500)),
        ("3 тысячи", Decimal(3000)),
        ("3,5 тыс", Decimal(3500)),
        ("Оплачу 12 500 руб. 15-го", Decimal(12500)),
        ("всё оплачу", DEBT),
        ("заплачу всю сумму", DEBT),
        ("погашу весь долг", DEBT),
        ("полностью рассчитаюсь", DEBT),
        ("половину внесу", DEBT / 2),
    ],
)
def test_amount(phrase: str, expected: Decimal) -> None:
    assert promise_amount(phrase, DEBT) == expected


@pytest.mark.parametrize(
    "phrase",
    [
        "частями",
        "заплачу завтра",
        "всё понятно заплачу",
        "внесу и всё",
        "до 20 числа",
        "пятнадцатого",
        "через три дня",
        "всё равно заплачу",
    ],
)
def test_no_amount(phrase: str) -> None:
    assert promise_amount(phrase, DEBT) is None


def test_whole_debt_unknown_gives_none() -> None:
    assert promise_amount("заплачу всю сумму", None) is None
    assert promise_amount("половину", None) is None


def test_whisper_digits_and_words_round_trip() -> None:
    """Whisper writes "20" and "5000"; Vosk writes words: both read the same."""
    context = TurnContext(Asked.PROMISE_DATE, dt.date(2026, 11, 23), DEBT)
    digits = extract_promise("заплачу до 20 числа 5000 рублей", context)
    words = extract_promise("заплачу до двадцатого числа пять тысяч рублей", context)
    assert digits == words == (dt.date(2026, 12, 20), Decimal(5000))
