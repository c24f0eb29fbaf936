"""The robot's side of the line: the script's lines queued, played, cut by a barge-in.

One *player* task per call takes the queued lines in order and plays each through the
telephone (``play()`` paces it, ≤ 60 ms ahead of the wire); every frame is recorded as it
goes. Before a line, the player asks the dialogue whether it may start
(:attr:`Player.before_line`: the turn-taking rules — answers held during the opening first,
never over a speaking debtor). The first frame of each line is reported
(:attr:`Player.on_first_frame`): the first one of the call is the robot's first word, the
first one after an answer closes that turn's latency.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from dialer.session.call_audio import CallAudio
from dialer.session.speaker import Speaker
from dialer.telephony.media import iter_frames
from dialer.telephony.port import Call
from scripts.actions import Say

__all__ = ["Line", "Player", "PlayerFailed"]


@dataclass(slots=True)
class Line:
    """One line the script said: its text (for the record), its audio pieces, its times."""

    say: Say
    text: str
    pieces: list[asyncio.Future[bytes]]
    queued_at: float
    first_ready_at: float | None = None  # the first piece's audio was ready


@dataclass(frozen=True, slots=True)
class PlayerFailed:
    """A line could not be played: the call ends politely."""

    reason: str


class Player:
    """The queue of lines and the task that plays them."""

    def __init__(
        self,
        call: Call,
        speaker: Speaker,
        audio: CallAudio,
        inbox: asyncio.Queue[object],
        *,
        clock: Callable[[], float],
        before_line: Callable[[Line], Awaitable[None]],
        on_first_frame: Callable[[Line, float], None],
        on_line_end: Callable[[Line], None],
    ) -> None:
        self._call = call
        self._speaker = speaker
        self._audio = audio
        self._inbox = inbox
        self._clock = clock
        self._before_line = before_line
        self._on_first_frame = on_first_frame
        self._on_line_end = on_line_end
        self.lines: deque[Line] = deque()
        self.playing: Line | None = None
        self._ready = asyncio.Event()
        self.spoken: list[str] = []  # lines started since the last turn was taken

    @property
    def busy(self) -> bool:
        """Whether a line is playing or waiting to play."""
        return self.playing is not None or bool(self.lines)

    def say(self, say: Say, text: str) -> None:
        """Queue ``say`` (rendered as ``text``); its pieces made ahead are ready already."""
        pieces = self._speaker.line(say.parts)
        line = Line(say, text, pieces, queued_at=self._clock())
        if pieces[0].done():
            line.first_ready_at = line.queued_at
        else:
            pieces[0].add_done_callback(functools.partial(_first_ready, line, self._clock))
        self.lines.append(line)
        self._ready.set()

    def cut(self, *, only_interruptible: bool) -> None:
        """Drop the queued lines (those that may be interrupted, or all) and stop playback."""
        kept = [line for line in self.lines if only_interruptible and not line.say.interruptible]
        for dropped in self.lines:
            if dropped not in kept:
                for piece in dropped.pieces:
                    piece.cancel()
        self.lines.clear()
        self.lines.extend(kept)
        playing = self.playing
        if playing is not None and (playing.say.interruptible or not only_interruptible):
            self._call.stop_playback()

    async def drained(self, tick_s: float) -> None:
        """Until every queued line has played (or the line is gone)."""
        while self.busy:
            if self._call.result.ended:
                return
            await asyncio.sleep(tick_s)

    async def run(self) -> None:
        """The player task: plays lines until cancelled or one fails."""
        while True:
            while not self.lines:
                self._ready.clear()
                await self._ready.wait()
            await self._before_line(self.lines[0])
            if not self.lines:  # the dialogue answered something and dropped them
                continue
            line = self.lines.popleft()
            self.playing = line
            try:
                self.spoken.append(line.text)
                handed_over = [0]
                await self._call.play(self._tap(line, handed_over))
                self._audio.unsay(handed_over[0] - self._call.played_frames)
            except Exception as err:  # a line that cannot be said ends the call, politely
                self._inbox.put_nowait(PlayerFailed(f"{type(err).__name__}: {err}"))
                self.playing = None
                return
            finally:
                if self.playing is line:
                    self.playing = None
                    self._on_line_end(line)

    async def _tap(self, line: Line, handed_over: list[int]) -> AsyncIterator[bytes]:
        """Frames for ``play()``, recorded and timed as they are handed over (counted in
        ``handed_over[0]``: what the telephone did not send is taken back after)."""
        first = True
        for piece in line.pieces:
            audio = await piece
            async for frame in iter_frames(audio):
                if first:
                    first = False
                    self._on_first_frame(line, self._clock())
                self._audio.robot_frame(frame)
                handed_over[0] += 1
                yield frame


def _first_ready(line: Line, clock: Callable[[], float], _made: asyncio.Future[bytes]) -> None:
    if line.first_ready_at is None:
        line.first_ready_at = clock()
