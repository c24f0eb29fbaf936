"""The outbox on a real database (SQLite and PostgreSQL): what a call's end writes, and
what the law, the number and the debtor's will refuse."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.messages import can_send_message, claim_due, record_opt_out
from storage.models import ContactEvent, PhoneKind
from storage.models.campaigns import Call, ContactLedger, StopFlagRecord
from storage.models.messages import MessageStatus, OutboxMessage
from tests.dialer.messages.builders import MONDAY_NOON, build_debtor, call_with_promise


def _message(factory: sessionmaker[Session], call_id: int) -> OutboxMessage:
    with factory() as session:
        return session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.call_id == call_id)
        ).one()


def _day_messages(factory: sessionmaker[Session], account_id: int) -> int:
    with factory() as session:
        row = session.get(ContactLedger, account_id)
        return row.day_messages if row is not None else 0


def test_a_promise_queues_one_message_counted_in_the_ledger(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    message = _message(session_factory, call_id)
    assert message.status is MessageStatus.QUEUED
    assert message.next_try_at == MONDAY_NOON
    assert str(message.amount) == "3500.50"
    assert message.due_on == dt.date(2026, 11, 30)
    assert message.page_token
    assert len(message.page_token) >= 32
    assert message.page_expires_at == MONDAY_NOON + dt.timedelta(days=30)
    assert _day_messages(session_factory, debtor.account_id) == 1
    with session_factory() as session:
        assert session.get_one(Call, call_id).outcome == "promise"
        event = session.scalars(
            sa.select(ContactEvent).where(
                ContactEvent.ref_table == "messages", ContactEvent.ref_id == message.id
            )
        ).one()
        assert event.kind.value == "message"


def test_one_message_per_call(session_factory: sessionmaker[Session], unique_name: str) -> None:
    from dialer.campaigns import call_log
    from dialer.messages import MessageRequest

    debtor = build_debtor(session_factory, unique_name)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    call_log.close_call(
        session_factory,
        call_id,
        ended_at=MONDAY_NOON,
        outcome="promise",
        message=MessageRequest(("payment_details",)),
    )
    with session_factory() as session:
        count = session.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.account_id == debtor.account_id)
        )
    assert count == 1
    assert _day_messages(session_factory, debtor.account_id) == 1


def test_a_landline_is_not_sent_and_the_reason_is_stored(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    debtor = build_debtor(session_factory, unique_name, number="+74951234567")
    with session_factory() as session:
        assert not can_send_message(session, debtor.account_id, debtor.phone_id, MONDAY_NOON)
    message = _message(session_factory, call_with_promise(session_factory, debtor, MONDAY_NOON))
    assert (message.status, message.reason) == (MessageStatus.REFUSED, "landline")
    assert message.page_token is None
    assert _day_messages(session_factory, debtor.account_id) == 0


def test_a_number_stored_as_a_landline_is_not_sent(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    debtor = build_debtor(session_factory, unique_name, kind=PhoneKind.LANDLINE)
    message = _message(session_factory, call_with_promise(session_factory, debtor, MONDAY_NOON))
    assert message.reason == "landline"


def test_an_opt_out_is_honoured_and_refuses_what_is_queued(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    queued = call_with_promise(session_factory, debtor, MONDAY_NOON)
    with session_factory.begin() as session:
        record_opt_out(session, debtor.account_id, None, "call:1", MONDAY_NOON)
    assert _message(session_factory, queued).reason == "opt_out"
    with session_factory() as session:
        later = MONDAY_NOON + dt.timedelta(days=1)
        assert not can_send_message(session, debtor.account_id, debtor.phone_id, later)
    refused = call_with_promise(session_factory, debtor, MONDAY_NOON + dt.timedelta(days=1))
    message = _message(session_factory, refused)
    assert (message.status, message.reason) == (MessageStatus.REFUSED, "opt_out")


def test_no_payee_no_message(session_factory: sessionmaker[Session], unique_name: str) -> None:
    debtor = build_debtor(session_factory, unique_name, payee=False)
    message = _message(session_factory, call_with_promise(session_factory, debtor, MONDAY_NOON))
    assert message.reason == "no_payee"


def test_caps_two_a_day_four_a_week_across_days_and_weeks(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    day = dt.timedelta(days=1)
    plan = [
        (MONDAY_NOON, None),
        (MONDAY_NOON + dt.timedelta(hours=2), None),
        (MONDAY_NOON + dt.timedelta(hours=3), "cap_day"),  # a third on Monday
        (MONDAY_NOON + day, None),
        (MONDAY_NOON + day + dt.timedelta(hours=1), None),  # the week's 4th
        (MONDAY_NOON + 2 * day, "cap_week"),  # Wednesday: the week is full
        (MONDAY_NOON + 7 * day, None),  # next Monday: a new week
    ]
    for at, reason in plan:
        with session_factory() as session:
            allowed = can_send_message(session, debtor.account_id, debtor.phone_id, at)
        message = _message(session_factory, call_with_promise(session_factory, debtor, at))
        assert message.reason == reason, at
        assert allowed is (reason is None)
        assert message.status is (MessageStatus.QUEUED if reason is None else MessageStatus.REFUSED)


def test_caps_sixteen_a_month(session_factory: sessionmaker[Session], unique_name: str) -> None:
    debtor = build_debtor(session_factory, unique_name)
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)  # a Tuesday
    reasons = []
    # Two a day, four a week: Tue Wed, then Mon Tue of each following week.
    days = [0, 1, 6, 7, 13, 14, 20, 21, 27]
    for offset in days:
        for hour in (0, 1):
            at = start + dt.timedelta(days=offset, hours=hour)
            message = _message(session_factory, call_with_promise(session_factory, debtor, at))
            reasons.append(message.reason)
    assert reasons[:16] == [None] * 16
    assert reasons[16:] == ["cap_month", "cap_month"]


def test_outside_hours_the_message_waits_for_them(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    late = dt.datetime(2026, 11, 23, 19, 30, tzinfo=dt.UTC)  # 22:30 in Moscow
    message = _message(session_factory, call_with_promise(session_factory, debtor, late))
    assert message.status is MessageStatus.QUEUED
    assert message.next_try_at == dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)  # 08:00


def test_a_fault_in_the_outbox_never_loses_the_call_end(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    # A link lifetime no date can hold: writing the message fails, the call's end stays.
    debtor = build_debtor(session_factory, unique_name, link_ttl_days=10**9)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    with session_factory() as session:
        call = session.get_one(Call, call_id)
        assert call.ended_at == MONDAY_NOON
        assert call.outcome == "promise"
        assert (
            session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.call_id == call_id))
            is None
        )
    assert _day_messages(session_factory, debtor.account_id) == 0


def _claim(factory: sessionmaker[Session], debtor_org: int, at: dt.datetime) -> list[int]:
    with factory.begin() as session:
        claimed = claim_due(
            session,
            worker_id="t",
            now=at,
            want=10,
            lease=dt.timedelta(minutes=2),
            page_base_url="https://pay.example",
            organisation_ids={debtor_org},
        )
        return [sms.message_id for sms in claimed]


def test_the_sender_checks_again_what_changed_after_the_call(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    with session_factory.begin() as session:
        session.add(
            StopFlagRecord(account_id=debtor.account_id, flag="bankrupt", set_at=MONDAY_NOON)
        )
    assert _claim(session_factory, debtor.organisation_id, MONDAY_NOON) == []
    message = _message(session_factory, call_id)
    assert (message.status, message.reason) == (MessageStatus.REFUSED, "stop_flag")


def test_the_sender_waits_for_the_debtors_hours(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    debtor = build_debtor(session_factory, unique_name)
    call_id = call_with_promise(session_factory, debtor, MONDAY_NOON)
    night = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)  # 23:00 in Moscow
    assert _claim(session_factory, debtor.organisation_id, night) == []
    message = _message(session_factory, call_id)
    assert message.status is MessageStatus.QUEUED
    assert message.next_try_at == dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)
    morning = dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)
    assert _claim(session_factory, debtor.organisation_id, morning) == [message.id]
    sending = _message(session_factory, call_id)
    assert (sending.status, sending.tries, sending.lease_owner) == (MessageStatus.SENDING, 1, "t")
    assert sending.text.endswith(f"https://pay.example/pay/{sending.page_token}")


@pytest.mark.parametrize(
    ("options", "can_text"),
    [({}, True), ({"number": "+74951234567"}, False), ({"payee": False}, False)],
)
def test_the_call_knows_before_dialling_whether_it_may_promise_a_message(
    session_factory: sessionmaker[Session], unique_name: str, options: dict[str, object],
    can_text: bool,
) -> None:  # fmt: skip
    """The runner's account variables carry it, so the script never says «пришлём в СМС»
    for a landline or an organisation without bank details (issue 15)."""
    from dialer.session.accounts import account_variables

    debtor = build_debtor(session_factory, unique_name, **options)  # type: ignore[arg-type]
    with session_factory() as session:
        variables = account_variables(session, debtor.account_id, debtor.phone_id, now=MONDAY_NOON)
        assert variables.can_text is can_text
        assert account_variables(session, debtor.account_id, debtor.phone_id).can_text
