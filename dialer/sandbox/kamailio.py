"""A local Kamailio registrar/proxy with digest auth on a free 127.0.0.1 port.

The configuration is the package's ``data/kamailio.cfg`` (the verified bench config of
``reference/sip-testbench.md``) with the host, ports and password filled in. Users whose
name starts with ``sipp`` are routed to the sipp port, everyone else by registration.
``refuse_refer`` answers every REFER 403, as a trunk that does not transfer calls does (it
turns on record-routing, since an in-dialog REFER passes the proxy only then).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Final, Literal

from dialer.sandbox.errors import SandboxError
from dialer.sandbox.ports import LOCALHOST, free_udp_port
from dialer.sandbox.processes import SPAWN_OPTIONS, stop_group

__all__ = ["Kamailio", "KamailioOptions", "running_kamailio"]

_MODULES_DIRS: Final = (
    Path("/usr/lib/x86_64-linux-gnu/kamailio/modules"),
    Path("/usr/lib/aarch64-linux-gnu/kamailio/modules"),
    Path("/usr/lib/kamailio/modules"),
)
_PLACEHOLDER: Final = re.compile(r"@[A-Z_]+@")
_READY_TIMEOUT_S: Final = 10.0
_STOP_TIMEOUT_S: Final = 5.0

InviteAuth = Literal["none", "401", "407"]


@dataclass(frozen=True, slots=True)
class KamailioOptions:
    """What the registrar demands: REGISTER auth (with qop or not), INVITE auth, record-route."""

    password: str = field(default_factory=lambda: secrets.token_hex(8), repr=False)
    register_auth: bool = True
    qop: bool = False
    invite_auth: InviteAuth = "none"
    record_route: bool = False
    robot_user: str = "robot"
    refuse_refer: bool = False


class Kamailio:
    """One Kamailio process; start with :meth:`start`, always :meth:`stop` in ``finally``."""

    def __init__(
        self,
        workdir: Path,
        options: KamailioOptions | None = None,
        *,
        host: str = LOCALHOST,
        sipp_port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.options = options or KamailioOptions()
        self.host = host
        self.port = 0
        self.sipp_port = sipp_port or free_udp_port(host)
        self.log_path = workdir / "kamailio.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port`` to register and dial through."""
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        """Write the config, start Kamailio, wait (bounded) until it answers OPTIONS."""
        binary = shutil.which("kamailio")
        if binary is None:
            raise SandboxError("kamailio не установлен (apt-get install kamailio)")
        modules = next((d for d in _MODULES_DIRS if (d / "tm.so").exists()), None)
        if modules is None:
            raise SandboxError("не найден каталог модулей kamailio (tm.so)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_udp_port(self.host)
        config = self.workdir / "kamailio.cfg"
        config.write_text(self._render(modules), encoding="utf-8")
        # 32 MB shared memory is plenty for a bench and keeps parallel test runs light.
        command = [binary, "-f", str(config), "-Y", str(self.workdir), "-m", "32", "-DD", "-E"]
        for define in self._defines():
            command += ["-A", define]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **SPAWN_OPTIONS,  # type: ignore[call-overload]
            )
        self._wait_ready()

    @property
    def pid(self) -> int | None:
        """The process id while it runs (its process group has the same id)."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Stop Kamailio and its workers (its process group: SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is not None:
            stop_group(process, _STOP_TIMEOUT_S)

    def log_text(self) -> str:
        """Kamailio's log so far (REQ/RPL lines carry Call-IDs, never credentials)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _defines(self) -> list[str]:
        o = self.options
        defines = []
        if o.register_auth:
            defines.append("WITH_AUTH")
        if o.qop:
            defines.append("WITH_QOP")
        if o.invite_auth == "401":
            defines.append("INV401")
        elif o.invite_auth == "407":
            defines.append("INV407")
        if o.record_route or o.refuse_refer:
            defines.append("WITH_RR")
        if o.refuse_refer:
            defines.append("NO_REFER")
        return defines

    def _render(self, modules: Path) -> str:
        template = (
            resources.files("dialer.sandbox").joinpath("data/kamailio.cfg").read_text("utf-8")
        )
        values = {
            "@HOST@": self.host,
            "@PORT@": str(self.port),
            "@SIPP_PORT@": str(self.sipp_port),
            "@MODULES@": f"{modules}/",
            "@PASSWORD@": self.options.password,
            "@NONCE_SECRET@": secrets.token_hex(8),
            "@ROBOT@": self.options.robot_user,
        }
        for key, value in values.items():
            template = template.replace(key, value)
        body = "\n".join(line for line in template.splitlines() if not line.startswith("#"))
        leftover = _PLACEHOLDER.search(body)
        if leftover:
            raise SandboxError(f"kamailio.cfg: не заполнен {leftover.group(0)}")
        return template

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise SandboxError(
                    f"kamailio завершился при старте (код {self._process.returncode}), "
                    f"журнал: {self.log_path}"
                )
            if _answers_options(self.host, self.port):
                return
        self.stop()
        raise SandboxError(
            f"kamailio не ответил на OPTIONS за {_READY_TIMEOUT_S:.0f} с, журнал: {self.log_path}"
        )


def _answers_options(host: str, port: int) -> bool:
    """Send one OPTIONS and wait 0.2 s for a 200."""
    call_id = uuid.uuid4().hex
    request = (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{{lport}};branch=z9hG4bK{call_id[:16]};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{host}>;tag={call_id[:8]}\r\n"
        f"To: <sip:{host}:{port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(0.2)
        lport = sock.getsockname()[1]
        sock.sendto(request.replace("{lport}", str(lport)).encode(), (host, port))
        try:
            reply = sock.recv(4096)
        except OSError:
            return False
    return reply.startswith(b"SIP/2.0 200")


@contextlib.contextmanager
def running_kamailio(
    workdir: Path, options: KamailioOptions | None = None, *, sipp_port: int | None = None
) -> Iterator[Kamailio]:
    """A started Kamailio, stopped on exit."""
    server = Kamailio(workdir, options, sipp_port=sipp_port)
    try:
        server.start()
        yield server
    finally:
        server.stop()
