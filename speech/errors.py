"""The speech package's exceptions, one small tree.

``SpeechError``
    ``AudioFormatError`` — audio that is not what the caller said it is (rate, width, channels,
    a broken WAV, an unknown codec).
    ``ModelNotFound`` — no recognition model where it was looked for; the message says how to get one.
    ``ModelFetchError`` — a model download or its checksum or unpacking failed; nothing half-unpacked stays.
    ``RecognitionError`` — an engine failed to load a model or to decode audio.
    ``SynthesisError`` — text could not be turned into audio (TTS missing or failing).
    ``PhrasingError`` — a number, amount or date that Russian phrasing cannot say.
"""

from __future__ import annotations

__all__ = [
    "AudioFormatError",
    "ModelFetchError",
    "ModelNotFound",
    "PhrasingError",
    "RecognitionError",
    "SpeechError",
    "SynthesisError",
]


class SpeechError(Exception):
    """Base of every error the speech package raises on purpose."""


class AudioFormatError(SpeechError):
    """Audio is not in the format it was declared or expected to be in."""


class ModelNotFound(SpeechError):
    """No model directory was found; the message names where it looked and how to get one."""


class ModelFetchError(SpeechError):
    """Downloading, verifying or unpacking a model failed."""


class RecognitionError(SpeechError):
    """A recognition engine could not load its model or decode audio."""


class SynthesisError(SpeechError):
    """Text could not be rendered to audio."""


class PhrasingError(SpeechError, ValueError):
    """A value that Russian phrasing cannot say (negative amount, too large a number, bad noun)."""
