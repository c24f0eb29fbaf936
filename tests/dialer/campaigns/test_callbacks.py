"""«Перезвоните вечером»: the robot queues the next call at the time asked, within the
calling window and the caps, and the claim agrees with it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from classifier.contract import Tag
from dialer.campaigns.attempts import AttemptOutcome, CallbackRequest
from dialer.campaigns.callbacks import callback_due, requested_moment
from dialer.campaigns.queue import claim_attempts, complete_attempt
from dialer.campaigns.rules import CallRules
from dialer.compliance import (
    CallOutcome,
    ContactKind,
    LedgerState,
    ProductionCalendar,
    blocking_cap,
    is_callable_at,
)
from dialer.runner import attempt_outcome
from dialer.session import CallReport, TurnRecord
from dialer.telephony.port import CallResult, Outcome
from scripts.actions import Outcome as Conversation
from scripts.actions import OutcomeKind
from storage.models.campaigns import Attempt
from tests.dialer.campaigns.builders import build_book, started_campaign

CALENDAR = ProductionCalendar()
RULES = CallRules(calendar=CALENDAR)
MOSCOW = ZoneInfo("Europe/Moscow")
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
# Monday 23 November 2026, 12:00 in Moscow.
NOON = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


def _local(zone: ZoneInfo, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=zone)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("неудобно говорить перезвоните вечером", (11, 23, 18, 30)),
        ("перезвоните завтра", (11, 24, 12, 0)),
        ("завтра вечером", (11, 24, 18, 30)),
        ("в понедельник утром", (11, 30, 10, 0)),
        ("давайте в семь вечера", (11, 23, 19, 0)),
        ("после шести", (11, 23, 18, 0)),
        ("в 19:30", (11, 23, 19, 30)),
        ("к 10 утра", (11, 24, 10, 0)),  # the hour is not read as the 10th
        ("двадцать пятого в семь", (11, 25, 19, 0)),
        ("через два часа", (11, 23, 14, 0)),
        ("через полчаса", (11, 23, 12, 30)),
        ("попозже", (11, 23, 14, 0)),
        ("15 декабря после обеда", (12, 15, 14, 0)),
        ("в двенадцать", (11, 24, 12, 0)),  # noon has just begun: tomorrow's
    ],
)
def test_the_words_become_a_local_moment(words: str, expected: tuple[int, ...]) -> None:
    month, day, hour, minute = expected
    assert requested_moment(words, NOON, MOSCOW) == _local(MOSCOW, month, day, hour, minute)


@pytest.mark.parametrize("words", ["", "не знаю", "да", "ну как-нибудь"])
def test_words_without_a_time_give_none(words: str) -> None:
    assert requested_moment(words, NOON, MOSCOW) is None


def test_the_local_day_is_the_debtors() -> None:
    # 12:00 in Moscow is 19:00 in Vladivostok: this evening's 18:30 has passed there.
    assert requested_moment("вечером", NOON, VLADIVOSTOK) == _local(VLADIVOSTOK, 11, 24, 18, 30)


AFTER_A_CONVERSATION = LedgerState().recorded(ContactKind.CONVERSATION, dt.date(2026, 11, 23))
AFTER_A_MESSAGE = LedgerState().recorded(ContactKind.MESSAGE, dt.date(2026, 11, 23))


def test_caps_move_the_callback_to_the_next_day_at_the_same_time() -> None:
    evening = _local(MOSCOW, 11, 23, 18, 30)
    due = callback_due(evening, now=NOON, zone=MOSCOW, rules=RULES, ledger=AFTER_A_CONVERSATION)
    assert due == _local(MOSCOW, 11, 24, 18, 30)
    # After a message (someone else answered) the day still has room.
    due = callback_due(evening, now=NOON, zone=MOSCOW, rules=RULES, ledger=AFTER_A_MESSAGE)
    assert due == evening


def test_hours_move_the_callback_into_the_window() -> None:
    late = _local(MOSCOW, 11, 23, 23, 0)
    due = callback_due(late, now=NOON, zone=MOSCOW, rules=RULES, ledger=AFTER_A_CONVERSATION)
    assert due == _local(MOSCOW, 11, 24, 8, 0)  # the first lawful moment after 23:00
    early = _local(MOSCOW, 11, 28, 8, 0)  # a Saturday: 09:00–20:00
    due = callback_due(early, now=NOON, zone=MOSCOW, rules=RULES, ledger=AFTER_A_CONVERSATION)
    assert due == _local(MOSCOW, 11, 28, 9, 0)
    soon = NOON + dt.timedelta(minutes=1)
    due = callback_due(soon, now=NOON, zone=MOSCOW, rules=RULES, ledger=AFTER_A_MESSAGE)
    assert due == NOON + dt.timedelta(minutes=15)


@settings(max_examples=200, deadline=None)
@given(
    minutes=st.integers(0, 20 * 24 * 60),
    zone=st.sampled_from(["Europe/Kaliningrad", "Europe/Moscow", "Asia/Vladivostok"]),
    conversation=st.booleans(),
)
def test_a_callback_is_always_lawful_and_never_before_the_time_asked(
    minutes: int, zone: str, conversation: bool
) -> None:
    where = ZoneInfo(zone)
    wanted = NOON + dt.timedelta(minutes=minutes)
    ledger = AFTER_A_CONVERSATION if conversation else AFTER_A_MESSAGE
    due = callback_due(wanted, now=NOON, zone=where, rules=RULES, ledger=ledger)
    assert due >= wanted
    assert is_callable_at(due, where, CALENDAR, RULES.hours)
    assert blocking_cap(ledger, due.astimezone(where).date(), RULES.caps) is None


def _claim_and_complete(
    factory: sessionmaker[Session], campaign: int, now: dt.datetime, outcome: AttemptOutcome
) -> int:
    with factory.begin() as session:
        (claimed,) = claim_attempts(
            session, worker_id="w", now=now, want=1, lease=LEASE, calendar=CALENDAR,
            campaign_ids=[campaign],
        )  # fmt: skip
        complete_attempt(
            session, attempt_id=claimed.attempt_id, worker_id="w", outcome=outcome, now=now,
            calendar=CALENDAR,
        )  # fmt: skip
        return claimed.account_id


def _pending(factory: sessionmaker[Session], account: int) -> Attempt:
    with factory() as session:
        return session.scalars(
            sa.select(Attempt).where(Attempt.account_id == account, Attempt.status == "pending")
        ).one()


def test_a_callback_is_queued_for_the_time_asked_and_claimed_then(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 1, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON)
    asked = AttemptOutcome(
        CallOutcome.CONVERSATION, callback=CallbackRequest("перезвоните вечером после семи")
    )
    account = _claim_and_complete(session_factory, campaign, NOON, asked)
    queued = _pending(session_factory, account)
    # Today's conversation used the day's cap: tomorrow at the time asked, not in 7 days.
    tomorrow_evening = _local(MOSCOW, 11, 24, 19, 0)
    assert (queued.due_at, queued.number, str(queued.purpose)) == (tomorrow_evening, 2, "reminder")
    with session_factory.begin() as session:
        early = claim_attempts(
            session, worker_id="w", now=tomorrow_evening - dt.timedelta(minutes=1), want=1,
            lease=LEASE, calendar=CALENDAR, campaign_ids=[campaign],
        )  # fmt: skip
        assert early == []
    with session_factory.begin() as session:
        claimed = claim_attempts(
            session, worker_id="w", now=tomorrow_evening, want=1, lease=LEASE,
            calendar=CALENDAR, campaign_ids=[campaign],
        )  # fmt: skip
        assert [c.attempt_id for c in claimed] == [queued.id]


def test_a_callback_without_a_time_waits_the_retry_delay(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 1, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON, retry_no_answer_min=120)
    # Someone else answered («его нет, перезвоните»): a message, the day still has room.
    asked = AttemptOutcome(CallOutcome.THIRD_PARTY, callback=CallbackRequest("не знаю"))
    account = _claim_and_complete(session_factory, campaign, NOON, asked)
    assert _pending(session_factory, account).due_at == NOON + dt.timedelta(minutes=120)


def test_without_a_callback_the_usual_rereminder_follows(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = build_book(session_factory, unique_name, 1, zones=("Europe/Moscow",))
    campaign = started_campaign(session_factory, book, NOON)
    account = _claim_and_complete(
        session_factory, campaign, NOON, AttemptOutcome(CallOutcome.CONVERSATION)
    )
    assert _pending(session_factory, account).due_at == NOON + dt.timedelta(days=7)


def test_the_runner_hands_over_the_words_about_when() -> None:
    answered = CallResult(Outcome.ANSWERED, 200, "BYE", ended=True, hangup_by="robot")
    turns = (
        TurnRecord(0, "Это Иванов Иван Петрович?", "да это я"),
        TurnRecord(1, "…", "ой неудобно сейчас", tags={Tag.CALLBACK_LATER.value: 0.9}),
        TurnRecord(2, "Когда вам удобнее, чтобы мы перезвонили?", "завтра в семь вечера"),
        TurnRecord(3, "Договорились, перезвоним. Всего доброго!"),
    )
    made = attempt_outcome(
        CallReport(7, answered, Conversation(OutcomeKind.CALLBACK, True), turns, None)
    )
    assert made.result is CallOutcome.CONVERSATION
    assert made.callback == CallbackRequest("ой неудобно сейчас завтра в семь вечера")
    assert "завтра" not in repr(made)  # the debtor's words stay out of logs
    other = attempt_outcome(
        CallReport(7, answered, Conversation(OutcomeKind.COMPLETED, True), turns, None)
    )
    assert other.callback is None
