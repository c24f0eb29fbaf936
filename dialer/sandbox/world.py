"""A whole local SIP world in one call, for ``napomni demo`` and end-to-end tests.

``sandbox_world(workdir, {"debtor1": "promise", "debtor2": "busy"})`` starts Kamailio (digest
auth, free 127.0.0.1 port) and one debtor process with those personas, and gives the robot's
:class:`~dialer.telephony.config.SipConfig`; everything stops on exit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.personas import debtor_for
from dialer.sandbox.ports import LOCALHOST, free_udp_range
from dialer.telephony.config import SipConfig

__all__ = ["SandboxWorld", "sandbox_world"]


@dataclass(frozen=True, slots=True)
class SandboxWorld:
    """A running registrar and simulated debtors."""

    kamailio: Kamailio
    debtors: DebtorPool

    def robot_config(self, *, max_concurrent_calls: int = 8, user: str = "robot") -> SipConfig:
        """The robot's account on the sandbox registrar, with a free RTP port range."""
        rtp_min, rtp_max = free_udp_range(max(20, 4 * max_concurrent_calls))
        return SipConfig(
            registrar=self.kamailio.address,
            user=user,
            password=self.kamailio.options.password,
            rtp_port_min=rtp_min,
            rtp_port_max=rtp_max,
            max_concurrent_calls=max_concurrent_calls,
            local_address=LOCALHOST,
        )


@contextlib.contextmanager
def sandbox_world(
    workdir: Path, personas: Mapping[str, str], *, voices_dir: Path | None = None
) -> Iterator[SandboxWorld]:
    """Kamailio plus one debtor per ``user → persona``; stopped on exit."""
    voices = voices_dir or workdir / "voices"
    specs = [debtor_for(user, persona, voices) for user, persona in personas.items()]
    kamailio = Kamailio(workdir / "kamailio", KamailioOptions())
    try:
        kamailio.start()
        pool = DebtorPool(workdir / "debtors", kamailio.address, kamailio.options.password, specs)
        try:
            pool.start()
            yield SandboxWorld(kamailio, pool)
        finally:
            pool.stop()
    finally:
        kamailio.stop()
