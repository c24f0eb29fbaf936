"""The robot's lines made into audio for one call, each sentence once, some ahead of time.

Festival takes 1–2 s per new sentence on this machine (a process per sentence), and a line
naming the account's debt or the debtor's name is new on every call: made when the script
asks for it, it is the whole of that turn's latency. But the lines the script may say next
are known — the opening while the phone rings, the branches of the current question while the
debtor answers — and so are the account's amounts. :class:`Speaker` makes those ahead, one
sentence at a time per call, on a small pool of its own so that ahead-of-time work never
takes a thread the recognisers need; a line the script then says finds its sentences made or
in the making and waits only for what is left. The voice's disk cache (by text and voice)
keeps fixed sentences across calls; this is the per-call layer over it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Final

from dialer.session.ports import Phrasing, Voice
from scripts.values import Part

__all__ = ["Speaker", "sentences"]

logger = logging.getLogger(__name__)

_SENTENCE_END: Final = re.compile(r"(?<=[.!?…])\s+")


def sentences(text: str) -> list[str]:
    """A line cut into sentences (each is synthesised and cached on its own)."""
    return [part for part in _SENTENCE_END.split(text.strip()) if part] or [text]


class Speaker:
    """One call's sentences → audio futures; on the event loop only."""

    def __init__(self, voice: Voice, phrasing: Phrasing, ahead_pool: Executor) -> None:
        self._voice = voice
        self._phrasing = phrasing
        self._pool = ahead_pool
        self._audio: dict[str, asyncio.Future[bytes]] = {}
        self._ahead: asyncio.Task[None] | None = None
        self.made_ahead = 0  # sentences rendered ahead of time (for tests and figures)

    def sentence(self, text: str) -> asyncio.Future[bytes]:
        """The audio of one sentence: made already, in the making, or started now.

        Cancelling the returned future (barge-in) never cancels the shared rendering.
        """
        made = self._audio.get(text)
        if made is None:
            made = asyncio.ensure_future(asyncio.to_thread(self._voice.synthesize, text))
            made.add_done_callback(_consume)
            self._audio[text] = made
        return asyncio.shield(made)

    def prepare(self, lines: Iterable[tuple[Part, ...]]) -> None:
        """Make these lines' sentences ahead, in order, replacing the previous wish list."""
        wanted = [s for line in lines for s in sentences(self._phrasing.render(line))]
        if self._ahead is not None:
            self._ahead.cancel()  # what it is rendering right now still finishes and is kept
        todo = [s for s in dict.fromkeys(wanted) if s not in self._audio]
        self._ahead = asyncio.create_task(self._render_ahead(todo)) if todo else None

    async def _render_ahead(self, todo: list[str]) -> None:
        loop = asyncio.get_running_loop()
        for text in todo:
            if text in self._audio:
                continue
            made = loop.run_in_executor(self._pool, self._voice.synthesize, text)
            made.add_done_callback(_consume)
            self._audio[text] = made
            try:
                await asyncio.shield(made)
            except asyncio.CancelledError:
                raise
            except Exception:  # ahead of time is an optimisation: the line will say why
                logger.debug("a sentence could not be made ahead", exc_info=True)
                del self._audio[text]
                continue
            self.made_ahead += 1

    def close(self) -> None:
        """The call is over: stop making sentences nobody will hear."""
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None


def _consume(made: asyncio.Future[bytes]) -> None:
    """Retrieve the outcome of a rendering nobody may await (cut by barge-in, call over)."""
    if not made.cancelled():
        made.exception()
