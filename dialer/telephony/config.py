"""The configuration every SIP adapter takes (the composition root maps ``Settings.sip`` to it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Codec", "SipConfig", "Transport"]

Codec = Literal["PCMA", "PCMU"]
Transport = Literal["udp", "tcp", "tls"]


@dataclass(frozen=True, slots=True)
class SipConfig:
    """How the robot reaches a PBX, an SBC or a SIP trunk.

    ``registrar`` is ``host[:port]`` of the registrar or trunk; numbers are dialled as
    ``sip:<number>@<registrar>``. ``register=False`` is for trunks that authenticate by
    address (no REGISTER is sent). ``local_address`` pins the address the stack binds and
    advertises (``127.0.0.1`` on a loopback bench); ``None`` lets the stack discover it.
    ``local_sip_port`` 0 lets the adapter take a free port from the OS. The password is
    never part of ``repr`` and never logged.
    """

    registrar: str
    user: str
    password: str = field(default="", repr=False)
    caller_id: str = ""
    transport: Transport = "udp"
    codecs: tuple[Codec, ...] = ("PCMA", "PCMU")
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    max_concurrent_calls: int = 8
    register: bool = True
    local_address: str | None = None
    local_sip_port: int = 0

    def __post_init__(self) -> None:
        if not self.registrar or any(c in self.registrar for c in " ;<>@\"'"):
            raise ValueError(f"registrar={self.registrar!r}: ожидается host[:port]")
        if not self.user or any(c in self.user for c in " :;@<>\"'"):
            raise ValueError(f"user={self.user!r}: недопустимое имя пользователя SIP")
        if not self.codecs or any(c not in ("PCMA", "PCMU") for c in self.codecs):
            raise ValueError(f"codecs={self.codecs!r}: допустимы только PCMA и PCMU")
        if not 1024 <= self.rtp_port_min < self.rtp_port_max <= 65535:
            raise ValueError(
                f"rtp ports {self.rtp_port_min}-{self.rtp_port_max}: ожидается диапазон в 1024-65535"
            )
        if self.max_concurrent_calls < 1:
            raise ValueError("max_concurrent_calls должен быть не меньше 1")
        if not 0 <= self.local_sip_port <= 65535:
            raise ValueError(f"local_sip_port={self.local_sip_port}: вне 0-65535")

    @property
    def registrar_host(self) -> str:
        """The registrar's host without the port."""
        return self.registrar.rsplit(":", 1)[0] if ":" in self.registrar else self.registrar

    @property
    def registrar_port(self) -> int:
        """The registrar's port (5060 when not given)."""
        if ":" in self.registrar:
            return int(self.registrar.rsplit(":", 1)[1])
        return 5060

    def uri_for(self, number: str) -> str:
        """The SIP URI to dial for ``number`` (a full ``sip:`` URI is used as it is)."""
        if number.startswith(("sip:", "sips:")):
            return number
        if not number or any(c in number for c in " ;<>@\"'\r\n"):
            raise ValueError("номер для набора содержит недопустимые символы")
        return f"sip:{number}@{self.registrar}"
