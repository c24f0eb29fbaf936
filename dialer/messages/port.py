"""The one port every SMS channel implements, and the values that cross it.

A gateway takes one :class:`OutgoingSms` at a time and answers :class:`Accepted` or raises
:class:`~dialer.messages.errors.GatewayUnavailable` (try again later: nothing is known to
have been sent) or :class:`~dialer.messages.errors.GatewayRejected` (refused for good,
with the gateway's code). ``message_id`` is the outbox row's id: the gateway passes it
back in delivery reports, so a report always finds its message. Gateways are async and
own their connections; whoever made one closes it with :meth:`SmsGateway.close`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Accepted", "OutgoingSms", "SmsGateway"]


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """One text to one mobile number (E.164 with ``+``); the text is personal data."""

    message_id: int
    to: str
    sender: str
    text: str

    def __repr__(self) -> str:  # never print a number or a text by accident
        return f"OutgoingSms(message_id={self.message_id})"


@dataclass(frozen=True, slots=True)
class Accepted:
    """The gateway took the message: its name and its own reference, if it gave one."""

    gateway: str
    ref: str = ""


class SmsGateway(Protocol):
    """A channel to debtors' phones (Kannel's HTTP interface, an SMSC over SMPP…)."""

    name: str

    async def send(self, sms: OutgoingSms) -> Accepted:
        """Hand one message over; raise ``GatewayUnavailable`` or ``GatewayRejected``."""
        ...

    async def close(self) -> None:
        """Release connections; the gateway is not used afterwards."""
        ...
