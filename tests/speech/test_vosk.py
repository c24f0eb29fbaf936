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
from speech.vosk_engine import VoskEngine, VoskStream, model_segment_pause_s

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
        self.finals = 0

    def AcceptWaveform(self, pcm: bytes) -> bool:  # noqa: N802 - Vosk's name
        self.fed_bytes += len(pcm)
        return bool(self._inner.AcceptWaveform(pcm))  # type: ignore[attr-defined]

    def FinalResult(self) -> str:  # noqa: N802 - Vosk's name
        self.finals += 1
        return str(self._inner.FinalResult())  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


class _CountingEngine:
    """Wraps an engine's recognisers, as they are taken, in counting ones."""

    def __init__(self, engine: VoskEngine) -> None:
        self.counted: list[_CountingRecognizer] = []
        self._take = engine.take_decoder
        engine.take_decoder = self.take  # type: ignore[method-assign]

    def take(self, *, wait: bool = False) -> object:
        decoder = self._take(wait=wait)
        if decoder is None:
            return None
        if not isinstance(decoder.recognizer, _CountingRecognizer):
            decoder.recognizer = _CountingRecognizer(decoder.recognizer)  # type: ignore[assignment]
        self.counted.append(decoder.recognizer)  # type: ignore[arg-type]
        return decoder

    @property
    def fed_bytes(self) -> int:
        return sum(c.fed_bytes for c in {id(c): c for c in self.counted}.values())

    @property
    def finals(self) -> int:
        return sum(c.finals for c in {id(c): c for c in self.counted}.values())


def _counted_stream(engine: VoskEngine) -> tuple[VoskStream, _CountingEngine]:
    engine = VoskEngine(
        engine._model,
        engine.model_path,
        engine.endpoint,
        engine.partials,
        segment_pause_s=engine.segment_pause_s,
    )
    counting = _CountingEngine(engine)
    return engine.open_stream(), counting


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


def test_the_first_pause_closes_the_segment_and_its_silence_is_not_decoded(
    vosk_engine: VoskEngine, korean_speech: Audio
) -> None:
    """At the model's own segment pause (0.5 s) the words are decoded and the recogniser given
    back; the rest of the endpoint's 0.8 s is not fed to Vosk, and the utterance closes with
    its text ready."""
    assert model_segment_pause_s(vosk_engine.model_path) == pytest.approx(0.5)
    stream, counting = _counted_stream(vosk_engine)
    events: list[RecognitionEvent] = []
    endpoint_at: int | None = None
    for n, frame in enumerate(split_frames(korean_speech.pcm + silence(1.5).pcm)):
        finals_before = counting.finals
        got = stream.accept(frame)
        if any(isinstance(e, FinalResult) for e in got):
            endpoint_at = n
            assert counting.finals == finals_before  # nothing left to decode at the endpoint
        events += got
    assert stream.pause_closes == 1
    finals = [e for e in events if isinstance(e, FinalResult)]
    assert len(finals) == 1
    assert finals[0].text
    assert finals[0].words
    assert finals[0].trailing_silence_s == pytest.approx(0.8)
    assert endpoint_at is not None
    # The speech (its last 0.4 s of quiet frames included) and the rest of the 0.5 s pause,
    # not the endpoint's whole 0.8 s.
    fed_s = counting.fed_bytes / (2 * vosk_engine.sample_rate_hz)
    assert fed_s <= korean_speech.duration_s + 0.2


def test_speech_after_a_pause_stays_in_the_same_utterance(
    vosk_engine: VoskEngine, korean_speech: Audio
) -> None:
    """A debtor who pauses 0.7 s (the clip ends in 0.4 s of quiet) and goes on: one final,
    with the words said after the pause, timed where they are on the line."""
    stream = vosk_engine.open_stream()
    events: list[RecognitionEvent] = []
    clip = korean_speech.pcm + silence(0.3).pcm + korean_speech.pcm + silence(1.0).pcm
    for frame in split_frames(clip):
        events += stream.accept(frame)
    events += stream.flush()
    assert stream.pause_closes >= 1
    finals = [e for e in events if isinstance(e, FinalResult)]
    assert len(finals) == 1
    second_from = korean_speech.duration_s + 0.3
    assert any(w.start_s >= second_from - 0.1 for w in finals[0].words)
    assert any(w.end_s <= korean_speech.duration_s + 0.1 for w in finals[0].words)
    assert finals[0].words[-1].end_s <= 2 * korean_speech.duration_s + 0.3 + 0.2


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


