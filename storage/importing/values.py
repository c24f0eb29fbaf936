"""Cell values as 1С prints them: money with a decimal comma, dates, billing months, phones.

Each parser takes a raw cell (text from CSV, or the typed value openpyxl gives for XLSX)
and returns a value or raises :class:`BadValue` with a message in Russian that names the
problem (the caller adds the file, row and column).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from storage.models.enums import PhoneKind

__all__ = [
    "BadValue",
    "Cell",
    "ParsedPhone",
    "is_blank",
    "money_from_text",
    "period_from_text",
    "parse_date",
    "parse_money",
    "parse_period",
    "parse_phones",
    "parse_share",
    "parse_text",
    "parse_time_zone",
]

Cell = str | int | float | Decimal | dt.date | dt.datetime | None


class BadValue(ValueError):
    """A cell that cannot be read; the message says what is wrong with it."""


_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009\t")
_MONEY = re.compile(r"-?\d+(?:[.,]\d+)?")
_CENT = Decimal("0.01")

MONTHS = {
    "январь": 1, "января": 1, "янв": 1,
    "февраль": 2, "февраля": 2, "фев": 2,
    "март": 3, "марта": 3, "мар": 3,
    "апрель": 4, "апреля": 4, "апр": 4,
    "май": 5, "мая": 5,
    "июнь": 6, "июня": 6, "июн": 6,
    "июль": 7, "июля": 7, "июл": 7,
    "август": 8, "августа": 8, "авг": 8,
    "сентябрь": 9, "сентября": 9, "сен": 9, "сент": 9,
    "октябрь": 10, "октября": 10, "окт": 10,
    "ноябрь": 11, "ноября": 11, "ноя": 11, "нояб": 11,
    "декабрь": 12, "декабря": 12, "дек": 12,
}  # fmt: skip
MONTH_NAMES = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip

_PERIOD_WORDS = re.compile(r"^([а-яё]+)\.?\s+(\d{4})(?:\s*г\.?)?$")
_PERIOD_NUMERIC = re.compile(r"^(\d{1,2})[./](\d{4})$")
_PERIOD_ISO = re.compile(r"^(\d{4})-(\d{1,2})$")
_DATE_RU = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2})?)?$")
_OFFSET = re.compile(r"^(мск|msk|utc|gmt)\s*([+-]\s*\d{1,2})?$")
# Russia's zones by offset from Moscow (МСК±N), the way 1С and people write them.
_MSK_OFFSET_ZONES = {
    -1: "Europe/Kaliningrad", 0: "Europe/Moscow", 1: "Europe/Samara",
    2: "Asia/Yekaterinburg", 3: "Asia/Omsk", 4: "Asia/Krasnoyarsk", 5: "Asia/Irkutsk",
    6: "Asia/Yakutsk", 7: "Asia/Vladivostok", 8: "Asia/Magadan", 9: "Asia/Kamchatka",
}  # fmt: skip


def is_blank(cell: Cell) -> bool:
    """True for a missing or whitespace-only cell."""
    return cell is None or (isinstance(cell, str) and not cell.strip())


def parse_text(cell: Cell) -> str:
    """Text with runs of whitespace collapsed (numbers from XLSX printed without ``.0``)."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return " ".join(str(cell).split())


def parse_money(cell: Cell) -> Decimal:
    """Roubles: ``12 345,67``, ``12345.67``, ``-0,5``; spaces or NBSP between thousands."""
    if isinstance(cell, str):
        return money_from_text(cell)
    if isinstance(cell, bool) or cell is None:
        raise BadValue(f"не сумма: «{cell}»")
    if isinstance(cell, int | Decimal):
        value = Decimal(cell)
    elif isinstance(cell, float):
        value = Decimal(repr(cell))
    else:
        raise BadValue(f"не сумма: «{cell}»")
    return _cents(value, parse_text(cell))


# Exports repeat the same amounts (0,00 above all); parsing them once saves most of the work.
@lru_cache(maxsize=65536)
def money_from_text(cell: str) -> Decimal:
    """:func:`parse_money` of a text cell, remembered."""
    text = cell.translate(_SPACES).removesuffix("₽").removesuffix("руб.").removesuffix("р.")
    if not _MONEY.fullmatch(text):
        raise BadValue(f"не сумма: «{cell.strip()}»")
    return _cents(Decimal(text.replace(",", ".")), cell.strip())


def _cents(value: Decimal, shown: str) -> Decimal:
    if value != value.quantize(_CENT):
        raise BadValue(f"больше двух знаков после запятой: «{shown}»")
    return value.quantize(_CENT)


def parse_date(cell: Cell) -> dt.date:
    """A day: ``dd.mm.yyyy`` (optionally with 1С's ``0:00:00``), ``yyyy-mm-dd``, or an XLSX date."""
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = parse_text(cell)
    match = _DATE_RU.fullmatch(text)
    parts = (match.group(3), match.group(2), match.group(1)) if match else None
    if parts is None and (iso := _DATE_ISO.fullmatch(text)):
        parts = (iso.group(1), iso.group(2), iso.group(3))
    if parts is None:
        raise BadValue(f"не дата: «{text}» (ожидается дд.мм.гггг)")
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError as err:
        raise BadValue(f"нет такой даты: «{text}»") from err


