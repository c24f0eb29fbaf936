"""End-to-end fixtures: the SIP bench (Kamailio, simulated debtors, sipp) on 127.0.0.1."""

from tests.e2e.sip_bench import sip_bench, voices

__all__ = ["sip_bench", "voices"]