def test_recognisers_serve_utterances_not_calls_each_on_its_own_clock(
    korean_model_path: Path, korean_speech: Audio
) -> None:
    """A recogniser's first utterances are its dearest, so a few warm ones serve everyone:
    a call holds one only while its debtor speaks, gives it back when the utterance is
    closed, and a recogniser's words are timed on the line of the call it is serving."""
    engine = VoskEngine.load(korean_model_path)
    clip = silence(2.0).pcm + korean_speech.pcm + silence(1.0).pcm
    first = _feed(engine, clip)
    assert engine.recognizers_made == 1
    assert engine.idle_recognizers == 1  # given back when the utterance closed
    # Two calls whose debtors speak one after the other share that one recogniser.
    call_a, call_b = engine.open_stream(), engine.open_stream()
    assert engine.idle_recognizers == 1  # a call takes none until its line speaks
    a_events: list[RecognitionEvent] = []
    b_events: list[RecognitionEvent] = []
    quiet = silence(len(clip) / 16000).pcm
    for frame_a, frame_b in zip(
        split_frames(clip + quiet), split_frames(quiet + clip), strict=True
    ):
        a_events += call_a.accept(frame_a)
        b_events += call_b.accept(frame_b)
    a_events += call_a.flush()
    b_events += call_b.flush()
    assert engine.recognizers_made == 1
    for events, offset_s in ((first, 0.0), (a_events, 0.0), (b_events, len(clip) / 16000)):
        words = [w for e in events if isinstance(e, FinalResult) for w in e.words]
        assert words
        assert 1.8 + offset_s <= words[0].start_s <= 2.0 + offset_s + korean_speech.duration_s


def test_a_call_that_ends_mid_utterance_gives_its_recogniser_back(
    korean_model_path: Path, korean_speech: Audio
) -> None:
    engine = VoskEngine.load(korean_model_path)
    stream = engine.open_stream()
    for frame in split_frames(silence(0.5).pcm + korean_speech.pcm[: len(korean_speech.pcm) // 2]):
        stream.accept(frame)
    assert engine.idle_recognizers == 0
    del stream
    gc.collect()
    assert engine.idle_recognizers == 1


def test_at_the_bound_an_answer_waits_for_a_recogniser_with_its_speech_kept(
    korean_model_path: Path, korean_speech: Audio
) -> None:
    """One recogniser for two debtors speaking over each other: the second one's speech waits
    until the first utterance closes, then is decoded whole, on its own line's clock."""
    engine = VoskEngine.load(korean_model_path, max_recognizers=1)
    lag = silence(1.0).pcm
    clip = silence(0.5).pcm + korean_speech.pcm + silence(1.5).pcm
    first, second = engine.open_stream(), engine.open_stream()
    a_events: list[RecognitionEvent] = []
    b_events: list[RecognitionEvent] = []
    for frame_a, frame_b in zip(split_frames(clip + lag), split_frames(lag + clip), strict=True):
        a_events += first.accept(frame_a)
        b_events += second.accept(frame_b)
    b_events += second.flush()
    assert engine.recognizers_made == 1
    for events, offset_s in ((a_events, 0.0), (b_events, 1.0)):
        finals = [e for e in events if isinstance(e, FinalResult)]
        assert finals, "an utterance lost while it waited for a recogniser"
        words = [w for e in finals for w in e.words]
        assert 0.4 + offset_s <= words[0].start_s <= 0.6 + offset_s + korean_speech.duration_s


def test_a_recogniser_held_by_a_stalled_call_does_not_hold_up_others_for_ever(
    korean_model_path: Path, korean_speech: Audio
) -> None:
    engine = VoskEngine.load(korean_model_path, max_recognizers=1)
    stalled = engine.open_stream()
    for frame in split_frames(silence(0.3).pcm + korean_speech.pcm[: len(korean_speech.pcm) // 2]):
        stalled.accept(frame)  # its audio stops mid-word: it keeps the one recogniser
    events = _feed(engine, silence(0.3).pcm + korean_speech.pcm + silence(1.0).pcm)
    assert [e for e in events if isinstance(e, FinalResult)]
    assert engine.recognizers_made == 2  # one past the bound, after a short wait
