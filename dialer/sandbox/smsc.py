"""A local SMSC speaking SMPP 3.4 on a free 127.0.0.1 port, for the SMPP adapter's tests.

The SMSC is the package's ``data/smsc.pl`` on Net::SMPP (Debian's ``libnet-smpp-perl``), an
implementation of the protocol independent of the client under test. It checks the bind's
system_id and password, answers submit_sm with a message id (or ESME_RINVDSTADR for a
refused number), sends a delivery receipt a moment later, and records every PDU it got to
a JSON-lines file that :meth:`Smsc.received` reads back (destination, data_coding,
esm_class, the UDH and the text as hex). It runs in its own process group, dies with its
parent (``PR_SET_PDEATHSIG``) and is stopped by its group, never by name.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Final

from dialer.sandbox.errors import SandboxError
from dialer.sandbox.processes import SPAWN_OPTIONS, stop_group

__all__ = ["ReceivedPdu", "Smsc", "SmscOptions", "running_smsc", "smsc_available"]

_READY_TIMEOUT_S: Final = 10.0
_STOP_TIMEOUT_S: Final = 5.0
_LISTENING: Final = re.compile(r"^listening 127\.0\.0\.1:(\d+)$", re.MULTILINE)


def smsc_available() -> bool:
    """Whether Perl and Net::SMPP are installed."""
    perl = shutil.which("perl")
    if perl is None:
        return False
    probe = subprocess.run(
        [perl, "-MNet::SMPP", "-e", "1"], capture_output=True, check=False, timeout=10
    )
    return probe.returncode == 0


@dataclass(frozen=True, slots=True)
class SmscOptions:
    """Who may bind, which numbers are refused, and how receipts come back."""

    system_id: str = "napomni"
    password: str = field(default_factory=lambda: secrets.token_hex(4), repr=False)
    refused_numbers: tuple[str, ...] = ()  # answered ESME_RINVDSTADR (with or without "+")
    receipt_delay_ms: int = 200
    receipt_stat: str = "DELIVRD"  # or UNDELIV, EXPIRED, REJECTD…


@dataclass(frozen=True, slots=True)
class ReceivedPdu:
    """One PDU as the SMSC recorded it (a submit_sm's number and text: test data only)."""

    pdu: str
    fields: dict[str, object]

    @property
    def destination(self) -> str:
        """A submit_sm's destination_addr."""
        return str(self.fields.get("destination", ""))

    @property
    def data_coding(self) -> int:
        """A submit_sm's data_coding (8: UCS-2)."""
        return int(str(self.fields.get("data_coding", 0)))

    @property
    def esm_class(self) -> int:
        """A submit_sm's esm_class (0x40: a UDH leads the text)."""
        return int(str(self.fields.get("esm_class", 0)))

    @property
    def udh(self) -> bytes:
        """The user data header (empty without one)."""
        return bytes.fromhex(str(self.fields.get("udh", "")))

    @property
    def short_message(self) -> bytes:
        """The text octets, the UDH apart."""
        return bytes.fromhex(str(self.fields.get("short_message", "")))


class Smsc:
    """One SMSC process; start with :meth:`start`, always :meth:`stop` in ``finally``."""

    def __init__(self, workdir: Path, options: SmscOptions | None = None, *, port: int = 0):
        self.workdir = workdir
        self.options = options or SmscOptions()
        self.host = "127.0.0.1"
        self.port = port  # 0: the OS picks one at start; a restart keeps the same
        self.log_path = workdir / "smsc.log"
        self.record_path = workdir / "smsc-pdus.jsonl"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the SMSC and wait (bounded) until it says which port it listens on."""
        perl = shutil.which("perl")
        if perl is None or not smsc_available():
            raise SandboxError("нет Net::SMPP для SMSC (apt-get install libnet-smpp-perl)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        script = self.workdir / "smsc.pl"
        script.write_text(
            resources.files("dialer.sandbox").joinpath("data/smsc.pl").read_text("utf-8"),
            encoding="utf-8",
        )
        o = self.options
        command = [
            perl,
            str(script),
            "--port",
            str(self.port),
            "--system-id",
            o.system_id,
            "--password",
            o.password,
            "--record",
            str(self.record_path),
            "--receipt-delay-ms",
            str(o.receipt_delay_ms),
            "--receipt-stat",
            o.receipt_stat,
        ]
        for number in o.refused_numbers:
            command += ["--refuse", number]
        since = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **SPAWN_OPTIONS,  # type: ignore[call-overload]
            )
        self._wait_ready(since)

    def _wait_ready(self, since: int) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise SandboxError(
                    f"SMSC завершился при старте (код {self._process.returncode}), "
                    f"журнал: {self.log_path}"
                )
            text = self.log_path.read_bytes()[since:].decode("utf-8", errors="replace")
            found = _LISTENING.search(text)
            if found:
                self.port = int(found.group(1))
                return
            time.sleep(0.02)
        self.stop()
        raise SandboxError(
            f"SMSC не открыл порт за {_READY_TIMEOUT_S:.0f} с, журнал: {self.log_path}"
        )

    @property
    def pid(self) -> int | None:
        """The process id while it runs (its process group has the same id)."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Stop the SMSC and its sessions (its process group: SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is not None:
            stop_group(process, _STOP_TIMEOUT_S)

    def received(self, pdu: str | None = None) -> list[ReceivedPdu]:
        """What the SMSC recorded so far, in order (only ``pdu`` ones if given)."""
        if not self.record_path.exists():
            return []
        found = []
        for line in self.record_path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            if pdu is None or entry.get("pdu") == pdu:
                found.append(ReceivedPdu(str(entry.get("pdu")), entry))
        return found

    def log_text(self) -> str:
        """The SMSC's own output (its port line and Perl's warnings)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def running_smsc(workdir: Path, options: SmscOptions | None = None) -> Iterator[Smsc]:
    """A started SMSC, stopped on exit."""
    server = Smsc(workdir, options)
    try:
        server.start()
        yield server
    finally:
        server.stop()
