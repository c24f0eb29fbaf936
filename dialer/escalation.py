"""Escalation to a human collector («позвоночник»): rules as data, one open case per account.

Rules are per organisation (``organisation_policies.escalation_rules``) over defaults::

    {"refusal": {"enabled": false}, "repeated_no_answer": {"threshold": 4},
     "dispute": {"weight": 90}, "debt_step": 10000}

A case's priority is the largest weight of its reasons plus one point per ``debt_step``
roubles of debt (capped at 50), so a large disputed debt comes first. New reasons join the
account's open case; the case links to the account's history through ``account_id`` and
its last call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models.campaigns import OPEN_CASE_STATUSES, EscalationCase, EscalationStatus
from storage.models.enums import ContactKind as HistoryKind
from storage.models.history import ContactEvent

__all__ = [
    "EscalationError",
    "EscalationReason",
    "EscalationRule",
    "EscalationRules",
    "DEFAULT_ESCALATION_RULES",
    "escalate",
]


class EscalationError(ValueError):
    """Escalation rules that cannot be used; the message names the key."""


class EscalationReason(StrEnum):
    """Why a case goes to a collector."""

    DISPUTE = "dispute"
    OPERATOR_REQUEST = "operator_request"
    REFUSAL = "refusal"
    SERVICE_COMPLAINT = "service_complaint"
    ALREADY_PAID = "already_paid"  # a claim to verify against the bank register
    INSTALLMENT_REQUEST = "installment_request"
    MISUNDERSTOOD = "misunderstood"  # two misunderstood turns
    BROKEN_PROMISE = "broken_promise"
    WRONG_PERSON_NO_OTHER_PHONE = "wrong_person_no_other_phone"
    REPEATED_NO_ANSWER = "repeated_no_answer"


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """One reason's rule: on or off, its weight, and a threshold where it counts events."""

    enabled: bool = True
    weight: int = 50
    threshold: int | None = None


_DEFAULT_RULES = {
    EscalationReason.DISPUTE: EscalationRule(weight=80),
    EscalationReason.OPERATOR_REQUEST: EscalationRule(weight=70),
    EscalationReason.REFUSAL: EscalationRule(weight=60),
    EscalationReason.SERVICE_COMPLAINT: EscalationRule(weight=50),
    EscalationReason.ALREADY_PAID: EscalationRule(weight=40),
    EscalationReason.INSTALLMENT_REQUEST: EscalationRule(weight=55),
    EscalationReason.MISUNDERSTOOD: EscalationRule(weight=30),
    EscalationReason.BROKEN_PROMISE: EscalationRule(weight=65),
    EscalationReason.WRONG_PERSON_NO_OTHER_PHONE: EscalationRule(weight=35),
    EscalationReason.REPEATED_NO_ANSWER: EscalationRule(weight=20, threshold=5),
}


@dataclass(frozen=True, slots=True)
class EscalationRules:
    """Every reason's rule and how debt raises priority."""

    rules: Mapping[EscalationReason, EscalationRule] = field(
        default_factory=lambda: MappingProxyType(dict(_DEFAULT_RULES))
    )
    debt_step: Decimal = Decimal("10000")

    def applies(self, reason: EscalationReason) -> bool:
        """Whether ``reason`` opens or joins a case."""
        return self.rules[reason].enabled

    def threshold(self, reason: EscalationReason) -> int:
        """The count at which a counting reason fires (e.g. no answers in a row)."""
        return self.rules[reason].threshold or 1

    def priority(self, reasons: Iterable[EscalationReason], debt: Decimal) -> int:
        """Largest weight among ``reasons`` plus one per ``debt_step`` of debt (≤ 50)."""
        weight = max((self.rules[r].weight for r in reasons), default=0)
        steps = int(max(debt, Decimal(0)) // self.debt_step) if self.debt_step > 0 else 0
        return weight + min(steps, 50)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> EscalationRules:
        """Defaults overridden by an organisation's JSON (unknown keys are errors)."""
        rules = dict(_DEFAULT_RULES)
        debt_step = Decimal("10000")
        for key, value in data.items():
            if key == "debt_step":
                try:
                    debt_step = Decimal(str(value))
                except ArithmeticError as err:
                    raise EscalationError(f"escalation_rules.debt_step: {value!r}") from err
                continue
            try:
                reason = EscalationReason(key)
            except ValueError as err:
                raise EscalationError(f"escalation_rules: неизвестная причина {key!r}") from err
            if not isinstance(value, Mapping) or set(value) - {"enabled", "weight", "threshold"}:
                raise EscalationError(
                    f"escalation_rules.{key}: ожидается объект с enabled/weight/threshold"
                )
            base = rules[reason]
            enabled, weight, threshold = (
                value.get("enabled", base.enabled),
                value.get("weight", base.weight),
                value.get("threshold", base.threshold),
            )
            if not isinstance(enabled, bool) or not isinstance(weight, int):
                raise EscalationError(f"escalation_rules.{key}: enabled — да/нет, weight — число")
            if threshold is not None and (not isinstance(threshold, int) or threshold < 1):
                raise EscalationError(f"escalation_rules.{key}.threshold: целое ≥ 1")
            rules[reason] = EscalationRule(enabled, weight, threshold)
        return cls(MappingProxyType(rules), debt_step)


DEFAULT_ESCALATION_RULES = EscalationRules()


def escalate(
    session: Session,
    *,
    organisation_id: int,
    account_id: int,
    reasons: Iterable[EscalationReason],
    debt: Decimal,
    now: dt.datetime,
    rules: EscalationRules = DEFAULT_ESCALATION_RULES,
    call_id: int | None = None,
) -> EscalationCase | None:
    """Open the account's case or join the open one with new reasons; ``None`` if no rule applies.

    Runs inside the caller's transaction. Two workers racing to open the first case for
    one account meet the partial unique index; the loser joins the winner's case.
    """
    wanted = [r for r in dict.fromkeys(reasons) if rules.applies(r)]
    if not wanted:
        return None
    for _ in range(2):
        case = session.scalars(
            sa.select(EscalationCase)
            .where(
                EscalationCase.account_id == account_id,
                EscalationCase.status.in_(OPEN_CASE_STATUSES),
            )
            .with_for_update()
        ).first()
        if case is not None:
            merged = list(dict.fromkeys([*case.reasons, *(r.value for r in wanted)]))
            case.reasons = merged
            case.debt = debt
            case.priority = rules.priority((EscalationReason(r) for r in merged), debt)
            case.updated_at = now
            if call_id is not None:
                case.last_call_id = call_id
            break
        case = EscalationCase(
            organisation_id=organisation_id,
            account_id=account_id,
            status=EscalationStatus.OPEN,
            reasons=[r.value for r in wanted],
            priority=rules.priority(wanted, debt),
            debt=debt,
            last_call_id=call_id,
            notes="",
            opened_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(case)
        except IntegrityError:
            continue  # another worker opened it just now: join theirs
        break
    else:  # pragma: no cover - two lost races in a row means the index is missing
        raise EscalationError(f"account {account_id}: could not open or join a case")
    session.add(
        ContactEvent(
            organisation_id=organisation_id,
            account_id=account_id,
            kind=HistoryKind.ESCALATION,
            occurred_at=now,
            actor="robot",
            summary="Передано взыскателю: " + ", ".join(r.value for r in wanted),
            ref_table="escalation_cases",
            ref_id=case.id,
            details={"reasons": [r.value for r in wanted], "priority": case.priority},
        )
    )
    return case
