"""The call session: one call, from the number dialled to the stored outcome.

The only place that knows every part. :class:`CallSession` is made once per worker process
and shares its parts (recogniser, classifier, voice, phrasing, call log) with every call;
per call it

1. renders, before the number is dialled, every sentence the script can say to this account
   (:class:`~dialer.session.speaker.Speaker` over the process's
   :class:`~dialer.session.voicebank.VoiceBank`: the fixed ones are made once, the personal
   ones now; amounts and dates come from number words made when the bank starts) — so at
   answer nothing is left to make and the robot's first word leaves at once;
2. stores the call, dials, and hands an answered call to :class:`~dialer.session.dialogue.
   CallRun`, which talks through it (:mod:`dialer.session.hearing`,
   :mod:`dialer.session.speaking`, :mod:`dialer.session.turn_taking`,
   :mod:`dialer.session.turn_log`) and stores its end;
3. stores an unanswered call with its outcome and SIP cause.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Final

from classifier.contract import TurnClassifier
from dialer.metrics import CallMetrics
from dialer.session.dialogue import CallRun
from dialer.session.ports import CallClosing, CallLog, Notice, Observer, Phrasing, Voice
from dialer.session.report import CallOpening, CallReport
from dialer.session.speaker import Speaker
from dialer.session.transfer import TransferConfig, TransferDesk
from dialer.session.voicebank import VoiceBank
from dialer.telephony.errors import TelephonyError
from dialer.telephony.port import Call, CallResult, Outcome, Telephone
from scripts.engine import Conversation
from scripts.values import WEEKDAY_WORDS, Part
from speech.recognition import RecognitionEngine
from speech.russian import spoken_vocabulary

__all__ = ["CallContext", "CallSession", "SessionConfig", "SessionParts"]

logger = logging.getLogger(__name__)

_RECOGNITION_THREADS: Final = 64  # a thread per concurrent call; idle ones cost nothing


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Timings and limits of a call (defaults suit a telephone line).

    ``speech_grace_s``: how long an utterance that started but never produced a result may
    hold off the silence timer (a recogniser that returns nothing must not stall the call).
    ``media_timeout_s``: no audio frame at all for this long is a dead line (one-way RTP the
    port could not see); the robot hangs up. ``prepare_timeout_s``: the longest the
    rendering before dialling may take (a voice that hangs must not stop the campaign: the
    call goes out and a line not made is made when said). ``recognition_batch_frames``: the
    most frames one recogniser request takes — it takes what has queued, so this only binds
    when recognition fell behind; then one request catches up a second of audio instead of
    falling further behind by a round trip per 100 ms (seen at 16 calls: seconds of backlog).
    """

    monologue_s: float = 6.0
    media_timeout_s: float = 10.0
    max_call_s: float = 600.0
    speech_grace_s: float = 8.0
    goodbye_timeout_s: float = 30.0
    recognition_batch_frames: int = 50
    prepare_timeout_s: float = 60.0
    record_dir: Path | None = None
    apology_text: str = (
        "Извините, произошла техническая ошибка. Мы перезвоним вам позже. До свидания."
    )


