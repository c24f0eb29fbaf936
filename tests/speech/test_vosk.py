"""The Vosk engine's mechanics on the one real Vosk model a registry ships (Korean)."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from speech.audio import FRAME_BYTES, Audio, silence, split_frames
from speech.errors import AudioFormatError
from speech.recognition import (
    FinalResult,
    PartialResult,
    RecognitionEvent,
    SpeechStarted,
    transcribe_streaming,
)
from speech.vad import EndpointConfig
from speech.vosk_engine import VoskEngine, VoskStream

pytestmark = pytest.mark.slow


def _feed(engine: VoskEngine, pcm: bytes) -> list[RecognitionEvent]:
    stream = engine.open_stream()
    events: list[RecognitionEvent] = []
    for frame in split_frames(pcm):
        events += stream.accept(frame)
    return events + stream.flush()


def _two_utterances(speech: Audio, gap_s: float = 1.2) -> bytes:
    return silence(0.5).pcm + speech.pcm + silence(gap_s).pcm + speech.pcm + silence(1.0).pcm


def test_partials_then_one_final_per_utterance(
    vosk_engine: VoskEngine, korean_speech: Audio
) -> None:
    events = _feed(vosk_engine, _two_utterances(korean_speech))
    finals = [e for e in events if isinstance(e, FinalResult)]
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    assert len(starts) == 2
    assert len(finals) == 2
    assert all(f.text and f.words for f in finals)
    first_final = events.index(finals[0])
    assert any(isinstance(e, PartialResult) and e.text for e in events[:first_final])
    # Timings count from the stream's start across turns of the reused recogniser.
    assert 0.4 <= finals[0].start_s < finals[0].end_s <= 0.5 + korean_speech.duration_s + 0.3
    assert finals[1].start_s > finals[0].end_s + 1.0
    # Kaldi dithers its features, so the same audio need not give identical words twice.


def test_trailing_silence_is_configurable(korean_model_path: object, korean_speech: Audio) -> None:
    patient = VoskEngine.load(korean_model_path, EndpointConfig(trailing_silence_s=3.0))  # type: ignore[arg-type]
    finals = [
        e for e in _feed(patient, _two_utterances(korean_speech)) if isinstance(e, FinalResult)
    ]
    assert len(finals) == 1  # a 1.2 s pause no longer ends the utterance


def test_silence_gives_nothing(vosk_engine: VoskEngine) -> None:
    assert _feed(vosk_engine, silence(2.0).pcm) == []


def test_hang_up_mid_utterance_flushes_a_final(
    vosk_engine: VoskEngine, korean_speech: Audio
) -> None:
    stream = vosk_engine.open_stream()
    for frame in split_frames(silence(0.3).pcm + korean_speech.pcm):
        stream.accept(frame)
    finals = [e for e in stream.flush() if isinstance(e, FinalResult)]
    assert len(finals) == 1
    assert finals[0].text


def test_frames_must_be_whole(vosk_engine: VoskEngine) -> None:
    with pytest.raises(AudioFormatError, match="320"):
        vosk_engine.open_stream().accept(bytes(FRAME_BYTES - 2))


def test_concurrent_streams_share_one_model(vosk_engine: VoskEngine, korean_speech: Audio) -> None:
    clip = Audio(korean_speech.format, silence(0.3).pcm + korean_speech.pcm + silence(1.0).pcm)
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda _: transcribe_streaming(vosk_engine, clip), range(3)))
    for transcript in together:
        assert transcript.text
        assert transcript.words
        assert all(0.2 <= w.start_s <= w.end_s <= clip.duration_s for w in transcript.words)


class _CountingRecognizer:
    """The real recogniser, counting the audio it is given."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.fed_bytes = 0

    def AcceptWaveform(self, pcm: bytes) -> bool:  # noqa: N802 - Vosk's name
        self.fed_bytes += len(pcm)
        return bool(self._inner.AcceptWaveform(pcm))  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def _counted_stream(engine: VoskEngine) -> tuple[VoskStream, _CountingRecognizer]:
    stream = engine.open_stream()
    counting = _CountingRecognizer(stream._recognizer)
    stream._recognizer = counting  # type: ignore[assignment]
    return stream, counting


def test_silence_is_not_decoded_and_words_keep_the_lines_clock(
    vosk_engine: VoskEngine, korean_speech: Audio
) -> None:
    """While the robot talks the debtor's side is silent: Vosk is not fed it, and the words
    said after it are still placed where they are on the line."""
    gated, counting = _counted_stream(vosk_engine)
    events: list[RecognitionEvent] = []
    for frame in split_frames(silence(6.0).pcm):
        events += gated.accept(frame)
    assert counting.fed_bytes == 0
    assert events == []
    for frame in split_frames(korean_speech.pcm + silence(1.0).pcm):
        events += gated.accept(frame)
    events += gated.flush()
    finals = [e for e in events if isinstance(e, FinalResult)]
    assert finals
    assert finals[0].words
    # About the speech and its lead-in (0.3 s) plus the 1 s tail, not the 6 s before it.
    fed_s = counting.fed_bytes / (2 * vosk_engine.sample_rate_hz)
    assert fed_s <= korean_speech.duration_s + 1.5
    assert 5.8 <= finals[0].words[0].start_s <= 6.0 + korean_speech.duration_s
    assert finals[0].words[-1].end_s <= 6.0 + korean_speech.duration_s + 0.2
    assert finals[0].start_s >= 5.7


def test_quiet_speech_under_the_endpointer_still_reaches_vosk(
    vosk_engine: VoskEngine, korean_speech: Audio
) -> None:
    """A faint line (speech around −46 dBFS, under the endpointer's −42) is decoded, not gated."""
    from speech.audio import pcm_to_float32
    from speech.vad import frame_dbfs

    samples = pcm_to_float32(korean_speech.pcm)
    peak_db = max(frame_dbfs(f) for f in split_frames(korean_speech.pcm))
    gain = 10 ** ((-46.0 - peak_db) / 20)
    quiet = (samples * gain * 32767).clip(-32768, 32767).astype("<i2").tobytes()
    assert max(frame_dbfs(f) for f in split_frames(quiet)) < EndpointConfig().speech_threshold_dbfs
    stream, counting = _counted_stream(vosk_engine)
    for frame in split_frames(silence(1.0).pcm + quiet + silence(1.0).pcm):
        stream.accept(frame)
    stream.flush()
    assert counting.fed_bytes > 0


def test_an_ended_calls_recogniser_serves_the_next_call_with_its_own_clock(
    korean_model_path: Path, korean_speech: Audio
) -> None:
    """A recogniser's first utterance is its dearest: the next call gets a used one, and its
    words are timed from that call's start, not the recogniser's."""
    engine = VoskEngine.load(korean_model_path)
    clip = silence(2.0).pcm + korean_speech.pcm + silence(1.0).pcm
    first = _feed(engine, clip)
    gc.collect()
    assert engine.idle_recognizers == 1
    stream = engine.open_stream()
    assert engine.idle_recognizers == 0  # the ended call's, not a new one
    second: list[RecognitionEvent] = []
    for frame in split_frames(clip):
        second += stream.accept(frame)
    second += stream.flush()
    for events in (first, second):
        words = [w for e in events if isinstance(e, FinalResult) for w in e.words]
        assert words
        assert 1.8 <= words[0].start_s <= 2.0 + korean_speech.duration_s
