"""The Vosk engine: streaming recognition with partial results, for live calls.

One :class:`VoskEngine` (one ``vosk.Model``) per process; one :class:`VoskStream` (one
``KaldiRecognizer``) per call, reused across turns, and handed on to a later call when this
one ends: a recogniser's first utterance costs three to seven times the CPU of later ones
(it builds its share of the decoding graph as it goes; with the Korean model 1.5 s against
0.2–0.5 s for 3.5 s of speech), so eight calls answered together on fresh recognisers held
each other's first answer for seconds. Telephone audio arrives at 8 kHz and is
resampled, with state kept across frames, to the rate in the model's ``conf/mfcc.conf``.
Endpointing comes from :mod:`speech.vad` (configurable trailing silence); Vosk's own
endpoint, when it fires earlier, only closes a segment inside the utterance.

Only the line's speech is decoded (:class:`~speech.vad.SilenceGate`): while the robot talks
the debtor's side is silent, and decoding that silence was most of a call's CPU (16 calls
did not fit on two cores). Vosk's word times count the audio it was fed, so each fed run is
remembered and words are placed back on the line's own clock.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from speech.audio import TELEPHONY, Audio, StreamResampler, convert
from speech.errors import RecognitionError
from speech.models import is_vosk_model
from speech.recognition import (
    FinalResult,
    PartialResult,
    RecognitionEvent,
    SpeechStarted,
    Word,
    join_finals,
    telephony_frames,
)
from speech.vad import EndpointConfig, Endpointer, SilenceGate, VadState

__all__ = ["VoskEngine", "VoskStream", "model_sample_rate_hz"]

_DEFAULT_MODEL_RATE_HZ = 16000
_PARTIAL_EVERY_FRAMES = 10  # 200 ms
_FRAME_S = TELEPHONY.frame_bytes() / TELEPHONY.bytes_per_second


def model_sample_rate_hz(model_path: Path) -> int:
    """The feature extractor's sample rate, from ``conf/mfcc.conf`` (Kaldi's default 16 kHz)."""
    try:
        conf = (model_path / "conf" / "mfcc.conf").read_text(encoding="utf-8")
    except OSError:
        return _DEFAULT_MODEL_RATE_HZ
    found = re.search(r"--sample-frequency=(\d+)", conf)
    return int(found.group(1)) if found else _DEFAULT_MODEL_RATE_HZ


class _Recognizer(Protocol):
    """The part of ``vosk.KaldiRecognizer`` this engine uses (vosk ships no type hints)."""

    def AcceptWaveform(self, data: bytes) -> int: ...  # noqa: N802 - vosk's names
    def Result(self) -> str: ...  # noqa: N802
    def PartialResult(self) -> str: ...  # noqa: N802
    def FinalResult(self) -> str: ...  # noqa: N802
    def Reset(self) -> None: ...  # noqa: N802


@dataclass(eq=False, slots=True)
class _Decoder:
    """A recogniser and the audio it has had: its word times count from its first sample."""

    recognizer: _Recognizer
    fed_s: float = 0.0


class VoskEngine:
    """A loaded Vosk model; opens one stream per call. Build it with :meth:`load`."""

    name = "vosk"

    def __init__(
        self, model: object, model_path: Path, endpoint: EndpointConfig, partials: bool
    ) -> None:
        self._model = model
        self.model_path = model_path
        self.endpoint = endpoint
        self.partials = partials
        self.sample_rate_hz = model_sample_rate_hz(model_path)
        # Recognisers of ended calls, warm, for the next ones (deque: a finalizer may add to
        # it from any thread, at any allocation).
        self._idle: deque[_Decoder] = deque()

    @classmethod
    def load(
        cls,
        model_path: Path,
        endpoint: EndpointConfig | None = None,
        *,
        partials: bool = True,
    ) -> VoskEngine:
        """Load the model (seconds of CPU: call from a worker thread)."""
        if not is_vosk_model(model_path):
            raise RecognitionError(f"{model_path}: не модель Vosk (нет am/final.mdl или conf/)")
        import vosk

        vosk.SetLogLevel(-1)  # Kaldi logs to stderr by default; ours go through logging
        try:
            model = vosk.Model(str(model_path))
        except Exception as err:  # vosk raises a bare Exception("Failed to create a model")
            raise RecognitionError(f"{model_path}: Vosk не смог загрузить модель ({err})") from err
        return cls(model, model_path, endpoint or EndpointConfig(), partials)

    def open_stream(self) -> VoskStream:
        """A recogniser for one call: an ended call's, when there is one."""
        try:
            decoder = self._idle.pop()  # the most recently used: the warmest
            decoder.recognizer.Reset()
        except IndexError:
            import vosk

            recognizer = vosk.KaldiRecognizer(self._model, float(self.sample_rate_hz))
            recognizer.SetWords(True)
            decoder = _Decoder(cast(_Recognizer, recognizer))
        stream = VoskStream(decoder, self.sample_rate_hz, self.endpoint, self.partials)
        weakref.finalize(stream, self._idle.append, decoder)
        return stream

    def warm(self, recognizers: int, speech: Audio) -> None:
        """Make ``recognizers`` recognisers ready for calls, each having decoded ``speech``.

        Seconds of CPU each: run it in a background thread at start (the first calls then
        get recognisers whose first, dearest utterance is behind them).
        """
        import vosk

        pcm = convert(
            speech, dataclasses.replace(TELEPHONY, sample_rate_hz=self.sample_rate_hz)
        ).pcm
        for _ in range(recognizers):
            native = vosk.KaldiRecognizer(self._model, float(self.sample_rate_hz))
            native.SetWords(True)
            recognizer = cast(_Recognizer, native)
            recognizer.AcceptWaveform(pcm)
            recognizer.FinalResult()
            self._idle.appendleft(_Decoder(recognizer, len(pcm) / (2 * self.sample_rate_hz)))

    @property
    def idle_recognizers(self) -> int:
        """Recognisers waiting for a call."""
        return len(self._idle)


