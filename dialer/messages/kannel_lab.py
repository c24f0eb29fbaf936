"""A real Kannel on 127.0.0.1 with Debian's fake SMSC, for tests, the demo and the bench.

bearerbox + smsbox (package ``kannel``) and ``fakesmsc`` (``kannel-extras``) on free
ports; what the fake SMSC received is read back from its output, concatenated parts
joined and UCS-2 decoded. Each process runs in its own process group and is stopped by
its id (never by name). ``fakesmsc`` exits at the end of its standard input, so the lab
holds that pipe open for as long as it runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = ["FAKESMSC", "KannelLab", "LabError", "ReceivedSms", "kannel_available"]

FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")
_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>\s*$")


class LabError(RuntimeError):
    """The local gateway could not be started or did not become ready in time."""


def kannel_available() -> bool:
    """Whether bearerbox, smsbox and fakesmsc are installed."""
    return all(Path(p).exists() for p in ("/usr/sbin/bearerbox", "/usr/sbin/smsbox", FAKESMSC))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unquote(data: str) -> bytes:
    return urllib.parse.unquote_to_bytes(data.replace("+", " "))


@dataclass(frozen=True, slots=True)
class ReceivedSms:
    """A message as the fake SMSC got it (parts joined): personal data, for tests only."""

    sender: str
    to: str
    text: str
    parts: int


def _parse(lines: list[str]) -> list[ReceivedSms]:
    done: list[ReceivedSms] = []
    pending: dict[tuple[str, str, int], dict[int, bytes]] = {}
    for line in lines:
        match = _GOT.search(line)
        if match is None:
            continue
        sender, to, kind, rest = match.groups()
        if kind == "ucs-2":
            done.append(ReceivedSms(sender, to, _unquote(rest).decode("utf-16-be"), 1))
        elif kind == "text":
            done.append(ReceivedSms(sender, to, _unquote(rest).decode("latin-1"), 1))
        elif kind == "udh":
            udh_text, _, data = rest.partition(" data ")
            udh = _unquote(udh_text)
            # IEI 0 (8-bit reference): 05 00 03 ref total seq
            ref, total, seq = udh[3], udh[4], udh[5]
            parts = pending.setdefault((sender, to, ref), {})
            parts[seq] = _unquote(data)
            if len(parts) == total:
                joined = b"".join(parts[i] for i in sorted(parts))
                done.append(ReceivedSms(sender, to, joined.decode("utf-16-be"), total))
                del pending[(sender, to, ref)]
    return done


@dataclass
class KannelLab:
    """bearerbox, smsbox and fakesmsc in ``workdir``; a context manager."""

    workdir: Path
    username: str = "napomni"
    password: str = field(default_factory=lambda: secrets.token_hex(8), repr=False)
    ready_timeout_s: float = 15.0
    admin_port: int = field(default_factory=_free_port)
    smsbox_port: int = field(default_factory=_free_port)
    smsc_port: int = field(default_factory=_free_port)
    sendsms_port: int = field(default_factory=_free_port)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @property
    def sendsms_url(self) -> str:
        """smsbox's sendsms URL."""
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    @property
    def config_path(self) -> Path:
        """The Kannel configuration file this lab wrote."""
        return self.workdir / "kannel.conf"

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f"""group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = {secrets.token_hex(8)}
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
dlr-storage = internal
log-file = "{self.workdir / "bearerbox.log"}"
log-level = 1

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{self.workdir / "smsbox.log"}"
log-level = 1

group = sendsms-user
username = {self.username}
password = {self.password}
max-messages = 6
concatenation = true

group = sms-service
keyword = default
text = "ok"
""",
            encoding="utf-8",
        )

    def _spawn(self, name: str, args: list[str], *, stdin: bool = False) -> None:
        out = (self.workdir / f"{name}.out").open("ab")
        try:
            self._procs[name] = subprocess.Popen(
                args,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        finally:
            out.close()

    def _wait_port(self, port: int, what: str) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                probe.settimeout(0.2)
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise LabError(f"{what} не открыл порт {port} за {self.ready_timeout_s} с")

    def _wait_log(self, path: Path, needle: str, what: str, since: int = 0) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if path.exists() and needle in path.read_text(errors="replace")[since:]:
                return
            time.sleep(0.05)
        raise LabError(f"{what} не готов за {self.ready_timeout_s} с ({path.name})")

    def start(self) -> KannelLab:
        """Start all three and wait until the fake SMSC is connected and sendsms answers."""
        if not kannel_available():
            raise LabError("нет Kannel: apt-get install kannel kannel-extras")
        self._write_config()
        self._spawn("bearerbox", ["/usr/sbin/bearerbox", str(self.config_path)])
        self._wait_port(self.smsbox_port, "bearerbox")
        self.start_smsbox()
        log = self.workdir / "bearerbox.log"
        self._spawn(
            "fakesmsc",
            [str(FAKESMSC), "-H", "127.0.0.1", "-r", str(self.smsc_port), "-i", "0.01", "-m", "0"],
            stdin=True,
        )
        self._wait_log(log, "Fakesmsc client connected", "fakesmsc")
        return self

    def start_smsbox(self) -> None:
        """(Re)start smsbox, the HTTP side, and wait for its sendsms port."""
        self._spawn("smsbox", ["/usr/sbin/smsbox", str(self.config_path)])
        self._wait_port(self.sendsms_port, "smsbox")

    def kill(self, name: str) -> None:
        """Kill one process group (``bearerbox``, ``smsbox``, ``fakesmsc``) hard, as a crash."""
        proc = self._procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdin is not None:
            proc.stdin.close()

    def stop(self) -> None:
        """Stop every process of the lab (fake SMSC first, bearerbox last)."""
        for name in ("fakesmsc", "smsbox", "bearerbox"):
            proc = self._procs.get(name)
            if proc is None:
                continue
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=5)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    self.kill(name)
                    continue
            self.kill(name)

    def received(self) -> list[ReceivedSms]:
        """Every message the fake SMSC has received so far, in order."""
        path = self.workdir / "fakesmsc.out"
        if not path.exists():
            return []
        return _parse(path.read_text(errors="replace").splitlines())

    def __enter__(self) -> KannelLab:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
