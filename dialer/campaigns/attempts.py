"""What a worker hands to a call runner, what the runner hands back, and why an account
is left out of a claim."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from dialer.compliance import CallOutcome

__all__ = [
    "ClaimedAttempt",
    "AttemptOutcome",
    "CallbackRequest",
    "PromiseMade",
    "EscalationRequest",
    "LeftOut",
]


@dataclass(frozen=True, slots=True)
class ClaimedAttempt:
    """A due attempt a worker holds a lease on: everything needed to place the call.

    ``phone_number`` is personal data: it is kept out of ``repr`` and must never be logged.
    """

    attempt_id: int
    campaign_id: int
    organisation_id: int
    account_id: int
    phone_id: int
    phone_number: str = field(repr=False)
    script: str
    purpose: str  # reminder, thanks, broken_promise
    number: int  # 1 for the first call of the chain
    debt: Decimal
    time_zone: str
    lease_owner: str
    lease_expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PromiseMade:
    """A promise to pay heard in the call: by ``due_on``, ``amount`` (None: the whole debt)."""

    due_on: dt.date
    amount: Decimal | None = None


class EscalationRequest(StrEnum):
    """What the call session saw that may need a human (the rules decide; see dialer.escalation)."""

    DISPUTE = "dispute"
    OPERATOR_REQUEST = "operator_request"
    REFUSAL = "refusal"
    SERVICE_COMPLAINT = "service_complaint"
    ALREADY_PAID = "already_paid"
    INSTALLMENT_REQUEST = "installment_request"
    MISUNDERSTOOD = "misunderstood"  # two turns in a row not understood
    WRONG_PERSON = "wrong_person"


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """The debtor asked to be called back; ``words`` are what they said about when
    (read by :mod:`dialer.campaigns.callbacks`). Transcript text: kept out of ``repr``,
    never logged."""

    words: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How one call ended, as the call runner reports it.

    ``call_id`` is the ``calls`` row the runner stored (None when no call was placed).
    ``do_not_call``: the debtor said «не звоните мне»; ``wrong_number``: the person who
    answered is not the debtor and does not know them. ``callback``: the debtor asked to
    be called back later (the next attempt goes at the time asked, within the law).
    """

    result: CallOutcome
    call_id: int | None = None
    promise: PromiseMade | None = None
    requests: frozenset[EscalationRequest] = frozenset()
    do_not_call: bool = False
    wrong_number: bool = False
    failure_reason: str | None = None
    callback: CallbackRequest | None = None


class LeftOut(StrEnum):
    """Why an account is not called at a given moment (``campaign plan`` and the claim)."""

    CAMPAIGN_INACTIVE = "campaign_inactive"
    OUTSIDE_SCHEDULE = "outside_schedule"  # before the campaign's first or after its last day
    IN_FLIGHT = "in_flight"  # a worker is calling it now
    NOT_DUE = "not_due"  # a retry or re-reminder later
    STOP_FLAG = "stop_flag"
    NO_PHONE = "no_phone"
    PAID = "paid"
    HOURS = "hours"  # outside the calling window in the debtor's local time
    CAP = "cap"  # a day/week/month cap is reached
    ALREADY_ACTIVE = "already_active"  # in another campaign's open attempt
    PACING = "pacing"  # the campaign's concurrency or rate limit is full
    FINISHED = "finished"  # the chain ended (done, exhausted, cancelled)
