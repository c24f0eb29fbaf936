"""The production adapter: baresip-python (asyncio API over the native baresip/libre stack).

One :class:`BaresipTelephone` per process (baresip allows one runtime per process). The
native stack keeps its own 20 ms transmit clock and sends silence when starved, so
``play()`` only has to stay ≤ 60 ms ahead and ``stop_playback()`` flushes its buffer
(``flush_tx``: at most one more frame reaches the wire). Received audio is read every 20 ms.
A 401/407 challenge, CANCEL of a ringing call, re-INVITE/hold and record-routing proxies
are handled by the stack (measured in ``reference/sip-testbench.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import OrderedDict
from types import TracebackType
from typing import TYPE_CHECKING, Final

from dialer.telephony.config import SipConfig
from dialer.telephony.errors import (
    AdapterUnavailable,
    CallNotActive,
    RegistrationFailed,
    TelephonyError,
    TransferError,
    TransferRefused,
    TransferTargetFailed,
    TransferTimedOut,
)
from dialer.telephony.media import MediaCall
from dialer.telephony.port import (
    FRAME_BYTES,
    FRAME_MS,
    SAMPLE_RATE_HZ,
    TRANSFERRED,
    HangupBy,
    Outcome,
)

if TYPE_CHECKING:
    import baresip as bs

__all__ = ["BaresipCall", "BaresipTelephone", "transfer_failure"]

logger = logging.getLogger(__name__)

_FRAME_S: Final = FRAME_MS / 1000
_REGISTER_TIMEOUT_S: Final = 10.0
_READ_BYTES: Final = FRAME_BYTES * 10
_EARLY_CLOSES_KEPT: Final = 256
_PORT_TRIES: Final = 5
# The stack's CALL_CLOSED text once the far end reports the transferred call answered (its
# spelling, matched verbatim).
_TRANSFERRED_TEXT: Final = "Call transfered"
_TRANSFER_SETTLE_S: Final = 0.3
# Final responses that refuse a REFER itself (not allowed, not implemented, no such dialog,
# bad event package). baresip reports a refused REFER and a failing NOTIFY sipfrag alike
# ("CALL_TRANSFER_FAILED 403 Forbidden"), so the status decides: these statuses, from the
# REFER or from a sipfrag, mean "this line does not transfer" and the caller bridges
# instead — bridging when in doubt costs a second leg, not a lost debtor.
_REFER_REFUSALS: Final = frozenset({400, 403, 405, 420, 481, 488, 489, 501})


def transfer_failure(status: int | None, reason: str, text: str) -> TelephonyError:
    """The port's error for baresip's ``TransferFailed`` (``status``/``reason`` of its text).

    A status in the REFER-refusal set is ``TransferRefused``; any other status came from the
    target (the NOTIFY's sipfrag: 486, 480, 408, 487 …) and is ``TransferTargetFailed``; no
    status is a timeout, or the call closing before any outcome (``CallNotActive``).
    """
    if status is None:
        if "closed before" in text:
            return CallNotActive(f"звонок завершился до исхода перевода: {reason or text}")
        if "no transfer outcome" in text:
            return TransferTimedOut(f"нет исхода перевода: {text}", reason=reason)
        return TransferError(f"перевод не удался: {text}", reason=reason)
    if status in _REFER_REFUSALS:
        return TransferRefused(
            f"перевод отклонён: SIP {status} {reason}", status=status, reason=reason
        )
    return TransferTargetFailed(
        f"адресат перевода не ответил: SIP {status} {reason}", status=status, reason=reason
    )


def _import_baresip() -> object:
    try:
        import baresip
    except ImportError as err:  # the wheel exists only for x86_64 Linux, CPython 3.11-3.13
        raise AdapterUnavailable(
            "baresip-python не установлен; поставьте его или выберите адаптер pyvoip"
        ) from err
    return baresip


def _free_udp_port(host: str) -> int:
    """A port free for SIP on ``host``, over UDP and TCP alike (baresip listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind((host, port))
        except OSError:
            continue  # taken over TCP: another
        return port


class BaresipCall(MediaCall):
    """A call placed through baresip-python."""

    def __init__(self, native: bs.Call, call_id: str) -> None:
        super().__init__(call_id)
        self._native = native
        self._reader: asyncio.Task[None] | None = None
        native.on(self._on_event)
        native.on_dtmf(lambda event: self.deliver_digit(event.digit))

    def _on_event(self, event: bs.StackEvent) -> None:
        import baresip

        if event.event is baresip.Event.CALL_CLOSED and self.answered:
            reason = event.text or ""
            if reason == _TRANSFERRED_TEXT:
                self.finish_answered("robot", TRANSFERRED)
                return
            by: HangupBy = "network" if "rtp" in reason.lower() else "remote"
            self.finish_answered(by, reason)

    @property
    def handle(self) -> int:
        """The native call handle."""
        return int(self._native.handle)

    def start_media(self) -> None:
        """Begin reading received audio (after the answer)."""
        self._reader = asyncio.get_running_loop().create_task(self._read_audio())

    async def _read_audio(self) -> None:
        import baresip

        loop = asyncio.get_running_loop()
        start, tick, rest = loop.time(), 0, b""
        audio = self._native.audio
        while not self.is_ended:
            try:
                rest += audio.read(_READ_BYTES)
            except baresip.AudioRestarted:
                rest = b""  # re-INVITE replaced the streams; the next read binds anew
            except baresip.AudioNotActive:
                pass  # no media for a moment (hold) or the call is closing
            while len(rest) >= FRAME_BYTES:
                self.deliver_frame(rest[:FRAME_BYTES])
                rest = rest[FRAME_BYTES:]
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * _FRAME_S - loop.time()))

    def tx_starved_frames(self) -> int | None:
        """Frames the native clock had to fill with silence mid-playback (None: no media)."""
        import baresip

        try:
            return int(self._native.audio.stats().tx_starved_frames)
        except baresip.BaresipError:
            return None

    def _write_frame(self, frame: bytes) -> None:
        import baresip

        with contextlib.suppress(baresip.AudioRestarted, baresip.AudioNotActive):
            self._native.audio.write(frame)

    def _flush_tx(self) -> None:
        import baresip

        with contextlib.suppress(baresip.AudioRestarted, baresip.AudioNotActive):
            self._native.audio.flush_tx()

    async def _send_hangup(self) -> None:
        import baresip

        with contextlib.suppress(baresip.StaleHandleError):
            await self._native.hangup()

    async def _transfer(self, target_uri: str, timeout_s: float) -> None:
        import baresip

        try:
            await self._native.transfer(target_uri, timeout=timeout_s)
        except baresip.TransferFailed as err:
            # A transferee whose caller hangs up while the target rings cancels the new call
            # and reports it (sipfrag 487) just before its BYE: wait a moment for that BYE,
            # so the caller is not told the call is still up when it is not.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wait_ended(), _TRANSFER_SETTLE_S)
            if self.is_ended:
                raise CallNotActive(
                    f"call {self.call_id}: звонок завершился во время перевода"
                ) from err
            raise transfer_failure(err.status, err.reason, str(err)) from err
        except baresip.StaleHandleError as err:
            raise CallNotActive(f"call {self.call_id}: звонок уже завершён") from err
        except baresip.BaresipError as err:
            raise TransferError(f"REFER не отправлен: {err}") from err

    def _on_finished(self) -> None:
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()


