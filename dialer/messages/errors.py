"""The exceptions of the messages part, in one tree.

``MessageError``
  ``PayeeError`` — an organisation's bank details fail a check (the message names the field)
  ``TemplateError`` — a message template names an unknown field or is malformed
  ``GatewayError`` — the gateway did not take a message
    ``GatewayUnavailable`` — nobody answered or the answer was cut off: try again later
    ``GatewayRejected`` — the gateway or the SMSC refused it for good (``code`` says why)
"""

from __future__ import annotations

__all__ = [
    "GatewayError",
    "GatewayRejected",
    "GatewayUnavailable",
    "MessageError",
    "PayeeError",
    "TemplateError",
]


class MessageError(Exception):
    """Base of every error of :mod:`dialer.messages`."""


class PayeeError(MessageError, ValueError):
    """Bank details that a bank would refuse (wrong length, control digit, key)."""


class TemplateError(MessageError, ValueError):
    """A message template that cannot be rendered."""


class GatewayError(MessageError):
    """The gateway did not accept a message."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class GatewayUnavailable(GatewayError):
    """Transient: connection refused, timeout, a 5xx or a cut-off answer. Retried."""


class GatewayRejected(GatewayError):
    """Permanent: the gateway or the SMSC refused the message. Stored with its code."""
