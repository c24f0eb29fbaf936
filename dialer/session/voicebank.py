"""The robot's voice made before it is needed: sentences and number words, kept in memory.

A person says «Алло?» into two seconds of silence and hangs up after five. Festival needs
1–2 s to start and load its voice, and a sentence on a busy machine can take seconds more, so
nothing a call says may be synthesised while the debtor waits:

- every sentence the script can say for an account is rendered before the number is dialled
  (:meth:`VoiceBank.render`): the fixed ones once per process (and on disk, through the
  voice's cache), the personal ones (the name in the identity question) per call;
- amounts, dates, weekdays and counts are said the way a PBX says numbers: from single words
  rendered once when the bank starts (:meth:`VoiceBank.start`, about 300 words — every case
  of every numeral, month and weekday) and joined (:meth:`VoiceBank.words`). The read-back
  of a date the debtor has just named is therefore never made live.

One bank per process serves every call; it is thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

from dialer.session.ports import Voice
from speech.audio import TELEPHONY, Audio, silence
from speech.synthesis import shorten_pauses, trim_silence

__all__ = ["VoiceBank", "WORD_GAP_S"]

logger = logging.getLogger(__name__)

#: Silence between two number words.
WORD_GAP_S: Final = 0.04
#: Silence around every clip (a sentence, a run of number words): two clips in a row are
#: 80 ms apart, a pause a listener hears as a join, far from the 250 ms that reads as a gap
#: (and from the 0.3 s after which people start to answer).
_EDGE: Final = silence(0.04, TELEPHONY).pcm
#: Quieter than this is silence at a clip's ends (the level ``call-timeline`` hears from).
_FLOOR_DBFS: Final = -40.0
#: The longest pause kept inside a sentence (Festival's commas run to 0.35 s).
_MAX_PAUSE_S: Final = 0.18


class VoiceBank:
    """Rendered sentences (an LRU of ``max_texts``) and number words, for every call.

    ``threads`` voices render at once (each a warm Festival process): enough to make a new
    account's few personal sentences in well under a second, few enough to leave the calls'
    recognisers their cores.
    """

    def __init__(
        self,
        voice: Voice,
        vocabulary: Iterable[str] = (),
        *,
        threads: int = 2,
        max_texts: int = 4096,
    ) -> None:
        self._voice = voice
        self._vocabulary = tuple(sorted(set(vocabulary)))
        self._pool = ThreadPoolExecutor(threads, "voice-bank")
        self._lock = threading.Lock()
        self._texts: OrderedDict[str, Future[bytes]] = OrderedDict()
        self._words: dict[str, bytes] = {}
        self._started: Future[None] | None = None
        self._max_texts = max_texts

    # --- sentences ------------------------------------------------------------------

    def render(self, text: str) -> Future[bytes]:
        """The audio of one sentence: made already, in the making, or started now."""
        with self._lock:
            made = self._texts.get(text)
            if made is not None and not _failed(made):
                self._texts.move_to_end(text)
                return made
            made = self._pool.submit(self._sentence, text)
            self._texts[text] = made
            while len(self._texts) > self._max_texts:
                self._texts.popitem(last=False)
            return made

    def rendered(self, text: str) -> bytes | None:
        """The audio of ``text`` if it is made (never waits, never starts anything)."""
        with self._lock:
            made = self._texts.get(text)
        if made is None or not made.done() or _failed(made):
            return None
        return made.result()

    # --- number words ---------------------------------------------------------------

    def start(self) -> Future[None]:
        """Render the number words (once; later calls return the same future)."""
        with self._lock:
            if self._started is None:
                self._started = Future()
                words = [(word, self._pool.submit(self._word, word)) for word in self._vocabulary]
                threading.Thread(
                    target=self._collect, args=(words, self._started), daemon=True
                ).start()
            return self._started

    def _sentence(self, text: str) -> bytes:
        said = shorten_pauses(Audio(TELEPHONY, self._word(text)), _MAX_PAUSE_S, _FLOOR_DBFS)
        return _EDGE + said.pcm + _EDGE

    def _word(self, word: str) -> bytes:
        return trim_silence(Audio(TELEPHONY, self._voice.synthesize(word)), _FLOOR_DBFS).pcm

    def _collect(self, words: list[tuple[str, Future[bytes]]], done: Future[None]) -> None:
        failed = 0
        for word, made in words:
            try:
                pcm = made.result()
            except Exception:  # the word is made when first said instead
                failed += 1
                continue
            with self._lock:
                self._words[word] = pcm
        if failed:
            logger.warning("voice bank: %d of %d number words not rendered", failed, len(words))
        if not done.done():  # nobody else settles it; a cancelled waiter must not break this
            done.set_result(None)

    def words(self, spoken: str) -> bytes:
        """``spoken`` (number, month and weekday words) joined from rendered words.

        A word the bank lacks (a noun no script counted before) is rendered now and kept:
        a rare, short synthesis on the caller's thread.
        """
        gap = silence(WORD_GAP_S, TELEPHONY).pcm
        clips = []
        for word in spoken.split():
            key = word.lower()
            with self._lock:
                clip = self._words.get(key)
            if clip is None:
                clip = self._word(key)
                with self._lock:
                    self._words[key] = clip
            clips.append(clip)
        return _EDGE + gap.join(clips) + _EDGE

    def knows(self, word: str) -> bool:
        """Whether ``word`` is rendered (for tests and figures)."""
        with self._lock:
            return word.lower() in self._words

    def close(self) -> None:
        """Stop the rendering threads (what is queued is dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _failed(made: Future[bytes]) -> bool:
    """A render that ended without audio (raised, or cancelled: made again when asked)."""
    return made.done() and (made.cancelled() or made.exception() is not None)
