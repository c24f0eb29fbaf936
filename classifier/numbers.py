"""Russian numbers in words and digits → values ("три тысячи пятьсот" → 3500, "15-го" → 15th).

Recognisers spell numbers as words in any case ("трех тысяч", "двадцать пятого"); Whisper
and typed text give digits ("5000", "3 000", "15-го", "3,5 тыс"). Words are looked up by
their lemma (pymorphy3), so every case form of a numeral is covered by one table entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from classifier.language import lemmas

__all__ = ["NumberSpan", "read_numbers", "cardinal_value", "ordinal_value", "is_multiplier"]

_UNITS: dict[str, int | Decimal] = {
    "ноль": 0, "один": 1, "одна": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5,
    "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "полтора": Decimal("1.5"),
    "пара": 2,
}  # fmt: skip
_TEENS: dict[str, int | Decimal] = {
    "десять": 10, "одиннадцать": 11, "двенадцать": 12, "тринадцать": 13, "четырнадцать": 14,
    "пятнадцать": 15, "шестнадцать": 16, "семнадцать": 17, "восемнадцать": 18,
    "девятнадцать": 19,
}  # fmt: skip
_TENS: dict[str, int | Decimal] = {
    "двадцать": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50, "шестьдесят": 60,
    "семьдесят": 70, "восемьдесят": 80, "девяносто": 90,
}  # fmt: skip
_HUNDREDS: dict[str, int | Decimal] = {
    "сто": 100, "двести": 200, "триста": 300, "четыреста": 400, "пятьсот": 500,
    "шестьсот": 600, "семьсот": 700, "восемьсот": 800, "девятьсот": 900,
}  # fmt: skip
_ORDINALS: dict[str, int | Decimal] = {
    "первый": 1, "второй": 2, "третий": 3, "четвертый": 4, "пятый": 5, "шестой": 6,
    "седьмой": 7, "восьмой": 8, "девятый": 9, "десятый": 10, "одиннадцатый": 11,
    "двенадцатый": 12, "тринадцатый": 13, "четырнадцатый": 14, "пятнадцатый": 15,
    "шестнадцатый": 16, "семнадцатый": 17, "восемнадцатый": 18, "девятнадцатый": 19,
    "двадцатый": 20, "тридцатый": 30,
}  # fmt: skip
_MULTIPLIERS: dict[str, int | Decimal] = {
    "тысяча": 1000,
    "тыща": 1000,
    "тыс": 1000,
    "миллион": 1_000_000,
    "млн": 1_000_000,
}

_CLASS_UNIT, _CLASS_TEEN, _CLASS_TEN, _CLASS_HUNDRED = 1, 2, 3, 4
# What may follow what inside one number: "сто двадцать пять", never "два три".
_MAY_FOLLOW = {
    None: {_CLASS_UNIT, _CLASS_TEEN, _CLASS_TEN, _CLASS_HUNDRED},
    _CLASS_HUNDRED: {_CLASS_UNIT, _CLASS_TEEN, _CLASS_TEN},
    _CLASS_TEN: {_CLASS_UNIT},
    _CLASS_TEEN: set(),
    _CLASS_UNIT: set(),
}

_DIGITS = re.compile(r"(\d+)(?:[.,](\d+))?(-?(?:го|е|ое|ого|му|ому))?(-?(?:к|т|р))?$")


@dataclass(frozen=True, slots=True)
class NumberSpan:
    """A number found in a token list: ``tokens[start:end]`` reads as ``value``.

    ``ordinal`` marks day-like forms ("пятнадцатого", "15-го"); ``suffix`` keeps a unit
    glued to digits ("3т", "500р") for the amount reader.
    """

    start: int
    end: int
    value: Decimal
    ordinal: bool
    digits: bool
    suffix: str = ""


def _lookup(word: str, table: dict[str, int | Decimal]) -> int | Decimal | None:
    for form in lemmas(word):
        if form in table:
            return table[form]
    return None


def cardinal_value(word: str) -> tuple[int | Decimal, int] | None:
    """The value and size class of a cardinal numeral word, in any case form."""
    tables: tuple[tuple[dict[str, int | Decimal], int], ...] = (
        (_UNITS, _CLASS_UNIT),
        (_TEENS, _CLASS_TEEN),
        (_TENS, _CLASS_TEN),
        (_HUNDREDS, _CLASS_HUNDRED),
    )
    for table, cls in tables:
        if word in table:
            return table[word], cls
    for table, cls in (
        (_UNITS, _CLASS_UNIT),
        (_TEENS, _CLASS_TEEN),
        (_TENS, _CLASS_TEN),
        (_HUNDREDS, _CLASS_HUNDRED),
    ):
        value = _lookup(word, table)
        if value is not None:
            return value, cls
    return None


def ordinal_value(word: str) -> int | None:
    """The value of an ordinal numeral word ("двадцатого" → 20), in any case form."""
    value = _lookup(word, _ORDINALS)
    return int(value) if value is not None else None


def is_multiplier(word: str) -> int | None:
    """1000 for "тысяча" (any form, "тыщ", "тыс"), a million for "миллион"."""
    if word in _MULTIPLIERS:
        return int(_MULTIPLIERS[word])
    value = _lookup(word, _MULTIPLIERS)
    return int(value) if value is not None else None


def _read_digits(tokens: Sequence[str], i: int) -> NumberSpan | None:
    match = _DIGITS.match(tokens[i])
    if match is None:
        return None
    whole, frac, ordinal_suffix, unit_suffix = match.groups()
    end = i + 1
    if frac is not None and not (end < len(tokens) and is_multiplier(tokens[end])):
        return None  # "15.12" is a date, read by the date rules; "3,5 тысячи" is a number
    text = whole + (f".{frac}" if frac else "")
    # "3 000" and "12 500" are one number split by a thousands space.
    while (
        frac is None
        and ordinal_suffix is None
        and unit_suffix is None
        and end < len(tokens)
        and re.fullmatch(r"\d{3}", tokens[end])
        and len(whole) <= 3
    ):
        text += tokens[end]
        end += 1
    value = Decimal(text)
    suffix = (unit_suffix or "").lstrip("-")
    if suffix in ("к", "т"):
        value *= 1000
    elif end < len(tokens) and (mult := is_multiplier(tokens[end])):
        value *= mult
        end += 1
    return NumberSpan(i, end, value, ordinal_suffix is not None, True, suffix)


def _read_words(tokens: Sequence[str], i: int) -> NumberSpan | None:
    total = Decimal(0)
    current = Decimal(0)
    last_class: int | None = None
    seen = False
    ordinal = False
    j = i
    while j < len(tokens):
        word = tokens[j]
        if word[0].isdigit():
            break
        card = cardinal_value(word)
        if card is not None and card[1] in _MAY_FOLLOW[last_class]:
            current += Decimal(card[0])
            last_class = card[1]
            seen = True
            j += 1
            continue
        ordv = ordinal_value(word)
        if ordv is not None and (last_class is None or (last_class == _CLASS_TEN and ordv < 10)):
            current += ordv
            seen = ordinal = True
            j += 1
            break
        mult = is_multiplier(word)
        if mult is not None:
            total += (current if seen and current else Decimal(1)) * mult
            current = Decimal(0)
            last_class = None
            seen = True
            j += 1
            continue
        if seen and word == "с" and j + 1 < len(tokens) and tokens[j + 1] == "половиной":
            current += Decimal("0.5")
            j += 2
            continue
        break
    if not seen:
        return None
    return NumberSpan(i, j, total + current, ordinal, False)


def read_numbers(tokens: Sequence[str]) -> list[NumberSpan]:
    """Every number in ``tokens``, left to right, non-overlapping."""
    spans: list[NumberSpan] = []
    i = 0
    while i < len(tokens):
        span = _read_digits(tokens, i) if tokens[i][0].isdigit() else _read_words(tokens, i)
        if span is None:
            i += 1
            continue
        spans.append(span)
        i = span.end
    return spans
