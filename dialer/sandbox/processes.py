"""Processes the sandbox starts (Kamailio, simulated debtors): always stopped, never orphaned.

Each runs in its own process group (its children with it) and gets SIGTERM from the kernel
when the process that started it dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``). It is
stopped by its group: SIGTERM, a bounded wait, then SIGKILL — by process group, never by
name, so nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from typing import Final

__all__ = ["SPAWN_OPTIONS", "stop_group"]

_PR_SET_PDEATHSIG: Final = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


#: ``subprocess.Popen`` options for a sandbox process.
SPAWN_OPTIONS: Final = {"start_new_session": True, "preexec_fn": _die_with_parent}


def stop_group(process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout_s: float) -> None:
    """Stop ``process`` and everything in its group (SIGTERM, bounded wait, SIGKILL)."""
    try:
        group = os.getpgid(process.pid)
    except ProcessLookupError:
        group = None
    if group is not None and group != os.getpgrp():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
    elif process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout_s)
    if group is not None and group != os.getpgrp():
        # Children that outlive their parent (Kamailio's workers) go with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
