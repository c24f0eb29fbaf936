"""One call's lines as audio: every sentence made before dialling, values said from words.

:meth:`Speaker.prepare` renders, through the process's :class:`~dialer.session.voicebank.
VoiceBank`, every sentence the script can say for this account and waits for them: the
session calls it before the INVITE goes out, so at answer the opening is in memory and its
first frame leaves at once. :meth:`Speaker.line` then turns a line the script says into its
audio pieces: the text between typed values as the sentences made ahead, each amount, date,
weekday and count from the bank's number words. Nothing is synthesised while the debtor
waits unless something was missed (a bank that failed to render): then that sentence is made
when said, and the turn's latency shows it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from typing import Final

from dialer.session.ports import Phrasing
from dialer.session.voicebank import VoiceBank
from scripts.values import Part
from speech.audio import TELEPHONY, silence

__all__ = ["Speaker", "sentences", "text_pieces"]

_SENTENCE_END: Final = re.compile(r"(?<=[.!?…])\s+")
_LETTER: Final = re.compile(r"[а-яёa-z]", re.IGNORECASE)
#: A comma or a dash between a value and the words around it («до пятницы, двадцатого»).
_PUNCTUATION_PAUSE: Final = silence(0.08, TELEPHONY).pcm


def sentences(text: str) -> list[str]:
    """A text cut into sentences (each is rendered and kept on its own)."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def _segments(parts: tuple[Part, ...]) -> list[str | Part]:
    """Runs of literal text joined into one string; each typed value on its own."""
    out: list[str | Part] = []
    for part in parts:
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        else:
            out.append(part)
    return out


def text_pieces(lines: Iterable[tuple[Part, ...]]) -> list[str]:
    """Every sentence of literal text in ``lines`` (typed values are said from words)."""
    out: dict[str, None] = {}
    for line in lines:
        for segment in _segments(line):
            if isinstance(segment, str):
                out.update(dict.fromkeys(s for s in sentences(segment) if _LETTER.search(s)))
    return list(out)


class Speaker:
    """One call's audio; used on the event loop only."""

    def __init__(self, bank: VoiceBank, phrasing: Phrasing) -> None:
        self._bank = bank
        self._phrasing = phrasing

    async def prepare(self, lines: Iterable[tuple[Part, ...]]) -> int:
        """Render every sentence of ``lines`` and the bank's words; wait for all of them.

        Returns how many sentences had to be made (0 when all were made before). A sentence
        that fails is left to be made when said (and fails the call politely then).
        """
        texts = text_pieces(lines)
        made = [(t, self._bank.render(t)) for t in texts]
        new = sum(1 for _, future in made if not future.done())
        # Shielded: a caller that stops waiting (prepare_timeout_s) must not cancel the
        # bank's renders, which every later call shares.
        await asyncio.gather(
            asyncio.shield(asyncio.wrap_future(self._bank.start())),
            *(asyncio.shield(asyncio.wrap_future(future)) for _, future in made),
            return_exceptions=True,
        )
        return new

    def line(self, parts: tuple[Part, ...]) -> list[asyncio.Future[bytes]]:
        """The audio pieces of one line, in order; pieces made ahead are done already."""
        loop = asyncio.get_running_loop()
        pieces: list[asyncio.Future[bytes]] = []
        for segment in _segments(parts):
            if isinstance(segment, str):
                said = [s for s in sentences(segment) if _LETTER.search(s)]
                if not said and segment.strip():
                    pieces.append(_done(loop, _PUNCTUATION_PAUSE))
                pieces += [self._sentence(loop, s) for s in said]
            else:
                words = self._phrasing.render((segment,))
                pieces.append(_done(loop, self._bank.words(words)))
        return pieces or [_done(loop, b"")]

    def _sentence(self, loop: asyncio.AbstractEventLoop, text: str) -> asyncio.Future[bytes]:
        made = self._bank.rendered(text)
        if made is not None:
            return _done(loop, made)
        # Missed ahead of time: made now (the line waits; the turn's latency shows it).
        return asyncio.shield(asyncio.wrap_future(self._bank.render(text), loop=loop))


def _done(loop: asyncio.AbstractEventLoop, audio: bytes) -> asyncio.Future[bytes]:
    future: asyncio.Future[bytes] = loop.create_future()
    future.set_result(audio)
    return future
