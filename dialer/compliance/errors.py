"""Errors of the compliance rules.

``ComplianceError``
  ``ComplianceConfigError`` — a window, cap or calendar correction that cannot be used
  (looser than the law, malformed); the message names the value.
"""

from __future__ import annotations

__all__ = ["ComplianceError", "ComplianceConfigError"]


class ComplianceError(Exception):
    """Base of the compliance errors."""


class ComplianceConfigError(ComplianceError, ValueError):
    """A compliance setting is malformed or looser than the law allows."""