class BaresipTelephone:
    """The robot's telephone on baresip-python; use ``async with`` or start/close."""

    def __init__(self, config: SipConfig, *, native_log_level: str = "warning") -> None:
        self.config = config
        self._native_log_level = native_log_level
        self._runtime: bs.Runtime | None = None
        self._agent: bs.UserAgent | None = None
        self._calls: set[BaresipCall] = set()
        # CALL_CLOSED and CALL_ESTABLISHED events by call handle that arrived before dial()
        # had built the Call: baresip-python drops those. A 404 straight from the proxy, or
        # a 200 OK from a phone that answers at once while the event loop is busy (the
        # command's reply and the answer are queued together), beats it; the call then
        # waited for its ring timeout — an answered call stored as no_answer while the
        # debtor said «Алло?» for 30 s (seen in 1 of 5 demo runs under load).
        self._early: OrderedDict[int, bs.StackEvent] = OrderedDict()

    async def __aenter__(self) -> BaresipTelephone:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the stack, create the account, register when the config says so."""
        _import_baresip()
        import baresip

        config = self.config
        # baresip's default adaptive jitter buffer is kept: it drops a frame now and then to
        # keep latency low (49.0-49.5 received frames/s in double talk). A fixed buffer gave
        # 50.0 on an idle machine but broken audio under load, which matters more to ASR.
        ports = f"rtp_ports {config.rtp_port_min}-{config.rtp_port_max}\n"
        # A port found free can be taken before baresip binds it (seen once in 80 rounds of
        # the soak run, with tests starting SIP peers beside it): a new one, a few times.
        tries = 1 if config.local_address is None or config.local_sip_port else _PORT_TRIES
        for attempt in range(1, tries + 1):
            extra = ports
            if config.local_address is not None:
                port = config.local_sip_port or _free_udp_port(config.local_address)
                extra += f"sip_listen {config.local_address}:{port}\n"
            runtime = baresip.Runtime()
            try:
                await runtime.start(
                    baresip.Config(
                        net_interface=config.local_address,
                        max_concurrent_calls=config.max_concurrent_calls + 1,
                        native_log_level=self._native_log_level,
                        extra_config_text=extra,
                    )
                )
                break
            except baresip.BaresipError as err:
                if attempt < tries and "in use" in str(err).lower():
                    logger.warning("SIP port taken before baresip bound it; another")
                    with contextlib.suppress(Exception):
                        await runtime.close()
                    continue
                raise AdapterUnavailable(f"baresip не запустился: {err}") from err
        self._runtime = runtime
        runtime.subscribe(self._remember_early)
        try:
            self._agent = await baresip.UserAgent.create(
                runtime,
                baresip.Account(
                    user=config.user,
                    domain=config.registrar,
                    password=config.password,
                    reg_interval=600 if config.register else 0,
                    transport=config.transport,
                    audio_codecs=tuple(codec.lower() for codec in config.codecs),
                    dtmf_mode="rtpevent",
                ),
            )
            if config.register:
                await self._agent.register(timeout=_REGISTER_TIMEOUT_S)
        except baresip.RegistrationError as err:
            await self.close()
            raise RegistrationFailed(
                f"регистрация на {config.registrar} не удалась (SIP {err.status}: {err.reason})"
            ) from err
        except (baresip.BaresipError, ValueError) as err:
            await self.close()
            raise TelephonyError(f"учётная запись SIP не создана: {err}") from err
        logger.info("baresip telephone started, registrar %s", config.registrar)

    async def close(self) -> None:
        """Hang up what is still up, unregister (bounded) and stop the stack."""
        import baresip

        for call in list(self._calls):
            with contextlib.suppress(TelephonyError):
                await call.hangup()
        if self._agent is not None and self.config.register:
            with contextlib.suppress(baresip.BaresipError):
                await self._agent.unregister(timeout=2)
        self._agent = None
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.close()

    def _remember_early(self, event: bs.StackEvent) -> None:
        import baresip

        kinds = (baresip.Event.CALL_CLOSED, baresip.Event.CALL_ESTABLISHED)
        if event.event not in kinds or not event.call:
            return
        if any(call.handle == event.call for call in self._calls):
            return  # a call we track hears its own events; only orphans are kept
        if self._early.get(event.call) is not None and event.event is not kinds[0]:
            return  # a close already seen wins
        self._early[event.call] = event
        while len(self._early) > _EARLY_CLOSES_KEPT:
            self._early.popitem(last=False)

    @property
    def active_calls(self) -> int:
        """Calls dialled and not ended yet."""
        return len(self._calls)

    async def dial(self, number: str, ring_timeout_s: float) -> BaresipCall:
        """Place a call; returns once it is answered or has failed (with its result)."""
        import baresip

        if self._agent is None:
            raise TelephonyError("телефон не запущен: вызовите start()")
        if len(self._calls) >= self.config.max_concurrent_calls:
            raise TelephonyError(
                f"уже идёт {len(self._calls)} звонков — это предел max_concurrent_calls"
            )
        headers = {}
        if self.config.caller_id:
            headers["P-Asserted-Identity"] = (
                f"<sip:{self.config.caller_id}@{self.config.registrar_host}>"
            )
        try:
            native = await self._agent.dial(self.config.uri_for(number), headers or None)
        except baresip.BaresipError as err:
            raise TelephonyError(f"набор номера не удался: {err}") from err
        call = BaresipCall(native, native.call_id or f"baresip-{native.handle:x}")
        early = self._early.pop(native.handle, None)
        if early is not None and early.event is baresip.Event.CALL_CLOSED:
            failure = baresip.CallFailed.from_close_reason(early.text or "")
            call.finish_failed(failure.status, failure.reason or early.text or "")
            return call
        self._calls.add(call)
        try:
            if early is None:  # else it was answered before the Call existed
                await native.wait_established(ring_timeout_s)
        except baresip.CallTimeout:
            # wait_established has already hung up: a CANCEL went to the far end.
            call.finish_failed(None, "no answer within ring timeout", Outcome.NO_ANSWER)
        except baresip.CallFailed as err:
            call.finish_failed(err.status, err.reason or str(err))
        except BaseException:
            with contextlib.suppress(baresip.BaresipError):
                await native.hangup()
            self._calls.discard(call)
            raise
        if call.is_ended:
            self._calls.discard(call)
            return call
        call.mark_answered()
        self._check_format(native)
        call.start_media()
        call.add_end_callback(self._forget)
        return call

    def _forget(self, call: MediaCall) -> None:
        if isinstance(call, BaresipCall):
            self._calls.discard(call)

    @staticmethod
    def _check_format(native: bs.Call) -> None:
        import baresip

        with contextlib.suppress(baresip.BaresipError):
            info = native.audio.info()
            if info.tx_sample_rate not in (0, SAMPLE_RATE_HZ) or info.tx_channels not in (0, 1):
                logger.warning(
                    "call audio is %d Hz x%d, expected 8000 Hz mono",
                    info.tx_sample_rate,
                    info.tx_channels,
                )
