"""Realistic 1С exports made up from a seed: for the demo, the tests and the benchmarks.

A debt export lists, per account, every service for every month of the last year with
charged, paid, debt and пени, as 1С's «Оборотно-сальдовая ведомость по лицевым счетам»
prints it (cp1251, ``;``, decimal comma, NBSP between thousands). Accounts follow the
payment habits a collection team sees; their ``Pattern`` is also returned so tests can
check segments against it. A payment register holds payments that came after the export.
Files are written row by row: a million lines never sit in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path

from storage.importing.values import period_words
from storage.peni import load_key_rates, peni_for

__all__ = [
    "DEBT_HEADER",
    "PAYMENT_HEADER",
    "SERVICES",
    "Pattern",
    "SampleAccount",
    "money_text",
    "sample_accounts",
    "write_debts",
    "write_payments",
]

SERVICES = (
    "Содержание жилого помещения",
    "Отопление",
    "ХВС",
    "ГВС",
    "Водоотведение",
    "Электроэнергия",
    "Обращение с ТКО",
    "Взнос на капремонт",
)
DEBT_HEADER = (
    "Лицевой счет", "ФИО", "Доля", "Адрес", "Площадь", "Телефон",
    "Услуга", "Период", "Начислено", "Оплачено", "Сальдо конечное", "Пени",
)  # fmt: skip
PAYMENT_HEADER = ("Лицевой счет", "Дата оплаты", "Сумма", "Номер документа", "Способ оплаты")
_HEATING_MONTHS = {1, 2, 3, 4, 5, 10, 11, 12}
_SUMMER = {6, 7, 8}
_STREETS = (
    "ул. Советская", "ул. Склизкова", "пр-т Чайковского", "ул. Вагжанова", "Тверской пр-т",
    "ул. Горького", "б-р Радищева", "ул. Спартака", "наб. Афанасия Никитина", "ул. Орджоникидзе",
)  # fmt: skip
_SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
)  # fmt: skip
_MALE = ("Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Иван", "Михаил", "Николай")
_FEMALE = ("Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Анна", "Мария")
_PATRONYMIC_ROOTS = ("Александров", "Сергеев", "Викторов", "Петров", "Иванов", "Николаев")
_BAD_PHONES = ("8-916-12", "нет", "уточнить", "+7 (000) 00")
_CHANNELS = ("Сбербанк Онлайн", "Почта России", "Касса УК", "Сайт УК (эквайринг)", "ВТБ")
_CENT = Decimal("0.01")
_NBSP = "\u00a0"


class Pattern(StrEnum):
    """How an account pays."""

    REGULAR = "regular"  # pays every month in full
    FIRST_TIME = "first_time"  # always paid, missed only the last month
    MISSED_SUMMER = "missed_summer"  # paid nothing in June–August, otherwise regular
    QUARTERLY = "quarterly"  # pays once a quarter for three months
    DISPUTES_ONE = "disputes_one"  # never pays one service it disputes
    CHRONIC = "chronic"  # pays now and then, a little


_PATTERN_WEIGHTS = (
    (Pattern.REGULAR, 50),
    (Pattern.FIRST_TIME, 10),
    (Pattern.MISSED_SUMMER, 10),
    (Pattern.QUARTERLY, 10),
    (Pattern.DISPUTES_ONE, 8),
    (Pattern.CHRONIC, 12),
)


@dataclass(frozen=True, slots=True)
class SampleAccount:
    """An account of a sample file and the habit it was generated with."""

    number: str
    pattern: Pattern
    full_name: str
    phone: str
    address: str
    area_m2: Decimal


def money_text(value: Decimal) -> str:
    """``12345.6`` → ``12 345,60`` with a no-break space, as 1С prints money."""
    sign = "-" if value < 0 else ""
    units, cents = f"{abs(value):.2f}".split(".")
    groups: list[str] = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    return f"{sign}{_NBSP.join(groups)},{cents}"


def _months_back(end: dt.date, count: int) -> list[dt.date]:
    months: list[dt.date] = []
    year, month = end.year, end.month
    for _ in range(count):
        months.insert(0, dt.date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


def _full_name(rng: random.Random) -> str:
    surname = rng.choice(_SURNAMES)
    if rng.random() < 0.5:
        return f"{surname} {rng.choice(_MALE)} {rng.choice(_PATRONYMIC_ROOTS)}ич"
    return f"{surname}а {rng.choice(_FEMALE)} {rng.choice(_PATRONYMIC_ROOTS)}на"


def _phone(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(_BAD_PHONES)
    if roll < 0.08:
        return ""
    mobile = f"8 (9{rng.randint(10, 99)}) {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"
    if roll < 0.18:
        return f"{mobile}, (4822) {rng.randint(30, 79)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"
    return mobile


def sample_accounts(count: int, seed: int = 1) -> Iterator[SampleAccount]:
    """The accounts a sample export with this ``seed`` lists, in order (independent of months)."""
    rng = random.Random(seed)
    patterns = [p for p, _ in _PATTERN_WEIGHTS]
    weights = [w for _, w in _PATTERN_WEIGHTS]
    flats_per_building = 60
    for index in range(count):
        building = index // flats_per_building
        street = _STREETS[building % len(_STREETS)]
        address = f"г. Тверь, {street}, д. {building // len(_STREETS) + 1}, кв. {index % flats_per_building + 1}"
        yield SampleAccount(
            number=f"{7000000 + index}",
            pattern=rng.choices(patterns, weights)[0],
            full_name=_full_name(rng),
            phone=_phone(rng),
            address=address,
            area_m2=Decimal(rng.randint(280, 950)) / 10,
        )


def _charge(service: str, month: dt.date, area: Decimal, rng: random.Random) -> Decimal:
    match service:
        case "Содержание жилого помещения":
            value = area * Decimal("28.50")
        case "Отопление":
            value = area * Decimal("41.20") if month.month in _HEATING_MONTHS else Decimal(0)
        case "Взнос на капремонт":
            value = area * Decimal("11.60")
        case "Обращение с ТКО":
            value = Decimal("118.40") * rng.randint(1, 4)
        case _:
            value = Decimal(rng.randint(15000, 90000)) / 100
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _paid(
    pattern: Pattern, service: str, month: dt.date, months: list[dt.date], disputed: str,
    charged: Decimal, rng: random.Random,
) -> Decimal:  # fmt: skip
    match pattern:
        case Pattern.REGULAR:
            return charged
        case Pattern.FIRST_TIME:
            return Decimal(0) if month == months[-1] else charged
        case Pattern.MISSED_SUMMER:
            return Decimal(0) if month.month in _SUMMER else charged
        case Pattern.QUARTERLY:
            # Pays after each quarter ends: the months of the current quarter are owed.
            last = months[-1]
            same_quarter = (month.year, (month.month - 1) // 3) == (
                last.year,
                (last.month - 1) // 3,
            )
            return Decimal(0) if same_quarter else charged
        case Pattern.DISPUTES_ONE:
            return Decimal(0) if service == disputed else charged
        case Pattern.CHRONIC:
            return (charged * Decimal(rng.choice(("0", "0", "0", "0.3", "0.5")))).quantize(_CENT)


def write_debts(
    path: Path,
    accounts: int,
    *,
    months: int = 12,
    as_of: dt.date = dt.date(2026, 11, 1),
    seed: int = 1,
    encoding: str = "cp1251",
    delimiter: str = ";",
) -> list[SampleAccount]:
    """Write a debt export of ``accounts`` × ``months`` × 8 services; returns the accounts.

    The export is made on ``as_of`` and covers the ``months`` months before it.
    """
    rng = random.Random(seed + 1_000_003)  # lines; accounts have their own stream
    end = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    periods = _months_back(end, months)
    period_texts = {p: period_words(p) for p in periods}
    rates = load_key_rates()
    made: list[SampleAccount] = []
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(("Оборотно-сальдовая ведомость по лицевым счетам",))
        writer.writerow((f"Дата формирования: {as_of:%d.%m.%Y}",))
        writer.writerow(DEBT_HEADER)
        for account in sample_accounts(accounts, seed):
            made.append(account)
            disputed = rng.choice(SERVICES)
            area = money_text(account.area_m2)
            for period in periods:
                for service in SERVICES:
                    charged = _charge(service, period, account.area_m2, rng)
                    paid = min(
                        charged,
                        _paid(account.pattern, service, period, periods, disputed, charged, rng),
                    )
                    debt = charged - paid
                    peni = peni_for(debt, period, as_of, rates)
                    writer.writerow((
                        account.number, account.full_name, "1", account.address, area,
                        account.phone, service, period_texts[period], money_text(charged),
                        money_text(paid), money_text(debt), money_text(peni),
                    ))  # fmt: skip
        writer.writerow(("Итого",))
    return made


def write_payments(
    path: Path,
    accounts: Iterable[SampleAccount],
    *,
    as_of: dt.date = dt.date(2026, 11, 1),
    days: int = 20,
    seed: int = 2,
    encoding: str = "cp1251",
) -> int:
    """Write payments made in the ``days`` after the export by some debtors; returns the count."""
    rng = random.Random(seed)
    count = 0
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(PAYMENT_HEADER)
        for account in accounts:
            if account.pattern is Pattern.REGULAR or rng.random() < 0.6:
                continue
            paid_on = as_of + dt.timedelta(days=rng.randint(1, days))
            amount = Decimal(rng.randint(500, 8000))
            count += 1
            writer.writerow((
                account.number, f"{paid_on:%d.%m.%Y}", money_text(amount),
                f"{rng.randint(100000, 999999)}", rng.choice(_CHANNELS),
            ))  # fmt: skip
    return count
