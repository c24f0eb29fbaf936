"""Telephony: one port (:mod:`dialer.telephony.port`) and its adapters.

Adapters: :mod:`dialer.telephony.baresip` (baresip-python, the production default),
:mod:`dialer.telephony.pyvoip` (pyVoIP 1.6.8, optional, GPLv3: ``pip install napomni[pyvoip]``)
and :mod:`dialer.telephony.loopback` (an in-process pair for tests). Adapters are imported
by name, never from here, so importing the port never loads a SIP stack.
"""

from dialer.telephony.config import Codec, SipConfig, Transport
from dialer.telephony.errors import (
    AdapterUnavailable,
    CallNotActive,
    TelephonyError,
    TransferError,
    TransferRefused,
    TransferTargetFailed,
    TransferTimedOut,
    TransferUnsupported,
    UnsupportedByAdapter,
)
from dialer.telephony.port import (
    FRAME_BYTES,
    FRAME_MS,
    SAMPLE_RATE_HZ,
    TRANSFER_TIMEOUT_S,
    TRANSFERRED,
    Call,
    CallResult,
    HangupBy,
    Outcome,
    Telephone,
)

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "SAMPLE_RATE_HZ",
    "TRANSFERRED",
    "TRANSFER_TIMEOUT_S",
    "AdapterUnavailable",
    "Call",
    "CallNotActive",
    "CallResult",
    "Codec",
    "HangupBy",
    "Outcome",
    "SipConfig",
    "Telephone",
    "TelephonyError",
    "TransferError",
    "TransferRefused",
    "TransferTargetFailed",
    "TransferTimedOut",
    "TransferUnsupported",
    "Transport",
    "UnsupportedByAdapter",
]