@dataclass(frozen=True, slots=True)
class SessionParts:
    """The per-process parts every call shares (one model each, thread-safe)."""

    recognizer: RecognitionEngine
    classifier: TurnClassifier
    voice: Voice
    phrasing: Phrasing
    log: CallLog | None = None


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the session knows about this call beyond the line: whom, which script, the debt."""

    opening: CallOpening
    today: dt.date
    debt: Decimal | None = None
    call_ref: str = ""  # a short id for the console and logs (never a phone)
    # Live transfer to a collector when the script asks for one (None: a callback instead).
    transfers: TransferDesk | None = None

    def transfer_lines(self) -> list[tuple[Part, ...]]:
        """What a transfer may say on this call (rendered before dialling with the script)."""
        return (self.transfers.config if self.transfers else TransferConfig()).lines()


class CallSession:
    """Runs answered calls; one instance serves every call of a worker."""

    def __init__(
        self,
        parts: SessionParts,
        config: SessionConfig | None = None,
        *,
        observer: Observer | None = None,
        metrics: CallMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parts = parts
        self.config = config or SessionConfig()
        self.observer = observer
        #: Counts every call and its latencies (``napomni worker --metrics-port``).
        self.metrics = metrics
        self.clock = clock
        self._bank: VoiceBank | None = None
        #: Decoding threads for every call's recogniser (CPU work off the loop).
        self.recognition_pool = ThreadPoolExecutor(_RECOGNITION_THREADS, "recognition")

    @property
    def bank(self) -> VoiceBank:
        """The process's rendered voice (number words start rendering on first use)."""
        if self._bank is None:
            self._bank = VoiceBank(self.parts.voice, spoken_vocabulary() | WEEKDAY_WORDS, threads=2)
            self._bank.start()
        return self._bank

    async def prepare(
        self, conversation: Conversation, extra_lines: Iterable[tuple[Part, ...]] = ()
    ) -> Speaker:
        """A call's speaker with every sentence the script can say to this account made
        (and ``extra_lines``: the transfer's).

        Called before dialling; waits at most ``prepare_timeout_s`` (then the call goes out
        and whatever is missing is made when said).
        """
        speaker = Speaker(self.bank, self.parts.phrasing)
        lines = [*conversation.script_lines(), (self.config.apology_text,), *extra_lines]
        started = self.clock()
        try:
            made = await asyncio.wait_for(speaker.prepare(lines), self.config.prepare_timeout_s)
        except TimeoutError:
            logger.warning("the voice was not ready in %.0f s", self.config.prepare_timeout_s)
        else:
            logger.debug("%d sentences made in %.2f s", made, self.clock() - started)
        return speaker

    def close(self) -> None:
        """Stop the voice's rendering threads (the worker is stopping)."""
        if self._bank is not None:
            self._bank.close()
            self._bank = None
        self.recognition_pool.shutdown(wait=False, cancel_futures=True)
        # Recognition in worker processes (speech.workers) is stopped with the session that
        # owns it; an engine loaded in this process has nothing to stop.
        stop = getattr(self.parts.recognizer, "close", None)
        if callable(stop):
            stop()

    async def place(
        self,
        telephone: Telephone,
        number: str,
        ring_timeout_s: float,
        conversation: Conversation,
        context: CallContext,
    ) -> CallReport:
        """Store the call, dial ``number``, talk, store the end; never raises for the line's sake.

        The ``calls`` row exists before the number is dialled, so a crash while ringing
        still leaves a trace; a dial the telephone refuses is stored as failed.
        """
        return await self._metered(
            self._place(telephone, number, ring_timeout_s, conversation, context)
        )

    async def _place(
        self,
        telephone: Telephone,
        number: str,
        ring_timeout_s: float,
        conversation: Conversation,
        context: CallContext,
    ) -> CallReport:
        # Nothing is left to make at answer.
        speaker = await self.prepare(conversation, context.transfer_lines())
        call_id = await self._open(context)
        try:
            call = await telephone.dial(number, ring_timeout_s)
        except TelephonyError as err:
            result = CallResult(Outcome.FAILED, None, f"{type(err).__name__}: {err}", ended=True)
            return await self._close_unanswered(result, context, call_id)
        return await self._talk(call, conversation, context, call_id, speaker)

    async def run(self, call: Call, conversation: Conversation, context: CallContext) -> CallReport:
        """Talk through ``call`` (already dialled) and store it; never raises for the line's sake.

        An unanswered call is stored with its outcome and SIP cause and returned at once.
        """
        return await self._metered(self._run(call, conversation, context))

    async def _run(
        self, call: Call, conversation: Conversation, context: CallContext
    ) -> CallReport:
        speaker = await self.prepare(conversation, context.transfer_lines())
        call_id = await self._open(context)
        return await self._talk(call, conversation, context, call_id, speaker)

    async def _metered(self, call: Coroutine[None, None, CallReport]) -> CallReport:
        if self.metrics is None:
            return await call
        return await self.metrics.track(call)

    async def _open(self, context: CallContext) -> int | None:
        if self.parts.log is None:
            return None
        return await asyncio.to_thread(self.parts.log.open_call, context.opening)

    async def _talk(
        self,
        call: Call,
        conversation: Conversation,
        context: CallContext,
        call_id: int | None,
        speaker: Speaker,
    ) -> CallReport:
        if call.result.outcome is not Outcome.ANSWERED:
            return await self._close_unanswered(call.result, context, call_id)
        return await CallRun(self, call, conversation, context, call_id, speaker).execute()

    async def _close_unanswered(
        self, result: CallResult, context: CallContext, call_id: int | None
    ) -> CallReport:
        if self.observer is not None:
            self.observer.notice(Notice(context.call_ref, "event", f"итог: {result.outcome.value}"))
        if self.parts.log is not None and call_id is not None:
            closing = CallClosing(
                ended_at=dt.datetime.now(dt.UTC),
                result=result,
                outcome=result.outcome.value,
                recording_path=None,
                failure_reason=result.reason if result.outcome is Outcome.FAILED else None,
            )
            await asyncio.to_thread(
                self.parts.log.close_call, call_id, context.opening.account_id, closing
            )
        return CallReport(
            call_id=call_id,
            result=result,
            outcome=None,
            turns=(),
            recording_path=None,
            failure_reason=result.reason if result.outcome is Outcome.FAILED else None,
        )
