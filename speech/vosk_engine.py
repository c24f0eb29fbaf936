"""The Vosk engine: streaming recognition with partial results, for live calls.

One :class:`VoskEngine` (one ``vosk.Model``) per process; one :class:`VoskStream` per call.
A stream holds a ``KaldiRecognizer`` only while its caller speaks: it takes the warmest idle
one when the line's speech starts and gives it back when the utterance is closed. A
recogniser composes its own share of the decoding graph lazily (the model's ``HCLr.fst`` and
``Gr.fst``), as the words it hears lead it there, and keeps it: with the Korean model a fresh
recogniser spent 2.7 s of CPU on 5.2 s of speech, the same one 0.57 s on the same speech
again and 0.8–1.0 s on a new sentence, and one that had heard a dozen answers 0.08 s per
second of speech. Bound to a call, sixteen calls kept sixteen recognisers or more, each
hearing a few answers — most of every answer was paid cold. Bound to an utterance, a
worker keeps as many as its callers speak at once (two or three of sixteen), each hearing
every answer. Telephone audio arrives at 8 kHz and is
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
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
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

__all__ = ["VoskEngine", "VoskStream", "model_sample_rate_hz", "model_segment_pause_s"]

_DEFAULT_MODEL_RATE_HZ = 16000
_DEFAULT_SEGMENT_PAUSE_S = 0.5
_PARTIAL_EVERY_FRAMES = 10  # 200 ms
_WAIT_POLL_S = 0.01
_WAIT_MAX_S = 2.0
_FRAME_S = TELEPHONY.frame_bytes() / TELEPHONY.bytes_per_second


def _kaldi_option(model_path: Path, conf_file: str, pattern: str) -> str | None:
    """The value ``pattern``'s group finds in the model's ``conf/<conf_file>``, if any."""
    try:
        conf = (model_path / "conf" / conf_file).read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(pattern, conf)
    return found.group(1) if found else None


def model_segment_pause_s(model_path: Path) -> float:
    """The silence after words at which the model's own endpoint rule closes a segment
    (``--endpoint.rule2.min-trailing-silence`` in ``conf/model.conf``; Kaldi's default 0.5 s)."""
    value = _kaldi_option(
        model_path, "model.conf", r"--endpoint\.rule2\.min-trailing-silence=([0-9.]+)"
    )
    return float(value) if value is not None else _DEFAULT_SEGMENT_PAUSE_S


def model_sample_rate_hz(model_path: Path) -> int:
    """The feature extractor's sample rate, from ``conf/mfcc.conf`` (Kaldi's default 16 kHz)."""
    value = _kaldi_option(model_path, "mfcc.conf", r"--sample-frequency=(\d+)")
    return int(value) if value is not None else _DEFAULT_MODEL_RATE_HZ


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
        self,
        model: object,
        model_path: Path,
        endpoint: EndpointConfig,
        partials: bool,
        max_recognizers: int | None = None,
        segment_pause_s: float = _DEFAULT_SEGMENT_PAUSE_S,
    ) -> None:
        self._model = model
        self.model_path = model_path
        self.endpoint = endpoint
        self.partials = partials
        # A pause this long inside an utterance closes Vosk's segment there (0 or at least
        # the endpoint's silence: never). See :class:`VoskStream`.
        self.segment_pause_s = segment_pause_s
        self.sample_rate_hz = model_sample_rate_hz(model_path)
        # Recognisers between utterances, the most recently used last (deque: a finalizer
        # may add to it from any thread, at any allocation).
        self._idle: deque[_Decoder] = deque()
        self.recognizers_made = 0
        # None: a new recogniser whenever every one is busy. A bound keeps the few warm:
        # one more cold recogniser is seconds of CPU just when the cores are short, which
        # slows every decode, so more utterances overlap and call for more of them.
        self.max_recognizers = max_recognizers
        self._making = threading.Lock()

    @classmethod
    def load(
        cls,
        model_path: Path,
        endpoint: EndpointConfig | None = None,
        *,
        partials: bool = True,
        max_recognizers: int | None = None,
        segment_pause_s: float | None = None,
    ) -> VoskEngine:
        """Load the model (seconds of CPU: call from a worker thread).

        ``max_recognizers``: at most that many recognisers (an utterance that finds them all
        busy waits for one, its audio kept); ``None``, no bound. ``segment_pause_s``: a pause
        that long closes a segment (its words decoded before the endpoint's silence is out);
        ``None``, where the model's own endpoint rule closes one (:func:`model_segment_pause_s`),
        about where Vosk closes segments by itself, so its words hardly change.
        """
        if not is_vosk_model(model_path):
            raise RecognitionError(f"{model_path}: не модель Vosk (нет am/final.mdl или conf/)")
        import vosk

        vosk.SetLogLevel(-1)  # Kaldi logs to stderr by default; ours go through logging
        try:
            model = vosk.Model(str(model_path))
        except Exception as err:  # vosk raises a bare Exception("Failed to create a model")
            raise RecognitionError(f"{model_path}: Vosk не смог загрузить модель ({err})") from err
        return cls(
            model,
            model_path,
            endpoint or EndpointConfig(),
            partials,
            max_recognizers,
            model_segment_pause_s(model_path) if segment_pause_s is None else segment_pause_s,
        )

    def open_stream(self) -> VoskStream:
        """A stream for one call; it takes a recogniser only while the line speaks."""
        return VoskStream(
            self, self.sample_rate_hz, self.endpoint, self.partials, self.segment_pause_s
        )

    def take_decoder(self, *, wait: bool = False) -> _Decoder | None:
        """The warmest idle recogniser, reset; a new one when every one is busy and the bound
        allows it; else ``None`` — or, with ``wait``, the first one given back (past the bound
        after :data:`_WAIT_MAX_S`: a call whose audio stalled mid-utterance holds its
        recogniser, and nobody else's answer may wait on it for ever)."""
        waited = 0.0
        while True:
            try:
                decoder = self._idle.pop()  # the most recently used
            except IndexError:
                with self._making:
                    bound = self.max_recognizers
                    if bound is None or self.recognizers_made < bound or waited >= _WAIT_MAX_S:
                        return self._new_decoder()
                if not wait:
                    return None
                # Given back from other threads (and finalizers): a short poll, no lock a
                # finalizer could find held.
                time.sleep(_WAIT_POLL_S)
                waited += _WAIT_POLL_S
                continue
            decoder.recognizer.Reset()
            return decoder

    def give_back(self, decoder: _Decoder) -> None:
        """A recogniser whose utterance is closed, for the next one to speak."""
        self._idle.append(decoder)

    def _new_decoder(self) -> _Decoder:
        import vosk

        recognizer = vosk.KaldiRecognizer(self._model, float(self.sample_rate_hz))
        recognizer.SetWords(True)
        self.recognizers_made += 1
        return _Decoder(cast(_Recognizer, recognizer))

    def warm(self, recognizers: int, speech: Sequence[Audio]) -> None:
        """Make ``recognizers`` recognisers ready for calls, each having decoded ``speech``.

        Seconds of CPU each: run it before calls start (the first answers then reach
        recognisers whose dearest utterances are behind them).
        """
        pcms = [
            convert(clip, dataclasses.replace(TELEPHONY, sample_rate_hz=self.sample_rate_hz)).pcm
            for clip in speech
        ]
        if self.max_recognizers is not None:
            recognizers = min(recognizers, self.max_recognizers - self.recognizers_made)
        for _ in range(recognizers):
            with self._making:
                decoder = self._new_decoder()
            for pcm in pcms:
                decoder.recognizer.AcceptWaveform(pcm)
                decoder.recognizer.FinalResult()
                decoder.recognizer.Reset()
                decoder.fed_s += len(pcm) / (2 * self.sample_rate_hz)
            self._idle.appendleft(decoder)

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


