"""Пени by ЖК РФ ст. 155 ч. 14, against hand calculations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from storage.peni import KeyRateHistory, PeniError, due_date, load_key_rates, peni_for

FLAT_RATE = KeyRateHistory(starts=(dt.date(2020, 1, 1),), rates_percent=(Decimal("15.00"),))


def test_the_bill_for_november_is_due_on_december_the_tenth() -> None:
    assert due_date(dt.date(2026, 11, 1)) == dt.date(2026, 12, 10)
    assert due_date(dt.date(2026, 12, 1)) == dt.date(2027, 1, 10)


def test_nothing_for_the_first_thirty_days() -> None:
    # Due 10.02; day 30 of delay is 12.03.
    assert peni_for(Decimal("1000"), dt.date(2026, 1, 1), dt.date(2026, 3, 12), FLAT_RATE) == 0


def test_one_three_hundredth_from_day_31() -> None:
    # Days 31..40 of delay: 13.03..22.03 → 10 days × 1000 × 15% / 300 = 5.00
    assert peni_for(
        Decimal("1000"), dt.date(2026, 1, 1), dt.date(2026, 3, 22), FLAT_RATE
    ) == Decimal("5.00")


def test_one_hundred_thirtieth_from_day_91() -> None:
    # 60 days at 1/300 (= 30.00) and days 91..100 (12.05..21.05) at 1/130: 10 × 150 / 130 = 11.538…
    assert peni_for(
        Decimal("1000"), dt.date(2026, 1, 1), dt.date(2026, 5, 21), FLAT_RATE
    ) == Decimal("41.54")


def test_the_rate_of_the_calculation_day_applies() -> None:
    rates = load_key_rates()
    assert rates.rate_on(dt.date(2026, 11, 23)) == Decimal("16.00")
    # ПП РФ № 474: in 2024 the rate for peni was capped at 9.5 % though the key rate was 21 %.
    assert rates.rate_on(dt.date(2024, 11, 1)) == Decimal("9.50")


def test_moratorium_days_accrue_nothing() -> None:
    rates = KeyRateHistory(
        starts=(dt.date(2020, 1, 1),),
        rates_percent=(Decimal("15.00"),),
        moratoria=((dt.date(2026, 3, 13), dt.date(2026, 3, 17)),),
    )
    assert peni_for(Decimal("1000"), dt.date(2026, 1, 1), dt.date(2026, 3, 22), rates) == Decimal(
        "2.50"
    )


def test_no_debt_no_peni_and_no_rate_no_answer() -> None:
    assert peni_for(Decimal("0"), dt.date(2026, 1, 1), dt.date(2026, 11, 1)) == 0
    with pytest.raises(PeniError, match="нет ключевой ставки на 01.06.2021"):
        load_key_rates().rate_on(dt.date(2021, 6, 1))
