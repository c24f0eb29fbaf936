"""Live transfer of an answered call to a free collector (issue 16): the call side.

When the script escalates with ``transfer`` and has said its last line, the dialogue hands
the line to :meth:`TransferDesk.hand_over`:

1. the offer is stored (``transfers`` row, :mod:`storage.transfers`) and the free collector
   of the call's organisation who has been idle longest is claimed (``free_collector``);
   nobody free → «Извините, сейчас все специалисты заняты…», and the case goes to the
   queue as a callback (the campaign opens it, as for any escalation);
2. the robot says «Соединяю со специалистом, оставайтесь на линии» and the collector's phone
   rings (row ``ringing``: their screen pop appears) — by a blind transfer (SIP REFER) when
   the trunk allows it (``TransferConfig.method``), else, and when the REFER is refused, by a
   bridge through the robot: it dials the collector's extension on the same telephone and
   relays the audio both ways (:func:`dialer.telephony.bridge.bridge`, recording going on);
   while it rings, «Пожалуйста, оставайтесь на линии» every ~10 s;
3. no answer within the organisation's wait (``organisations.transfer_wait_s``), the debtor
   hanging up while waiting, either side hanging up or going silent during the bridge: each
   ends the row with its state and a short reason, and the robot tells the debtor what
   happens next when they are still there;
4. the collector is released (``release_collector``) — except after a REFER: the call is
   theirs then and out of the robot's sight, so they stay «занят» until they say otherwise.

Every line is one the session rendered before dialling (:meth:`TransferConfig.lines`). The
collector's leg is never a contact of its own: 230-ФЗ counts the debtor's call once, by
the attempt it belongs to. Faults of the collector's leg end the transfer, never the call:
the debtor hears the apology and the case goes to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from dialer.telephony.bridge import BridgeEnd, BridgeRecorder, bridge
from dialer.telephony.errors import (
    CallNotActive,
    TelephonyError,
    TransferError,
    TransferRefused,
    TransferTargetFailed,
    TransferTimedOut,
    TransferUnsupported,
)
from dialer.telephony.port import Call, Outcome, Telephone
from scripts.values import Part
from storage import transfers as rows
from storage.collectors import Collector, free_collector, release_collector
from storage.models.debt_book import Account
from storage.models.transfers import TransferMethod, TransferState

__all__ = [
    "TransferConfig",
    "TransferDesk",
    "TransferLine",
    "TransferMethod",
    "TransferOutcome",
    "parse_transfer_method",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_BUSY_STATUSES: Final = frozenset({486, 600})
_BRIDGE_ENDS: Final = {
    BridgeEnd.A_ENDED: "debtor_hung_up",
    BridgeEnd.B_ENDED: "collector_hung_up",
    BridgeEnd.A_RTP_LOST: "rtp_lost_debtor",
    BridgeEnd.B_RTP_LOST: "rtp_lost_collector",
    BridgeEnd.STOPPED: "max_duration",
}


def parse_transfer_method(raw: str) -> TransferMethod:
    """``refer`` or ``bridge`` (a setting's value), else ``ValueError`` naming the choices."""
    for method in TransferMethod:
        if raw.strip().lower() == method.value:
            return method
    raise ValueError(f"способ перевода {raw!r}: refer или bridge")


@dataclass(frozen=True, slots=True)
class TransferConfig:
    """How calls reach collectors, and what the robot says meanwhile.

    ``method``: ``refer`` hands the call over by SIP REFER to ``sip:<extension>@<refer_domain>``
    (falling back to a bridge when the trunk refuses it); ``bridge`` always relays through
    the robot. ``wait_s`` overrides every organisation's wait (tests); ``rtp_timeout_s``: a
    bridged side silent that long (no RTP at all) is a lost line; ``max_bridge_s`` bounds a
    bridged conversation.
    """

    method: TransferMethod = TransferMethod.BRIDGE
    refer_domain: str = ""
    wait_s: float | None = None
    announce_every_s: float = 10.0
    rtp_timeout_s: float = 5.0
    max_bridge_s: float = 3600.0
    connecting_text: str = "Соединяю со специалистом, оставайтесь на линии."
    waiting_text: str = "Пожалуйста, оставайтесь на линии."
    busy_text: str = (
        "Извините, сейчас все специалисты заняты. Специалист перезвонит вам. Всего доброго!"
    )
    collector_left_text: str = "Специалист завершил разговор. Спасибо, всего доброго!"
    line_lost_text: str = (
        "Извините, связь со специалистом прервалась. Специалист перезвонит вам. Всего доброго!"
    )

    def lines(self) -> list[tuple[Part, ...]]:
        """Every line a transfer may say, for rendering before the call is dialled."""
        texts = (
            self.connecting_text,
            self.waiting_text,
            self.busy_text,
            self.collector_left_text,
            self.line_lost_text,
        )
        return [(text,) for text in texts]


class TransferLine(Protocol):
    """The debtor's call as the dialogue lends it to a transfer.

    ``say`` plays a line rendered before the call and returns when it has played (or the
    call ended); ``stop_saying`` cuts it; ``leave_line`` stops the robot's hearing, so the
    bridge is the only reader of the call's audio (``recorder`` keeps the call's recording
    going); ``notice`` shows a step on the operator's console (no personal data).
    """

    @property
    def call(self) -> Call:
        """The debtor's answered call."""
        ...

    @property
    def recorder(self) -> BridgeRecorder:
        """The call's recording."""
        ...

    async def say(self, text: str) -> None:
        """Say ``text`` and wait until it has played."""
        ...

    def stop_saying(self) -> None:
        """Stop what the robot is saying (or the ringing tone it plays)."""
        ...

    async def ring(self, seconds: float) -> None:
        """Play the ringing tone for ``seconds`` (recorded as the robot's side)."""
        ...

    async def leave_line(self) -> None:
        """Stop listening to the call (the bridge takes its audio)."""
        ...

    def notice(self, text: str) -> None:
        """A step of the transfer, for the console."""
        ...


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    """How a transfer went: its row, how it ended, who took it and how."""

    transfer_id: int | None
    state: TransferState
    end_reason: str
    collector_user_id: int | None = None
    method: TransferMethod | None = None

    @property
    def connected(self) -> bool:
        """Whether the debtor talked to a collector."""
        return self.state is TransferState.ENDED


@dataclass(frozen=True, slots=True)
class _Offer:
    transfer_id: int
    collector: Collector | None
    wait_s: float


class _DebtorLeft(Exception):
    """The debtor hung up while the collector's phone rang."""


class TransferDesk:
    """Connects calls to the collectors of their organisation; one per worker, shared.

    ``telephone`` dials the collectors' extensions for a bridge (the robot's own trunk);
    ``factory`` makes the short database transactions (in worker threads).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        telephone: Telephone,
        config: TransferConfig | None = None,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.factory = factory
        self.telephone = telephone
        self.config = config or TransferConfig()
        self._now = now

    async def hand_over(
        self, line: TransferLine, *, call_id: int, account_id: int, reason: str
    ) -> TransferOutcome:
        """Connect the debtor on ``line`` to a free collector; how it went.

        Never raises for the line's sake: a fault of the collector's leg ends the transfer
        (``failed``) and the debtor hears the apology. Cancelled (the worker stops), the row
        is ended ``failed`` and the collector released before the cancellation goes on.
        """
        offer = await asyncio.to_thread(self._offer, call_id, account_id, reason)
        if offer.collector is None:
            line.notice("перевод: свободных специалистов нет")
            await line.say(self.config.busy_text)
            return await self._end(offer, TransferState.NO_COLLECTOR, "no_collector", None)
        collector = offer.collector
        keep_busy = False
        try:
            await line.say(self.config.connecting_text)
            if line.call.result.ended:
                return await self._end(offer, TransferState.ABANDONED, "debtor_hung_up", None)
            outcome = await self._connect(line, offer, collector)
            keep_busy = outcome.method is TransferMethod.REFER and outcome.connected
            return outcome
        except asyncio.CancelledError:
            await self._end(offer, TransferState.FAILED, "cancelled", None)
            raise
        except Exception as err:  # the collector's leg failing must not fail the call
            logger.warning("transfer %d failed: %s", offer.transfer_id, type(err).__name__)
            outcome = await self._end(offer, TransferState.FAILED, "error", None)
            await self._apologise(line, self.config.busy_text)
            return outcome
        finally:
            if not keep_busy:
                await asyncio.to_thread(self._release, collector.user_id)

    # --- the two ways ---------------------------------------------------------------

    async def _connect(
        self, line: TransferLine, offer: _Offer, collector: Collector
    ) -> TransferOutcome:
        refused = False
        if self.config.method is TransferMethod.REFER and self.config.refer_domain:
            outcome = await self._refer(line, offer, collector)
            if outcome is not None:
                return outcome
            refused = True  # the trunk will not transfer: bridge through the robot
        return await self._bridge(line, offer, collector, refused=refused)

    async def _refer(
        self, line: TransferLine, offer: _Offer, collector: Collector
    ) -> TransferOutcome | None:
        """A blind transfer; ``None`` when the trunk refused it (bridge instead)."""
        await self._ringing(offer, collector, TransferMethod.REFER)
        line.notice(f"перевод: звонит добавочный {collector.extension} (REFER)")
        target = f"sip:{collector.extension}@{self.config.refer_domain}"
        try:
            await self._while_ringing(
                line, line.call.blind_transfer(target, timeout_s=offer.wait_s)
            )
        except (TransferRefused, TransferUnsupported):
            line.notice("перевод: REFER отклонён — соединяю через робота")
            return None
        except (_DebtorLeft, CallNotActive):
            return await self._end(offer, TransferState.ABANDONED, "debtor_hung_up", collector)
        except TransferTargetFailed as err:
            reason = "collector_busy" if err.status in _BUSY_STATUSES else "no_answer"
            await self._apologise(line, self.config.busy_text)
            return await self._end(offer, TransferState.NO_ANSWER, reason, collector)
        except TransferTimedOut:
            await self._apologise(line, self.config.busy_text)
            return await self._end(offer, TransferState.NO_ANSWER, "no_answer", collector)
        except TransferError:
            await self._apologise(line, self.config.busy_text)
            return await self._end(offer, TransferState.FAILED, "refer_failed", collector)
        await asyncio.to_thread(self._connected, offer.transfer_id)
        line.notice("перевод: звонок передан специалисту (REFER)")
        # The robot has left the call: its end is the collector's and the debtor's business.
        return await self._end(
            offer, TransferState.ENDED, "handed_over", collector, TransferMethod.REFER
        )

    async def _bridge(
        self, line: TransferLine, offer: _Offer, collector: Collector, *, refused: bool
    ) -> TransferOutcome:
        method = TransferMethod.BRIDGE
        await self._ringing(offer, collector, method)
        line.notice(f"перевод: звонит добавочный {collector.extension}")
        failed = TransferState.REFUSED if refused else TransferState.NO_ANSWER
        try:
            leg = await self._while_ringing(
                line, self.telephone.dial(collector.extension, offer.wait_s)
            )
        except _DebtorLeft:
            return await self._end(offer, TransferState.ABANDONED, "debtor_hung_up", collector)
        except TelephonyError as err:
            logger.warning(
                "transfer %d: collector's leg: %s", offer.transfer_id, type(err).__name__
            )
            await self._apologise(line, self.config.busy_text)
            state = TransferState.REFUSED if refused else TransferState.FAILED
            return await self._end(offer, state, "dial_failed", collector, method)
        if leg.result.outcome is not Outcome.ANSWERED:
            reason = "collector_busy" if leg.result.sip_status in _BUSY_STATUSES else "no_answer"
            await self._apologise(line, self.config.busy_text)
            return await self._end(offer, failed, reason, collector, method)
        try:
            if line.call.result.ended:  # answered just as the debtor hung up
                return await self._end(offer, TransferState.ABANDONED, "debtor_hung_up", collector)
            await asyncio.to_thread(self._connected, offer.transfer_id)
            line.notice("перевод: специалист ответил — разговор идёт через робота")
            await line.leave_line()
            ended = await self._relay(line, leg)
        finally:
            with contextlib.suppress(TelephonyError):
                await leg.hangup()
        reason = _BRIDGE_ENDS[ended]
        line.notice(f"перевод завершён: {reason}")
        outcome = await self._end(offer, TransferState.ENDED, reason, collector, method)
        if ended is BridgeEnd.B_ENDED:
            await self._apologise(line, self.config.collector_left_text)
        elif ended in (BridgeEnd.B_RTP_LOST, BridgeEnd.STOPPED):
            await self._apologise(line, self.config.line_lost_text)
        return outcome

    async def _relay(self, line: TransferLine, leg: Call) -> BridgeEnd:
        stop = asyncio.Event()
        timer = asyncio.get_running_loop().call_later(self.config.max_bridge_s, stop.set)
        try:
            result = await bridge(
                line.call,
                leg,
                stop,
                rtp_timeout_s=self.config.rtp_timeout_s,
                recorder=line.recorder,
            )
        finally:
            timer.cancel()
        return result.reason

    async def _while_ringing(self, line: TransferLine, work: Awaitable[T]) -> T:
        """Run ``work`` (the collector ringing) while the robot keeps the debtor company;
        :class:`_DebtorLeft` when the debtor hangs up first (the work is cancelled)."""
        task = asyncio.ensure_future(work)
        ended = asyncio.ensure_future(line.call.wait_ended())
        announcer = asyncio.ensure_future(self._announce(line))
        try:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            raise _DebtorLeft
        finally:
            announcer.cancel()
            line.stop_saying()
            ended.cancel()
            if not task.done():
                task.cancel()
            # A dial cancelled while ringing sends CANCEL (the adapter's obligation).
            await asyncio.gather(task, ended, announcer, return_exceptions=True)

    async def _announce(self, line: TransferLine) -> None:
        """A ringing tone while the collector's phone rings, «оставайтесь на линии» every
        ``announce_every_s``: the debtor never hears the dead air of a dropped call."""
        every = self.config.announce_every_s
        while True:
            await line.ring(every)
            await line.say(self.config.waiting_text)

    async def _apologise(self, line: TransferLine, text: str) -> None:
        if not line.call.result.ended:
            await line.say(text)

    # --- the database (worker threads, one short transaction each) ------------------

    def _offer(self, call_id: int, account_id: int, reason: str) -> _Offer:
        now = self._now()
        with self.factory.begin() as session:
            organisation_id = session.get_one(Account, account_id).organisation_id
            transfer_id = rows.offer_transfer(
                session,
                organisation_id=organisation_id,
                call_id=call_id,
                account_id=account_id,
                reason=reason,
                now=now,
            )
            wait_s = self.config.wait_s or float(rows.transfer_wait_s(session, organisation_id))
        # Committed before the claim: the offer is on record even if the claim fails.
        try:
            with self.factory.begin() as session:
                collector = free_collector(session, organisation_id, now)
        except Exception:
            with self.factory.begin() as session:
                failed = TransferState.FAILED
                rows.end_transfer(
                    session, transfer_id, state=failed, end_reason="claim_failed", now=now
                )
            raise
        return _Offer(transfer_id, collector, wait_s)

    async def _ringing(self, offer: _Offer, collector: Collector, method: TransferMethod) -> None:
        def write() -> None:
            with self.factory.begin() as session:
                rows.mark_ringing(
                    session,
                    offer.transfer_id,
                    collector_user_id=collector.user_id,
                    extension=collector.extension,
                    method=method,
                    now=self._now(),
                )

        await asyncio.to_thread(write)

    def _connected(self, transfer_id: int) -> None:
        with self.factory.begin() as session:
            rows.mark_connected(session, transfer_id, self._now())

    async def _end(
        self,
        offer: _Offer,
        state: TransferState,
        reason: str,
        collector: Collector | None,
        method: TransferMethod | None = None,
    ) -> TransferOutcome:
        def write() -> None:
            with self.factory.begin() as session:
                rows.end_transfer(
                    session, offer.transfer_id, state=state, end_reason=reason, now=self._now()
                )

        await asyncio.to_thread(write)
        return TransferOutcome(
            offer.transfer_id,
            state,
            reason,
            collector.user_id if collector is not None else None,
            method,
        )

    def _release(self, user_id: int) -> None:
        with self.factory.begin() as session:
            release_collector(session, user_id, self._now())
