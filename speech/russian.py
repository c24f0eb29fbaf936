"""Russian amounts, dates and counts spoken in the case the sentence needs.

num2words says the numerals (with gender and case), pymorphy3 makes the noun agree with the
number: "двенадцать тысяч четыреста восемьдесят рублей пятьдесят копеек", "в размере двух
тысяч трёхсот рублей", "до двадцатого ноября", "за три месяца". :func:`normalize_text` turns
the digits, ``₽`` and dotted dates of a prompt into these words before synthesis.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Literal

from num2words import num2words

from speech.errors import PhrasingError

__all__ = [
    "Case",
    "amount_words",
    "count_words",
    "date_words",
    "normalize_text",
    "number_words",
    "spoken_vocabulary",
]

Case = Literal["nom", "gen", "dat", "acc", "ins", "loc"]

_NUM2WORDS_CASE: dict[str, str] = {
    "nom": "nominative",
    "gen": "genitive",
    "dat": "dative",
    "acc": "accusative",
    "ins": "instrumental",
    "loc": "prepositional",
}
_PYMORPHY_CASE: dict[str, str] = {
    "nom": "nomn",
    "gen": "gent",
    "dat": "datv",
    "acc": "accs",
    "ins": "ablt",
    "loc": "loct",
}
_MONTHS_GEN = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
_MAX_NUMBER = 10**12
_KOPECK = Decimal("0.01")


@cache
def _analyzer() -> object:
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


def _check_case(case: str) -> None:
    if case not in _NUM2WORDS_CASE:
        raise PhrasingError(f"неизвестный падеж {case!r}; допустимы {', '.join(_NUM2WORDS_CASE)}")


def number_words(n: int, case: Case = "nom", gender: Literal["m", "f", "n"] = "m") -> str:
    """A cardinal number in words: ``number_words(2300, "gen")`` → "двух тысяч трёхсот"."""
    _check_case(case)
    if not 0 <= n < _MAX_NUMBER:
        raise PhrasingError(f"число {n} вне диапазона 0…{_MAX_NUMBER - 1}")
    # animate=False: the accusative of things counted ("две тысячи", not "двух тысячи").
    words: str = num2words(n, lang="ru", case=_NUM2WORDS_CASE[case], gender=gender, animate=False)
    return words


def _noun(noun: str, n: int, case: Case) -> str:
    """``noun`` in the form that agrees with the number ``n`` in a phrase of ``case``."""
    morph = _analyzer()
    parses = [p for p in morph.parse(noun) if "NOUN" in p.tag]  # type: ignore[attr-defined]
    if not parses:
        raise PhrasingError(f"«{noun}» не распознано как существительное")
    inflected = parses[0].inflect({_PYMORPHY_CASE[case]})
    if inflected is None:
        raise PhrasingError(f"«{noun}» не склоняется в падеж {case}")
    agreed = inflected.make_agree_with_number(n)
    if agreed is None:
        raise PhrasingError(f"«{noun}» не согласуется с числом {n}")
    return str(agreed.word)


def _gender(noun: str) -> Literal["m", "f", "n"]:
    morph = _analyzer()
    parses = [p for p in morph.parse(noun) if "NOUN" in p.tag]  # type: ignore[attr-defined]
    gender = str(parses[0].tag.gender) if parses else "masc"
    return "f" if gender == "femn" else "n" if gender == "neut" else "m"


def count_words(n: int, noun: str, case: Case = "nom") -> str:
    """A count with its noun: ``count_words(3, "месяц")`` → "три месяца"."""
    return f"{number_words(n, case, _gender(noun))} {_noun(noun, n, case)}"


def amount_words(amount: Decimal, case: Case = "nom") -> str:
    """Roubles and kopecks in words; kopecks are said only when there are any.

    ``amount_words(Decimal("12480.50"))`` → "двенадцать тысяч четыреста восемьдесят рублей
    пятьдесят копеек"; ``amount_words(Decimal(2300), "gen")`` → "двух тысяч трёхсот рублей".
    """
    _check_case(case)
    try:
        value = Decimal(amount).quantize(_KOPECK)
    except InvalidOperation as err:
        raise PhrasingError(f"сумма {amount!r} не число") from err
    if value < 0:
        raise PhrasingError(f"сумма {amount} отрицательная")
    roubles = int(value)
    kopecks = int((value - roubles) * 100)
    if roubles == 0 and kopecks:
        return count_words(kopecks, "копейка", case)
    said = count_words(roubles, "рубль", case)
    if kopecks:
        said += " " + count_words(kopecks, "копейка", case)
    return said


def date_words(day: dt.date, case: Case = "gen") -> str:
    """Day and month as said in a sentence: ``date_words(date(2026, 11, 20))`` → "двадцатого ноября"."""
    _check_case(case)
    ordinal: str = num2words(
        day.day, lang="ru", to="ordinal", case=_NUM2WORDS_CASE[case], gender="n", animate=False
    )
    return f"{ordinal} {_MONTHS_GEN[day.month - 1]}"


# ---- prompt text normalisation -------------------------------------------------------------

# The case a date or amount takes after the word in front of it.
_CASE_AFTER: dict[str, Case] = {
    "до": "gen", "с": "gen", "со": "gen", "от": "gen", "после": "gen", "размере": "gen",
    "к": "dat", "ко": "dat", "по": "dat",
    "на": "acc", "за": "acc", "в": "acc", "про": "acc",
    "о": "loc", "об": "loc",
}  # fmt: skip
_AMOUNT = re.compile(r"(\d[\d\u00a0 ]*\d|\d)(?:[.,](\d{1,2}))?\s*(?:₽|руб\.?(?=\s|$)|р\.(?=\s|$))")
_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})(?:\.(\d{4}|\d{2}))?\b")
_INTEGER = re.compile(r"\b\d+\b")
_WORD_BEFORE = re.compile(r"([а-яё]+)\s*$", re.IGNORECASE)


def _case_before(text: str, default: Case) -> Case:
    found = _WORD_BEFORE.search(text)
    return _CASE_AFTER.get(found.group(1).lower(), default) if found else default


def normalize_text(text: str, today: dt.date | None = None) -> str:
    """Digits, ``₽`` and ``ДД.ММ`` dates in a prompt turned into Russian words.

    "Ваш долг 12480,50 ₽ до 20.11" → "Ваш долг двенадцать тысяч четыреста восемьдесят рублей
    пятьдесят копеек до двадцатого ноября". The case comes from the preposition in front.
    """
    year = (today or dt.date.today()).year

    def amount(match: re.Match[str]) -> str:
        roubles = re.sub(r"[\u00a0 ]", "", match.group(1))
        value = Decimal(f"{roubles}.{(match.group(2) or '0').ljust(2, '0')}")
        return amount_words(value, _case_before(text[: match.start()], "nom"))

    text = _AMOUNT.sub(amount, text)

    def date(match: re.Match[str]) -> str:
        day, month, year_text = match.group(1), match.group(2), match.group(3)
        when_year = int(year_text) if year_text else year
        when_year += 2000 if when_year < 100 else 0
        try:
            when = dt.date(when_year, int(month), int(day))
        except ValueError:
            return match.group(0)
        return date_words(when, _case_before(text[: match.start()], "gen"))

    text = _DATE.sub(date, text)
    return _INTEGER.sub(
        lambda m: number_words(int(m.group(0)), _case_before(text[: m.start()], "nom")), text
    )


# ---- the words numbers are made of ---------------------------------------------------------

_GENDERS: tuple[Literal["m", "f", "n"], ...] = ("m", "f", "n")
_BIG_MULTIPLIERS = (1, 2, 3, 4, 5, 10, 11, 12, 20, 21, 22, 25, 100, 101, 102, 105, 200, 500)


@cache
def spoken_vocabulary(nouns: tuple[str, ...] = ("рубль", "копейка", "месяц")) -> frozenset[str]:
    """Every word :func:`amount_words`, :func:`date_words` and :func:`count_words` (with
    ``nouns``) can say, in every case.

    A PBX says numbers from recorded words; the robot does the same with these, rendered
    once, so an amount or a date heard in the call (the read-back of a promise) is never
    synthesised while the debtor waits. Computed by saying every number form there is:
    0–999 in each case and gender, and each power of a thousand with the multipliers whose
    forms differ (одна/две/пять тысяч, двадцать одна тысяча…).
    """
    words: set[str] = set()
    numbers = list(range(1000)) + [m * 1000**power for power in (1, 2, 3) for m in _BIG_MULTIPLIERS]
    for case in _NUM2WORDS_CASE:
        typed_case: Case = case  # type: ignore[assignment]
        for gender in _GENDERS:
            for n in numbers:
                words.update(number_words(n, typed_case, gender).split())
        for noun in nouns:
            for n in (0, 1, 2, 5, 11, 21, 22, 25, 100, 1000):
                words.add(_noun(noun, n, typed_case))
        for day in range(1, 32):
            words.update(date_words(dt.date(2026, 1, day), typed_case).split())
    words.update(_MONTHS_GEN)
    return frozenset(words)
