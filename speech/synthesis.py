"""What the robot says: text → 8 kHz s16le mono, recorded prompts first, TTS for the rest.

* :class:`PromptLibrary` — a folder of WAVs a company recorded with its own voice, keyed by
  prompt id, with an index ``<id>: <text>`` per line (Asterisk's ``core-sounds-ru.txt``
  format, so Debian's Russian Asterisk prompts load as one). A phrase the library has is
  played as recorded.
* Otherwise the phrase is assembled the way a PBX says numbers: every word the library has
  as a one-word fragment (``digits/3`` "три", ``digits/mon-10`` "ноября") is played from its
  recording, and the runs of words it lacks go to the TTS engine.
* The TTS engine is :func:`speech.tts.default_tts` (Festival's Russian voice when installed,
  else espeak-ng); any :class:`~speech.tts.TtsEngine` fits.
* Rendered prompts are cached on disk by text + voice.

Digits, ``₽`` and dates are first turned into words by :func:`speech.russian.normalize_text`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from speech.audio import TELEPHONY, Audio, convert, read_wav, silence, write_wav
from speech.errors import AudioFormatError, SynthesisError
from speech.russian import normalize_text
from speech.tts import EspeakTts, FestivalTts, TtsEngine, default_tts
from speech.vad import frame_dbfs

__all__ = [
    "ASTERISK_RU_INDEX",
    "ASTERISK_RU_SOUNDS",
    "EspeakTts",
    "FestivalTts",
    "PromptLibrary",
    "Synthesizer",
    "TtsEngine",
    "default_tts",
    "shorten_pauses",
    "trim_silence",
]

ASTERISK_RU_SOUNDS = Path("/usr/share/asterisk/sounds/ru")
ASTERISK_RU_INDEX = Path("/usr/share/doc/asterisk-core-sounds-ru/core-sounds-ru.txt.gz")
_GAP = silence(0.06)
_TRIM_DBFS = -45.0


def _key(text: str) -> str:
    """Words of a phrase compared loosely: case, ё/е and punctuation ignored."""
    return " ".join(re.findall(r"[а-яa-z0-9]+", text.lower().replace("ё", "е")))


def trim_silence(audio: Audio, floor_dbfs: float = _TRIM_DBFS) -> Audio:
    """Cut the silence (10 ms frames below ``floor_dbfs``) a recorded fragment or a rendered
    word starts and ends with."""
    frame = audio.format.frame_bytes(10)
    chunks = [audio.pcm[i : i + frame] for i in range(0, len(audio.pcm), frame)]
    loud = [i for i, c in enumerate(chunks) if frame_dbfs(c) >= floor_dbfs]
    if not loud:
        return audio
    return Audio(audio.format, b"".join(chunks[loud[0] : loud[-1] + 1]))


def shorten_pauses(audio: Audio, max_pause_s: float, floor_dbfs: float = _TRIM_DBFS) -> Audio:
    """Pauses inside ``audio`` (10 ms frames below ``floor_dbfs``) longer than ``max_pause_s``
    cut down to it, keeping each pause's two ends (the decay and the next onset).

    Festival pauses 0.3–0.4 s at a comma; on a phone a listener takes a pause that long for
    the end of the robot's turn and starts to answer into it.
    """
    frame = audio.format.frame_bytes(10)
    chunks = [audio.pcm[i : i + frame] for i in range(0, len(audio.pcm), frame)]
    keep = max(2, round(max_pause_s / 0.01))
    out: list[bytes] = []
    quiet: list[bytes] = []
    for chunk in chunks:
        if frame_dbfs(chunk) < floor_dbfs:
            quiet.append(chunk)
            continue
        if len(quiet) > keep:
            quiet = quiet[: keep // 2] + quiet[len(quiet) - (keep - keep // 2) :]
        out += quiet
        out.append(chunk)
        quiet = []
    out += quiet
    return Audio(audio.format, b"".join(out))


class PromptLibrary:
    """Recorded prompts: ``<folder>/<id>.wav`` and an index of ``<id>: <text>`` lines."""

    def __init__(self, folder: Path, texts: dict[str, str]) -> None:
        self.folder = folder
        self._by_phrase = {_key(text): pid for pid, text in texts.items() if _key(text)}
        self._fragments = {k: pid for k, pid in self._by_phrase.items() if " " not in k}

    @classmethod
    def load(cls, folder: Path, index: Path | None = None) -> PromptLibrary:
        """Read the index (``prompts.txt`` in the folder by default; ``.gz`` is fine)."""
        index = index or folder / "prompts.txt"
        try:
            raw = index.read_bytes()
        except OSError as err:
            raise SynthesisError(f"нет указателя записанных фраз {index}: {err.strerror}") from err
        text = (gzip.decompress(raw) if index.suffix == ".gz" else raw).decode("utf-8")
        texts: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip() or line.startswith(";") or ":" not in line:
                continue
            pid, said = line.split(":", 1)
            if not said.strip().startswith("[") and (folder / f"{pid.strip()}.wav").is_file():
                texts[pid.strip()] = said.strip()
        return cls(folder, texts)

    @classmethod
    def asterisk_ru(cls) -> PromptLibrary | None:
        """Debian's Russian Asterisk prompts (human voice, 8 kHz), when installed."""
        if ASTERISK_RU_INDEX.is_file() and ASTERISK_RU_SOUNDS.is_dir():
            return cls.load(ASTERISK_RU_SOUNDS, ASTERISK_RU_INDEX)
        return None

    @property
    def name(self) -> str:
        """Identifies the library in cache keys."""
        return f"prompts:{self.folder}:{len(self._by_phrase)}"

    def phrase(self, text: str) -> Audio | None:
        """The recording of exactly this phrase, if the library has one."""
        pid = self._by_phrase.get(_key(text))
        return self._read(pid) if pid else None

    def fragment(self, word: str) -> Audio | None:
        """The recording of one word (a PBX fragment), trimmed of its padding."""
        pid = self._fragments.get(_key(word))
        return trim_silence(self._read(pid)) if pid else None

    def _read(self, pid: str) -> Audio:
        try:
            return convert(read_wav(self.folder / f"{pid}.wav"), TELEPHONY)
        except AudioFormatError as err:
            raise SynthesisError(f"записанная фраза {pid}: {err}") from err


