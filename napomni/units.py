"""systemd units for one Napomni server, rendered from templates for the paths of the install.

Three long-running services (the web server, the worker, the message sender) and two
timers with their oneshot services (the daily promise decision, the nightly backup). All
run as one dedicated user with the same hardening: the file system read-only but for the
data dir, no new privileges, private /tmp and devices, no capabilities.
``deploy/systemd/`` holds these units rendered with the defaults of :class:`UnitOptions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from string import Template

__all__ = ["UnitError", "UnitOptions", "render_units", "ENABLE_ORDER"]


class UnitError(ValueError):
    """An option cannot be written into a unit file; the message names it."""


@dataclass(frozen=True, slots=True)
class UnitOptions:
    """Where things are on the server the units are written for."""

    user: str = "napomni"
    group: str = ""
    data_dir: PurePosixPath = PurePosixPath("/var/lib/napomni")
    napomni: PurePosixPath = PurePosixPath("/opt/napomni/.venv/bin/napomni")
    env_file: PurePosixPath = PurePosixPath("/etc/napomni/napomni.env")
    config: PurePosixPath | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    promises_at: str = "*-*-* 07:00:00"
    backup_at: str = "*-*-* 02:30:00"
    backup_keep: int = 14


# What an administrator enables: services and the timers (never the timers' services).
ENABLE_ORDER = (
    "napomni-web.service",
    "napomni-worker.service",
    "napomni-sender.service",
    "napomni-decide-promises.timer",
    "napomni-backup.timer",
)

_HEADER = "# Written by `napomni deploy units`; edit the options and write them again.\n"

_SERVICE = Template(
    _HEADER
    + """[Unit]
Description=$description
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=$type
User=$user
Group=$group
EnvironmentFile=$env_file
Environment=NAPOMNI_DATA_DIR=$data_dir$config_line
WorkingDirectory=$data_dir
ExecStart=$napomni $arguments
$service_extra# Hardening: nothing writable but the data dir, no privileges to gain, nothing shared.
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$data_dir
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
$install"""
)

_TIMER = Template(
    _HEADER
    + """[Unit]
Description=$description

[Timer]
OnCalendar=$when
Persistent=true
RandomizedDelaySec=5min
Unit=$service

[Install]
WantedBy=timers.target
"""
)

_LONG_RUNNING = """Restart=on-failure
RestartSec=5s
KillSignal=SIGTERM
TimeoutStopSec=${stop_s}s
"""

_INSTALL = """
[Install]
WantedBy=multi-user.target
"""

_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+-]*$")
_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_SAFE_CALENDAR = re.compile(r"^[A-Za-z0-9*:., /~-]+$")
_SAFE_HOST = re.compile(r"^[A-Za-z0-9.:\[\]-]+$")


def _check(options: UnitOptions) -> None:
    for label, path in (
        ("--data-dir", options.data_dir),
        ("--napomni", options.napomni),
        ("--env-file", options.env_file),
        ("--config", options.config),
    ):
        # Spaces, % and $ mean something in a unit file; absolute plain paths only.
        if path is not None and not _SAFE_PATH.match(str(path)):
            raise UnitError(f"{label}={path}: нужен абсолютный путь без пробелов, % и $")
    for label, name in (("--user", options.user), ("--group", options.group or options.user)):
        if not _SAFE_NAME.match(name):
            raise UnitError(f"{label}={name!r}: имя пользователя или группы Linux")
    for label, when in (("--promises-at", options.promises_at), ("--backup-at", options.backup_at)):
        if not _SAFE_CALENDAR.match(when):
            raise UnitError(f"{label}={when!r}: выражение OnCalendar= (например «*-*-* 07:00:00»)")
    if not _SAFE_HOST.match(options.web_host):
        raise UnitError(f"--web-host={options.web_host!r}: адрес или имя")


def _service(
    options: UnitOptions, description: str, arguments: str, *, oneshot: bool, stop_s: int = 30
) -> str:
    extra = "" if oneshot else Template(_LONG_RUNNING).substitute(stop_s=stop_s)
    return _SERVICE.substitute(
        description=description,
        type="oneshot" if oneshot else "exec",
        user=options.user,
        group=options.group or options.user,
        env_file=options.env_file,
        data_dir=options.data_dir,
        config_line=f"\nEnvironment=NAPOMNI_CONFIG={options.config}" if options.config else "",
        napomni=options.napomni,
        arguments=arguments,
        service_extra=extra,
        install="" if oneshot else _INSTALL,
    )


def render_units(options: UnitOptions) -> dict[str, str]:
    """Unit file name → text, for every unit of a server; UnitError naming a bad option."""
    _check(options)
    return {
        "napomni-web.service": _service(
            options,
            "Напомни: веб-сервис",
            f"serve --host {options.web_host} --port {options.web_port}",
            oneshot=False,
        ),
        # The worker's stop waits for calls in progress (--stop-grace 30 s) and hangs up; its
        # metrics are on 127.0.0.1:9464 (NAPOMNI_METRICS_ADDRESS to change the address).
        "napomni-worker.service": _service(
            options,
            "Напомни: обзвон (worker)",
            "worker --stop-grace 30 --metrics-port 9464",
            oneshot=False,
            stop_s=60,
        ),
        "napomni-sender.service": _service(
            options, "Напомни: отправка СМС", "messages send", oneshot=False
        ),
        "napomni-decide-promises.service": _service(
            options, "Напомни: решение по обещаниям", "campaign decide-promises", oneshot=True
        ),
        "napomni-decide-promises.timer": _TIMER.substitute(
            description="Напомни: ежедневное решение по обещаниям",
            when=options.promises_at,
            service="napomni-decide-promises.service",
        ),
        "napomni-backup.service": _service(
            options,
            "Напомни: резервная копия",
            f"backup --keep {options.backup_keep}",
            oneshot=True,
        ),
        "napomni-backup.timer": _TIMER.substitute(
            description="Напомни: ночная резервная копия",
            when=options.backup_at,
            service="napomni-backup.service",
        ),
    }
