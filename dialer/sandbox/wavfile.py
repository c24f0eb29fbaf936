"""WAV files of telephony audio (8 kHz s16le mono) for the sandbox: read, write, loudness."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from dialer.sandbox.errors import SandboxError
from dialer.telephony.port import SAMPLE_RATE_HZ

__all__ = ["frame_rms", "read_pcm", "write_pcm"]


def read_pcm(path: Path) -> bytes:
    """The samples of an 8 kHz 16-bit mono WAV; anything else is refused naming the file."""
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
            if shape != (SAMPLE_RATE_HZ, 2, 1):
                raise SandboxError(f"{path}: ожидается WAV 8000 Гц, 16 бит, моно; получено {shape}")
            return wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as err:
        raise SandboxError(f"{path}: не WAV-файл ({err})") from err


def write_pcm(path: Path, pcm: bytes) -> None:
    """Write 8 kHz 16-bit mono samples as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE_HZ)
        wav.writeframes(pcm)


def frame_rms(frame: bytes) -> float:
    """Root-mean-square level of s16le samples (0 for an empty frame)."""
    if len(frame) < 2:
        return 0.0
    samples = np.frombuffer(frame[: len(frame) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples)))
