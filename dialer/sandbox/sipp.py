"""sipp UAS scenarios for the SIP edge cases a dialer meets: busy, no answer, hold.

Kamailio routes users whose name starts with ``sipp`` to the sipp port it was started
with (:attr:`dialer.sandbox.kamailio.Kamailio.sipp_port`). A scenario answers one call;
its exit code says whether the caller behaved (0: every expected message arrived, such as
the ACK after 486 or the CANCEL of a ringing call).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path
from typing import Final, Literal

from dialer.sandbox.errors import SandboxError
from dialer.sandbox.ports import LOCALHOST, free_udp_port

__all__ = ["Scenario", "SippRun"]

Scenario = Literal["uas_busy", "uas_noanswer", "uas_reinvite"]

_STOP_TIMEOUT_S: Final = 5.0


class SippRun:
    """One sipp process serving one call of a scenario."""

    def __init__(
        self, scenario: Scenario, workdir: Path, port: int, *, host: str = LOCALHOST
    ) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.port = port
        self.host = host
        self.log_path = workdir / f"sipp-{scenario}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start sipp listening on the port (bounded readiness: the socket is bound)."""
        binary = shutil.which("sipp")
        if binary is None:
            raise SandboxError("sipp не установлен (apt-get install sip-tester)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        source = resources.files("dialer.sandbox").joinpath(f"data/sipp/{self.scenario}.xml")
        scenario_path = self.workdir / f"{self.scenario}.xml"
        scenario_path.write_text(source.read_text("utf-8"), encoding="utf-8")
        command = [
            binary,
            "-sf", str(scenario_path),
            "-i", self.host,
            "-p", str(self.port),
            "-mi", self.host,
            "-mp", str(free_udp_port(self.host)),
            "-m", "1",
            "-nostdin",
            "-trace_err",
            "-error_file", str(self.workdir / f"sipp-{self.scenario}-errors.log"),
            "-timeout", "60s",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_bound()

    def wait(self, timeout_s: float = 30.0) -> int:
        """Wait for the scenario to finish; its exit code (0 = passed)."""
        if self._process is None:
            raise SandboxError("sipp не запущен")
        try:
            return self._process.wait(timeout_s)
        except subprocess.TimeoutExpired as err:
            self.stop()
            raise SandboxError(f"sipp {self.scenario} не завершился за {timeout_s:.0f} с") from err

    def stop(self) -> None:
        """Stop sipp if it still runs (bounded)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_STOP_TIMEOUT_S)

    def errors(self) -> str:
        """sipp's error trace, for assertion messages."""
        path = self.workdir / f"sipp-{self.scenario}-errors.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _wait_bound(self) -> None:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise SandboxError(f"sipp завершился при старте, журнал: {self.log_path}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((self.host, self.port))
                except OSError:
                    return  # sipp holds the port
            time.sleep(0.02)
        raise SandboxError(f"sipp не занял порт {self.port} за 5 с, журнал: {self.log_path}")
