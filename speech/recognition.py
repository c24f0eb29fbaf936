"""One interface for every recognition engine: telephony frames in, typed events out.

Obligations of an engine (:class:`RecognitionEngine`):
    * one engine (one loaded model) per process, shared by all calls;
    * ``open_stream()`` gives one :class:`RecognizerStream` per call, reused across the
      call's turns (the engine resets it between utterances);
    * loading and decoding are CPU work: the caller runs them in a worker thread
      (``asyncio.to_thread``), never on the event loop, and never feeds one stream from two
      threads at once.

Obligations of a stream:
    * ``accept(frame)`` takes telephony PCM (8 kHz s16le mono, a whole number of 20 ms
      frames; 320 bytes each) and returns the events that frame produced, in order;
    * :class:`SpeechStarted` when the debtor starts talking (barge-in may stop the robot),
      :class:`PartialResult` while they talk (engines that can), and one
      :class:`FinalResult` per utterance — the end-of-utterance signal, with word timings
      in seconds since the stream was opened;
    * ``flush()`` ends the stream's current utterance (the call hung up) and returns its
      events.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from speech.audio import FRAME_BYTES, TELEPHONY, Audio, convert, split_frames
from speech.errors import AudioFormatError

__all__ = [
    "telephony_frames",
    "FinalResult",
    "PartialResult",
    "RecognitionEngine",
    "RecognitionEvent",
    "RecognizerStream",
    "SpeechStarted",
    "Transcript",
    "Word",
    "join_finals",
    "transcribe_streaming",
]


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word and where it was, in seconds since the stream (or file) began."""

    text: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Voice detected: the debtor started talking (the barge-in trigger)."""

    at_s: float


@dataclass(frozen=True, slots=True)
class PartialResult:
    """The text so far of an utterance still in progress (changes as more audio arrives)."""

    text: str


@dataclass(frozen=True, slots=True)
class FinalResult:
    """A finished utterance: its text and words. Marks the end of the utterance.

    ``trailing_silence_s``: the silence the endpointer waited after the last voiced frame
    before it closed the utterance (0 when the engine closed it on its own or on flush).
    """

    text: str
    words: tuple[Word, ...]
    start_s: float
    end_s: float
    trailing_silence_s: float = 0.0


RecognitionEvent = SpeechStarted | PartialResult | FinalResult


class RecognizerStream(Protocol):
    """One call's recogniser; see the module docstring for its obligations."""

    def accept(self, frame: bytes) -> list[RecognitionEvent]:
        """Feed telephony PCM (a whole number of 320-byte frames); return what it produced."""
        ...

    def flush(self) -> list[RecognitionEvent]:
        """End the current utterance now and return its final result, if any."""
        ...


class RecognitionEngine(Protocol):
    """A loaded recognition model that opens one stream per call."""

    @property
    def name(self) -> str:
        """Short engine name ("vosk", "whisper")."""
        ...

    def open_stream(self) -> RecognizerStream:
        """A fresh recogniser for one call."""
        ...


@dataclass(frozen=True, slots=True)
class Transcript:
    """A whole file's recognised text, its words and what it cost."""

    text: str
    words: tuple[Word, ...]
    audio_s: float
    decode_s: float

    @property
    def real_time_factor(self) -> float:
        """Decoding time over audio time (below 1 is faster than real time)."""
        return self.decode_s / self.audio_s if self.audio_s > 0 else 0.0


def telephony_frames(chunk: bytes) -> Iterator[bytes]:
    """The 20 ms frames of a chunk a stream was fed; a partial frame is refused, not padded."""
    if len(chunk) % FRAME_BYTES:
        raise AudioFormatError(
            f"ожидаются кадры по {FRAME_BYTES} байт (20 мс, 8 кГц, s16le), получено {len(chunk)}"
        )
    return iter(split_frames(chunk, FRAME_BYTES))


def join_finals(finals: Iterable[FinalResult]) -> tuple[str, tuple[Word, ...]]:
    """Text and words of several utterances, in order."""
    done = [f for f in finals if f.text]
    text = " ".join(f.text for f in done)
    words = tuple(w for f in done for w in f.words)
    return text, words


def transcribe_streaming(engine: RecognitionEngine, audio: Audio) -> Transcript:
    """Run a clip through one stream exactly as a live call would (20 ms telephony frames)."""
    telephone = convert(audio, TELEPHONY)
    stream = engine.open_stream()
    finals: list[FinalResult] = []
    started = time.perf_counter()
    for frame in split_frames(telephone.pcm, FRAME_BYTES):
        finals += [e for e in stream.accept(frame) if isinstance(e, FinalResult)]
    finals += [e for e in stream.flush() if isinstance(e, FinalResult)]
    decode_s = time.perf_counter() - started
    text, words = join_finals(finals)
    return Transcript(text=text, words=words, audio_s=telephone.duration_s, decode_s=decode_s)
