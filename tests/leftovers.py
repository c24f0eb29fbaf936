"""After the test run: nothing the tests started may still be running.

``make pytest`` exports ``NAPOMNI_TEST_RUN`` (a value unique to the run) before pytest starts;
every process the tests start — Kamailio, the debtors, the telephony process, recognition
workers, Festival, Kannel, a ``napomni`` command — inherits it in its environment, also once it
is orphaned and reparented away from pytest. Run after pytest has exited, this finds the ones
still alive, names them, stops them (by PID) and fails the run.

A child started with an environment built from nothing carries no marker and is not seen; the
tests pass ``os.environ`` on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from tests.processes import running

__all__ = ["MARKER_ENV", "still_running", "still_running_after"]

MARKER_ENV = "NAPOMNI_TEST_RUN"
#: Children told to stop by their owner's exit (PR_SET_PDEATHSIG, a closed pipe) need a moment.
GRACE_S = 10.0


def still_running(
    marker: str, exclude: frozenset[int] = frozenset(), *, variable: str = MARKER_ENV
) -> dict[int, str]:
    """Live processes whose environment carries ``variable=marker``: pid → command line."""
    needle = f"{variable}={marker}".encode() + b"\0"
    found = {}
    for pid, _ in running():
        if pid in exclude:
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes() + b"\0"
            if b"\0" + needle in b"\0" + environ:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                found[pid] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # ended, or not ours to read
    return found


def still_running_after(
    grace_s: float,
    marker: str,
    exclude: frozenset[int] = frozenset(),
    *,
    variable: str = MARKER_ENV,
) -> dict[int, str]:
    """:func:`still_running`, once they have had ``grace_s`` to end (or as soon as none runs)."""
    deadline = time.monotonic() + grace_s
    left = still_running(marker, exclude, variable=variable)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = still_running(marker, exclude, variable=variable)
    return left


def _ancestors() -> frozenset[int]:
    """This process and the ones that started it (a shell that carries the marker itself)."""
    found = []
    pid = os.getpid()
    while pid > 1:
        found.append(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            break
        pid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
    return frozenset(found)


def main() -> int:
    marker = os.environ.get(MARKER_ENV, "")
    if not marker:
        print(f"{MARKER_ENV} is not set: nothing to check", file=sys.stderr)
        return 2
    left = still_running_after(GRACE_S, marker, _ancestors())
    if not left:
        print("No process started by the tests is still running.")
        return 0
    print(f"{len(left)} process(es) started by the tests outlived them:", file=sys.stderr)
    for pid, cmdline in sorted(left.items()):
        print(f"  {pid}: {cmdline[:300]}", file=sys.stderr)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
