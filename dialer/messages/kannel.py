"""The Kannel adapter: HTTP ``sendsms`` on smsbox, delivery reports back to our DLR URL.

Kannel answers ``202 0: Accepted for delivery`` (routed to an SMSC) or ``202 3: Queued
for later delivery`` (no SMSC connected yet; bearerbox keeps it): both mean accepted. A
4xx is a refusal for good (bad credentials, a malformed number); a 5xx, a refused
connection or a timeout is transient. Cyrillic goes as UCS-2 (``coding=2``); smsbox splits
a long text into concatenated parts itself (``max-messages`` of the sendsms user).

The DLR URL carries the outbox id (``id=``) and Kannel's placeholders: ``%d`` the report
type (1 delivered, 2 failed, 4 buffered, 8 SMSC accepted, 16 SMSC rejected) and ``%A`` the
SMSC's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from dialer.messages.errors import GatewayRejected, GatewayUnavailable
from dialer.messages.port import Accepted, OutgoingSms

__all__ = ["KannelConfig", "KannelGateway"]

_ACCEPTED_PREFIXES = ("0:", "3:")


@dataclass(frozen=True, slots=True)
class KannelConfig:
    """Where smsbox's sendsms listens, its user, and the DLR URL Kannel should call."""

    sendsms_url: str  # e.g. http://127.0.0.1:13013/cgi-bin/sendsms
    username: str
    password: str = field(repr=False)
    dlr_url: str | None = None  # our receiver; ``?id=…&s=%d&a=%A`` is appended
    timeout_s: float = 10.0


class KannelGateway:
    """:class:`~dialer.messages.port.SmsGateway` over Kannel's HTTP interface."""

    name = "kannel"

    def __init__(self, config: KannelConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def _params(self, sms: OutgoingSms) -> dict[str, str]:
        params = {
            "username": self._config.username,
            "password": self._config.password,
            "from": sms.sender,
            "to": sms.to.lstrip("+"),
            "charset": "UTF-8",
            "coding": "2",
            "text": sms.text,
        }
        if self._config.dlr_url:
            separator = "&" if "?" in self._config.dlr_url else "?"
            params["dlr-mask"] = "31"
            params["dlr-url"] = f"{self._config.dlr_url}{separator}id={sms.message_id}&s=%d&a=%A"
        return params

    async def send(self, sms: OutgoingSms) -> Accepted:
        """One ``GET sendsms``; Kannel's answer decides accepted, transient or refused."""
        try:
            async with self._client().get(
                self._config.sendsms_url, params=self._params(sms)
            ) as response:
                body = (await response.text(errors="replace")).strip()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as err:
            raise GatewayUnavailable(
                f"Kannel не отвечает: {type(err).__name__}", code="unavailable"
            ) from err
        if status >= 500:
            raise GatewayUnavailable(f"Kannel: HTTP {status}", code=f"http:{status}")
        if status >= 400 or not body.startswith(_ACCEPTED_PREFIXES):
            # Kannel's refusals are short fixed phrases ("Authorization failed for sendsms").
            raise GatewayRejected(f"Kannel: HTTP {status} {body[:80]}", code=f"http:{status}")
        return Accepted(self.name, body.split(":", 1)[0])

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._session is not None:
            await self._session.close()
            self._session = None
