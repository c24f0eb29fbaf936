"""Start and stop a process of simulated debtors (:mod:`dialer.sandbox.debtor`).

The pool writes the process's JSON config, starts it, waits (bounded) for its ``ready``
line and collects the events it reports, so tests and the demo can wait for
``call_closed`` and read the recording of what the debtor heard.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from dialer.sandbox.debtor import DebtorProcessConfig, DebtorSpec
from dialer.sandbox.errors import SandboxError
from dialer.sandbox.ports import free_sip_port, free_udp_range
from dialer.sandbox.processes import SPAWN_OPTIONS, stop_group

__all__ = ["DebtorEvent", "DebtorPool", "running_debtors"]

_READY_TIMEOUT_S: Final = 15.0
_STOP_TIMEOUT_S: Final = 5.0

DebtorEvent = dict[str, object]


class DebtorPool:
    """One process of simulated debtors registered to a registrar."""

    def __init__(
        self,
        workdir: Path,
        registrar: str,
        password: str,
        debtors: Sequence[DebtorSpec],
        *,
        max_call_s: float = 120.0,
    ) -> None:
        self.workdir = workdir
        self.record_dir = workdir / "recordings"
        self.log_path = workdir / "debtors.log"
        rtp_min, rtp_max = free_udp_range(max(8, 4 * len(debtors)))
        self.config = DebtorProcessConfig(
            registrar=registrar,
            password=password,
            listen_port=free_sip_port(),
            rtp_port_min=rtp_min,
            rtp_port_max=rtp_max,
            record_dir=str(self.record_dir),
            debtors=tuple(debtors),
            max_call_s=max_call_s,
        )
        self._process: subprocess.Popen[str] | None = None
        self._events: list[DebtorEvent] = []
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        """Start the process and wait until every debtor is registered."""
        self.record_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "debtors.json"
        config_path.write_text(self.config.to_json(), encoding="utf-8")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "dialer.sandbox.debtor", str(config_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                **SPAWN_OPTIONS,  # type: ignore[call-overload]
            )
        self._reader = threading.Thread(target=self._read_events, name="debtor-events", daemon=True)
        self._reader.start()
        try:
            self.wait_event("ready", timeout_s=_READY_TIMEOUT_S)
        except SandboxError:
            self.stop()
            raise

    @property
    def pid(self) -> int | None:
        """The process id while it runs (its process group has the same id)."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Close the process's stdin (it unregisters and exits), bounded, then kill."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_STOP_TIMEOUT_S)  # it unregisters and exits on its own
        stop_group(process, _STOP_TIMEOUT_S)
        if self._reader is not None:
            self._reader.join(_STOP_TIMEOUT_S)
        if process.stdout is not None:
            process.stdout.close()

    def events(self, event: str | None = None, user: str | None = None) -> list[DebtorEvent]:
        """Events reported so far, optionally of one kind and one debtor."""
        with self._changed:
            return [
                e
                for e in self._events
                if (event is None or e.get("event") == event)
                and (user is None or e.get("user") == user)
            ]

    def wait_event(
        self, event: str, *, user: str | None = None, count: int = 1, timeout_s: float = 30.0
    ) -> DebtorEvent:
        """Wait (bounded) until ``count`` events of a kind were reported; return the last."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = [
                    e
                    for e in self._events
                    if e.get("event") == event and (user is None or e.get("user") == user)
                ]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._process is None or self._process.poll() is not None):
                    raise SandboxError(
                        f"имитация должников: нет события {event!r} за {timeout_s:.0f} с, "
                        f"журнал: {self.log_path}"
                    )
                self._changed.wait(min(remaining, 0.2))

    def _read_events(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        for line in process.stdout:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                with self._changed:
                    self._events.append(event)
                    self._changed.notify_all()


@contextlib.contextmanager
def running_debtors(
    workdir: Path, registrar: str, password: str, debtors: Sequence[DebtorSpec], **kwargs: float
) -> Iterator[DebtorPool]:
    """A started debtor process, stopped on exit."""
    pool = DebtorPool(workdir, registrar, password, debtors, **kwargs)
    try:
        pool.start()
        yield pool
    finally:
        pool.stop()