class Synthesizer:
    """Text → telephony audio: recorded prompts, PBX-style fragments, then TTS; cached on disk."""

    def __init__(
        self,
        tts: TtsEngine | None = None,
        library: PromptLibrary | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.tts = tts or default_tts()
        self.library = library
        self.cache_dir = cache_dir

    @property
    def voice(self) -> str:
        """The voice this synthesizer speaks with (TTS voice and prompt library)."""
        return f"{self.tts.voice}+{self.library.name if self.library else 'tts-only'}"

    def synthesize(self, text: str, today: dt.date | None = None) -> bytes:
        """8 kHz s16le mono PCM of ``text`` (digits, ₽ and dates said in words)."""
        spoken = normalize_text(text, today)
        cached = self._cache_path(spoken)
        if cached is not None and cached.is_file():
            return read_wav(cached).pcm
        pcm = self._render(spoken).pcm
        if cached is not None:
            write_wav(cached, Audio(TELEPHONY, pcm))
        return pcm

    def _cache_path(self, spoken: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(f"{self.voice}\0{spoken}".encode()).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.wav"

    def _render(self, spoken: str) -> Audio:
        if self.library is not None and (recorded := self.library.phrase(spoken)) is not None:
            return recorded
        pieces = [trim_silence(convert(a, TELEPHONY)) for a in self._pieces(spoken)]
        gap = _GAP.pcm
        return Audio(TELEPHONY, gap + gap.join(p.pcm for p in pieces) + gap)

    def _pieces(self, spoken: str) -> Iterator[Audio]:
        words = spoken.split()
        pending: list[str] = []
        for word in words:
            fragment = self.library.fragment(word) if self.library else None
            if fragment is None:
                pending.append(word)
                continue
            if pending:
                yield self.tts.render(" ".join(pending))
                pending = []
            yield fragment
        if pending:
            yield self.tts.render(" ".join(pending))
