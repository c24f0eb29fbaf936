"""Russian numbers in words (any case form) and digits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from classifier.language import words
from classifier.numbers import read_numbers


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("три тысячи пятьсот", [(Decimal(3500), False)]),
        ("трех тысяч двухсот", [(Decimal(3200), False)]),
        ("сто двадцать пять", [(Decimal(125), False)]),
        ("двадцать пятого", [(Decimal(25), True)]),
        ("тридцать первого", [(Decimal(31), True)]),
        ("два три", [(Decimal(2), False), (Decimal(3), False)]),
        ("15-го", [(Decimal(15), True)]),
        ("3 000", [(Decimal(3000), False)]),
        ("5000", [(Decimal(5000), False)]),
        ("3к", [(Decimal(3000), False)]),
        ("пять с половиной тысяч", [(Decimal(5500), False)]),
        ("миллион", [(Decimal(1_000_000), False)]),
    ],
)
def test_read_numbers(text: str, values: list[tuple[Decimal, bool]]) -> None:
    assert [(s.value, s.ordinal) for s in read_numbers(words(text))] == values


def test_plain_words_are_no_numbers() -> None:
    assert read_numbers(words("стали трубы течь")) == []
