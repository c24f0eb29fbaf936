from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from speech.errors import PhrasingError
from speech.russian import amount_words, count_words, date_words, normalize_text


@pytest.mark.parametrize(
    ("amount", "case", "said"),
    [
        ("12480.50", "nom", "двенадцать тысяч четыреста восемьдесят рублей пятьдесят копеек"),
        ("2300", "gen", "двух тысяч трёхсот рублей"),
        ("1", "nom", "один рубль"),
        ("2", "nom", "два рубля"),
        ("5", "nom", "пять рублей"),
        ("11", "nom", "одиннадцать рублей"),
        ("21", "nom", "двадцать один рубль"),
        ("101", "nom", "сто один рубль"),
        ("1001", "nom", "одна тысяча один рубль"),
        ("2000", "acc", "две тысячи рублей"),
        ("0.01", "nom", "одна копейка"),
        ("0.02", "nom", "две копейки"),
        ("0.05", "nom", "пять копеек"),
        ("0.11", "nom", "одиннадцать копеек"),
        ("3.21", "nom", "три рубля двадцать одна копейка"),
        ("21", "dat", "двадцати одному рублю"),
        ("5", "ins", "пятью рублями"),
        ("2", "loc", "двух рублях"),
    ],
)
def test_amounts(amount: str, case: str, said: str) -> None:
    assert amount_words(Decimal(amount), case) == said  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "case", "said"),
    [
        (dt.date(2026, 11, 20), "gen", "двадцатого ноября"),
        (dt.date(2026, 12, 1), "dat", "первому декабря"),
        (dt.date(2026, 12, 3), "acc", "третье декабря"),
        (dt.date(2027, 1, 15), "nom", "пятнадцатое января"),
        (dt.date(2027, 3, 8), "loc", "восьмом марта"),
        (dt.date(2027, 5, 31), "ins", "тридцать первым мая"),
    ],
)
def test_dates(day: dt.date, case: str, said: str) -> None:
    assert date_words(day, case) == said  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "noun", "case", "said"),
    [
        (3, "месяц", "acc", "три месяца"),
        (5, "месяц", "nom", "пять месяцев"),
        (1, "неделя", "nom", "одна неделя"),
        (2, "неделя", "nom", "две недели"),
        (3, "месяц", "gen", "трёх месяцев"),
        (1000, "рубль", "nom", "одна тысяча рублей"),
    ],
)
def test_counts(n: int, noun: str, case: str, said: str) -> None:
    assert count_words(n, noun, case) == said  # type: ignore[arg-type]


def test_prompt_text_is_normalised() -> None:
    today = dt.date(2026, 11, 23)
    assert normalize_text("Ваш долг 12480,50 ₽ до 20.11", today) == (
        "Ваш долг двенадцать тысяч четыреста восемьдесят рублей пятьдесят копеек "
        "до двадцатого ноября"
    )
    assert normalize_text("Оплатите 2 300 руб. к 1.12, за 3 месяца", today) == (
        "Оплатите две тысячи триста рублей к первому декабря, за три месяца"
    )


def test_bad_values_are_refused() -> None:
    with pytest.raises(PhrasingError):
        amount_words(Decimal("-1"))
    with pytest.raises(PhrasingError):
        amount_words(Decimal(1), "voc")  # type: ignore[arg-type]
