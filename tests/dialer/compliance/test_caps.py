"""Frequency caps: counting per calendar day, week and month in local time."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.compliance import (
    DEFAULT_COUNTING,
    LEGAL_CAPS,
    CallOutcome,
    ComplianceConfigError,
    ContactKind,
    CountingRules,
    FrequencyCaps,
    LedgerState,
    Limits,
    Periods,
    blocking_cap,
)

kinds = st.sampled_from([ContactKind.CONVERSATION, ContactKind.MESSAGE, ContactKind.NONE])


def test_periods_are_calendar_periods() -> None:
    periods = Periods.of(dt.date(2026, 11, 23))
    assert periods.week == dt.date(2026, 11, 23)  # a Monday
    assert periods.month == dt.date(2026, 11, 1)
    assert Periods.of(dt.date(2026, 11, 1)).week == dt.date(2026, 10, 26)


def test_caps_looser_than_the_law_are_refused() -> None:
    with pytest.raises(ComplianceConfigError):
        FrequencyCaps(conversation=Limits(2, 2, 8))
    with pytest.raises(ComplianceConfigError):
        FrequencyCaps(message=Limits(2, 4, 17))
    assert FrequencyCaps(conversation=Limits(1, 1, 4)).conversation.per_week == 1


def test_each_outcome_counts_as_the_law_reads_it() -> None:
    assert DEFAULT_COUNTING.kind_of(CallOutcome.CONVERSATION) is ContactKind.CONVERSATION
    assert DEFAULT_COUNTING.kind_of(CallOutcome.VOICEMAIL) is ContactKind.MESSAGE
    assert DEFAULT_COUNTING.kind_of(CallOutcome.THIRD_PARTY) is ContactKind.MESSAGE
    assert DEFAULT_COUNTING.kind_of(CallOutcome.NO_ANSWER) is ContactKind.NONE
    stricter = CountingRules({CallOutcome.VOICEMAIL: ContactKind.CONVERSATION})
    assert stricter.kind_of(CallOutcome.VOICEMAIL) is ContactKind.CONVERSATION
    with pytest.raises(ComplianceConfigError, match="voicemail"):
        CountingRules({CallOutcome.VOICEMAIL: ContactKind.NONE})


def test_one_conversation_blocks_the_rest_of_the_day() -> None:
    today = dt.date(2026, 11, 23)
    state = LedgerState().recorded(ContactKind.CONVERSATION, today)
    assert blocking_cap(state, today, LEGAL_CAPS) == "conversations_day"
    assert blocking_cap(state, today + dt.timedelta(days=1), LEGAL_CAPS) is None
    state = state.recorded(ContactKind.CONVERSATION, today + dt.timedelta(days=1))
    assert blocking_cap(state, today + dt.timedelta(days=2), LEGAL_CAPS) == "conversations_week"
    assert blocking_cap(state, today + dt.timedelta(days=7), LEGAL_CAPS) is None


@given(
    events=st.lists(st.tuples(st.integers(0, 3), kinds), max_size=60),
    probe=st.integers(0, 10),
)
def test_ledger_counts_equal_a_recount_of_the_events(
    events: list[tuple[int, ContactKind]], probe: int
) -> None:
    start = dt.date(2026, 10, 20)
    day, state, history = start, LedgerState(), []
    for gap, kind in events:
        day += dt.timedelta(days=gap)
        state = state.recorded(kind, day)
        history.append((day, kind))
    today = day + dt.timedelta(days=probe)
    periods = Periods.of(today)
    for kind in (ContactKind.CONVERSATION, ContactKind.MESSAGE):
        counts = state.counts(kind, today)
        assert counts.day == sum(1 for d, k in history if k is kind and d == periods.day)
        assert counts.week == sum(
            1 for d, k in history if k is kind and Periods.of(d).week == periods.week
        )
        assert counts.month == sum(
            1 for d, k in history if k is kind and Periods.of(d).month == periods.month
        )


@given(events=st.lists(st.tuples(st.integers(0, 2), kinds), max_size=80))
def test_calling_only_when_allowed_never_exceeds_a_cap(
    events: list[tuple[int, ContactKind]],
) -> None:
    day, state, history = dt.date(2026, 11, 1), LedgerState(), []
    for gap, kind in events:
        day += dt.timedelta(days=gap)
        if blocking_cap(state, day, LEGAL_CAPS) is not None:
            continue
        state = state.recorded(kind, day)
        history.append((day, kind))
    for kind in (ContactKind.CONVERSATION, ContactKind.MESSAGE):
        limits = LEGAL_CAPS.limits(kind)
        days = [d for d, k in history if k is kind]
        for d in days:
            p = Periods.of(d)
            assert sum(1 for x in days if x == d) <= limits.per_day
            assert sum(1 for x in days if Periods.of(x).week == p.week) <= limits.per_week
            assert sum(1 for x in days if Periods.of(x).month == p.month) <= limits.per_month
