"""Errors of campaigns and the attempt queue.

``CampaignError``
  ``CampaignNotFound`` — no campaign by that name or id;
  ``CampaignStateError`` — the action does not fit the campaign's status;
  ``CampaignConfigError`` — a filter, policy or parameter that cannot be used (names the field);
  ``LeaseLost`` — the worker no longer holds the attempt (its lease ran out and the attempt
  went back to the queue); the outcome is not recorded, so nothing is counted twice.
"""

from __future__ import annotations

__all__ = [
    "CampaignError",
    "CampaignNotFound",
    "CampaignStateError",
    "CampaignConfigError",
    "LeaseLost",
]


class CampaignError(Exception):
    """Base of the campaign errors."""


class CampaignNotFound(CampaignError, LookupError):
    """No such campaign."""


class CampaignStateError(CampaignError):
    """The campaign's status does not allow the action."""


class CampaignConfigError(CampaignError, ValueError):
    """A campaign or policy setting is malformed; the message names the field."""


class LeaseLost(CampaignError):
    """The attempt's lease is no longer this worker's."""
