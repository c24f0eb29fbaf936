"""The sender: drains the outbox into a gateway, off every call's path.

One pass (:meth:`Sender.send_due`) claims due messages in one short transaction, sends
them concurrently, and records each answer in its own transaction. A transient failure
(gateway down, timeout) puts the message back with exponential backoff; a refusal is
stored with its code; after ``max_tries`` transient failures the message fails. Database
work runs in threads (``asyncio.to_thread``), the event loop only waits on the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from dialer.compliance import ProductionCalendar
from dialer.messages import outbox
from dialer.messages.errors import GatewayRejected, GatewayUnavailable
from dialer.messages.port import OutgoingSms, SmsGateway
from storage.models.messages import OutboxMessage

__all__ = ["Sender", "SenderConfig", "backoff"]

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """How the sender works: its id, batch, lease, tries and backoff, the page links' base."""

    worker_id: str
    page_base_url: str
    batch: int = 50
    lease_s: float = 120.0
    max_tries: int = 8
    backoff_first_s: float = 15.0
    backoff_max_s: float = 3600.0
    idle_poll_s: float = 1.0
    max_in_flight: int = 8  # messages waiting on the gateway at once
    organisation_ids: frozenset[int] | None = None  # only these organisations' messages


def backoff(tries: int, config: SenderConfig) -> dt.timedelta:
    """The wait after the ``tries``-th failed try: first, doubled each time, capped."""
    seconds = min(config.backoff_first_s * 2 ** max(tries - 1, 0), config.backoff_max_s)
    return dt.timedelta(seconds=seconds)


class Sender:
    """Moves outbox messages to one gateway; :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        gateway: SmsGateway,
        config: SenderConfig,
        *,
        clock: Clock = _utc_now,
        calendar: ProductionCalendar | None = None,
    ) -> None:
        self._factory = factory
        self._gateway = gateway
        self._config = config
        self._clock = clock
        self._calendar = calendar or ProductionCalendar()

    def _claim(self) -> list[OutgoingSms]:
        with self._factory.begin() as session:
            claimed = outbox.claim_due(
                session,
                worker_id=self._config.worker_id,
                now=self._clock(),
                want=self._config.batch,
                lease=dt.timedelta(seconds=self._config.lease_s),
                page_base_url=self._config.page_base_url,
                calendar=self._calendar,
                organisation_ids=self._config.organisation_ids,
            )
            return claimed

    def _tries_of(self, message_id: int) -> int:
        with self._factory() as session:
            return session.get_one(OutboxMessage, message_id).tries

    async def _send_one(self, sms: OutgoingSms) -> str:
        worker, now = self._config.worker_id, self._clock
        try:
            accepted = await self._gateway.send(sms)
        except GatewayRejected as err:
            log.warning("message %s rejected by the gateway: %s", sms.message_id, err.code)
            await asyncio.to_thread(self._fail, sms.message_id, err.code, None)
            return "rejected"
        except GatewayUnavailable as err:
            tries = await asyncio.to_thread(self._tries_of, sms.message_id)
            retry_at = (
                now() + backoff(tries, self._config) if tries < self._config.max_tries else None
            )
            log.info(
                "message %s: gateway unavailable (%s), try %s", sms.message_id, err.code, tries
            )
            await asyncio.to_thread(self._fail, sms.message_id, err.code, retry_at)
            return "retry" if retry_at is not None else "failed"

        def record() -> None:
            with self._factory.begin() as session:
                outbox.record_accepted(session, sms.message_id, worker, accepted, now())

        await asyncio.to_thread(record)
        return "sent"

    def _fail(self, message_id: int, code: str, retry_at: dt.datetime | None) -> None:
        with self._factory.begin() as session:
            outbox.record_failure(
                session,
                message_id,
                self._config.worker_id,
                code=code,
                retry_at=retry_at,
                now=self._clock(),
            )

    async def send_due(self) -> dict[str, int]:
        """One pass: claim, send, record. Counts by result (``sent``, ``retry``, …)."""
        claimed = await asyncio.to_thread(self._claim)
        gate = asyncio.Semaphore(self._config.max_in_flight)

        async def one(sms: OutgoingSms) -> str:
            async with gate:
                return await self._send_one(sms)

        results = await asyncio.gather(*(one(sms) for sms in claimed))
        counts: dict[str, int] = {}
        for result in results:
            counts[result] = counts.get(result, 0) + 1
        return counts

    async def run(self, stop: asyncio.Event) -> None:
        """Pass after pass; waits ``idle_poll_s`` when a pass found nothing to send."""
        while not stop.is_set():
            try:
                counts = await self.send_due()
            except SQLAlchemyError as err:
                # The loop's one boundary: the database is away; nothing is lost (the outbox
                # keeps the messages, leases run out), so wait and try again. Type only: a
                # database error's text carries the statement's parameters.
                log.error("message sender: database error %s; retrying", type(err).__name__)
                counts = {}
            if not counts:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._config.idle_poll_s)
