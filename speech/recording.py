"""Call recordings: the robot on the left channel, the debtor on the right, 8 kHz stereo WAV.

The call session appends frames to each side as they are played and received; the shorter
side is padded with silence so the two stay aligned in time. MP3 and OGG come from the WAV
through pydub, which needs ffmpeg.
"""

from __future__ import annotations

import shutil
import tempfile
from enum import StrEnum
from pathlib import Path

import numpy as np

from speech.audio import TELEPHONY, Audio, AudioFormat, write_wav
from speech.errors import AudioFormatError, SpeechError

__all__ = ["CallRecording", "ExportFormat", "export_recording"]

STEREO_TELEPHONY = AudioFormat(sample_rate_hz=TELEPHONY.sample_rate_hz, channels=2)


class ExportFormat(StrEnum):
    """Compressed formats a recording can be exported to."""

    MP3 = "mp3"
    OGG = "ogg"


class CallRecording:
    """Collects both directions of one call as telephony PCM (s16le, 8 kHz, mono each)."""

    def __init__(self) -> None:
        self._robot = bytearray()
        self._debtor = bytearray()

    def add_robot(self, pcm: bytes) -> None:
        """Append audio the robot played."""
        self._check(pcm)
        self._robot += pcm

    def add_debtor(self, pcm: bytes) -> None:
        """Append audio received from the debtor."""
        self._check(pcm)
        self._debtor += pcm

    def align(self) -> None:
        """Pad the side that lags with silence (call it once per tick when one side was quiet)."""
        longest = max(len(self._robot), len(self._debtor))
        self._robot += bytes(longest - len(self._robot))
        self._debtor += bytes(longest - len(self._debtor))

    @property
    def duration_s(self) -> float:
        """Length of the longer side, in seconds."""
        return max(len(self._robot), len(self._debtor)) / TELEPHONY.bytes_per_second

    def stereo(self) -> Audio:
        """Both sides interleaved: left = robot, right = debtor."""
        self.align()
        left = np.frombuffer(bytes(self._robot), dtype="<i2")
        right = np.frombuffer(bytes(self._debtor), dtype="<i2")
        return Audio(STEREO_TELEPHONY, np.column_stack((left, right)).astype("<i2").tobytes())

    def write_wav(self, path: Path) -> None:
        """Write the stereo WAV (atomically)."""
        write_wav(path, self.stereo())

    @staticmethod
    def _check(pcm: bytes) -> None:
        if len(pcm) % 2:
            raise AudioFormatError(f"кусок записи нечётной длины {len(pcm)} байт")


def export_recording(wav_path: Path, target: Path, fmt: ExportFormat) -> Path:
    """Export a WAV recording to MP3 or OGG (Vorbis) through pydub and ffmpeg."""
    if shutil.which("ffmpeg") is None:
        raise SpeechError("для экспорта в MP3/OGG нужен ffmpeg (apt-get install ffmpeg)")
    from pydub import AudioSegment  # imports audioop: keep it off the package's import path

    with wav_path.open("rb") as source:  # pydub leaves files it opened itself unclosed
        segment = AudioSegment.from_wav(source)
    codec = "libmp3lame" if fmt is ExportFormat.MP3 else "libvorbis"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", suffix=".partial", delete=False
    ) as partial:
        partial_path = Path(partial.name)
    try:
        segment.export(str(partial_path), format=fmt.value, codec=codec).close()
        partial_path.replace(target)
    finally:
        partial_path.unlink(missing_ok=True)
    return target
