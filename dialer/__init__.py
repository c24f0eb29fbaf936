"""Calls and campaigns: telephony adapters, the call session, compliance, workers, escalation."""
