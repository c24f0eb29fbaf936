"""How each call outcome counts towards the caps, and the flags that stop all contact.

A real dialogue with the debtor is a *conversation*; an announcement played to voicemail or
to someone who is not the debtor is a *message*; a call nobody answered is nothing. FSSP
practice (consultant.ru LAW_422276 §4) leaves open whether a robot's dialogue is a
conversation or a message, so an organisation may count outcomes more strictly
(:class:`CountingRules`), never more loosely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from dialer.compliance.caps import ContactKind
from dialer.compliance.errors import ComplianceConfigError

__all__ = ["CallOutcome", "CountingRules", "StopFlag", "DEFAULT_COUNTING"]


class CallOutcome(StrEnum):
    """The end of one call as the campaign sees it."""

    CONVERSATION = "conversation"  # a dialogue with the debtor (or someone who spoke for them)
    VOICEMAIL = "voicemail"  # the announcement went to voicemail or an answering machine
    THIRD_PARTY = "third_party"  # answered by someone else, a short message left
    HUNG_UP = "hung_up"  # answered and hung up during the greeting
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    FAILED = "failed"  # never connected: a network or local error

    @property
    def answered(self) -> bool:
        """Whether someone (or something) picked up."""
        return self in _ANSWERED


_ANSWERED = frozenset(
    {CallOutcome.CONVERSATION, CallOutcome.VOICEMAIL, CallOutcome.THIRD_PARTY, CallOutcome.HUNG_UP}
)

_RANK = {ContactKind.NONE: 0, ContactKind.MESSAGE: 1, ContactKind.CONVERSATION: 2}

_DEFAULT = {
    CallOutcome.CONVERSATION: ContactKind.CONVERSATION,
    CallOutcome.VOICEMAIL: ContactKind.MESSAGE,
    CallOutcome.THIRD_PARTY: ContactKind.MESSAGE,
    # The greeting names the organisation, so an answered call is at least a message.
    CallOutcome.HUNG_UP: ContactKind.MESSAGE,
    CallOutcome.NO_ANSWER: ContactKind.NONE,
    CallOutcome.BUSY: ContactKind.NONE,
    CallOutcome.REJECTED: ContactKind.NONE,
    CallOutcome.UNREACHABLE: ContactKind.NONE,
    CallOutcome.FAILED: ContactKind.NONE,
}


@dataclass(frozen=True, slots=True)
class CountingRules:
    """Outcome → contact kind; overrides may only count an outcome as more, never less."""

    overrides: Mapping[CallOutcome, ContactKind] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        for outcome, kind in self.overrides.items():
            if _RANK[kind] < _RANK[_DEFAULT[outcome]]:
                raise ComplianceConfigError(
                    f"исход {outcome.value} нельзя считать как {kind.value}: "
                    f"по умолчанию он {_DEFAULT[outcome].value}, мягче нельзя"
                )

    def kind_of(self, outcome: CallOutcome) -> ContactKind:
        """How a call with ``outcome`` counts."""
        return self.overrides.get(outcome, _DEFAULT[outcome])


DEFAULT_COUNTING = CountingRules()


class StopFlag(StrEnum):
    """A reason that blocks every contact (230-ФЗ art. 7 ч.1, the debtor's refusal, disputes)."""

    DO_NOT_CALL = "do_not_call"  # the debtor said «не звоните мне» or refused at the operator
    WRONG_NUMBER = "wrong_number"  # a phone: the person there is not the debtor
    BANKRUPT = "bankrupt"
    IN_HOSPITAL = "in_hospital"
    DISABILITY_GROUP_1 = "disability_group_1"
    INCAPACITATED = "incapacitated"
    MINOR = "minor"
    DECEASED = "deceased"
    DISPUTE_UNDER_REVIEW = "dispute_under_review"
