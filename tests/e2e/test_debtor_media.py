"""A simulated debtor is a telephone: it takes a call on audio alone.

baresip opens a video stream for every incoming call when a video codec is loaded, even for an
audio-only offer, and drops it only once the call is answered: four RTP ports a call for the
moment of the INVITE. Sixteen calls arriving at once then ran the debtors' range dry and one
INVITE got «500 Call Error» (seen once in seven bench runs of 16 calls). The debtors now take no
video; this debtor has one RTP/RTCP pair and nothing more, and must still answer.

Real SIP: Kamailio with digest auth, the debtor process on baresip, the robot's
:class:`ProcessTelephone`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dialer.sandbox.debtor import DebtorSpec
from dialer.sandbox.debtor_pool import DebtorPool
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from dialer.sandbox.ports import free_udp_range
from dialer.telephony.remote import ProcessTelephone
from tests.e2e.sip_bench import require_sip_tools
from tests.e2e.test_telephony_process import robot_config

pytestmark = [pytest.mark.sip, pytest.mark.slow]


async def test_a_debtor_answers_with_one_rtp_pair(tmp_path: Path) -> None:
    require_sip_tools()
    kamailio = Kamailio(tmp_path / "kamailio", KamailioOptions())
    kamailio.start()
    try:
        pool = DebtorPool(
            tmp_path / "debtors",
            kamailio.address,
            kamailio.options.password,
            [DebtorSpec("listener")],
        )
        rtp_min, _ = free_udp_range(2)
        pool.config = dataclasses.replace(
            pool.config, rtp_port_min=rtp_min, rtp_port_max=rtp_min + 1
        )
        pool.start()
        try:
            async with ProcessTelephone(robot_config(kamailio)) as telephone:
                call = await telephone.dial("listener", 10.0)
                assert call.result.outcome.value == "answered", call.result
                await call.hangup()
            pool.wait_event("call_closed", user="listener", timeout_s=30)
        finally:
            pool.stop()
    finally:
        kamailio.stop()
