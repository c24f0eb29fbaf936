"""Call-progress tones the robot plays itself, as 8 kHz s16le audio.

The robot relays a transfer through itself (a bridge): while the collector's phone rings the
debtor hears the robot's line, and silence there sounds like a dropped call. An exchange
would play a ringing tone; so does the robot: 425 Hz, 1 s on and 4 s off — the ETSI
cadence (ETSI ES 201 970) used by Russian exchanges and gateways (Eltex TAU's default
``ringbacktone_time_rule: 1000.4000``).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from dialer.telephony.port import SAMPLE_RATE_HZ

__all__ = ["RINGBACK_HZ", "ringback"]

RINGBACK_HZ: Final = 425.0
_ON_S: Final = 1.0
_OFF_S: Final = 4.0
# About −17 dBFS RMS: a tone as loud as a quiet voice, as exchanges send it.
_AMPLITUDE: Final = 6000


def ringback(seconds: float) -> bytes:
    """``seconds`` of ringing tone, starting with a tone (the cadence cut where it ends)."""
    samples = max(0, round(seconds * SAMPLE_RATE_HZ))
    t = np.arange(samples) / SAMPLE_RATE_HZ
    on = (t % (_ON_S + _OFF_S)) < _ON_S
    # A burst is 425 whole cycles: it starts and ends at a zero of the sine, so no clicks.
    wave = _AMPLITUDE * np.sin(2 * np.pi * RINGBACK_HZ * t) * on
    return wave.astype("<i2").tobytes()
