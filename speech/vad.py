"""Energy-based voice activity detection and endpointing on 20 ms telephony frames.

Good enough to tell a debtor's speech from line silence on a phone call, and cheap: one RMS
per frame. An utterance starts after ``min_speech_s`` of voiced frames and ends after
``trailing_silence_s`` of unvoiced ones (or at ``max_utterance_s``). Both recognition engines
use it, so endpointing behaves the same whichever engine runs.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from speech.audio import FRAME_MS

__all__ = ["EndpointConfig", "Endpointer", "SilenceGate", "VadState", "frame_dbfs"]


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """When an utterance starts and ends."""

    trailing_silence_s: float = 0.8
    speech_threshold_dbfs: float = -42.0
    min_speech_s: float = 0.1
    max_utterance_s: float = 20.0

    def __post_init__(self) -> None:
        if self.trailing_silence_s <= 0 or self.min_speech_s <= 0 or self.max_utterance_s <= 0:
            raise ValueError("длительности в EndpointConfig должны быть положительными")


class VadState(StrEnum):
    """What one frame means for the current utterance."""

    SILENCE = "silence"
    SPEECH_STARTED = "speech_started"
    SPEECH = "speech"
    SPEECH_ENDED = "speech_ended"


def frame_dbfs(pcm: bytes) -> float:
    """Loudness of s16le PCM in dB relative to full scale (−inf for digital silence)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return -math.inf
    rms = math.sqrt(float(np.mean(samples * samples)))
    return 20.0 * math.log10(rms / 32768.0) if rms > 0 else -math.inf


class Endpointer:
    """Tracks one stream's utterances frame by frame (20 ms frames, one stream each)."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self._frame_s = FRAME_MS / 1000
        self._in_speech = False
        self._voiced_run = 0
        self._silent_run = 0
        self._utterance_frames = 0
        self.last_trailing_s = 0.0

    @property
    def in_speech(self) -> bool:
        """True between SPEECH_STARTED and SPEECH_ENDED."""
        return self._in_speech

    def push(self, frame: bytes) -> VadState:
        """Classify the next frame."""
        voiced = frame_dbfs(frame) >= self.config.speech_threshold_dbfs
        if not self._in_speech:
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run * self._frame_s >= self.config.min_speech_s - 1e-9:
                self._in_speech = True
                self._utterance_frames = self._voiced_run
                self._silent_run = 0
                return VadState.SPEECH_STARTED
            return VadState.SILENCE
        self._utterance_frames += 1
        self._silent_run = 0 if voiced else self._silent_run + 1
        ended = self._silent_run * self._frame_s >= self.config.trailing_silence_s - 1e-9
        too_long = self._utterance_frames * self._frame_s >= self.config.max_utterance_s
        if ended or too_long:
            trailing = self._silent_run * self._frame_s
            self.reset()
            # How long the endpointer listened to silence before closing the utterance:
            # part of the debtor-perceived turn latency, spent before recognition starts.
            self.last_trailing_s = trailing
            return VadState.SPEECH_ENDED
        return VadState.SPEECH

    @property
    def silent_run_s(self) -> float:
        """How long the current utterance has been silent (0 outside one, or after a voiced
        frame)."""
        return self._silent_run * self._frame_s if self._in_speech else 0.0

    @property
    def voiced_lead_frames(self) -> int:
        """Voiced frames that led to SPEECH_STARTED (how far back the utterance began)."""
        return self._voiced_run

    def reset(self) -> None:
        """Forget the current utterance."""
        self._in_speech = False
        self._voiced_run = 0
        self._silent_run = 0
        self._utterance_frames = 0


class SilenceGate:
    """Which of a line's frames a streaming decoder needs: never the line's silence.

    A debtor is silent most of a call (the robot talks), and a streaming decoder costs as much
    on silence as on speech. The gate opens on any frame above ``threshold_dbfs`` — set below
    the endpointer's speech threshold, so quiet speech the endpointer misses still reaches the
    decoder — and hands over the ``lead_frames`` before it (the onset of a word is quiet), then
    stays open while the caller holds it open (an utterance in progress) and for
    ``hangover_frames`` after the last loud frame.
    """

    def __init__(
        self, threshold_dbfs: float, lead_frames: int = 15, hangover_frames: int = 25
    ) -> None:
        self.threshold_dbfs = threshold_dbfs
        self._lead: deque[tuple[bytes, int]] = deque(maxlen=lead_frames)
        self._hangover_frames = hangover_frames
        self._quiet_run = hangover_frames
        self._frame = 0
        self.is_open = False
        self.closed_now = False

    def push(self, frame: bytes, *, hold_open: bool = False) -> list[tuple[bytes, int]]:
        """The frames to decode now, each with its index in the line (empty while closed).

        After a call that returns nothing, :attr:`closed_now` says whether the gate just shut
        (the decoder should finish what it has).
        """
        index, self._frame = self._frame, self._frame + 1
        loud = frame_dbfs(frame) >= self.threshold_dbfs
        self._quiet_run = 0 if loud else self._quiet_run + 1
        was_open = self.is_open
        self.is_open = hold_open or self._quiet_run < self._hangover_frames
        self.closed_now = was_open and not self.is_open
        if not self.is_open:
            self._lead.append((frame, index))
            return []
        lead = list(self._lead)
        self._lead.clear()
        return [*lead, (frame, index)]

    def shut(self) -> None:
        """Close now, whatever the hangover: quiet frames from here wait as the lead of the
        next loud one (the caller has finished what it fed)."""
        self._quiet_run = max(self._quiet_run, self._hangover_frames)
        self.is_open = False
        self.closed_now = False
