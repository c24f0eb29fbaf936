"""The call runner the worker uses: a claimed attempt → a dialled, conducted, stored call.

:class:`SessionCallRunner` implements :class:`dialer.worker.CallRunner`: it reads what the
script may say about the account, dials through the telephone, lets the
:class:`~dialer.session.CallSession` talk and store the call, and tells the worker how it
ended (:func:`attempt_outcome`) — the campaign then counts it, records the promise and
decides on escalation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from classifier.contract import Tag
from dialer.campaigns.attempts import (
    AttemptOutcome,
    CallbackRequest,
    ClaimedAttempt,
    EscalationRequest,
    PromiseMade,
)
from dialer.compliance import CallOutcome
from dialer.script_library import UnknownScript, campaign_script
from dialer.session import CallContext, CallOpening, CallReport, CallSession
from dialer.session.accounts import account_variables, today_in
from dialer.session.errors import ScriptNotFound, SessionError
from dialer.session.transfer import TransferConfig, TransferDesk
from dialer.telephony.port import Outcome, Telephone
from scripts.actions import OutcomeKind
from scripts.engine import Conversation
from scripts.errors import ScriptError
from scripts.loader import is_script_name, library_script, load_script
from scripts.model import Script
from scripts.values import AccountVariables

__all__ = ["RunnerConfig", "ScriptBook", "SessionCallRunner", "attempt_outcome"]

logger = logging.getLogger(__name__)

_UNANSWERED = {
    Outcome.BUSY: CallOutcome.BUSY,
    Outcome.NO_ANSWER: CallOutcome.NO_ANSWER,
    Outcome.REJECTED: CallOutcome.REJECTED,
    Outcome.UNREACHABLE: CallOutcome.UNREACHABLE,
    Outcome.FAILED: CallOutcome.FAILED,
}
_TAG_REQUESTS = {
    Tag.DISPUTE_AMOUNT: EscalationRequest.DISPUTE,
    Tag.OPERATOR_REQUEST: EscalationRequest.OPERATOR_REQUEST,
    Tag.REFUSAL: EscalationRequest.REFUSAL,
    Tag.SERVICE_COMPLAINT: EscalationRequest.SERVICE_COMPLAINT,
    Tag.ALREADY_PAID: EscalationRequest.ALREADY_PAID,
    Tag.INSTALLMENT_REQUEST: EscalationRequest.INSTALLMENT_REQUEST,
    Tag.WRONG_PERSON: EscalationRequest.WRONG_PERSON,
}


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """How the runner dials, and how it connects a debtor who asks for a person
    (``transfer``; ``None``: never live, the case is always a callback)."""

    ring_timeout_s: float = 30.0
    transfer: TransferConfig | None = field(default_factory=TransferConfig)


class ScriptBook:
    """Scripts by name, loaded and validated once (the shipped library, or a folder)."""

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._loaded: dict[str, Script] = {}

    def get(self, name: str) -> Script:
        """The script called ``name``; :class:`ScriptNotFound` when there is none."""
        if name not in self._loaded:
            if not is_script_name(name):  # a folder's script never leaves the folder either
                raise ScriptNotFound(f"сценарий {name!r} не найден")
            path = self._folder / f"{name}.yaml" if self._folder else library_script(name)
            if not path.is_file():
                raise ScriptNotFound(f"сценарий {name!r} не найден ({path})")
            self._loaded[name] = load_script(path)
        return self._loaded[name]

    def for_campaign(
        self, session: Session, organisation_id: int, campaign_id: int, name: str
    ) -> Script:
        """The version of ``name`` the campaign pinned (edited on the web, else the library
        file); a book with its own folder (demos, tests) serves that folder's file instead."""
        if self._folder is not None:
            return self.get(name)
        try:
            return campaign_script(session, organisation_id, campaign_id, name)
        except UnknownScript as err:
            raise ScriptNotFound(str(err)) from err


