"""Storing a call and its turns as it happens: what the call session writes.

Each function is one short transaction of its own, so a crash mid-call loses at most the
turn in progress. The worker counts the call (``counted_as``) when it records the outcome.
The message the script asked for is written in the call's final transaction (the outbox,
:mod:`dialer.messages`), inside a savepoint: a fault there never loses the call's end.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.attempts import ClaimedAttempt
from dialer.messages.outbox import MessageRequest, enqueue_after_call
from storage.models.campaigns import Call, Turn

__all__ = ["TurnRecord", "open_call", "mark_answered", "add_turn", "close_call"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One exchange: the robot's words, the debtor's answer, tags and the turn latency."""

    index: int
    robot_text: str
    debtor_text: str | None = None
    asked: str | None = None
    tags: dict[str, float] = field(default_factory=dict)
    promise_date: dt.date | None = None
    promise_amount: Decimal | None = None
    latency_ms: int | None = None
    recognition_ms: int | None = None


def open_call(
    factory: sessionmaker[Session], attempt: ClaimedAttempt, started_at: dt.datetime
) -> int:
    """A new ``calls`` row for the attempt, before dialling; returns its id."""
    with factory.begin() as session:
        call = Call(
            attempt_id=attempt.attempt_id,
            account_id=attempt.account_id,
            phone_id=attempt.phone_id,
            script=attempt.script,
            started_at=started_at,
        )
        session.add(call)
        session.flush()
        return call.id


def mark_answered(factory: sessionmaker[Session], call_id: int, at: dt.datetime) -> None:
    """The callee picked up (from now on the call may count as a contact)."""
    with factory.begin() as session:
        session.get_one(Call, call_id).answered_at = at


def add_turn(factory: sessionmaker[Session], call_id: int, turn: TurnRecord) -> None:
    """Store one finished turn."""
    with factory.begin() as session:
        session.add(
            Turn(
                call_id=call_id,
                index=turn.index,
                robot_text=turn.robot_text,
                debtor_text=turn.debtor_text,
                asked=turn.asked,
                tags=dict(turn.tags),
                promise_date=turn.promise_date,
                promise_amount=turn.promise_amount,
                latency_ms=turn.latency_ms,
                recognition_ms=turn.recognition_ms,
            )
        )


def close_call(
    factory: sessionmaker[Session],
    call_id: int,
    *,
    ended_at: dt.datetime,
    outcome: str,
    sip_cause: int | None = None,
    recording_path: str | None = None,
    failure_reason: str | None = None,
    first_word_ms: int | None = None,
    message: MessageRequest | None = None,
) -> None:
    """The call ended: outcome, SIP cause, recording, the failure reason if any, and how long
    the debtor waited after answering for the robot's first sound; and the message the
    script asked for (queued, or refused with the reason)."""
    with factory.begin() as session:
        call = session.get_one(Call, call_id)
        call.ended_at = ended_at
        call.outcome = outcome
        call.sip_cause = sip_cause
        call.recording_path = recording_path
        call.failure_reason = failure_reason[:500] if failure_reason else None
        call.first_word_ms = first_word_ms
        if message is not None and message.kinds:
            session.flush()
            _enqueue(session, call_id, message, ended_at)


def _enqueue(session: Session, call_id: int, message: MessageRequest, now: dt.datetime) -> None:
    # The one boundary where anything the outbox raises is caught: the call's end must be
    # stored whatever happens to its message (rolled back to the savepoint, logged once).
    try:
        with session.begin_nested():
            enqueue_after_call(session, call_id=call_id, request=message, now=now)
    except Exception as err:
        # The type only: a database error's text carries the statement's parameters.
        log.error("call %s: its message could not be written (%s)", call_id, type(err).__name__)
