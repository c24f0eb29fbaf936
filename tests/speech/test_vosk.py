"""The Vosk engine's mechanics on the one real Vosk model a registry ships (Korean)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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
from speech.vosk_engine import VoskEngine

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
