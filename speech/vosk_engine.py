"""The Vosk engine: streaming recognition with partial results, for live calls.

One :class:`VoskEngine` (one ``vosk.Model``) per process; one :class:`VoskStream` (one
``KaldiRecognizer``) per call, reused across turns: a fresh recogniser per utterance costs
about three times the CPU (measured on a real model). Telephone audio arrives at 8 kHz and is
resampled, with state kept across frames, to the rate in the model's ``conf/mfcc.conf``.
Endpointing comes from :mod:`speech.vad` (configurable trailing silence); Vosk's own
endpoint, when it fires earlier, only closes a segment inside the utterance.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Protocol, cast

from speech.audio import TELEPHONY, StreamResampler
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
from speech.vad import EndpointConfig, Endpointer, VadState

__all__ = ["VoskEngine", "VoskStream", "model_sample_rate_hz"]

_DEFAULT_MODEL_RATE_HZ = 16000


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
        """A recogniser for one call."""
        import vosk

        recognizer = vosk.KaldiRecognizer(self._model, float(self.sample_rate_hz))
        recognizer.SetWords(True)
        return VoskStream(
            cast(_Recognizer, recognizer), self.sample_rate_hz, self.endpoint, self.partials
        )


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
        self, recognizer: _Recognizer, model_rate_hz: int, endpoint: EndpointConfig, partials: bool
    ) -> None:
        self._recognizer = recognizer
        self._resampler = StreamResampler(TELEPHONY.sample_rate_hz, model_rate_hz)
        self._endpointer = Endpointer(endpoint)
        self._partials = partials
        self._segments: list[FinalResult] = []
        self._last_partial = ""
        self._received_s = 0.0
        self._utterance_start_s = 0.0

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
        if self._recognizer.AcceptWaveform(self._resampler.process(frame)):
            segment = self._segment(self._recognizer.Result())
            if segment is not None:
                self._segments.append(segment)
                if not self._endpointer.in_speech and state is not VadState.SPEECH_ENDED:
                    # Vosk heard words the energy detector took for silence: report them now.
                    events += self._finish(call_final=False)
        elif self._partials and self._endpointer.in_speech:
            events += self._partial()
        if state is VadState.SPEECH_ENDED:
            events += self._finish(call_final=True, trailing_s=self._endpointer.last_trailing_s)
        return events

    def _partial(self) -> list[RecognitionEvent]:
        text = str(json.loads(self._recognizer.PartialResult()).get("partial", "")).strip()
        prefix = " ".join(s.text for s in self._segments)
        full = f"{prefix} {text}".strip()
        if full and full != self._last_partial:
            self._last_partial = full
            return [PartialResult(text=full)]
        return []

    @staticmethod
    def _segment(result_json: str) -> FinalResult | None:
        text, words = _words(result_json)
        if not text:
            return None
        start = words[0].start_s if words else 0.0
        end = words[-1].end_s if words else 0.0
        return FinalResult(text=text, words=words, start_s=start, end_s=end)

    def _finish(self, *, call_final: bool, trailing_s: float = 0.0) -> list[RecognitionEvent]:
        if call_final:
            segment = self._segment(self._recognizer.FinalResult())
            # FinalResult ends decoding; Reset starts the next utterance clean on the same
            # recogniser (timings keep counting from the stream's start).
            self._recognizer.Reset()
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
            if self._recognizer.AcceptWaveform(tail):
                segment = self._segment(self._recognizer.Result())
                if segment is not None:
                    self._segments.append(segment)
            self._resampler = StreamResampler(TELEPHONY.sample_rate_hz, self._resampler.out_rate_hz)
        self._endpointer.reset()
        return self._finish(call_final=True)
