"""A local SIP world on 127.0.0.1 for tests and ``napomni demo``.

:mod:`dialer.sandbox.kamailio` runs a registrar with digest auth on a free port,
:mod:`dialer.sandbox.debtor` runs simulated debtors (baresip-python UAS processes that
answer, listen and reply with Russian answers), :mod:`dialer.sandbox.sipp` runs the sipp
edge-case scenarios, :mod:`dialer.sandbox.voices` makes the debtors' answer WAVs.
Everything binds 127.0.0.1 only and takes its ports from the OS.
"""
