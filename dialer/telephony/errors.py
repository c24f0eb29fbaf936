"""The telephony exception tree.

``TelephonyError``
    ├── ``AdapterUnavailable`` — the adapter's SIP library is not installed or cannot start.
    ├── ``UnsupportedByAdapter`` — the configuration or the far end needs something this
    │   adapter cannot do (pyVoIP and a trunk that demands 407, for example); the message
    │   says what and which adapter can.
    ├── ``CallNotActive`` — an operation on a call that has already ended.
    └── ``RegistrationFailed`` — the registrar refused or never answered REGISTER.

Ordinary telephony outcomes (busy, no answer, rejected) are not exceptions: they are
:class:`~dialer.telephony.port.CallResult` values.
"""

from __future__ import annotations

__all__ = [
    "AdapterUnavailable",
    "CallNotActive",
    "RegistrationFailed",
    "TelephonyError",
    "UnsupportedByAdapter",
]


class TelephonyError(Exception):
    """Base class of every telephony error."""


class AdapterUnavailable(TelephonyError):
    """The adapter's SIP library is missing or failed to start."""


class UnsupportedByAdapter(TelephonyError):
    """The adapter cannot do what the configuration or the far end demands."""


class CallNotActive(TelephonyError):
    """The call has ended; audio and DTMF can no longer be exchanged."""


class RegistrationFailed(TelephonyError):
    """The registrar refused the robot's REGISTER or never answered it."""
