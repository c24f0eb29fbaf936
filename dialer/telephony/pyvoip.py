"""The pure-Python fallback adapter: pyVoIP 1.6.8 (GPLv3 — an optional extra,
``pip install napomni[pyvoip]``; it is imported only here).

pyVoIP runs on its own threads; this adapter subclasses it to fix the defects measured in
``reference/sip-testbench.md`` that can be fixed, and refuses clearly what cannot work:

Fixed here
    * ACK of a 2xx carried a random To-tag, so the callee hung up at 32 s: the ACK now
      carries the 2xx's To-tag, goes to its Contact with a new branch and the route set.
    * The application got 8-bit audio: G.711 is decoded to 16-bit here (``audioop``
      ``ulaw2lin``/``alaw2lin`` with width 2) and frames go to the loop with
      ``call_soon_threadsafe``; PCMA is encoded as PCMA (1.6.8 encoded it as PCMU).
    * 486/603/480/404… were dropped ("TODO") and the call stayed DIALING forever: every
      non-2xx final is ACKed and becomes the call's result (busy, rejected, …).
    * No CANCEL and no ring timeout: a ringing call is cancelled after ``ring_timeout_s``.
    * A 404 raised ``KeyError`` because the call was created after the INVITE was sent: the
      call is registered first; 404/503 no longer ``warnings.warn`` (which also reset the
      process's warning filters).
    * A hold re-INVITE restarted the RTP threads (double send rate) and answered sendrecv:
      it is answered with the matching direction and the running streams are kept, and
      the answer goes back along the Via (pyVoIP sent it to the registrar, which dropped it).
    * Call-IDs and branches were ``sha256(counter)`` — the same in every process: uuid4.
    * The INVITE's Request-URI and To lacked the registrar's port (fine only on 5060).
    * Transmit pacing drifted (``sleep(20 ms)`` after each send) and receive busy-polled:
      deadline pacing, blocking sockets with timeouts, RTP accepted only from the peer.
    * BYE lacked the route set and reused the INVITE's branch: fixed.
Refused (``UnsupportedByAdapter``)
    * No registrar (``register=False``): pyVoIP always REGISTERs and stops when it cannot.
    * A 407 challenge on INVITE (trunks that demand proxy auth): pyVoIP cannot answer it;
      the call is refused at once naming the baresip adapter, instead of hanging forever.
    * TCP/TLS transports, full ``sip:`` URIs as numbers, a codec list without PCMU.
    * Blind transfer (pyVoIP sends no REFER): ``blind_transfer()`` raises
      ``TransferUnsupported``; the caller bridges the call through the robot instead.
Known and left
    * The SIP receive thread starts 1 s after ``start()`` (``start`` waits for it).
    * Caller ID cannot be set (no headers on pyVoIP's INVITE).
"""

from __future__ import annotations

import asyncio
import audioop
import contextlib
import logging
import re
import socket
import threading
import time
import uuid
from collections import deque
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, cast

from dialer.telephony.config import SipConfig
from dialer.telephony.errors import (
    AdapterUnavailable,
    RegistrationFailed,
    TelephonyError,
    UnsupportedByAdapter,
)
from dialer.telephony.media import MediaCall
from dialer.telephony.port import FRAME_BYTES, FRAME_MS, Outcome

try:
    import pyVoIP
    import pyVoIP.VoIP  # first: pyVoIP's own modules import each other circularly
    from pyVoIP import RTP, SIP
    from pyVoIP.VoIP import CallState, VoIPCall, VoIPPhone
except ImportError as err:  # the optional extra is not installed
    raise AdapterUnavailable(
        "pyVoIP не установлен: pip install 'napomni[pyvoip]' (или используйте адаптер baresip)"
    ) from err

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["PyVoipCall", "PyVoipTelephone"]

logger = logging.getLogger(__name__)

_FRAME_S: Final = FRAME_MS / 1000
_SAMPLES_PER_FRAME: Final = FRAME_BYTES // 2
_RECV_THREAD_DELAY_S: Final = 1.1  # pyVoIP starts its SIP receive thread 1 s after start()
_START_TIMEOUT_S: Final = 15.0
_STOP_TIMEOUT_S: Final = 5.0
_CANCEL_WAIT_S: Final = 3.0
_CONTACT: Final = re.compile(r"<([^>]+)>")
_RECORD_ROUTE: Final = re.compile(rb"^Record-Route:\s*(.+?)\r?$", re.MULTILINE | re.IGNORECASE)
_HEADER: Final = "{name}: {value}\r\n"