def parse_period(cell: Cell) -> dt.date:
    """A billing month as its first day: ``ноябрь 2026``, ``11.2026``, ``01.11.2026``, XLSX date."""
    if isinstance(cell, dt.date):
        day = cell.date() if isinstance(cell, dt.datetime) else cell
        return day.replace(day=1)
    return period_from_text(parse_text(cell))


@lru_cache(maxsize=1024)
def period_from_text(raw: str) -> dt.date:
    """:func:`parse_period` of a text cell, remembered."""
    text = raw.lower()
    year = month = 0
    if match := _PERIOD_WORDS.fullmatch(text):
        month, year = MONTHS.get(match.group(1), 0), int(match.group(2))
    elif match := _PERIOD_NUMERIC.fullmatch(text):
        month, year = int(match.group(1)), int(match.group(2))
    elif match := _PERIOD_ISO.fullmatch(text):
        year, month = int(match.group(1)), int(match.group(2))
    else:
        try:
            return parse_date(text).replace(day=1)
        except BadValue:
            pass
    if not 1 <= month <= 12 or not 1990 <= year <= 2100:
        raise BadValue(f"не период: «{raw}» (ожидается «ноябрь 2026» или «11.2026»)")
    return dt.date(year, month, 1)


def period_words(period: dt.date) -> str:
    """``ноябрь 2026`` — the way 1С names a month."""
    return f"{MONTH_NAMES[period.month - 1]} {period.year}"


@dataclass(frozen=True, slots=True)
class ParsedPhone:
    """A phone number in E.164 with its kind."""

    number: str
    kind: PhoneKind


_PHONE_SPLIT = re.compile(r"[;,/]|\s{2,}")
_KINDS = {
    phonenumbers.PhoneNumberType.MOBILE: PhoneKind.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE: PhoneKind.LANDLINE,
}


def parse_phones(cell: Cell) -> tuple[tuple[ParsedPhone, ...], tuple[str, ...]]:
    """Phones in one cell (separated by ``,`` ``;`` ``/``); returns (phones, problems).

    A bad number is a problem of that number only: the rest of the row still counts.
    """
    return _phones_in(parse_text(cell))


# 1С repeats an account's phones on every line of it; parsing is slow, so remember.
@lru_cache(maxsize=65536)
def _phones_in(text: str) -> tuple[tuple[ParsedPhone, ...], tuple[str, ...]]:
    phones: list[ParsedPhone] = []
    problems: list[str] = []
    for raw in _PHONE_SPLIT.split(text):
        text = raw.strip()
        if not text:
            continue
        try:
            number = phonenumbers.parse(text, "RU")
        except phonenumbers.NumberParseException:
            problems.append(f"не телефон: «{text}»")
            continue
        if not phonenumbers.is_valid_number(number):
            problems.append(f"неверный номер телефона: «{text}»")
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        kind = _KINDS.get(phonenumbers.number_type(number), PhoneKind.UNKNOWN)
        if all(p.number != e164 for p in phones):
            phones.append(ParsedPhone(e164, kind))
    return tuple(phones), tuple(problems)


def parse_share(cell: Cell) -> Decimal:
    """An owner's share as a fraction in (0, 1]: ``1/2``, ``0,5``, ``50%``, ``1``."""
    text = parse_text(cell).replace(" ", "").replace(",", ".")
    try:
        if "/" in text:
            numerator, denominator = text.split("/", 1)
            value = Decimal(numerator) / Decimal(denominator)
        elif text.endswith("%"):
            value = Decimal(text[:-1]) / 100
        else:
            value = Decimal(text)
    except (InvalidOperation, ArithmeticError, ValueError) as err:
        raise BadValue(f"не доля: «{parse_text(cell)}» (ожидается 1/2, 0,5 или 50%)") from err
    if not Decimal(0) < value <= 1:
        raise BadValue(f"доля вне (0; 1]: «{parse_text(cell)}»")
    return value.quantize(Decimal("0.000001"))


def parse_time_zone(cell: Cell) -> str:
    """An IANA zone (``Asia/Yekaterinburg``) or ``МСК+2`` / ``UTC+5`` mapped to one."""
    text = parse_text(cell)
    if match := _OFFSET.fullmatch(text.lower()):
        offset = int(match.group(2).replace(" ", "")) if match.group(2) else 0
        if match.group(1) in ("utc", "gmt"):
            offset -= 3
        if offset in _MSK_OFFSET_ZONES:
            return _MSK_OFFSET_ZONES[offset]
        raise BadValue(f"часовой пояс не в России: «{text}»")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise BadValue(f"неизвестный часовой пояс: «{text}»") from err
    return text
