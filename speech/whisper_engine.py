"""The Whisper engine (faster-whisper, int8 on CPU): utterance-level recognition.

For post-call re-transcription of recordings and for machines with no Vosk model. Live, it
has the same stream interface as Vosk: :mod:`speech.vad` finds each utterance, which is
decoded whole when it ends (one :class:`FinalResult` per utterance, no partials; barge-in
still gets :class:`SpeechStarted`).

Whisper pads every input to a 30 s window, and the encoder's cost is that window's: ≈2 s
for a two-second «да, это я» on two busy cores (measured). Live utterances are therefore
encoded over their own length rounded up (``WhisperConfig.live_window_step_s``; CTranslate2
takes the shorter input): 5–10× less encoder work, the same words on the debtors' answers
and the Asterisk WER set (``napomni bench wer --live``). Word times of a live utterance are
spread evenly over it (no alignment pass: nothing live needs them). Whole recordings
(:meth:`WhisperEngine.transcribe`) keep faster-whisper's full path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from speech.audio import (
    TELEPHONY,
    Audio,
    AudioFormat,
    convert,
    pcm_to_float32,
)
from speech.errors import RecognitionError
from speech.models import is_whisper_model
from speech.recognition import (
    FinalResult,
    RecognitionEvent,
    SpeechStarted,
    Transcript,
    Word,
    telephony_frames,
)
from speech.vad import EndpointConfig, Endpointer, VadState

__all__ = ["WhisperConfig", "WhisperEngine", "WhisperStream"]

WHISPER_RATE = AudioFormat(sample_rate_hz=16000)
_PRE_ROLL_FRAMES = 10  # 200 ms kept before the detected onset so the first syllable survives
_FEATURE_FRAMES_PER_S = 100  # Whisper's log-mel hop: 10 ms
_FULL_WINDOW_S = 30


@dataclass(frozen=True, slots=True)
class WhisperConfig:
    """Decoding options (``beam_size=1`` measured best speed for the same WER here).

    ``live_window_step_s``: a live utterance is encoded over its length rounded up to this
    step (plus one step of margin), not over Whisper's 30 s window; 0 keeps the 30 s window.
    """

    language: str = "ru"
    beam_size: int = 1
    # Two decoders of one thread each, not one of two threads: calls decode at the same time
    # (people answer the same questions together), and one shared decoder queued them —
    # at 8 calls recognition p95 was 0.98 s with the robot using 0.28 of 2 cores.
    cpu_threads: int = 1
    num_workers: int = 2
    compute_type: str = "int8"
    live_window_step_s: int = 2
    max_live_tokens: int = 120
    # A person says at most ~5 tokens a second (Russian in Whisper's vocabulary); a decode
    # that runs past this rate is looping, and each looped token costs a decoder step the
    # debtor waits for (a 1.5 s «Алло? Алло?» decoded as 120 tokens of «Аллуно» on CI).
    live_tokens_per_s: float = 12.0
    live_tokens_base: int = 8
    # The utterance so far is decoded at its first pause this long, while the endpointer
    # still waits out its trailing silence (0.8 s): when nothing more is said, the turn's
    # text is ready as the utterance closes, and the debtor does not wait for Whisper too.
    # Speech after the pause throws that decode away (the cost of a pause inside an
    # answer); 0 turns it off.
    speculate_after_s: float = 0.3


_ANTI_LOOP_NGRAM = 3
_ANTI_LOOP_PENALTY = 1.3
_LOOP_REPEATS = 3  # a phrase said three times running is a decoder loop, not a person
_LONGEST_LOOP_WORDS = 6


def looping(tokens: list[int], limit: int) -> bool:
    """Whether a live decode ran into a loop: it used its whole token budget, or its last
    tokens are one short run repeated (the hallucination Whisper is known for on short,
    unclear audio)."""
    if len(tokens) >= limit:
        return True
    for size in range(1, 9):
        tail = tokens[-size * _LOOP_REPEATS :]
        if len(tail) == size * _LOOP_REPEATS and all(
            tail[i] == tail[i % size] for i in range(len(tail))
        ):
            return True
    return False


def without_loops(text: str) -> str:
    """``text`` with any phrase repeated three or more times running said once.

    Two repeats stay («Алло, алло», «да, да»: people say that); the comparison ignores case
    and punctuation, the last whole repeat's wording is kept.
    """
    words = text.split()
    keys = [w.strip(".,!?;:…«»\"'-").lower() for w in words]
    kept: list[int] = []
    index = 0
    while index < len(words):
        for size in range(1, _LONGEST_LOOP_WORDS + 1):  # the shortest period first
            run = keys[index : index + size]
            if len(run) < size or not any(run):
                continue
            repeats = 1
            while keys[index + repeats * size : index + (repeats + 1) * size] == run:
                repeats += 1
            # a cut-off last repeat («Аллуно Алл») is part of the loop too
            rest = keys[index + repeats * size : index + (repeats + 1) * size]
            if (
                repeats >= _LOOP_REPEATS - 1
                and rest
                and all(r and k.startswith(r) for r, k in zip(rest, run, strict=False))
            ):
                repeats += 1
                partial = len(rest)
            else:
                partial = 0
            if repeats >= _LOOP_REPEATS:
                whole = repeats - (1 if partial else 0)
                last = index + (whole - 1) * size  # its punctuation ends the phrase
                kept += range(last, last + size)
                index += whole * size + partial
                break
        else:
            kept.append(index)
            index += 1
    return " ".join(words[i] for i in kept)


class _WhisperWord(Protocol):
    word: str
    start: float
    end: float
    probability: float


class _WhisperSegment(Protocol):
    text: str
    words: list[_WhisperWord] | None


class _FasterWhisperModel(Protocol):
    """The parts of ``faster_whisper.WhisperModel`` the short-window decode uses."""

    feature_extractor: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]
    model: Any  # ctranslate2.models.Whisper (no type hints)
    hf_tokenizer: Any


def _spread_words(text: str, start_s: float, end_s: float) -> tuple[Word, ...]:
    """The words of ``text`` with times spread evenly over the utterance (no alignment)."""
    said = text.split()
    if not said:
        return ()
    step = (end_s - start_s) / len(said)
    return tuple(
        Word(text=w, start_s=start_s + i * step, end_s=start_s + (i + 1) * step, confidence=1.0)
        for i, w in enumerate(said)
    )


class WhisperEngine:
    """A loaded faster-whisper model; build it with :meth:`load`."""

    name = "whisper"

    def __init__(
        self, model: object, model_path: Path, config: WhisperConfig, endpoint: EndpointConfig
    ) -> None:
        self._model = model
        self.model_path = model_path
        self.config = config
        self.endpoint = endpoint

    @classmethod
    def load(
        cls,
        model_path: Path,
        config: WhisperConfig | None = None,
        endpoint: EndpointConfig | None = None,
    ) -> WhisperEngine:
        """Load the CTranslate2 model (about a second; call from a worker thread)."""
        if not is_whisper_model(model_path):
            raise RecognitionError(f"{model_path}: не модель Whisper (нет model.bin, config.json)")
        from faster_whisper import WhisperModel

        cfg = config or WhisperConfig()
        try:
            model = WhisperModel(
                str(model_path),
                device="cpu",
                compute_type=cfg.compute_type,
                cpu_threads=cfg.cpu_threads,
                num_workers=cfg.num_workers,
            )
        except (RuntimeError, ValueError, OSError) as err:
            raise RecognitionError(
                f"{model_path}: faster-whisper не загрузил модель ({err})"
            ) from err
        return cls(model, model_path, cfg, endpoint or EndpointConfig())

    def open_stream(self) -> WhisperStream:
        """A recogniser for one call."""
        return WhisperStream(self, self.endpoint)

    def decode(
        self, samples: npt.NDArray[np.float32], offset_s: float = 0.0, *, vad_filter: bool = False
    ) -> tuple[str, tuple[Word, ...]]:
        """Recognise 16 kHz float32 mono samples; word times are shifted by ``offset_s``."""
        try:
            segments, _info = self._model.transcribe(  # type: ignore[attr-defined]
                samples,
                language=self.config.language,
                beam_size=self.config.beam_size,
                word_timestamps=True,
                vad_filter=vad_filter,
                condition_on_previous_text=False,
            )
            decoded = list(cast(Iterable[_WhisperSegment], segments))
        except (RuntimeError, ValueError) as err:
            raise RecognitionError(f"Whisper не распознал фрагмент: {err}") from err
        words = tuple(
            Word(
                text=w.word.strip(),
                start_s=offset_s + float(w.start),
                end_s=offset_s + float(w.end),
                confidence=float(w.probability),
            )
            for segment in decoded
            for w in segment.words or []
            if w.word.strip()
        )
        text = " ".join(s.text.strip() for s in decoded if s.text.strip())
        return text, words

    def decode_live(
        self, samples: npt.NDArray[np.float32], offset_s: float = 0.0
    ) -> tuple[str, tuple[Word, ...]]:
        """Recognise one short utterance over a window of its own length (see the module doc).

        Falls back to :meth:`decode` when the short window is switched off or the utterance
        is too long for it.
        """
        step = self.config.live_window_step_s
        duration_s = len(samples) / WHISPER_RATE.sample_rate_hz
        window_s = (math.ceil(duration_s / step) + 1) * step if step > 0 else _FULL_WINDOW_S
        if window_s >= _FULL_WINDOW_S:
            return self.decode(samples, offset_s)
        limit = min(
            self.config.max_live_tokens,
            self.config.live_tokens_base + math.ceil(duration_s * self.config.live_tokens_per_s),
        )
        frames = window_s * _FEATURE_FRAMES_PER_S
        try:
            tokens, text = self._decode_window(samples, frames, limit)
            if looping(tokens, limit):
                # Whisper's own remedy is a re-decode that may not repeat itself (it uses
                # temperature; a repetition penalty keeps the live decode deterministic).
                tokens, text = self._decode_window(samples, frames, limit, anti_loop=True)
        except (RuntimeError, ValueError) as err:
            raise RecognitionError(f"Whisper не распознал фрагмент: {err}") from err
        text = without_loops(text)
        return text, _spread_words(text, offset_s, offset_s + duration_s)

    def _decode_window(
        self,
        samples: npt.NDArray[np.float32],
        frames: int,
        max_tokens: int,
        *,
        anti_loop: bool = False,
    ) -> tuple[list[int], str]:
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        model = cast(_FasterWhisperModel, self._model)
        features = model.feature_extractor(samples)[:, :frames]
        if features.shape[1] < frames:
            features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        encoded = model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], np.float32))
        )
        tokenizer = Tokenizer(
            model.hf_tokenizer, True, task="transcribe", language=self.config.language
        )
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=self.config.beam_size,
            max_length=len(prompt) + max_tokens,
            suppress_blank=True,
            suppress_tokens=[-1, *tokenizer.non_speech_tokens],
            no_repeat_ngram_size=_ANTI_LOOP_NGRAM if anti_loop else 0,
            repetition_penalty=_ANTI_LOOP_PENALTY if anti_loop else 1.0,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        return tokens, str(tokenizer.decode(tokens)).strip()

    def transcribe(self, audio: Audio, *, vad_filter: bool = True) -> Transcript:
        """Transcribe a whole recording (faster-whisper's own VAD skips the silences)."""
        speech = convert(audio, WHISPER_RATE)
        started = time.perf_counter()
        text, words = self.decode(pcm_to_float32(speech.pcm), vad_filter=vad_filter)
        return Transcript(
            text=text,
            words=words,
            audio_s=speech.duration_s,
            decode_s=time.perf_counter() - started,
        )


class WhisperStream:
    """One call's utterance collector; decodes each utterance when it ends."""

    def __init__(self, engine: WhisperEngine, endpoint: EndpointConfig) -> None:
        self._engine = engine
        self._endpointer = Endpointer(endpoint)
        self._frames: list[bytes] = []
        self._received_s = 0.0
        self._utterance_start_s = 0.0
        self._speculation: tuple[str, tuple[Word, ...]] | None = None
        self._speculate_after_s = engine.config.speculate_after_s
        self._speculates = 0 < self._speculate_after_s < endpoint.trailing_silence_s
        #: Decodes made (speculative ones included) and speculations used: what the
        #: speculation saves and what it wastes (the tests read them).
        self.decodes = 0
        self.speculations_used = 0

    def accept(self, frame: bytes) -> list[RecognitionEvent]:
        """Feed telephony PCM (whole 20 ms frames)."""
        events: list[RecognitionEvent] = []
        for piece in telephony_frames(frame):
            events += self._accept_frame(piece)
        return events

    def _accept_frame(self, frame: bytes) -> list[RecognitionEvent]:
        self._received_s += 0.02
        self._frames.append(frame)
        state = self._endpointer.push(frame)
        match state:
            case VadState.SILENCE:
                del self._frames[: -_PRE_ROLL_FRAMES - 1]  # keep only the pre-roll
                return []
            case VadState.SPEECH_STARTED:
                lead = self._endpointer.voiced_lead_frames + _PRE_ROLL_FRAMES
                self._frames = self._frames[-lead:]
                self._utterance_start_s = max(0.0, self._received_s - 0.02 * len(self._frames))
                return [SpeechStarted(at_s=self._utterance_start_s)]
            case VadState.SPEECH:
                if self._speculates:
                    self._speculate()
                return []
            case VadState.SPEECH_ENDED:
                return self._decode_utterance(self._endpointer.last_trailing_s)

    def _speculate(self) -> None:
        """At the utterance's first pause decode what was said; a voiced frame drops it."""
        silent_s = self._endpointer.silent_run_s
        if silent_s == 0.0:
            self._speculation = None
        elif self._speculation is None and silent_s >= self._speculate_after_s - 1e-9:
            self._speculation = self._decode(b"".join(self._frames))

    def _decode(self, pcm: bytes) -> tuple[str, tuple[Word, ...]]:
        self.decodes += 1
        speech = convert(Audio(TELEPHONY, pcm), WHISPER_RATE)
        return self._engine.decode_live(pcm_to_float32(speech.pcm), self._utterance_start_s)

    def _decode_utterance(self, trailing_s: float = 0.0) -> list[RecognitionEvent]:
        pcm = b"".join(self._frames)
        self._frames = []
        speculation, self._speculation = self._speculation, None
        if not pcm:
            return []
        start_s = self._utterance_start_s
        if speculation is not None and trailing_s > 0:
            # Only silence came after the speculative decode: its words are the utterance's.
            self.speculations_used += 1
            text, words = speculation
        else:
            text, words = self._decode(pcm)
        if not text:
            return []
        return [
            FinalResult(
                text=text,
                words=words,
                start_s=start_s,
                end_s=self._received_s,
                trailing_silence_s=trailing_s,
            )
        ]

    def flush(self) -> list[RecognitionEvent]:
        """End the current utterance (hang-up) and decode it."""
        if not self._endpointer.in_speech:
            self._frames = []
            return []
        self._endpointer.reset()
        return self._decode_utterance()
