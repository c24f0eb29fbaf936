"""Segments and debtor types on a real database, from sample exports with known habits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dialer.segments import (
    DEFAULT_LINES,
    DebtorType,
    HistoryLine,
    Segment,
    SegmentLines,
    classify,
    lines_for,
    months_overdue,
    save_lines,
    segment_accounts,
    summarise,
)
from storage.importing import import_debts
from storage.organisations import find_organisation
from storage.peni import load_key_rates
from storage.samples import Pattern, write_debts

AS_OF = dt.date(2026, 11, 23)
EXPECTED_TYPE = {
    Pattern.REGULAR: None,
    Pattern.FIRST_TIME: DebtorType.FIRST_TIME,
    Pattern.QUARTERLY: DebtorType.FIRST_TIME,  # the sample's export ends in the first month of a quarter
    Pattern.MISSED_SUMMER: DebtorType.HOLIDAY_GAP,
    Pattern.DISPUTES_ONE: DebtorType.SINGLE_SERVICE,
    Pattern.CHRONIC: DebtorType.CHRONIC,
}


def test_sample_habits_become_the_debtor_types_scripts_need(
    session_factory: sessionmaker[Session], tmp_path: Path, unique_name: str
) -> None:
    path = tmp_path / "debts.csv"
    accounts = write_debts(path, 60, seed=7)
    import_debts(session_factory, path, organisation=unique_name)
    with session_factory() as session:
        organisation = find_organisation(session, unique_name)
        segments = {s.number: s for s in segment_accounts(session, organisation.id, AS_OF)}
    assert len(segments) == 60
    for account in accounts:
        found = segments[account.number]
        assert found.debtor_type == EXPECTED_TYPE[account.pattern], account
        if account.pattern is Pattern.REGULAR:
            assert (found.segment, found.debt) == (Segment.CLEAR, Decimal("0.00"))
        if account.pattern is Pattern.CHRONIC:
            assert found.segment is Segment.RED
            assert found.months_overdue >= 3
    by_segment, by_type = summarise(segments.values())
    assert sum(t.accounts for t in by_segment) == 60
    assert sum(t.debt for t in by_segment) == sum(s.debt for s in segments.values())
    assert {t.name for t in by_type} == {t.value for t in DebtorType}


def test_an_organisation_sets_its_own_lines(
    session_factory: sessionmaker[Session], tmp_path: Path, unique_name: str
) -> None:
    path = tmp_path / "debts.csv"
    write_debts(path, 20, seed=3)
    import_debts(session_factory, path, organisation=unique_name)
    strict = SegmentLines(
        yellow_debt=Decimal("1.00"), yellow_months=0, yellow_bills=1,
        red_debt=Decimal("2.00"), red_months=0, red_bills=1,
    )  # fmt: skip
    with session_factory.begin() as session:
        organisation_id = find_organisation(session, unique_name).id
        assert lines_for(session, organisation_id) == DEFAULT_LINES
        save_lines(session, organisation_id, strict)
    with session_factory() as session:
        assert lines_for(session, organisation_id) == strict
        found = list(segment_accounts(session, organisation_id, AS_OF))
    assert {s.segment for s in found} <= {Segment.CLEAR, Segment.RED}
    assert any(s.segment is Segment.RED for s in found)


def _line(service: str, month: int, debt: str, paid: str = "0") -> HistoryLine:
    return HistoryLine(service, dt.date(2026, month, 1), Decimal(paid), Decimal(debt), Decimal(0))


@pytest.mark.parametrize(
    ("history", "segment", "debtor_type"),
    [
        ([_line("ХВС", 9, "0", "500"), _line("ХВС", 10, "500")], Segment.GREEN, DebtorType.FIRST_TIME),
        ([_line("ХВС", 9, "600"), _line("ГВС", 10, "600")], Segment.YELLOW, DebtorType.OTHER),
        ([_line("ТКО", m, "300") for m in range(1, 11)], Segment.RED, DebtorType.SINGLE_SERVICE),
        ([_line("ХВС", 6, "100"), _line("ГВС", 7, "100"), _line("ХВС", 9, "0", "1")],
         Segment.RED, DebtorType.HOLIDAY_GAP),
        ([_line("ХВС", m, "100") for m in (3, 4, 5, 9)] + [_line("ГВС", 3, "1")],
         Segment.RED, DebtorType.CHRONIC),
        ([_line("ХВС", 10, "0", "100")], Segment.CLEAR, None),
    ],
)  # fmt: skip
def test_lines_and_types_by_hand(
    history: list[HistoryLine], segment: Segment, debtor_type: DebtorType | None
) -> None:
    found = classify(1, "1", history, DEFAULT_LINES, AS_OF, load_key_rates())
    assert (found.segment, found.debtor_type) == (segment, debtor_type)


def test_months_overdue_count_from_the_due_date() -> None:
    october = dt.date(2026, 10, 1)  # due 10.11.2026
    assert months_overdue(october, dt.date(2026, 11, 10)) == 0
    assert months_overdue(october, dt.date(2026, 12, 10)) == 0
    assert months_overdue(october, dt.date(2026, 12, 11)) == 1
    assert months_overdue(dt.date(2026, 1, 1), AS_OF) == 9


def test_the_yellow_line_cannot_pass_the_red_one() -> None:
    with pytest.raises(ValueError, match="the yellow line must not be beyond the red line"):
        SegmentLines(yellow_debt=Decimal(10), red_debt=Decimal(5))