def _words(result_json: str) -> tuple[str, tuple[Word, ...]]:
    result = json.loads(result_json)
    words = tuple(
        Word(
            text=str(w["word"]),
            start_s=float(w["start"]),
            end_s=float(w["end"]),
            confidence=float(w.get("conf", 1.0)),
        )
        for w in result.get("result", [])
    )
    return str(result.get("text", "")).strip(), words


class VoskStream:
    """One call's Vosk recogniser; not thread-safe (one worker thread at a time)."""

    def __init__(
        self, decoder: _Decoder, model_rate_hz: int, endpoint: EndpointConfig, partials: bool
    ) -> None:
        self._decoder = decoder
        self._recognizer = decoder.recognizer
        self._model_rate_hz = model_rate_hz
        self._resampler = StreamResampler(TELEPHONY.sample_rate_hz, model_rate_hz)
        self._endpointer = Endpointer(endpoint)
        self._partials = partials
        self._segments: list[FinalResult] = []
        self._last_partial = ""
        self._received_s = 0.0
        self._utterance_start_s = 0.0
        # Quiet speech a few dB under the endpointer's threshold still reaches Vosk.
        self._gate = SilenceGate(endpoint.speech_threshold_dbfs - 8.0)
        self._next_index = 0  # the line frame that would continue the current fed run
        # Vosk-clock start of each fed run, and line time minus Vosk time in it (a reused
        # recogniser's clock starts where its last call left it).
        self._run_starts: list[float] = [decoder.fed_s]
        self._run_offsets: list[float] = [-decoder.fed_s]
        self._pending = False  # fed since the last final
        self._frames_to_partial = 0

    def accept(self, frame: bytes) -> list[RecognitionEvent]:
        """Feed telephony PCM (whole 20 ms frames); return partials, starts and finals."""
        events: list[RecognitionEvent] = []
        for piece in telephony_frames(frame):
            events += self._accept_frame(piece)
        return events

    def _accept_frame(self, frame: bytes) -> list[RecognitionEvent]:
        events: list[RecognitionEvent] = []
        state = self._endpointer.push(frame)
        self._received_s += TELEPHONY.frame_bytes() / TELEPHONY.bytes_per_second
        if state is VadState.SPEECH_STARTED:
            lead_s = self._endpointer.voiced_lead_frames * 0.02
            self._utterance_start_s = max(0.0, self._received_s - lead_s)
            events.append(SpeechStarted(at_s=self._utterance_start_s))
        hold = self._endpointer.in_speech or state is VadState.SPEECH_ENDED
        closed = False
        for piece, index in self._gate.push(frame, hold_open=hold):
            if self._feed(piece, index):
                # Vosk closed a segment: take it before the next frame starts another.
                closed = True
                segment = self._segment(self._recognizer.Result())
                if segment is not None:
                    self._segments.append(segment)
        if closed and self._segments:
            if not self._endpointer.in_speech and state is not VadState.SPEECH_ENDED:
                # Vosk heard words the energy detector took for silence: report them now.
                events += self._finish(call_final=False)
        elif not closed and self._partials and self._endpointer.in_speech:
            # A partial is a traceback of the whole lattice: asked every frame it cost more
            # than the decoding (1.05 s against 0.70 s for 5.7 s of speech). Its readers (the
            # answering-machine check) need it a few times a second.
            self._frames_to_partial -= 1
            if self._frames_to_partial <= 0:
                self._frames_to_partial = _PARTIAL_EVERY_FRAMES
                events += self._partial()
        if state is VadState.SPEECH_ENDED:
            events += self._finish(call_final=True, trailing_s=self._endpointer.last_trailing_s)
        elif self._gate.closed_now and self._pending:
            # The line went quiet with words Vosk has not closed (speech too quiet for the
            # endpointer): close them now, before the next run's audio is spliced on.
            events += self._finish(call_final=True)
        return events

    def _feed(self, frame: bytes, index: int) -> bool:
        """Give Vosk one line frame; True when Vosk closed a segment on it."""
        decoder = self._decoder
        if index != self._next_index:  # a new run after a gap: remember where it sits
            self._run_starts.append(decoder.fed_s)
            self._run_offsets.append(index * _FRAME_S - decoder.fed_s)
        self._next_index = index + 1
        self._pending = True
        pcm = self._resampler.process(frame)
        # Vosk's clock counts the samples it was given (the resampler's delay included).
        decoder.fed_s += len(pcm) / (2 * self._model_rate_hz)
        return bool(self._recognizer.AcceptWaveform(pcm))

    def _on_line(self, vosk_s: float) -> float:
        """A time on Vosk's clock as a time on the line."""
        run = bisect.bisect_right(self._run_starts, vosk_s) - 1
        return vosk_s + self._run_offsets[max(run, 0)]

    def _partial(self) -> list[RecognitionEvent]:
        text = str(json.loads(self._recognizer.PartialResult()).get("partial", "")).strip()
        prefix = " ".join(s.text for s in self._segments)
        full = f"{prefix} {text}".strip()
        if full and full != self._last_partial:
            self._last_partial = full
            return [PartialResult(text=full)]
        return []

    def _segment(self, result_json: str) -> FinalResult | None:
        text, words = _words(result_json)
        if not text:
            return None
        words = tuple(
            Word(w.text, self._on_line(w.start_s), self._on_line(w.end_s), w.confidence)
            for w in words
        )
        start = words[0].start_s if words else 0.0
        end = words[-1].end_s if words else 0.0
        return FinalResult(text=text, words=words, start_s=start, end_s=end)

    def _finish(self, *, call_final: bool, trailing_s: float = 0.0) -> list[RecognitionEvent]:
        if call_final:
            segment = self._segment(self._recognizer.FinalResult())
            # FinalResult ends decoding; Reset starts the next utterance clean on the same
            # recogniser (timings keep counting from the stream's start).
            self._recognizer.Reset()
            self._pending = False
            if segment is not None:
                self._segments.append(segment)
        segments, self._segments, self._last_partial = self._segments, [], ""
        text, words = join_finals(segments)
        if not text:
            return []
        start = words[0].start_s if words else self._utterance_start_s
        end = words[-1].end_s if words else self._received_s
        return [
            FinalResult(
                text=text, words=words, start_s=start, end_s=end, trailing_silence_s=trailing_s
            )
        ]

    def flush(self) -> list[RecognitionEvent]:
        """End the current utterance (hang-up): drain the resampler and return the final."""
        tail = self._resampler.flush()
        if tail:
            self._decoder.fed_s += len(tail) / (2 * self._model_rate_hz)
            if self._recognizer.AcceptWaveform(tail):
                segment = self._segment(self._recognizer.Result())
                if segment is not None:
                    self._segments.append(segment)
            self._resampler = StreamResampler(TELEPHONY.sample_rate_hz, self._resampler.out_rate_hz)
        self._endpointer.reset()
        return self._finish(call_final=True)
