"""The telephony port: what the call session sees of a phone call.

Obligations every adapter keeps (the contract suite in ``tests/dialer/telephony`` checks them
against the in-process pair and against real SIP peers):

- Audio is 20 ms frames of 8 kHz signed 16-bit little-endian mono: 320 bytes each
  (:data:`FRAME_BYTES`). ``frames()`` yields the far end's audio as it arrives — about one
  frame per 20 ms, silence included, while the far end sends RTP (a held or one-way line
  sends none; a jitter buffer may drop a frame to keep latency low) — and ends when the
  call ends. Slow readers lose the oldest frames, never the newest.
- ``play()`` sends audio paced in real time and keeps at most ~60 ms queued ahead of the
  wire, so ``stop_playback()`` silences the robot at once (barge-in). It returns True when
  everything was sent, False when it was stopped or the call ended.
- ``dtmf()`` yields the far end's digits (``0-9 * # A-D``) and ends with the call.
- ``dial()`` returns when the call is answered or has failed; a failed call comes back with
  its final :class:`CallResult` already set (busy, no answer, …), not as an exception.
  ``hangup()`` works in any state and returns the final result.
- Whoever dials owns the call: it must end with ``hangup()`` or the far end's hang-up.
- ``blind_transfer()`` hands an answered call to another party by SIP REFER and waits for
  the outcome: on success the call has ended for the robot (reason :data:`TRANSFERRED`);
  on failure it raises a :class:`~dialer.telephony.errors.TransferError` and the call is
  still up with the robot. ``TransferUnsupported`` (the adapter cannot) and
  ``TransferRefused`` (the far end refused the REFER) mean: bridge the call instead
  (:func:`dialer.telephony.bridge.bridge`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "SAMPLE_RATE_HZ",
    "TRANSFERRED",
    "TRANSFER_TIMEOUT_S",
    "Audio",
    "Call",
    "CallResult",
    "HangupBy",
    "Outcome",
    "Telephone",
    "outcome_for_status",
]

SAMPLE_RATE_HZ = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE_HZ * FRAME_MS // 1000 * 2

HangupBy = Literal["robot", "remote", "network"]

#: ``CallResult.reason`` of a call the robot handed over by a blind transfer.
TRANSFERRED = "transferred"
#: How long ``blind_transfer()`` waits for the outcome by default (the target rings meanwhile).
TRANSFER_TIMEOUT_S = 30.0

#: What ``play()`` accepts: raw s16le bytes, or frames, synchronous or streamed.
Audio = bytes | Iterable[bytes] | AsyncIterable[bytes]


class Outcome(StrEnum):
    """How a call attempt ended, as the campaign counts it."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CallResult:
    """The outcome of a call with the SIP cause behind it.

    For an answered call ``outcome`` is ANSWERED from the answer on; ``hangup_by``,
    ``duration_s`` and ``reason`` are filled in when it ends (``ended`` becomes True).
    """

    outcome: Outcome
    sip_status: int | None
    reason: str = ""
    ended: bool = False
    hangup_by: HangupBy | None = None
    duration_s: float = 0.0


# Final responses to an INVITE and what they mean for the campaign. 480 and 404 are the
# network's "абонент недоступен"/"номер не существует": the phone could not be reached.
_STATUS_OUTCOMES: dict[int, Outcome] = {
    408: Outcome.NO_ANSWER,
    487: Outcome.NO_ANSWER,
    486: Outcome.BUSY,
    600: Outcome.BUSY,
    603: Outcome.REJECTED,
    403: Outcome.REJECTED,
    404: Outcome.UNREACHABLE,
    410: Outcome.UNREACHABLE,
    480: Outcome.UNREACHABLE,
    484: Outcome.UNREACHABLE,
    604: Outcome.UNREACHABLE,
}


def outcome_for_status(status: int | None) -> Outcome:
    """Map the final SIP status of an INVITE to an :class:`Outcome`.

    2xx is ANSWERED; the table above covers the causes a dialer meets daily; every other
    failure (no status at all, auth trouble, 5xx from the trunk) is FAILED, so that it is
    looked at rather than silently retried as if the debtor had been busy.
    """
    if status is None:
        return Outcome.FAILED
    if 200 <= status < 300:
        return Outcome.ANSWERED
    return _STATUS_OUTCOMES.get(status, Outcome.FAILED)


class Call(Protocol):
    """One phone call, from dialling to the final result."""

    @property
    def call_id(self) -> str:
        """An identifier for logs (the SIP Call-ID where there is one; never a phone)."""
        ...

    @property
    def result(self) -> CallResult:
        """The outcome so far; final when ``result.ended`` or the call was never answered."""
        ...

    def frames(self) -> AsyncIterator[bytes]:
        """Received audio: one 320-byte frame per 20 ms until the call ends."""
        ...

    async def play(self, audio: Audio) -> bool:
        """Send audio paced in real time; True if all of it went out, False if stopped."""
        ...

    def stop_playback(self) -> None:
        """Stop the audio being played now; at most ~60 ms already queued still goes out."""
        ...

    @property
    def played_frames(self) -> int:
        """20 ms frames the last finished ``play()`` put on the wire: all of a completed one;
        of a stopped one, those sent before it stopped (a recording keeps only these)."""
        ...

    def dtmf(self) -> AsyncIterator[str]:
        """The far end's DTMF digits, one string per key, until the call ends."""
        ...

    async def hangup(self) -> CallResult:
        """End the call (CANCEL while ringing, BYE when answered); returns the final result."""
        ...

    async def wait_ended(self) -> CallResult:
        """Wait until the call has ended, by either side; returns the final result."""
        ...

    async def blind_transfer(
        self, target_uri: str, timeout_s: float = TRANSFER_TIMEOUT_S
    ) -> CallResult:
        """Hand the answered call to ``target_uri`` (REFER); the final result on success.

        ``target_uri`` is a SIP URI (``SipConfig.uri_for(number)``). Raises
        ``TransferUnsupported``, ``TransferRefused``, ``TransferTargetFailed`` (with the
        sipfrag's SIP status) or ``TransferTimedOut``, the call still up; ``CallNotActive``
        when the call is not (or no longer) up.
        """
        ...


class Telephone(Protocol):
    """Places calls."""

    async def dial(self, number: str, ring_timeout_s: float) -> Call:
        """Call ``number``; give up (CANCEL) after ``ring_timeout_s`` without an answer."""
        ...
