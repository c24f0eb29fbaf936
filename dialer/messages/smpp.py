"""The SMPP 3.4 adapter: straight to an operator's SMSC, over ``aiosmpplib``'s ESME.

The library owns the session: the bind (transceiver, or transmitter), enquire_link every
``enquire_link_s``, reconnecting after a dropped link (our :class:`_Reconnect` paces it),
the PDU codec and the split of a long text into concatenated parts (a UDH, one reference,
part n of m: ``esm_class`` 0x40). This module turns its callbacks into the port's answer:
:meth:`SmppGateway.send` queues one ``submit_sm`` and waits for its ``submit_sm_resp``.

* Accepted: the SMSC's ``message_id`` is :attr:`Accepted.ref` (the sender stores it as
  the outbox row's ``gateway_ref``); for a long text, the first part's id.
* ``GatewayRejected``: an error status, code ``smpp:0x0000000B`` (ESME_RINVDSTADR…),
  except throttling, a full queue, a system error and "not bound", which are transient.
* ``GatewayUnavailable``: connection refused, bind refused (code ``smpp-bind:0x…``: the
  message names the setting to check), no answer in time, the link dropped while
  waiting. While the link is down between reconnects a send fails at once.

Texts go as UCS-2 (``data_coding`` 8) with ``registered_delivery`` asked. Delivery
receipts (``deliver_sm`` with the receipt bit of ``esm_class``, ``id:… stat:DELIVRD…``)
become :class:`SmppReceipt` values handed to a sink; :class:`OutboxReceipts` stores them
with :func:`~dialer.messages.outbox.record_delivery_report`, found by the outbox id the
library correlated (``log_id``) or else by the SMSC's id in ``gateway_ref``.

Personal data never reaches a log: the library's own logger goes through
:class:`_LibraryLog`, which passes an event's name and a few protocol fields only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractBroker,
    AbstractHook,
    AbstractRetryTimer,
    BindMode,
    BindTransceiverResp,
    DeliverSm,
    PhoneNumber,
    SmppCommandStatus,
    SmppMessage,
    SubmitSm,
    SubmitSmResp,
)
from sqlalchemy.orm import Session, sessionmaker

from dialer.messages import outbox
from dialer.messages.errors import GatewayRejected, GatewayUnavailable
from dialer.messages.port import Accepted, OutgoingSms

__all__ = ["OutboxReceipts", "ReceiptSink", "SmppConfig", "SmppGateway", "SmppReceipt"]

log = logging.getLogger(__name__)

Bind = Literal["transceiver", "transmitter"]
_UDHI: Final = 0x40  # esm_class: a user data header leads the text (concatenated parts)
_TRANSIENT: Final = frozenset(
    {
        SmppCommandStatus.ESME_RTHROTTLED,
        SmppCommandStatus.ESME_RMSGQFUL,
        SmppCommandStatus.ESME_RSYSERR,
        SmppCommandStatus.ESME_RINVBNDSTS,
    }
)
# A receipt's ``stat:`` as Kannel numbers report types (what ``record_delivery_report`` reads).
_RECEIPT_STATUS: Final = {
    "DELIVRD": outbox.DLR_DELIVERED,
    "ACCEPTD": outbox.DLR_BUFFERED,
    "ENROUTE": outbox.DLR_BUFFERED,
    "UNDELIV": outbox.DLR_FAILED,
    "EXPIRED": outbox.DLR_FAILED,
    "DELETED": outbox.DLR_FAILED,
    "REJECTD": outbox.DLR_FAILED,
    "UNKNOWN": outbox.DLR_FAILED,
}
_LOG_FIELDS: Final = ("smpp_command", "command_status", "sequence_num", "task", "parts")


@dataclass(frozen=True, slots=True)
class SmppConfig:
    """The SMSC, our account on it, and how the session is kept."""

    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    bind: Bind = "transceiver"
    enquire_link_s: float = 30.0
    connect_timeout_s: float = 10.0  # TCP connect, bind answer, enquire_link answer
    submit_timeout_s: float = 15.0  # waiting for submit_sm_resp
    reconnect_first_s: float = 1.0
    reconnect_max_s: float = 60.0


@dataclass(frozen=True, slots=True)
class SmppReceipt:
    """A delivery receipt: which message, the report type (Kannel's numbers), the SMSC's
    short answer without the quoted text."""

    smsc_ref: str
    status: int
    detail: str
    message_id: int | None = None  # the outbox id when this process sent it


ReceiptSink = Callable[[SmppReceipt], Awaitable[None]]


class SmppGateway:
    """:class:`~dialer.messages.port.SmsGateway` over SMPP 3.4; receipts go to ``receipts``."""

    name = "smpp"

    def __init__(self, config: SmppConfig, *, receipts: ReceiptSink | None = None) -> None:
        self._config = config
        self._receipts = receipts
        self._pending: dict[str, asyncio.Future[Accepted]] = {}
        self._tries = itertools.count(1)
        self._esme: ESME | None = None
        self._task: asyncio.Task[None] | None = None
        self._state: Literal["connecting", "bound", "down"] = "connecting"
        self._settled = asyncio.Event()
        self._failure = GatewayUnavailable("SMSC недоступен", code="smpp:unavailable")
        self._link_error = ""

    # --- the port -------------------------------------------------------------------

    async def send(self, sms: OutgoingSms) -> Accepted:
        """Queue one ``submit_sm`` (split if long) and wait for the SMSC's answer."""
        esme = await self._bound()
        log_id = f"{sms.message_id}.{next(self._tries)}"
        try:
            submit = SubmitSm(
                short_message=sms.text,
                source=_source(sms.sender),
                destination=PhoneNumber(sms.to.lstrip("+"), TON.INTERNATIONAL, NPI.ISDN),
                esm_class=_UDHI,  # the library drops it again when one part is enough
                registered_delivery=1,
                encoding="ucs2",
                auto_message_payload=False,
                log_id=log_id,
            )
        except ValueError as err:  # its text may quote the number: not in the message
            raise GatewayRejected(
                "SMPP: неверный номер или отправитель", code="smpp:invalid"
            ) from err
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._pending[log_id] = future
        try:
            await esme.broker.enqueue(submit)
            return await asyncio.wait_for(future, self._config.submit_timeout_s)
        except TimeoutError as err:
            raise GatewayUnavailable(
                f"SMSC не ответил на submit_sm за {self._config.submit_timeout_s:g} с",
                code="smpp:timeout",
            ) from err
        finally:
            self._pending.pop(log_id, None)

    async def close(self) -> None:
        """Unbind and close the link; fail whatever still waits."""
        esme, task = self._esme, self._task
        self._esme = self._task = None
        if esme is None or task is None:
            return
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(esme.stop(), self._config.connect_timeout_s)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._fail_pending(GatewayUnavailable("шлюз SMPP закрыт", code="smpp:closed"))

    # --- the link -------------------------------------------------------------------

    async def _bound(self) -> ESME:
        if self._esme is None:
            self._esme = self._make_esme()
            self._connecting()
            self._task = asyncio.create_task(self._esme.start(), name="smpp-esme")
        if self._state == "connecting":
            try:
                await asyncio.wait_for(self._settled.wait(), self._config.connect_timeout_s)
            except TimeoutError as err:
                raise GatewayUnavailable(
                    f"SMSC {self._config.host}:{self._config.port} не ответил за "
                    f"{self._config.connect_timeout_s:g} с",
                    code="smpp:timeout",
                ) from err
        if self._state != "bound":
            raise GatewayUnavailable(str(self._failure), code=self._failure.code)
        return self._esme

    def _make_esme(self) -> ESME:
        c = self._config
        esme = _Esme(
            smsc_host=c.host,
            smsc_port=c.port,
            system_id=c.system_id,
            password=c.password,
            system_type=c.system_type,
            bind_mode=BindMode.TRANSMITTER if c.bind == "transmitter" else BindMode.TRANSCEIVER,
            enquire_link_interval=float(c.enquire_link_s),
            socket_timeout=float(c.connect_timeout_s),
            # Its debug records are many; they pass (filtered) only when ours are wanted.
            log_level=logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.INFO,
            log_handler=_LibraryLog(self),
            log_include_timestamp=False,
            hook=_Hook(self),
            broker=_Broker(self._pending),
            retry_timer=_Reconnect(self, c.reconnect_first_s, c.reconnect_max_s),
        )
        return esme

    def _connecting(self) -> None:
        self._state, self._link_error = "connecting", ""
        self._settled.clear()

    def _on_bind(self, status: SmppCommandStatus) -> None:
        if status in (SmppCommandStatus.ESME_ROK, SmppCommandStatus.ESME_RALYBND):
            self._state = "bound"
            self._settled.set()
            log.info("SMPP: bound to the SMSC as %s", self._config.bind)
            return
        hint = {
            SmppCommandStatus.ESME_RINVPASWD: "неверный пароль (NAPOMNI_SMS_SMPP_PASSWORD)",
            SmppCommandStatus.ESME_RINVSYSID: "неверный system_id (NAPOMNI_SMS_SMPP_SYSTEM_ID)",
            SmppCommandStatus.ESME_RINVSYSTYP: "неверный system_type "
            "(NAPOMNI_SMS_SMPP_SYSTEM_TYPE)",
        }.get(status, "проверьте NAPOMNI_SMS_SMPP_SYSTEM_ID и _PASSWORD")
        self._link_down(
            GatewayUnavailable(
                f"SMSC отказал в привязке: {status.name}, {hint}",
                code=f"smpp-bind:0x{int(status):08X}",
            )
        )
        log.error("SMPP: the SMSC refused the bind: %s", status.name)

    def _link_down(self, failure: GatewayUnavailable | None = None) -> None:
        was_bound = self._state == "bound"
        if failure is None and self._state != "down":
            reason = self._link_error or "соединение не установлено"
            if was_bound:
                reason = f"связь прервалась ({self._link_error or 'соединение закрыто'})"
            failure = GatewayUnavailable(
                f"SMSC {self._config.host}:{self._config.port} недоступен: {reason}",
                code="smpp:unavailable",
            )
        if failure is not None:
            self._failure = failure
        self._state = "down"
        self._settled.set()
        if was_bound:
            log.warning("SMPP: link to the SMSC lost; reconnecting")
        self._fail_pending(self._failure)

    def _fail_pending(self, error: GatewayUnavailable) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(GatewayUnavailable(str(error), code=error.code))

    # --- answers from the SMSC --------------------------------------------------------

    def _on_submit_resp(self, resp: SubmitSmResp) -> None:
        future = self._pending.get(resp.log_id)
        if future is None or future.done():
            return  # we stopped waiting (timeout): the sender retries, a receipt may tell
        status = resp.command_status
        code = f"smpp:0x{int(status):08X}"
        if status == SmppCommandStatus.ESME_ROK:
            future.set_result(Accepted(self.name, resp.message_id))
        elif status in _TRANSIENT:
            future.set_exception(GatewayUnavailable(f"SMSC: {status.name}", code=code))
        else:
            future.set_exception(GatewayRejected(f"SMSC отказал: {status.name}", code=code))

    def _on_send_error(self, message: SmppMessage, error: Exception) -> None:
        future = self._pending.get(getattr(message, "log_id", ""))
        if future is None or future.done():
            return
        if isinstance(error, ValueError):  # the PDU could not be built from our values
            future.set_exception(GatewayRejected("SMPP: сообщение не собрать", code="smpp:invalid"))
        else:
            future.set_exception(
                GatewayUnavailable(f"SMPP: {type(error).__name__}", code="smpp:unavailable")
            )

    async def _on_receipt(self, deliver: DeliverSm) -> None:
        try:
            parsed = deliver.parse_receipt()
        except ValueError:
            log.warning("SMPP: unreadable delivery receipt ignored")
            return
        ref, stat, err = (str(parsed.get(k, "")) for k in ("id", "stat", "err"))
        if not ref:
            log.warning("SMPP: delivery receipt without a message id ignored")
            return
        head = deliver.log_id.split(".", 1)[0]
        receipt = SmppReceipt(
            smsc_ref=ref,
            status=_RECEIPT_STATUS.get(stat.upper(), outbox.DLR_FAILED),
            detail=f"id:{ref} stat:{stat} err:{err}",  # never the quoted text
            message_id=int(head) if head.isdigit() else None,
        )
        log.debug("SMPP: receipt %s for message %s (smsc ref %s)", stat, receipt.message_id, ref)
        if self._receipts is None:
            return
        try:
            await self._receipts(receipt)
        except Exception as err:  # one boundary: a failed store must not end the link
            # Dropping the link instead would make the SMSC resend, but would also cut off
            # sends under way (and a resent submit is a second SMS to the debtor).
            log.error("SMPP: receipt for smsc ref %s not stored: %s", ref, type(err).__name__)


class _Esme(ESME):
    """The library's ESME, closing the sockets it lets go.

    aiosmpplib 0.7.4 drops its ``StreamWriter`` without closing it, both on unbind and when
    it reconnects after a silent link (no enquire_link answer): the socket would stay open
    until garbage collection. These two overrides close it; ``aiosmpplib`` is pinned below
    0.8 so that a release changing these internals is looked at first.
    """

    async def connect(self) -> None:
        if self.session_state != self.bind_mode.session_state:
            self._close_writer()
        await super().connect()

    async def _disconnect(self) -> None:
        writer = self._writer
        await super()._disconnect()
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


class _Hook(AbstractHook):
    """The library's callbacks, passed to the gateway."""

    def __init__(self, gateway: SmppGateway) -> None:
        self._gateway = gateway

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        return None

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        match smpp_message:
            case BindTransceiverResp():  # and its transmitter/receiver subclasses
                self._gateway._on_bind(smpp_message.command_status)
            case SubmitSmResp():
                self._gateway._on_submit_resp(smpp_message)
            case DeliverSm() if smpp_message.is_receipt():
                await self._gateway._on_receipt(smpp_message)
            case DeliverSm():
                log.info("SMPP: an incoming SMS ignored (only receipts are read)")
            case _:
                pass

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        self._gateway._on_send_error(smpp_message, error)


class _Broker(AbstractBroker):
    """The library's outgoing queue; a message nobody waits for any more is not sent."""

    def __init__(self, pending: dict[str, asyncio.Future[Accepted]]) -> None:
        self._pending = pending
        self._queue: asyncio.Queue[SmppMessage] = asyncio.Queue()

    async def enqueue(self, message: SmppMessage) -> None:
        await self._queue.put(message)

    async def dequeue(self) -> SmppMessage:
        while True:
            message = await self._queue.get()
            future = self._pending.get(getattr(message, "log_id", ""))
            if future is not None and not future.done():
                return message


class _Reconnect(AbstractRetryTimer):
    """Paces reconnects (doubling up to a cap) and tells the gateway the link is down."""

    def __init__(self, gateway: SmppGateway, first_s: float, max_s: float) -> None:
        self._gateway = gateway
        self._first_s, self._max_s = first_s, max_s
        self._next_s = first_s

    async def wait(self) -> None:
        self._gateway._link_down()
        await asyncio.sleep(self._next_s)
        self._next_s = min(self._next_s * 2, self._max_s)
        self._gateway._connecting()

    def reset(self) -> None:
        self._next_s = self._first_s

    def next_delay(self) -> float:
        return self._next_s


class _LibraryLog(logging.Handler):
    """The library's log, reduced to the event and a few protocol fields.

    Its records are ``"event >>> {json}"`` and the JSON may hold a whole message (number
    and text) or a PDU in hex: only the fields named in ``_LOG_FIELDS`` pass, and an
    exception by its type.
    """

    def __init__(self, gateway: SmppGateway) -> None:
        super().__init__()
        self._gateway = gateway

    def emit(self, record: logging.LogRecord) -> None:
        event, _, raw = str(record.msg).partition(" >>> ")
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        kept = {k: data[k] for k in _LOG_FIELDS if k in data}
        error = str(data.get("exception", "")).split("(", 1)[0]
        if error:
            kept["error"] = error
        if "SMSC" in event and ("connecting" in event or "reading" in event or "Error" in event):
            self._gateway._link_error = f"{event}{': ' + error if error else ''}"
        level = logging.DEBUG if record.levelno <= logging.INFO else record.levelno
        log.log(level, "aiosmpplib: %s %s", event, kept or "")


def _source(sender: str) -> PhoneNumber:
    """An alphanumeric sender name (TON 5) or a number (international)."""
    digits = sender.lstrip("+")
    if digits.isdigit():
        return PhoneNumber(digits, TON.INTERNATIONAL, NPI.ISDN)
    return PhoneNumber(sender, TON.ALPHANUMERIC, NPI.UNKNOWN)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OutboxReceipts:
    """A :data:`ReceiptSink` storing receipts in the outbox, each in its own transaction."""

    def __init__(
        self, factory: sessionmaker[Session], clock: Callable[[], dt.datetime] = _utc_now
    ) -> None:
        self._factory = factory
        self._clock = clock

    def _store(self, receipt: SmppReceipt) -> bool:
        with self._factory.begin() as session:
            message_id = receipt.message_id
            if message_id is None:
                message_id = outbox.message_by_gateway_ref(session, "smpp", receipt.smsc_ref)
            if message_id is None:
                return False
            return outbox.record_delivery_report(
                session, message_id, receipt.status, receipt.detail, self._clock()
            )

    async def __call__(self, receipt: SmppReceipt) -> None:
        """Store one receipt (a database thread; the receipt is acknowledged after)."""
        if not await asyncio.to_thread(self._store, receipt):
            log.warning("SMPP: receipt for an unknown message (smsc ref %s)", receipt.smsc_ref)
