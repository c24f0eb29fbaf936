"""Audio formats, WAV files, telephony frames and resampling — converted in this one place.

The telephony frame is 20 ms of 8 kHz signed 16-bit little-endian mono: 320 bytes. Every piece
of audio travels with its :class:`AudioFormat`, so a rate is never guessed from context.
Resampling a live stream uses :class:`StreamResampler`, which keeps the filter state across
frames: a fresh resampler per 20 ms chunk clicks at every boundary.
"""

from __future__ import annotations

import os
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from speech.errors import AudioFormatError

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "TELEPHONY",
    "Audio",
    "AudioFormat",
    "StreamResampler",
    "convert",
    "pcm_to_float32",
    "read_wav",
    "silence",
    "split_frames",
    "write_wav",
]

FRAME_MS = 20


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Raw PCM layout: signed little-endian integers, interleaved channels."""

    sample_rate_hz: int
    channels: int = 1
    sample_width_bytes: int = 2

    @property
    def bytes_per_second(self) -> int:
        """Bytes of PCM per second of audio."""
        return self.sample_rate_hz * self.channels * self.sample_width_bytes

    def frame_bytes(self, duration_ms: int = FRAME_MS) -> int:
        """Bytes in one frame of ``duration_ms``."""
        return self.bytes_per_second * duration_ms // 1000


TELEPHONY = AudioFormat(sample_rate_hz=8000)
"""8 kHz, 16-bit, mono: what crosses the telephony boundary in both directions."""

FRAME_BYTES = TELEPHONY.frame_bytes()  # 320


@dataclass(frozen=True, slots=True)
class Audio:
    """PCM bytes together with their format."""

    format: AudioFormat
    pcm: bytes

    def __post_init__(self) -> None:
        block = self.format.channels * self.format.sample_width_bytes
        if len(self.pcm) % block:
            raise AudioFormatError(
                f"длина PCM {len(self.pcm)} байт не кратна размеру отсчёта {block} байт"
            )

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / self.format.bytes_per_second


def silence(duration_s: float, fmt: AudioFormat = TELEPHONY) -> Audio:
    """Digital silence of the given length."""
    block = fmt.channels * fmt.sample_width_bytes
    samples = round(duration_s * fmt.sample_rate_hz)
    return Audio(fmt, bytes(samples * block))


def read_wav(path: Path) -> Audio:
    """Read a PCM WAV file (8, 16 or 32-bit integer samples)."""
    try:
        with wave.open(str(path), "rb") as wav:
            fmt = AudioFormat(wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
            pcm = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as err:
        raise AudioFormatError(f"{path}: не PCM WAV ({err})") from err
    except OSError as err:
        raise AudioFormatError(f"{path}: не удалось прочитать ({err.strerror})") from err
    if fmt.sample_width_bytes == 1:  # WAV stores 8-bit as unsigned; make it signed 16-bit
        samples = (np.frombuffer(pcm, dtype=np.uint8).astype(np.int16) - 128) << 8
        return Audio(AudioFormat(fmt.sample_rate_hz, fmt.channels, 2), samples.tobytes())
    if fmt.sample_width_bytes == 4:
        samples32 = np.frombuffer(pcm, dtype="<i4") >> 16
        return Audio(
            AudioFormat(fmt.sample_rate_hz, fmt.channels, 2), samples32.astype("<i2").tobytes()
        )
    if fmt.sample_width_bytes != 2:
        raise AudioFormatError(f"{path}: {8 * fmt.sample_width_bytes}-битный WAV не поддерживается")
    return Audio(fmt, pcm)


def write_wav(path: Path, audio: Audio) -> None:
    """Write audio as a PCM WAV file, atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # One partial file per writer: two calls caching the same phrase at once must not
    # write into one file.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    with wave.open(str(partial), "wb") as wav:
        wav.setnchannels(audio.format.channels)
        wav.setsampwidth(audio.format.sample_width_bytes)
        wav.setframerate(audio.format.sample_rate_hz)
        wav.writeframes(audio.pcm)
    partial.replace(path)


def _samples(audio: Audio) -> npt.NDArray[np.int16]:
    if audio.format.sample_width_bytes != 2:
        raise AudioFormatError("ожидается 16-битный PCM")
    samples = np.frombuffer(audio.pcm, dtype="<i2")
    return samples.reshape(-1, audio.format.channels)


def convert(audio: Audio, target: AudioFormat) -> Audio:
    """Convert a whole clip (not a live stream) to ``target``: mix down, resample, requantise."""
    if target.sample_width_bytes != 2 or target.channels not in (1, 2):
        raise AudioFormatError(f"преобразование в {target} не поддерживается")
    frames = _samples(audio).astype(np.float32)
    if frames.shape[1] != target.channels:
        mono = frames.mean(axis=1, keepdims=True)
        frames = np.repeat(mono, target.channels, axis=1)
    if audio.format.sample_rate_hz != target.sample_rate_hz and len(frames):
        frames = soxr.resample(frames, audio.format.sample_rate_hz, target.sample_rate_hz, "HQ")
    out = np.clip(np.rint(frames), -32768, 32767).astype("<i2")
    return Audio(target, out.tobytes())


def pcm_to_float32(pcm: bytes) -> npt.NDArray[np.float32]:
    """s16le mono PCM as float32 samples in [-1, 1) (what Whisper takes)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def split_frames(pcm: bytes, frame_bytes: int = FRAME_BYTES) -> Iterator[bytes]:
    """Cut PCM into frames; the last one is padded with silence to full length."""
    for start in range(0, len(pcm), frame_bytes):
        chunk = pcm[start : start + frame_bytes]
        if len(chunk) < frame_bytes:
            chunk += bytes(frame_bytes - len(chunk))
        yield chunk


class StreamResampler:
    """Resamples one continuous mono s16le stream chunk by chunk, keeping the filter state.

    One per stream (per call direction); never shared between threads.
    """

    def __init__(self, in_rate_hz: int, out_rate_hz: int) -> None:
        self.in_rate_hz = in_rate_hz
        self.out_rate_hz = out_rate_hz
        self._passthrough = in_rate_hz == out_rate_hz
        self._stream = (
            None
            if self._passthrough
            else soxr.ResampleStream(in_rate_hz, out_rate_hz, 1, dtype="int16", quality="HQ")
        )

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk; the output may lag the input by the filter's delay."""
        if len(pcm) % 2:
            raise AudioFormatError(f"кусок PCM нечётной длины {len(pcm)} байт")
        if self._stream is None:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2")
        out: npt.NDArray[np.int16] = self._stream.resample_chunk(samples)
        return out.astype("<i2", copy=False).tobytes()

    def flush(self) -> bytes:
        """Drain the filter at the end of the stream; the resampler is spent afterwards."""
        if self._stream is None:
            return b""
        out: npt.NDArray[np.int16] = self._stream.resample_chunk(
            np.zeros(0, dtype=np.int16), last=True
        )
        return out.astype("<i2", copy=False).tobytes()
