from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from speech.audio import (
    FRAME_BYTES,
    TELEPHONY,
    Audio,
    AudioFormat,
    StreamResampler,
    convert,
    read_wav,
    split_frames,
    write_wav,
)
from speech.errors import AudioFormatError
from speech.g711 import Codec, decode, encode
from speech.recording import CallRecording, ExportFormat, export_recording

ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2").tobytes()


def _tone(seconds: float, rate: int, hz: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * 12000).astype("<i2").tobytes()


def test_telephony_frame_is_320_bytes() -> None:
    assert FRAME_BYTES == 320
    frames = list(split_frames(bytes(1000)))
    assert [len(f) for f in frames] == [320, 320, 320, 320]


@pytest.mark.parametrize("codec", list(Codec))
def test_g711_matches_the_stdlib_reference(codec: Codec) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    lin2 = audioop.lin2ulaw if codec is Codec.PCMU else audioop.lin2alaw
    to_lin = audioop.ulaw2lin if codec is Codec.PCMU else audioop.alaw2lin
    assert encode(ALL_SAMPLES, codec) == lin2(ALL_SAMPLES, 2)
    assert decode(bytes(range(256)), codec) == to_lin(bytes(range(256)), 2)


@pytest.mark.parametrize("codec", list(Codec))
def test_g711_round_trip_keeps_the_signal(codec: Codec) -> None:
    tone = np.frombuffer(_tone(0.1, 8000), dtype="<i2").astype(float)
    back = np.frombuffer(decode(encode(tone.astype("<i2").tobytes(), codec), codec), dtype="<i2")
    snr = 10 * np.log10(np.sum(tone**2) / np.sum((tone - back) ** 2))
    assert snr > 30


def test_g711_rejects_odd_pcm() -> None:
    with pytest.raises(AudioFormatError):
        encode(b"\x00\x01\x02", Codec.PCMA)


def test_stream_resampler_chunked_equals_whole() -> None:
    """State carried across 20 ms frames: chunked output is the one-shot output, no clicks."""
    pcm = _tone(1.0, 8000)
    whole = StreamResampler(8000, 16000)
    one_shot = whole.process(pcm) + whole.flush()
    chunked = StreamResampler(8000, 16000)
    pieces = b"".join(chunked.process(f) for f in split_frames(pcm)) + chunked.flush()
    assert len(pieces) == len(one_shot) == 2 * len(pcm)
    a = np.frombuffer(pieces, dtype="<i2").astype(int)
    b = np.frombuffer(one_shot, dtype="<i2").astype(int)
    assert np.max(np.abs(a - b)) <= 2  # int16 rounding inside soxr, nothing more


def test_fresh_resampler_per_chunk_would_differ() -> None:
    """The check above can fail: restarting the filter each frame changes the signal."""
    pcm = _tone(1.0, 8000)
    restarted = b""
    for frame in split_frames(pcm):
        fresh = StreamResampler(8000, 16000)
        restarted += fresh.process(frame) + fresh.flush()
    steady = StreamResampler(8000, 16000)
    good = steady.process(pcm) + steady.flush()
    a = np.frombuffer(restarted, dtype="<i2").astype(int)
    b = np.frombuffer(good, dtype="<i2").astype(int)
    assert np.max(np.abs(a[: len(b)] - b[: len(a)])) > 100


def test_wav_round_trip_and_conversion(tmp_path: Path) -> None:
    audio = Audio(
        AudioFormat(22050, 2), np.repeat(np.frombuffer(_tone(0.5, 22050), "<i2"), 2).tobytes()
    )
    write_wav(tmp_path / "a.wav", audio)
    back = read_wav(tmp_path / "a.wav")
    assert back == audio
    phone = convert(back, TELEPHONY)
    assert phone.format == TELEPHONY
    assert abs(phone.duration_s - 0.5) < 0.01


def test_broken_wav_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    with pytest.raises(AudioFormatError, match="bad.wav"):
        read_wav(bad)


def test_recording_is_stereo_robot_left_debtor_right(tmp_path: Path) -> None:
    recording = CallRecording()
    robot, debtor = _tone(0.2, 8000, 300), _tone(0.5, 8000, 900)
    recording.add_robot(robot)
    recording.add_debtor(debtor)
    recording.write_wav(tmp_path / "call.wav")
    stereo = read_wav(tmp_path / "call.wav")
    assert stereo.format == AudioFormat(8000, 2)
    samples = np.frombuffer(stereo.pcm, dtype="<i2").reshape(-1, 2)
    assert samples.shape[0] == len(debtor) // 2
    assert samples[: len(robot) // 2, 0].tobytes() == robot
    assert not samples[len(robot) // 2 :, 0].any()  # robot side padded with silence
    assert samples[:, 1].tobytes() == debtor


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="нет ffmpeg")
@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_recording_exports_to_compressed_formats(tmp_path: Path, fmt: ExportFormat) -> None:
    recording = CallRecording()
    recording.add_robot(_tone(1.0, 8000))
    recording.add_debtor(_tone(1.0, 8000, 600))
    recording.write_wav(tmp_path / "call.wav")
    out = export_recording(tmp_path / "call.wav", tmp_path / f"call.{fmt}", fmt)
    head = out.read_bytes()[:4]
    assert (
        head[:3] == b"ID3" or head[:2] == b"\xff\xfb"
        if fmt is ExportFormat.MP3
        else head == b"OggS"
    )
    assert not list(tmp_path.glob(".*partial"))
