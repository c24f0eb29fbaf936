"""Energy-based voice activity detection and endpointing on 20 ms telephony frames.

Good enough to tell a debtor's speech from line silence on a phone call, and cheap: one RMS
per frame. An utterance starts after ``min_speech_s`` of voiced frames and ends after
``trailing_silence_s`` of unvoiced ones (or at ``max_utterance_s``). Both recognition engines
use it, so endpointing behaves the same whichever engine runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from speech.audio import FRAME_MS

__all__ = ["EndpointConfig", "Endpointer", "VadState", "frame_dbfs"]


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
    def voiced_lead_frames(self) -> int:
        """Voiced frames that led to SPEECH_STARTED (how far back the utterance began)."""
        return self._voiced_run

    def reset(self) -> None:
        """Forget the current utterance."""
        self._in_speech = False
        self._voiced_run = 0
        self._silent_run = 0
        self._utterance_frames = 0
