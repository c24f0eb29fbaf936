"""Which processes are still running, read from /proc (tests of clean-up).

A zombie runs nothing and holds no port, and an orphan's zombie stays until PID 1 reaps it —
in a container whose PID 1 does not reap, forever (seen in CI) — so it is not "running".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

__all__ = ["running"]


def running() -> Iterator[tuple[int, list[str]]]:
    """``(pid, stat fields after the command name)`` of every live, non-zombie process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone between listing and reading
        if fields and fields[0] not in ("Z", "X"):
            yield int(stat.parent.name), fields
