"""Every date rule of the spec, on several ``today``s: month ends, the year's end, Sundays."""

from __future__ import annotations

import datetime as dt

import pytest

from classifier.promises import promise_date

D = dt.date
MON = D(2026, 11, 23)  # a Monday
SUN = D(2026, 11, 29)  # a Sunday
MONTH_END = D(2026, 11, 30)  # a Monday, the month's last day
YEAR_END = D(2026, 12, 31)  # a Thursday
SUN_YEAR_END = D(2026, 12, 27)  # a Sunday before the new year
FEB_END = D(2027, 2, 28)  # a Sunday, February's last day

CASES = [
    # сегодня / завтра / послезавтра
    ("заплачу сегодня", MON, D(2026, 11, 23)),
    ("завтра оплачу", MON, D(2026, 11, 24)),
    ("послезавтра", MON, D(2026, 11, 25)),
    ("завтра", YEAR_END, D(2027, 1, 1)),
    ("послезавтра переведу", FEB_END, D(2027, 3, 2)),
    # через N дней / через неделю / через две недели
    ("через три дня", MON, D(2026, 11, 26)),
    ("через 10 дней", MON, D(2026, 12, 3)),
    ("через неделю", MONTH_END, D(2026, 12, 7)),
    ("через две недели", YEAR_END, D(2027, 1, 14)),
    ("через пару дней", FEB_END, D(2027, 3, 2)),
    # weekdays: the next such day after today, never today
    ("в понедельник", MON, D(2026, 11, 30)),
    ("в пятницу", MON, D(2026, 11, 27)),
    ("в воскресенье", SUN, D(2026, 12, 6)),
    ("во вторник", YEAR_END, D(2027, 1, 5)),
    ("в четверг", YEAR_END, D(2027, 1, 7)),
    ("пятница", MON, D(2026, 11, 27)),  # "в пятницу" heard as "пятница"
    # this week / next week
    ("на этой неделе", MON, D(2026, 11, 29)),
    ("до конца недели", SUN, D(2026, 11, 29)),
    ("на этой неделе", YEAR_END, D(2027, 1, 3)),
    ("на следующей неделе", MON, D(2026, 12, 6)),
    ("на следующей неделе", SUN_YEAR_END, D(2027, 1, 3)),
    # N-го / N числа / до N-го
    ("пятнадцатого", MON, D(2026, 12, 15)),
    ("двадцать пятого", MON, D(2026, 11, 25)),
    ("до 23 числа", MON, D(2026, 12, 23)),  # the same day is not after today
    ("30-го", MON, D(2026, 11, 30)),
    ("тридцатого", MONTH_END, D(2026, 12, 30)),
    ("первого числа", MONTH_END, D(2026, 12, 1)),
    ("пятого", YEAR_END, D(2027, 1, 5)),
    ("тридцатого", FEB_END, D(2027, 3, 30)),
    # N-го with a named month
    ("пятнадцатого декабря", MON, D(2026, 12, 15)),
    ("двадцатого ноября", MON, D(2027, 11, 20)),
    ("23 ноября", MON, D(2026, 11, 23)),
    ("десятого января", YEAR_END, D(2027, 1, 10)),
    # month ends and next month
    ("до конца месяца", MON, D(2026, 11, 30)),
    ("в конце месяца", MONTH_END, D(2026, 11, 30)),
    ("до конца месяца", FEB_END, D(2027, 2, 28)),
    ("в начале следующего месяца", MON, D(2026, 12, 10)),
    ("в начале следующего месяца", YEAR_END, D(2027, 1, 10)),
    ("в следующем месяце", MON, D(2026, 12, 31)),
    ("в следующем месяце", YEAR_END, D(2027, 1, 31)),
    # a month with no day
    ("в январе", MON, D(2027, 1, 31)),
    ("в ноябре", MON, D(2026, 11, 30)),
    ("в октябре", MON, D(2027, 10, 31)),
    ("в декабре", YEAR_END, D(2026, 12, 31)),
    ("в феврале", FEB_END, D(2027, 2, 28)),
    ("в начале марта", MON, D(2027, 3, 10)),
    # до пятницы, к пятому, до 20.05
    ("до пятницы", MON, D(2026, 11, 27)),
    ("к пятнице", SUN, D(2026, 12, 4)),
    ("к пятому", MON, D(2026, 12, 5)),
    ("до 20.05", MON, D(2027, 5, 20)),
    ("15.12", YEAR_END, D(2027, 12, 15)),
    ("до 25.12", MON, D(2026, 12, 25)),
    # сейчас
    ("прямо сейчас", MON, MON),
    ("сейчас же оплачу", SUN, SUN),
    ("щас переведу", YEAR_END, YEAR_END),
    # hedged and negated dates drop out; the latest remaining one counts
    ("сегодня вряд ли а вот к среде переведу", MON, D(2026, 11, 25)),
    ("не завтра а послезавтра", MON, D(2026, 11, 25)),
    ("половину завтра а остальное пятнадцатого", MON, D(2026, 12, 15)),
    ("денег нет заплачу с зарплаты десятого", MON, D(2026, 12, 10)),
    ("меня уволили но к пятнице что нибудь внесу", MON, D(2026, 11, 27)),
]


@pytest.mark.parametrize(("phrase", "today", "expected"), CASES)
def test_date_rule(phrase: str, today: dt.date, expected: dt.date) -> None:
    assert promise_date(phrase, today) == expected


@pytest.mark.parametrize(
    "phrase",
    [
        "с зарплаты",
        "заплачу с пенсии",
        "на днях",
        "после праздников",
        "когда будут деньги",
        "сейчас туго с деньгами",
        "оплатила в понедельник",
        "заплачу",
    ],
)
@pytest.mark.parametrize("today", [MON, SUN, YEAR_END])
def test_no_day_said_gives_no_date(phrase: str, today: dt.date) -> None:
    assert promise_date(phrase, today) is None


def test_typed_text_with_punctuation() -> None:
    assert promise_date("Заплачу 15-го, честно!", MON) == D(2026, 12, 15)
    assert promise_date("Оплачу до 20.05.2027.", MON) == D(2027, 5, 20)
