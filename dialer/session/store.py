"""The call log on the database: :class:`~dialer.session.ports.CallLog` over SQLAlchemy.

Turns, the answer and the end are written through :mod:`dialer.campaigns.call_log` (one
short transaction each), so a call looks the same whoever placed it. The promise row is
written here only for calls placed outside a campaign (``napomni call``): under the worker
the campaign records the promise from the attempt's outcome, once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns import call_log
from dialer.messages.outbox import MessageRequest
from dialer.session.ports import CallClosing
from dialer.session.report import CallOpening, TurnRecord
from storage.models.campaigns import Call, Promise

__all__ = ["SqlCallLog"]


class SqlCallLog:
    """Writes calls, turns and (optionally) promises; each method is one transaction."""

    def __init__(self, factory: sessionmaker[Session], *, store_promises: bool) -> None:
        self._factory = factory
        self._store_promises = store_promises

    def open_call(self, opening: CallOpening) -> int:
        """Insert the ``calls`` row before dialling."""
        with self._factory.begin() as session:
            call = Call(
                attempt_id=opening.attempt_id,
                account_id=opening.account_id,
                phone_id=opening.phone_id,
                script=opening.script,
                started_at=opening.started_at,
            )
            session.add(call)
            session.flush()
            return call.id

    def mark_answered(self, call_id: int, at: dt.datetime) -> None:
        """Someone picked up."""
        call_log.mark_answered(self._factory, call_id, at)

    def add_turn(self, call_id: int, turn: TurnRecord) -> None:
        """One turn, its own transaction."""
        call_log.add_turn(
            self._factory,
            call_id,
            call_log.TurnRecord(
                index=turn.index,
                robot_text=turn.robot_text,
                debtor_text=turn.debtor_text,
                asked=turn.asked,
                tags=dict(turn.tags),
                promise_date=turn.promise_date,
                promise_amount=turn.promise_amount,
                latency_ms=turn.latency_ms,
                recognition_ms=turn.recognition_ms,
            ),
        )

    def close_call(self, call_id: int, account_id: int, closing: CallClosing) -> None:
        """The end of the call (and the promise, outside campaigns)."""
        call_log.close_call(
            self._factory,
            call_id,
            ended_at=closing.ended_at,
            outcome=closing.outcome,
            sip_cause=closing.result.sip_status,
            recording_path=closing.recording_path,
            failure_reason=closing.failure_reason,
            first_word_ms=closing.first_word_ms,
            message=MessageRequest(
                kinds=closing.messages,
                amount=closing.promise_amount if closing.promise_amount else closing.debt,
                due_on=closing.promise_due,
            )
            if closing.messages
            else None,
        )
        if self._store_promises and closing.promise_due is not None and closing.debt is not None:
            with self._factory.begin() as session:
                session.add(
                    Promise(
                        account_id=account_id,
                        call_id=call_id,
                        due_on=closing.promise_due,
                        amount=closing.promise_amount,
                        debt_at_promise=closing.debt,
                    )
                )
