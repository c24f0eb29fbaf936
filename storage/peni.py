"""Пени for housing and utility debts by ЖК РФ ст. 155 ч. 14.

A bill for a month is due by the 10th of the next month (ст. 155 ч. 1). Of the days of
delay, days 1–30 cost nothing, days 31–90 cost 1/300 of the rate per day, and day 91 on
1/130 per day. The rate is the Bank of Russia key rate in force on the day of payment
(for a debt still unpaid: on the day of the calculation), as read from
``storage/data/key_rates.csv`` — data the team updates; see that file. Days inside a
moratorium (``peni_moratoria.csv``) accrue nothing but still count towards day 31 and 91.

Simplification: the current outstanding debt of a line is taken as owed for the whole
delay (partial payments are not replayed day by day); a court calculation should use the
payment history.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources

__all__ = [
    "GRACE_DAYS",
    "HIGHER_RATE_FROM_DAY",
    "KeyRateHistory",
    "PeniError",
    "due_date",
    "load_key_rates",
    "peni_for",
]

GRACE_DAYS = 30  # days 1–30 of delay cost nothing
HIGHER_RATE_FROM_DAY = 91  # from day 91, 1/130 instead of 1/300
PAYMENT_DAY = 10  # payment is due by the 10th of the month after the billed one
_CENT = Decimal("0.01")


class PeniError(ValueError):
    """The key-rate data cannot answer (a date before its first entry, a broken file)."""


@dataclass(frozen=True, slots=True)
class KeyRateHistory:
    """Key-rate changes (rate for peni, in percent) and moratorium periods."""

    starts: tuple[dt.date, ...]
    rates_percent: tuple[Decimal, ...]
    moratoria: tuple[tuple[dt.date, dt.date], ...] = ()

    def rate_on(self, day: dt.date) -> Decimal:
        """The rate for peni (percent per year) in force on ``day``."""
        index = bisect.bisect_right(self.starts, day) - 1
        if index < 0:
            raise PeniError(f"нет ключевой ставки на {day:%d.%m.%Y}: дополните key_rates.csv")
        return self.rates_percent[index]

    def accruing_days(self, first: dt.date, last: dt.date) -> int:
        """Days from ``first`` to ``last`` inclusive that are outside every moratorium."""
        if last < first:
            return 0
        total = (last - first).days + 1
        for start, end in self.moratoria:
            overlap_start, overlap_end = max(first, start), min(last, end)
            if overlap_end >= overlap_start:
                total -= (overlap_end - overlap_start).days + 1
        return total


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("storage.data").joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines))


@cache
def load_key_rates() -> KeyRateHistory:
    """The history shipped in ``storage/data`` (read once per process)."""
    try:
        rates = sorted(
            (dt.date.fromisoformat(r["date_from"]), Decimal(r["peni_rate_percent"]))
            for r in _rows("key_rates.csv")
        )
        moratoria = tuple(
            (dt.date.fromisoformat(r["date_from"]), dt.date.fromisoformat(r["date_to"]))
            for r in _rows("peni_moratoria.csv")
        )
    except (KeyError, ValueError, ArithmeticError) as err:
        raise PeniError(f"storage/data: испорчен файл ставок или мораториев: {err}") from err
    return KeyRateHistory(
        starts=tuple(d for d, _ in rates),
        rates_percent=tuple(r for _, r in rates),
        moratoria=moratoria,
    )


def due_date(period: dt.date) -> dt.date:
    """The last day to pay for the month starting ``period`` (the 10th of the next month)."""
    year, month = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return dt.date(year, month, PAYMENT_DAY)


def peni_for(
    debt: Decimal, period: dt.date, as_of: dt.date, history: KeyRateHistory | None = None
) -> Decimal:
    """Пени on ``debt`` for the month ``period``, owed and unpaid up to ``as_of`` inclusive."""
    if debt <= 0:
        return Decimal("0.00")
    rates = history or load_key_rates()
    first_late_day = due_date(period) + dt.timedelta(days=1)
    if as_of < first_late_day + dt.timedelta(days=GRACE_DAYS):
        return Decimal("0.00")
    lower_from = first_late_day + dt.timedelta(days=GRACE_DAYS)
    higher_from = first_late_day + dt.timedelta(days=HIGHER_RATE_FROM_DAY - 1)
    lower_days = rates.accruing_days(lower_from, min(as_of, higher_from - dt.timedelta(days=1)))
    higher_days = rates.accruing_days(higher_from, as_of)
    rate = rates.rate_on(as_of) / 100
    amount = debt * rate * (Decimal(lower_days) / 300 + Decimal(higher_days) / 130)
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)
