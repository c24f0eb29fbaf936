"""Errors of the sandbox: a local server that cannot start names itself and its log."""

from __future__ import annotations

__all__ = ["SandboxError"]


class SandboxError(Exception):
    """A sandbox server or tool failed to start, or is not installed."""