class SessionCallRunner:
    """Runs claimed attempts through a telephone and the call session."""

    def __init__(
        self,
        telephone: Telephone,
        session: CallSession,
        factory: sessionmaker[Session],
        scripts: ScriptBook | None = None,
        config: RunnerConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._telephone = telephone
        self._session = session
        self._factory = factory
        self._scripts = scripts or ScriptBook()
        self._config = config or RunnerConfig()
        # The worker's clock: "today" for the debtor's dates follows it (the demo pins it).
        self._clock = clock
        # Collectors are dialled on the robot's own telephone (a bridge) or named in a REFER.
        transfer = self._config.transfer
        self._transfers = (
            TransferDesk(factory, telephone, transfer) if transfer is not None else None
        )

    def close(self) -> None:
        """Stop the session's rendering threads and recognition (the worker has stopped)."""
        self._session.close()

    async def run(self, attempt: ClaimedAttempt) -> AttemptOutcome:
        """Dial, talk, store; an attempt that cannot start is a failed call with the reason."""
        try:
            script = await asyncio.to_thread(self._script, attempt)
            variables = await asyncio.to_thread(self._variables, attempt)
            conversation = Conversation(script, variables)
        except (ScriptError, SessionError) as err:
            logger.warning("attempt %s: not started: %s", attempt.attempt_id, type(err).__name__)
            if self._session.metrics is not None:
                self._session.metrics.call_not_started()
            return AttemptOutcome(CallOutcome.FAILED, failure_reason=str(err)[:500])
        context = CallContext(
            opening=CallOpening(
                account_id=attempt.account_id,
                script=script.name,
                started_at=dt.datetime.now(dt.UTC),
                attempt_id=attempt.attempt_id,
                phone_id=attempt.phone_id,
            ),
            today=today_in(attempt.time_zone, self._clock()),
            debt=attempt.debt,
            call_ref=f"ЛС{attempt.account_id}/a{attempt.attempt_id}",
            transfers=self._transfers,
        )
        report = await self._session.place(
            self._telephone,
            attempt.phone_number,
            self._config.ring_timeout_s,
            conversation,
            context,
        )
        return attempt_outcome(report)

    def _script(self, attempt: ClaimedAttempt) -> Script:
        with self._factory() as db:
            return self._scripts.for_campaign(
                db, attempt.organisation_id, attempt.campaign_id, attempt.script
            )

    def _variables(self, attempt: ClaimedAttempt) -> AccountVariables:
        with self._factory() as session:
            return account_variables(
                session, attempt.account_id, attempt.phone_id, debt=attempt.debt,
                now=self._clock(),
            )  # fmt: skip


def attempt_outcome(report: CallReport) -> AttemptOutcome:
    """How the campaign should count a call and what it heard that may need a human.

    An answered call counts by what happened on the line, even when the script failed
    afterwards: a call that reached the debtor is never counted as "nothing".
    """
    result = report.result
    if result.outcome is not Outcome.ANSWERED:
        return AttemptOutcome(
            _UNANSWERED[result.outcome],
            call_id=report.call_id,
            failure_reason=report.failure_reason,
        )
    outcome = report.outcome
    debtor_spoke = any(t.debtor_text for t in report.turns)
    kind = outcome.kind if outcome is not None else None
    if outcome is not None and outcome.machine is not None:
        counted = CallOutcome.VOICEMAIL
    elif kind in (OutcomeKind.NOT_DEBTOR, OutcomeKind.WRONG_PERSON):
        counted = CallOutcome.THIRD_PARTY
    elif debtor_spoke and kind is not OutcomeKind.NO_DIALOGUE:
        counted = CallOutcome.CONVERSATION
    else:
        counted = CallOutcome.HUNG_UP
    promise = None
    if outcome is not None and outcome.promise is not None:
        made = outcome.promise
        if made.confirmed and made.due is not None:
            promise = PromiseMade(due_on=made.due, amount=made.amount)
    requests: set[EscalationRequest] = set()
    if outcome is not None:
        requests |= {_TAG_REQUESTS[t] for t in outcome.reasons if t in _TAG_REQUESTS}
    if report.escalation is not None:
        try:
            requests.add(EscalationRequest(report.escalation.reason))
        except ValueError:
            if report.escalation.reason == "dispute_amount":
                requests.add(EscalationRequest.DISPUTE)
    if report.operator_pressed:
        requests.add(EscalationRequest.OPERATOR_REQUEST)
    if report.misunderstood_in_a_row >= 2:
        requests.add(EscalationRequest.MISUNDERSTOOD)
    return AttemptOutcome(
        counted,
        call_id=report.call_id,
        promise=promise,
        requests=frozenset(requests),
        do_not_call=report.do_not_call,
        wrong_number=kind is OutcomeKind.WRONG_PERSON,
        failure_reason=report.failure_reason,
        callback=_callback(report) if kind is OutcomeKind.CALLBACK else None,
    )


def _callback(report: CallReport) -> CallbackRequest:
    """What the debtor said about when to call back: their words from the turn that asked
    for it («перезвоните вечером») to the answer to «Когда вам удобнее?»."""
    turns = [t for t in report.turns if t.debtor_text]
    asked = next(
        (i for i, t in enumerate(turns) if Tag.CALLBACK_LATER.value in t.tags), len(turns) - 1
    )
    return CallbackRequest(" ".join(str(t.debtor_text) for t in turns[max(asked, 0) :]))
