"""The telephony exception tree.

``TelephonyError``
    ├── ``AdapterUnavailable`` — the adapter's SIP library is not installed or cannot start.
    ├── ``UnsupportedByAdapter`` — the configuration or the far end needs something this
    │   adapter cannot do (pyVoIP and a trunk that demands 407, for example); the message
    │   says what and which adapter can.
    ├── ``CallNotActive`` — an operation on a call that has already ended.
    ├── ``RegistrationFailed`` — the registrar refused or never answered REGISTER.
    └── ``TransferError`` — a blind transfer did not hand the call over; the call is still
        up with the robot (``status``/``reason``: the SIP status behind it, when known).
        ├── ``TransferUnsupported`` — this adapter cannot transfer (also an
        │   ``UnsupportedByAdapter``): bridge the call instead.
        ├── ``TransferRefused`` — the far end or the trunk refused the REFER itself
        │   (403, 405, 501 …): bridge the call instead.
        ├── ``TransferTargetFailed`` — the REFER was accepted, but the call to the target
        │   failed (the NOTIFY's sipfrag: 486 busy, 480, 408, 487 …).
        └── ``TransferTimedOut`` — no outcome within the transfer timeout.

Ordinary telephony outcomes (busy, no answer, rejected) are not exceptions: they are
:class:`~dialer.telephony.port.CallResult` values.
"""

from __future__ import annotations

__all__ = [
    "AdapterUnavailable",
    "CallNotActive",
    "RegistrationFailed",
    "TelephonyError",
    "TransferError",
    "TransferRefused",
    "TransferTargetFailed",
    "TransferTimedOut",
    "TransferUnsupported",
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


class TransferError(TelephonyError):
    """A blind transfer did not hand the call over; the call stays with the robot."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class TransferUnsupported(TransferError, UnsupportedByAdapter):
    """The adapter cannot transfer a call by REFER; bridge it instead."""


class TransferRefused(TransferError):
    """The far end (or the trunk) refused the REFER: transfers are not allowed there."""


class TransferTargetFailed(TransferError):
    """The REFER was accepted, but the target did not answer (busy, no answer, …)."""


class TransferTimedOut(TransferError):
    """No transfer outcome arrived in time (the far end may accept a REFER and never report)."""
