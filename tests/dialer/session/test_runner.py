"""How a call's report becomes the worker's attempt outcome (what counts, what escalates)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from classifier.contract import Tag
from dialer.campaigns.attempts import EscalationRequest
from dialer.compliance import CallOutcome
from dialer.runner import attempt_outcome
from dialer.session import CallReport, TurnRecord
from dialer.telephony.port import CallResult, Outcome
from scripts.actions import Escalate, OutcomeKind, Priority, Promise
from scripts.actions import Outcome as Conversation

ANSWERED = CallResult(Outcome.ANSWERED, 200, "BYE", ended=True, hangup_by="robot")
HEARD = (TurnRecord(0, "Это Иванов Иван Петрович?", "да это я"),)


def report(outcome: Conversation | None, **kwargs: object) -> CallReport:
    fields: dict[str, object] = {"turns": HEARD, "recording_path": None}
    fields.update(kwargs)
    return CallReport(call_id=7, result=ANSWERED, outcome=outcome, **fields)  # type: ignore[arg-type]


def test_a_confirmed_promise_is_a_conversation_with_the_promise() -> None:
    due = dt.date(2026, 11, 25)
    made = attempt_outcome(
        report(Conversation(OutcomeKind.PROMISE, True, promise=Promise(due, Decimal(500), True)))
    )
    assert made.result is CallOutcome.CONVERSATION
    assert made.promise is not None
    assert (made.promise.due_on, made.promise.amount) == (due, Decimal(500))
    assert made.call_id == 7


def test_an_unconfirmed_promise_is_not_recorded() -> None:
    made = attempt_outcome(
        report(Conversation(OutcomeKind.HUNG_UP, True, promise=Promise(None, None, False)))
    )
    assert made.promise is None


def test_voicemail_counts_as_a_message() -> None:
    made = attempt_outcome(
        report(Conversation(OutcomeKind.NO_DIALOGUE, False, machine="voicemail"), turns=())
    )
    assert made.result is CallOutcome.VOICEMAIL


def test_someone_else_and_the_wrong_number() -> None:
    relative = attempt_outcome(report(Conversation(OutcomeKind.NOT_DEBTOR, False)))
    wrong = attempt_outcome(report(Conversation(OutcomeKind.WRONG_PERSON, False, phone_wrong=True)))
    assert relative.result is CallOutcome.THIRD_PARTY
    assert not relative.wrong_number
    assert wrong.result is CallOutcome.THIRD_PARTY
    assert wrong.wrong_number


def test_reasons_escalation_and_keys_become_requests() -> None:
    made = attempt_outcome(
        report(
            Conversation(
                OutcomeKind.ESCALATED,
                True,
                reasons=(Tag.DISPUTE_AMOUNT, Tag.FINANCIAL_HARDSHIP),
                escalation=Escalate("dispute_amount", Priority.NORMAL),
            ),
            operator_pressed=True,
            misunderstood_in_a_row=2,
        )
    )
    assert made.requests == {
        EscalationRequest.DISPUTE,
        EscalationRequest.OPERATOR_REQUEST,
        EscalationRequest.MISUNDERSTOOD,
    }


def test_a_failed_script_after_a_dialogue_still_counts_as_a_conversation() -> None:
    made = attempt_outcome(report(None, failure_reason="ConversationError: нет узла"))
    assert made.result is CallOutcome.CONVERSATION
    assert made.failure_reason == "ConversationError: нет узла"


def test_unanswered_calls_keep_their_outcome() -> None:
    busy = CallReport(7, CallResult(Outcome.BUSY, 486, "Busy Here", ended=True), None, (), None)
    assert attempt_outcome(busy).result is CallOutcome.BUSY
