"""Loading an organisation's rules (calling and escalation) from its policy row."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from dialer.campaigns.errors import CampaignConfigError
from dialer.campaigns.rules import CallRules, call_rules_from_json
from dialer.compliance import ProductionCalendar
from dialer.escalation import EscalationError, EscalationRules
from storage.models.campaigns import OrganisationPolicy

__all__ = ["OrganisationRules", "load_organisation_rules"]


@dataclass(frozen=True, slots=True)
class OrganisationRules:
    """Calling and escalation rules of one organisation."""

    calls: CallRules
    escalation: EscalationRules


def load_organisation_rules(
    session: Session, organisation_id: int, calendar: ProductionCalendar
) -> OrganisationRules:
    """The organisation's rules, or the defaults (the law) when it has no policy row."""
    policy = session.get(OrganisationPolicy, organisation_id)
    if policy is None:
        return OrganisationRules(CallRules(calendar=calendar), EscalationRules())
    try:
        escalation = EscalationRules.from_json(policy.escalation_rules or {})
    except EscalationError as err:
        raise CampaignConfigError(f"организация {organisation_id}: {err}") from err
    return OrganisationRules(call_rules_from_json(policy.call_rules or {}, calendar), escalation)