def _branch() -> str:
    return "z9hG4bK" + uuid.uuid4().hex[:24]


class _Bridge:
    """Hands events from pyVoIP's threads to the call's asyncio side."""

    def __init__(self, loop: asyncio.AbstractEventLoop, call: PyVoipCall) -> None:
        self.loop = loop
        self.call = call

    def post(self, callback: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
            self.loop.call_soon_threadsafe(callback, *args)


class _Rtp16(RTP.RTPClient):
    """One RTP stream with 16-bit G.711, deadline pacing and peer filtering."""

    def __init__(self, *args: Any, bridge: _Bridge, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bridge = bridge
        self.tx: deque[bytes] = deque()
        self._rx_rest = b""
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.sin = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sout = self.sin  # symmetric RTP: send from the port in our SDP
        self.sin.bind((self.inIP, self.inPort))
        self.sin.settimeout(0.1)
        for target, name in ((self.recv, "rtp-recv"), (self.trans, "rtp-send")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.NSD = False
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(_STOP_TIMEOUT_S)
        self.sin.close()

    def recv(self) -> None:
        while self.NSD:
            try:
                packet, source = self.sin.recvfrom(8192)
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                return
            if source != (self.outIP, self.outPort):
                continue  # RTP only from the negotiated peer
            with contextlib.suppress(RTP.RTPParseError, ValueError, IndexError):
                self.parse_packet(packet)

    def parse_pcmu(self, packet: RTP.RTPMessage) -> None:
        self._deliver(audioop.ulaw2lin(packet.payload, 2))

    def parse_pcma(self, packet: RTP.RTPMessage) -> None:
        self._deliver(audioop.alaw2lin(packet.payload, 2))

    def _deliver(self, pcm: bytes) -> None:
        rest = self._rx_rest + pcm
        while len(rest) >= FRAME_BYTES:
            self.bridge.post(self.bridge.call.deliver_frame, rest[:FRAME_BYTES])
            rest = rest[FRAME_BYTES:]
        self._rx_rest = rest

    def encode_packet(self, payload: bytes) -> bytes:
        if self.preference == RTP.PayloadType.PCMA:
            return bytes(audioop.lin2alaw(payload, 2))
        return bytes(audioop.lin2ulaw(payload, 2))

    def trans(self) -> None:
        silence = bytes(FRAME_BYTES)
        deadline = time.monotonic()
        while self.NSD:
            frame = self.tx.popleft() if self.tx else silence
            header = (
                bytes([0x80, int(self.preference)])
                + (self.outSequence % 65536).to_bytes(2, "big")
                + (self.outTimestamp % 2**32).to_bytes(4, "big")
                + self.outSSRC.to_bytes(4, "big")
            )
            with contextlib.suppress(OSError):
                self.sout.sendto(header + self.encode_packet(frame), (self.outIP, self.outPort))
            self.outSequence += 1
            self.outTimestamp += _SAMPLES_PER_FRAME
            deadline += _FRAME_S
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -5 * _FRAME_S:
                deadline = time.monotonic()  # stalled (GIL, suspend): don't burst


class _Call(VoIPCall):
    """pyVoIP's call with 16-bit streams, a real re-INVITE answer and events to the loop."""

    bridge: _Bridge

    def create_rtp_clients(
        self, codecs: dict[int, Any], ip: str, port: int, request: Any, baseport: int
    ) -> None:
        for index in range(len(request.body["c"])):
            self.RTPClients.append(
                _Rtp16(
                    codecs,
                    ip,
                    port,
                    request.body["c"][index]["address"],
                    baseport + index,
                    self.sendmode,
                    dtmf=self.dtmf_callback,
                    bridge=self.bridge,
                )
            )

    def answered(self, request: Any) -> None:
        was_dialing = self.state == CallState.DIALING
        super().answered(request)
        if was_dialing and self.state == CallState.ANSWERED:
            self.bridge.post(self.bridge.call.on_answered)

    def __del__(self) -> None:
        pass  # pyVoIP releases ports here a second time (ValueError); we release them on end

    def release(self) -> None:
        """Give the call's RTP port back (once)."""
        with contextlib.suppress(ValueError):
            self.phone.release_ports(self)

    def dtmf_callback(self, code: str) -> None:
        self.bridge.post(self.bridge.call.deliver_digit, code)

    def bye(self) -> None:
        super().bye()
        self.release()
        self.bridge.post(self.bridge.call.finish_answered, "remote", "BYE")

    def renegotiate(self, request: Any) -> None:
        offered = request.body.get("a", {}).get("transmit_type", RTP.TransmitType.SENDRECV)
        answer = {
            RTP.TransmitType.SENDONLY: RTP.TransmitType.RECVONLY,
            RTP.TransmitType.RECVONLY: RTP.TransmitType.SENDONLY,
            RTP.TransmitType.INACTIVE: RTP.TransmitType.INACTIVE,
        }.get(offered, RTP.TransmitType.SENDRECV)
        media = {client.inPort: client.assoc for client in self.RTPClients}
        message = self.sip.gen_answer(request, self.session_id, media, answer)
        self.sip.out.sendto(message.encode("utf8"), _reply_address(request))
        for media_line in request.body["m"]:
            if media_line["type"] != "audio":
                continue
            for index, client in zip(range(len(request.body["c"])), self.RTPClients, strict=False):
                client.outIP = request.body["c"][index]["address"]
                client.outPort = media_line["port"] + index


class _SipClient(SIP.SIPClient):
    """pyVoIP's SIP client with correct ACK/BYE/CANCEL and every final response handled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invites: dict[str, str] = {}
        self.route_sets: dict[str, list[str]] = {}
        self.failed: Callable[[str, int, str], None] = lambda call_id, status, reason: None

    def gen_call_id(self) -> str:
        return f"{uuid.uuid4().hex}@{self.myIP}"

    def parse_message(self, message: Any) -> None:
        if message.type == SIP.SIPMessageType.MESSAGE:
            super().parse_message(message)
            return
        if message.headers["CSeq"]["method"] != "INVITE":
            return  # answers to our CANCEL and BYE need nothing more
        status = int(message.status)
        call_id = message.headers["Call-ID"]
        if status < 200:
            return
        if status < 300:
            routes = [r.decode() for r in _RECORD_ROUTE.findall(message.raw)]
            self.route_sets[call_id] = list(reversed(routes))
            super().parse_message(message)  # → answered() and our ACK
            return
        self.out.sendto(self.gen_ack(message).encode("utf8"), (self.server, self.port))
        self.failed(call_id, status, message.status.phrase)

    def _routes(self, call_id: str) -> str:
        return "".join(f"Route: {route}\r\n" for route in self.route_sets.get(call_id, []))

    def gen_ack(self, request: Any) -> str:
        call_id = request.headers["Call-ID"]
        tag = self.tagLibrary[call_id]
        to_tag = request.headers["To"]["tag"]
        to = request.headers["To"]["raw"] + (f";tag={to_tag}" if to_tag else "")
        invite = self.invites.get(call_id, "")
        if 200 <= int(request.status) < 300:
            contact = _CONTACT.search(str(request.headers.get("Contact", "")))
            target = contact.group(1) if contact else request.headers["To"]["raw"].strip("<>")
            via = f"Via: SIP/2.0/UDP {self.myIP}:{self.myPort};branch={_branch()};rport\r\n"
            routes = self._routes(call_id)
        else:  # ACK of a non-2xx belongs to the INVITE transaction: same branch and R-URI
            target = invite.split(" ", 2)[1] if invite else request.headers["To"]["raw"].strip("<>")
            via = self._gen_response_via_header(request)
            routes = ""
        return (
            f"ACK {target} SIP/2.0\r\n{via}{routes}Max-Forwards: 70\r\n"
            f"To: {to}\r\nFrom: {request.headers['From']['raw']};tag={tag}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {request.headers['CSeq']['check']} ACK\r\n"
            "Content-Length: 0\r\n\r\n"
        )

    def gen_bye(self, request: Any) -> str:
        call_id = request.headers["Call-ID"]
        tag = self.tagLibrary[call_id]
        contact = _CONTACT.search(str(request.headers.get("Contact", "")))
        target = contact.group(1) if contact else request.headers["To"]["raw"].strip("<>")
        to_tag = request.headers["To"]["tag"]
        cseq = int(request.headers["CSeq"]["check"]) + 1
        return (
            f"BYE {target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.myIP}:{self.myPort};branch={_branch()};rport\r\n"
            f"{self._routes(call_id)}Max-Forwards: 70\r\n"
            f"From: {request.headers['From']['raw']};tag={tag}\r\n"
            f"To: {request.headers['To']['raw']};tag={to_tag}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} BYE\r\nContent-Length: 0\r\n\r\n"
        )

    def gen_cancel(self, call_id: str) -> str | None:
        """CANCEL of our pending INVITE: same R-URI, Via, From, To, Call-ID and CSeq number."""
        invite = self.invites.get(call_id)
        if invite is None:
            return None
        lines = invite.split("\r\n\r\n", 1)[0].split("\r\n")
        request_uri = lines[0].split(" ", 2)[1]
        keep = ("Via:", "From:", "To:", "Call-ID:", "Max-Forwards:")
        headers = "".join(f"{line}\r\n" for line in lines[1:] if line.startswith(keep))
        cseq = next(line for line in lines if line.startswith("CSeq:")).split()[1]
        return (
            f"CANCEL {request_uri} SIP/2.0\r\n{headers}CSeq: {cseq} CANCEL\r\n"
            "Content-Length: 0\r\n\r\n"
        )

    def send_invite(self, number: str, media: dict[int, Any], call_id: str) -> str:
        """Build and remember the INVITE (call it before the call exists on the wire)."""
        sess_id = str(self.sessID.next())
        invite = self.gen_invite(
            number, sess_id, media, RTP.TransmitType.SENDRECV, _branch(), call_id
        )
        # pyVoIP addresses the INVITE to the registrar's host without its port, so a
        # registrar on any port but 5060 would relay it to whoever listens on 5060.
        here = f"@{self.server}:{self.port}"
        invite = invite.replace(
            f"INVITE sip:{number}@{self.server} ", f"INVITE sip:{number}{here} ", 1
        ).replace(f"To: <sip:{number}@{self.server}>", f"To: <sip:{number}{here}>", 1)
        self.invites[call_id] = invite
        return invite

    def offer(self, call_id: str, invite: str, deadline: float) -> int | None:
        """Send the INVITE and read until a provisional or final answer; 401 is answered.

        Returns the final status when the INVITE failed here, else None (ringing/answered).
        """
        with self.recvLock:
            self.out.sendto(invite.encode("utf8"), (self.server, self.port))
            authorised = False
            self.s.settimeout(0.2)
            try:
                while time.monotonic() < deadline and self.NSD:
                    try:
                        response = SIP.SIPMessage(self.s.recv(8192))
                    except TimeoutError:
                        continue
                    if response.type == SIP.SIPMessageType.MESSAGE or (
                        response.headers["Call-ID"] != call_id
                    ):
                        self.parse_message(response)
                        continue
                    status = int(response.status)
                    if status in (100, 180, 183):
                        return None
                    if status == 407:
                        self.out.sendto(
                            self.gen_ack(response).encode("utf8"), (self.server, self.port)
                        )
                        raise UnsupportedByAdapter(
                            "транк требует Proxy-Authorization (407) на INVITE — pyVoIP 1.6.8 "
                            "этого не умеет; используйте адаптер baresip"
                        )
                    if status == 401 and not authorised:
                        self.out.sendto(
                            self.gen_ack(response).encode("utf8"), (self.server, self.port)
                        )
                        invite = self._authorised(invite, response)
                        self.invites[call_id] = invite
                        self.out.sendto(invite.encode("utf8"), (self.server, self.port))
                        authorised = True
                        continue
                    self.parse_message(response)
                    return status if status >= 300 else None
                return None
            finally:
                self.s.setblocking(True)

    def _authorised(self, invite: str, response: Any) -> str:
        authhash = self.gen_authorization(response)
        nonce = response.authentication["nonce"]
        realm = response.authentication["realm"]
        auth = (
            f'Authorization: Digest username="{self.username}",realm="{realm}",'
            f'nonce="{nonce}",uri="sip:{self.server};transport=UDP",'
            f'response="{authhash.decode()}",algorithm=MD5\r\n'
        )
        head, body = invite.split("\r\n\r\n", 1)
        lines = head.split("\r\n")
        out = []
        for line in lines:
            if line.startswith("Via:"):
                line = re.sub(r"branch=[^;\r\n]+", f"branch={_branch()}", line)
            elif line.startswith("CSeq:"):
                line = f"CSeq: {self.inviteCounter.next()} INVITE"
            out.append(line)
        return "\r\n".join(out) + "\r\n" + auth.rstrip("\r\n") + "\r\n\r\n" + body


class _Phone(VoIPPhone):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Replace the SIP client built by VoIPPhone with the fixed one, same arguments.
        old = self.sip
        self.fixed_sip = _SipClient(
            old.server,
            old.port,
            old.username,
            old.password,
            phone=self,
            myIP=old.myIP,
            myPort=old.myPort,
            callCallback=self.callback,
            fatalCallback=self.fatal,
        )
        self.sip = self.fixed_sip
        self.fixed_sip.failed = self._failed
        self.bridges: dict[str, _Bridge] = {}

    def _failed(self, call_id: str, status: int, reason: str) -> None:
        call = self.calls.pop(call_id, None)
        if call is not None:
            for client in call.RTPClients:
                client.stop()
            call.state = CallState.ENDED
            if isinstance(call, _Call):
                call.release()
        bridge = self.bridges.pop(call_id, None)
        if bridge is not None:
            bridge.post(bridge.call.finish_failed, status, reason)

    def _callback_RESP_NotFound(self, request: Any) -> None:  # noqa: N802 - pyVoIP's name
        self._failed(request.headers["Call-ID"], 404, "Not Found")

    def _callback_RESP_Unavailable(self, request: Any) -> None:  # noqa: N802
        self._failed(request.headers["Call-ID"], 503, "Service Unavailable")

    def place(self, number: str, offer: dict[int, Any], bridge: _Bridge, deadline: float) -> _Call:
        """Create the call, then send its INVITE (so no answer can arrive before the call)."""
        port = self.request_port()
        media = {port: offer}
        call_id = self.fixed_sip.gen_call_id()
        invite = self.fixed_sip.send_invite(number, media, call_id)
        call = _Call(
            self,
            CallState.DIALING,
            SIP.SIPMessage(invite.encode("utf8")),
            int(invite.split("o=pyVoIP ", 1)[1].split(" ", 1)[0]),
            self.myIP,
            ms=cast(Any, media),  # pyVoIP's annotation is narrower than what it uses
            sendmode=self.sendmode,
        )
        call.bridge = bridge
        bridge.call._native = call
        self.calls[call_id] = call
        self.bridges[call_id] = bridge
        try:
            status = self.fixed_sip.offer(call_id, invite, deadline)
        except UnsupportedByAdapter:
            self.calls.pop(call_id, None)
            self.bridges.pop(call_id, None)
            raise
        if status is not None:
            self._failed(call_id, status, "")
        return call

    def cancel(self, call: _Call) -> None:
        message = self.fixed_sip.gen_cancel(call.call_id)
        if message is not None:
            self.sip.out.sendto(message.encode("utf8"), (self.server, self.port))


class PyVoipCall(MediaCall):
    """A call placed through pyVoIP; audio frames arrive from its RTP thread."""

    def __init__(self, call_id: str, phone: _Phone) -> None:
        super().__init__(call_id)
        self._phone = phone
        self._native: _Call | None = None
        self._answered_event = asyncio.Event()

    def on_answered(self) -> None:
        self.mark_answered()
        self._answered_event.set()

    def _clients(self) -> list[_Rtp16]:
        if self._native is None:
            return []
        return [client for client in self._native.RTPClients if isinstance(client, _Rtp16)]

    def _write_frame(self, frame: bytes) -> None:
        for client in self._clients():
            client.tx.append(frame)

    def _flush_tx(self) -> None:
        for client in self._clients():
            client.tx.clear()

    async def _send_hangup(self) -> None:
        native = self._native
        if native is None:
            return
        if self.answered:
            await asyncio.to_thread(self._bye, native)
            self.finish_answered("robot", "BYE")
        else:
            await asyncio.to_thread(self._phone.cancel, native)

    def _bye(self, native: _Call) -> None:
        with contextlib.suppress(Exception):  # pyVoIP raises bare errors on a racing BYE
            native.hangup()
        native.release()


class PyVoipTelephone:
    """The robot's telephone on pyVoIP (a fallback; see the module docstring)."""

    def __init__(self, config: SipConfig) -> None:
        if not config.register:
            raise UnsupportedByAdapter(
                "pyVoIP не работает без регистратора (всегда шлёт REGISTER); используйте baresip"
            )
        if config.transport != "udp":
            raise UnsupportedByAdapter(f"pyVoIP умеет только UDP, а не {config.transport}")
        if "PCMU" not in config.codecs:
            raise UnsupportedByAdapter("pyVoIP предлагает только PCMU; добавьте PCMU в кодеки")
        self.config = config
        self._phone: _Phone | None = None
        self._calls: set[PyVoipCall] = set()

    async def __aenter__(self) -> PyVoipTelephone:
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
        """Register (pyVoIP's own threads) and wait for its receive thread."""
        config = self.config
        local = config.local_address or "0.0.0.0"
        port = config.local_sip_port or _free_udp_port(local)
        phone = _Phone(
            config.registrar_host,
            config.registrar_port,
            config.user,
            config.password,
            myIP=local,
            callCallback=None,
            sipPort=port,
            rtpPortLow=config.rtp_port_min,
            rtpPortHigh=config.rtp_port_max,
        )
        try:
            await asyncio.wait_for(asyncio.to_thread(phone.start), _START_TIMEOUT_S)
        except (TimeoutError, OSError, SIP.InvalidAccountInfoError) as err:
            await asyncio.to_thread(_stop_phone, phone)
            raise RegistrationFailed(
                f"pyVoIP: регистрация на {config.registrar} не удалась"
            ) from err
        if phone.get_status() != pyVoIP.VoIP.PhoneStatus.REGISTERED:
            await asyncio.to_thread(_stop_phone, phone)
            raise RegistrationFailed(f"pyVoIP: регистрация на {config.registrar} не удалась")
        await asyncio.sleep(_RECV_THREAD_DELAY_S)
        self._phone = phone
        logger.info("pyvoip telephone started, registrar %s", config.registrar)

    async def close(self) -> None:
        """Hang up what is still up and stop pyVoIP's threads (bounded)."""
        for call in list(self._calls):
            with contextlib.suppress(TelephonyError):
                await call.hangup()
        phone, self._phone = self._phone, None
        if phone is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.to_thread(_stop_phone, phone), _STOP_TIMEOUT_S)

    async def dial(self, number: str, ring_timeout_s: float) -> PyVoipCall:
        """Place a call; returns once answered or failed (CANCEL after the ring timeout)."""
        phone = self._phone
        if phone is None:
            raise TelephonyError("телефон не запущен: вызовите start()")
        if number.startswith(("sip:", "sips:")) or not number:
            raise UnsupportedByAdapter("pyVoIP набирает только номер на регистраторе, не SIP URI")
        if len(self._calls) >= self.config.max_concurrent_calls:
            raise TelephonyError("достигнут предел max_concurrent_calls")
        loop = asyncio.get_running_loop()
        call = PyVoipCall("pending", phone)
        bridge = _Bridge(loop, call)
        offer = {0: RTP.PayloadType.PCMU, 101: RTP.PayloadType.EVENT}
        if self.config.codecs[0] == "PCMA":
            offer = {8: RTP.PayloadType.PCMA, 0: RTP.PayloadType.PCMU, 101: RTP.PayloadType.EVENT}
        deadline = time.monotonic() + ring_timeout_s
        native = await asyncio.to_thread(phone.place, number, offer, bridge, deadline)
        call._call_id = native.call_id
        self._calls.add(call)
        answered = asyncio.ensure_future(call._answered_event.wait())
        ended = asyncio.ensure_future(call.wait_ended())
        try:
            await asyncio.wait(
                {answered, ended},
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            answered.cancel()
            ended.cancel()
        if not call.answered and not call.is_ended:
            await asyncio.to_thread(phone.cancel, native)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.wait_ended(), _CANCEL_WAIT_S)  # the 487
            if (
                call.result.outcome is Outcome.ANSWERED
            ):  # the 200 crossed our CANCEL: the call is up after all
                return self._track(call)
            call.finish_failed(487, "no answer within ring timeout", Outcome.NO_ANSWER)
        if call.is_ended:
            self._calls.discard(call)
            return call
        return self._track(call)

    def _track(self, call: PyVoipCall) -> PyVoipCall:
        call.add_end_callback(self._forget)
        return call

    def _forget(self, call: MediaCall) -> None:
        if isinstance(call, PyVoipCall):
            self._calls.discard(call)


def _reply_address(request: Any) -> tuple[str, int]:
    """Where a response goes: the top Via's sender (``received``/``rport`` when present).

    pyVoIP sent every response to the registrar, which drops responses to requests that
    did not pass through it (a re-INVITE sent straight to our Contact).
    """
    via = request.headers["Via"][0]
    host, port = via["address"]
    host = via.get("received") or host
    rport = via.get("rport")
    return str(host), int(rport) if rport else int(port)


def _stop_phone(phone: _Phone) -> None:
    with contextlib.suppress(Exception):  # pyVoIP's stop may fail half-way; it is best effort
        phone.stop()


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