class _Held:
    """The recogniser a stream holds, if any: given back by the stream's finalizer too."""

    __slots__ = ("decoder",)

    def __init__(self) -> None:
        self.decoder: _Decoder | None = None


def _give_back_held(engine: VoskEngine, held: _Held) -> None:
    if held.decoder is not None:
        engine.give_back(held.decoder)
        held.decoder = None


class VoskStream:
    """One call's recognition; not thread-safe (one worker thread at a time).

    A pause of ``segment_pause_s`` in an utterance closes Vosk's segment there, gives its
    recogniser back and stops feeding until the line is loud again; the endpointer still
    waits out its whole silence before the utterance ends. The endpoint's silence was fed to
    Vosk, which costs as much CPU on a quiet line as on speech (0.05–0.23 s a second with the
    Korean model, the most on digital silence), and the final traceback (20–160 ms) ran after
    it, on the debtor's wait. Now both are spent at the pause: when only silence follows,
    the utterance's text is ready as it closes. If the debtor goes on, the next words start a
    new segment and the segments are joined. The engine's pause is the model's own endpoint
    rule (0.5 s after words), so Vosk splits the speech about where it would split it itself.
    """

    def __init__(
        self,
        engine: VoskEngine,
        model_rate_hz: int,
        endpoint: EndpointConfig,
        partials: bool,
        segment_pause_s: float = 0.0,
    ) -> None:
        self._engine = engine
        self._held = _Held()
        # A call that ends mid-utterance (hang-up, lost stream) still gives its recogniser back.
        weakref.finalize(self, _give_back_held, engine, self._held)
        self._model_rate_hz = model_rate_hz
        self._resampler = StreamResampler(TELEPHONY.sample_rate_hz, model_rate_hz)
        self._endpointer = Endpointer(endpoint)
        self._partials = partials
        self._segment_pause_s = (
            segment_pause_s if 0 < segment_pause_s < endpoint.trailing_silence_s else 0.0
        )
        self._paused = False  # the segment closed at a pause; nothing fed since
        self.pause_closes = 0  # segments closed at a pause (tests read it)
        self._segments: list[FinalResult] = []
        self._last_partial = ""
        self._received_s = 0.0
        self._utterance_start_s = 0.0
        # Quiet speech a few dB under the endpointer's threshold still reaches Vosk.
        self._gate = SilenceGate(endpoint.speech_threshold_dbfs - 8.0)
        self._next_index = 0  # the line frame that would continue the current fed run
        # Vosk-clock start of each fed run of the held recogniser, and line time minus Vosk
        # time in it (a recogniser's clock starts where its last utterance left it).
        self._run_starts: list[float] = []
        self._run_offsets: list[float] = []
        self._frames_to_partial = 0
        # Speech waiting for a recogniser (every one busy): fed as soon as one is free.
        self._backlog: list[tuple[bytes, int]] = []

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
            self._paused = False
        elif state is VadState.SPEECH and self._endpointer.silent_run_s == 0:
            self._paused = False  # the debtor goes on after the pause
        hold = not self._paused and (self._endpointer.in_speech or state is VadState.SPEECH_ENDED)
        closed = False
        for piece, index in self._gate.push(frame, hold_open=hold):
            self._backlog.append((piece, index))
        if self._backlog:
            closed = self._drain(wait=False)
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
        if (
            self._segment_pause_s
            and state is VadState.SPEECH
            and not self._paused
            and self._endpointer.silent_run_s >= self._segment_pause_s - 1e-9
        ):
            self._close_at_pause()
        if state is VadState.SPEECH_ENDED:
            events += self._finish(call_final=True, trailing_s=self._endpointer.last_trailing_s)
        elif self._gate.closed_now and self._pending:
            # The line went quiet with words Vosk has not closed (speech too quiet for the
            # endpointer): close them now, before the next run's audio is spliced on — inside
            # an utterance's pause as one more of its segments, outside one as its own final.
            if self._endpointer.in_speech:
                self._close_at_pause()
            else:
                events += self._finish(call_final=True)
        return events

    def _close_at_pause(self) -> None:
        """Close the held recogniser's segment at a pause in the utterance and give the
        recogniser back (speech still waiting for one is left to the utterance's end)."""
        if self._held.decoder is None or self._backlog:
            return
        segment = self._segment(self._recognizer.FinalResult())
        _give_back_held(self._engine, self._held)
        if segment is not None:
            self._segments.append(segment)
        self._paused = True
        self.pause_closes += 1
        self._gate.shut()  # the pause's quiet frames wait as the next run's lead

    @property
    def _pending(self) -> bool:
        """Speech heard since the last final: held by a recogniser, or waiting for one."""
        return self._held.decoder is not None or bool(self._backlog)

    @property
    def _recognizer(self) -> _Recognizer:
        """The held recogniser (only asked for while one is held)."""
        assert self._held.decoder is not None
        return self._held.decoder.recognizer

    def _drain(self, *, wait: bool) -> bool:
        """Feed the waiting speech to a recogniser, taking one if none is held (``wait``: until
        one is free); True when Vosk closed a segment on the way."""
        decoder = self._held.decoder
        if decoder is None:  # the line's speech starts: take a recogniser for it
            decoder = self._engine.take_decoder(wait=wait)
            if decoder is None:
                return False  # every one busy: the speech waits in the backlog
            self._held.decoder = decoder
            self._run_starts, self._run_offsets = [], []
            self._next_index = -1
        closed = False
        backlog, self._backlog = self._backlog, []
        for frame, index in backlog:
            if self._feed(decoder, frame, index):
                # Vosk closed a segment: take it before the next frame starts another.
                closed = True
                segment = self._segment(decoder.recognizer.Result())
                if segment is not None:
                    self._segments.append(segment)
        return closed

    def _feed(self, decoder: _Decoder, frame: bytes, index: int) -> bool:
        """Give Vosk one line frame; True when Vosk closed a segment on it."""
        if index != self._next_index:  # a new run after a gap: remember where it sits
            self._run_starts.append(decoder.fed_s)
            self._run_offsets.append(index * _FRAME_S - decoder.fed_s)
        self._next_index = index + 1
        pcm = self._resampler.process(frame)
        # Vosk's clock counts the samples it was given (the resampler's delay included).
        decoder.fed_s += len(pcm) / (2 * self._model_rate_hz)
        return bool(decoder.recognizer.AcceptWaveform(pcm))

    def _on_line(self, vosk_s: float) -> float:
        """A time on Vosk's clock as a time on the line."""
        run = bisect.bisect_right(self._run_starts, vosk_s) - 1
        return vosk_s + self._run_offsets[max(run, 0)]

    def _partial(self) -> list[RecognitionEvent]:
        if self._held.decoder is None:
            return []
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
        if call_final and self._backlog:
            self._drain(wait=True)  # the utterance is over: its words are wanted now
        if call_final and self._held.decoder is not None:
            segment = self._segment(self._recognizer.FinalResult())
            # The utterance is closed: its recogniser serves whoever speaks next (reset when
            # taken; its clock keeps counting).
            _give_back_held(self._engine, self._held)
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
        if self._backlog:
            self._drain(wait=True)
        tail = self._resampler.flush()
        decoder = self._held.decoder
        if tail and decoder is not None:
            decoder.fed_s += len(tail) / (2 * self._model_rate_hz)
            if decoder.recognizer.AcceptWaveform(tail):
                segment = self._segment(decoder.recognizer.Result())
                if segment is not None:
                    self._segments.append(segment)
        if tail:
            self._resampler = StreamResampler(TELEPHONY.sample_rate_hz, self._resampler.out_rate_hz)
        self._endpointer.reset()
        return self._finish(call_final=True)
