"""Settings: built once from ``NAPOMNI_*`` environment variables and command-line flags.

Nothing below the composition root reads the environment: each package receives the
values it needs from this object as plain arguments or its own small config types.
Every value is parsed explicitly and a bad one fails naming the variable
(``bool("false")`` is True, so booleans are never parsed with ``bool``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SettingsError", "Settings", "SipSettings", "SmsSettings", "load_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class SipSettings:
    """How the robot reaches the telephone network (a PBX, an SBC or a SIP trunk)."""

    registrar: str = "127.0.0.1:5060"
    user: str = "robot"
    password: str = field(default="", repr=False)
    caller_id: str = ""
    transport: str = "udp"
    codecs: tuple[str, ...] = ("PCMA", "PCMU")
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    max_concurrent_calls: int = 8
    adapter: str = "baresip-process"

    def __repr__(self) -> str:  # credentials never reach a log line or a traceback
        masked = "***" if self.password else "''"
        return (
            f"SipSettings(registrar={self.registrar!r}, user={self.user!r}, password={masked}, "
            f"transport={self.transport!r}, codecs={self.codecs!r}, adapter={self.adapter!r})"
        )


_KANNEL_URL = "http://127.0.0.1:13013/cgi-bin/sendsms"
_PUBLIC_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """The SMS gateway the messages go through, and where debtors' links and reports point."""

    kannel_url: str = _KANNEL_URL
    kannel_user: str = "napomni"
    kannel_password: str = field(default="", repr=False)
    # The address debtors open (payment links) and the gateway calls (delivery reports).
    public_url: str = _PUBLIC_URL
    dlr_token: str = field(default="", repr=False)
    # Which gateway ``napomni messages send`` uses: Kannel's HTTP or an SMSC over SMPP.
    gateway: str = "kannel"
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = field(default="", repr=False)
    smpp_system_type: str = ""
    smpp_bind: str = "transceiver"

    def __repr__(self) -> str:  # credentials never reach a log line or a traceback
        return (
            f"SmsSettings(gateway={self.gateway!r}, kannel_url={self.kannel_url!r}, "
            f"smpp={self.smpp_host}:{self.smpp_port}, public_url={self.public_url!r})"
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration of one Napomni process."""

    data_dir: Path
    database_url: str
    models_dir: Path
    shared_models_dir: Path
    vosk_model: Path | None
    whisper_model: Path | None
    log_level: str
    sip: SipSettings
    web_secret: str = field(default="", repr=False)
    # TLS for ``napomni serve``: a certificate chain and its key (PEM), both or neither.
    web_tls_cert: Path | None = None
    web_tls_key: Path | None = None
    # Cookies marked Secure and HSTS sent: on with TLS here, or behind an HTTPS proxy.
    web_https: bool = False
    sms: SmsSettings = field(default_factory=SmsSettings)
    # Live recognition runs in this many worker processes (0: in the calls' own process).
    speech_processes: int = 2
    # Log lines as text or as one JSON object per line (for a log collector).
    log_format: str = "text"
    # ``/metrics``: with a token, scrapers send ``Authorization: Bearer <token>`` from anywhere;
    # without one, only this machine (127.0.0.1, ::1) may read it.
    metrics_token: str = field(default="", repr=False)
    # The address ``napomni worker --metrics-port`` listens on.
    metrics_address: str = "127.0.0.1"
    # How a debtor who asks for a person reaches a collector: a bridge through the robot, or
    # a blind transfer (SIP REFER) where the trunk allows it (a refused REFER is bridged).
    transfer_method: str = "bridge"

    def model_search_path(self) -> tuple[Path, ...]:
        """Where speech and classifier models are looked for, in order."""
        return (self.models_dir, self.shared_models_dir)

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (flags given on the command line)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
_TRANSPORTS = ("udp", "tcp", "tls")
_CODECS = ("PCMA", "PCMU")
_ADAPTERS = ("baresip", "baresip-process", "pyvoip")
_TRANSFER_METHODS = ("bridge", "refer")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError as err:
        raise SettingsError(f"{name}={raw!r}: ожидается целое число") from err
    if not low <= value <= high:
        raise SettingsError(f"{name}={value}: допустимо от {low} до {high}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    lookup = {a.lower(): a for a in allowed}
    if value.lower() not in lookup:
        raise SettingsError(f"{name}={raw!r}: допустимые значения {', '.join(allowed)}")
    return lookup[value.lower()]


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "no", "false", "off"):
        return False
    if raw in ("1", "yes", "true", "on"):
        return True
    raise SettingsError(f"{name}={raw!r}: ожидается 1 или 0")


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    return Path(raw.strip()).expanduser()


def _codecs(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return ("PCMA", "PCMU")
    codecs = tuple(c.strip().upper() for c in raw.split(",") if c.strip())
    bad = [c for c in codecs if c not in _CODECS]
    if bad or not codecs:
        raise SettingsError(f"{name}={raw!r}: кодеки через запятую из {', '.join(_CODECS)}")
    return codecs


def load_settings(env: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
    """Build the settings from an environment mapping (``os.environ`` at the entry point)."""
    base = cwd if cwd is not None else Path.cwd()
    data_dir = _path(env, "NAPOMNI_DATA_DIR") or base / "var"
    if not data_dir.is_absolute():
        data_dir = base / data_dir
    database_url = (
        env.get("NAPOMNI_DATABASE_URL", "").strip() or f"sqlite:///{data_dir / 'napomni.db'}"
    )
    if "://" not in database_url:
        raise SettingsError(
            f"NAPOMNI_DATABASE_URL={database_url!r}: ожидается URL вида sqlite:///path или postgresql://…"
        )
    rtp_min = _int(env, "NAPOMNI_SIP_RTP_PORT_MIN", 20000, 1024, 65535)
    rtp_max = _int(env, "NAPOMNI_SIP_RTP_PORT_MAX", 20999, 1024, 65535)
    if rtp_max <= rtp_min:
        raise SettingsError(
            f"NAPOMNI_SIP_RTP_PORT_MAX={rtp_max}: должен быть больше NAPOMNI_SIP_RTP_PORT_MIN={rtp_min}"
        )
    sip = SipSettings(
        registrar=env.get("NAPOMNI_SIP_REGISTRAR", "").strip() or "127.0.0.1:5060",
        user=env.get("NAPOMNI_SIP_USER", "").strip() or "robot",
        password=env.get("NAPOMNI_SIP_PASSWORD", ""),
        caller_id=env.get("NAPOMNI_SIP_CALLER_ID", "").strip(),
        transport=_choice(env, "NAPOMNI_SIP_TRANSPORT", "udp", _TRANSPORTS),
        codecs=_codecs(env, "NAPOMNI_SIP_CODECS"),
        rtp_port_min=rtp_min,
        rtp_port_max=rtp_max,
        max_concurrent_calls=_int(env, "NAPOMNI_SIP_MAX_CALLS", 8, 1, 1000),
        adapter=_choice(env, "NAPOMNI_SIP_ADAPTER", "baresip-process", _ADAPTERS),
    )
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        models_dir=_path(env, "NAPOMNI_MODELS_DIR") or PROJECT_ROOT / "models",
        shared_models_dir=PROJECT_ROOT.parent / "shared" / "models",
        vosk_model=_path(env, "NAPOMNI_VOSK_MODEL"),
        whisper_model=_path(env, "NAPOMNI_WHISPER_MODEL"),
        log_level=_choice(env, "NAPOMNI_LOG_LEVEL", "INFO", _LOG_LEVELS),
        sip=sip,
        web_secret=env.get("NAPOMNI_WEB_SECRET", ""),
        web_tls_cert=_path(env, "NAPOMNI_WEB_TLS_CERT"),
        web_tls_key=_path(env, "NAPOMNI_WEB_TLS_KEY"),
        web_https=_flag(env, "NAPOMNI_WEB_HTTPS"),
        sms=_sms(env),
        speech_processes=_int(env, "NAPOMNI_SPEECH_PROCESSES", min(os.cpu_count() or 1, 4), 0, 64),
        log_format=_choice(env, "NAPOMNI_LOG_FORMAT", "text", LOG_FORMATS),
        metrics_token=_token(env, "NAPOMNI_METRICS_TOKEN"),
        metrics_address=_address(env, "NAPOMNI_METRICS_ADDRESS", "127.0.0.1"),
        transfer_method=_choice(env, "NAPOMNI_TRANSFER_METHOD", "bridge", _TRANSFER_METHODS),
    )


def _token(env: Mapping[str, str], name: str) -> str:
    """A shared secret of at least 16 letters, digits, «-» or «_» (never repeated in errors)."""
    token = env.get(name, "").strip()
    if token and (len(token) < 16 or not token.replace("-", "").replace("_", "").isalnum()):
        raise SettingsError(f"{name}: нужно не меньше 16 букв, цифр, «-» или «_»")
    return token


def _address(env: Mapping[str, str], name: str, default: str) -> str:
    """An IP address to listen on (``0.0.0.0``, ``::`` for every interface)."""
    raw = env.get(name, "").strip() or default
    try:
        return str(ipaddress.ip_address(raw.strip("[]")))
    except ValueError as err:
        raise SettingsError(f"{name}={raw!r}: ожидается IP-адрес, например 127.0.0.1") from err


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={value!r}: ожидается адрес http://… или https://…")
    return value.rstrip("/")


def _sms(env: Mapping[str, str]) -> SmsSettings:
    token = env.get("NAPOMNI_SMS_DLR_TOKEN", "").strip()
    if token and (len(token) < 16 or not token.replace("-", "").replace("_", "").isalnum()):
        raise SettingsError("NAPOMNI_SMS_DLR_TOKEN: нужно не меньше 16 букв, цифр, «-» или «_»")
    gateway = _choice(env, "NAPOMNI_SMS_GATEWAY", "kannel", _SMS_GATEWAYS)
    system_id = _smpp_text(env, "NAPOMNI_SMS_SMPP_SYSTEM_ID", 15)
    if gateway == "smpp" and not system_id:
        raise SettingsError(
            "NAPOMNI_SMS_SMPP_SYSTEM_ID: нужен при NAPOMNI_SMS_GATEWAY=smpp (логин у оператора)"
        )
    host = env.get("NAPOMNI_SMS_SMPP_HOST", "").strip() or "127.0.0.1"
    if any(c.isspace() or c in "/@" for c in host) or (":" in host and not host.startswith("[")):
        raise SettingsError(
            f"NAPOMNI_SMS_SMPP_HOST={host!r}: ожидается имя или адрес без порта ([::1] для IPv6)"
        )
    return SmsSettings(
        kannel_url=_url(env, "NAPOMNI_SMS_KANNEL_URL", _KANNEL_URL),
        kannel_user=env.get("NAPOMNI_SMS_KANNEL_USER", "").strip() or "napomni",
        kannel_password=env.get("NAPOMNI_SMS_KANNEL_PASSWORD", ""),
        public_url=_url(env, "NAPOMNI_SMS_PUBLIC_URL", _PUBLIC_URL),
        dlr_token=token,
        gateway=gateway,
        smpp_host=host.strip("[]"),
        smpp_port=_int(env, "NAPOMNI_SMS_SMPP_PORT", 2775, 1, 65535),
        smpp_system_id=system_id,
        # SMPP 3.4 fields are C strings of fixed maximum size (password 9 octets with NUL).
        smpp_password=_smpp_text(env, "NAPOMNI_SMS_SMPP_PASSWORD", 8, strip=False),
        smpp_system_type=_smpp_text(env, "NAPOMNI_SMS_SMPP_SYSTEM_TYPE", 12),
        smpp_bind=_choice(env, "NAPOMNI_SMS_SMPP_BIND", "transceiver", _SMPP_BINDS),
    )


_SMS_GATEWAYS = ("kannel", "smpp")
_SMPP_BINDS = ("transceiver", "transmitter")


def _smpp_text(env: Mapping[str, str], name: str, max_len: int, *, strip: bool = True) -> str:
    raw = env.get(name, "")
    value = raw.strip() if strip else raw
    if not value.isascii() or not value.isprintable():
        # The value may be a password: never repeated in the message.
        raise SettingsError(f"{name}: только печатные латинские буквы, цифры и знаки ASCII")
    if len(value) > max_len:
        raise SettingsError(f"{name}: не длиннее {max_len} символов (SMPP 3.4), дано {len(value)}")
    return value


def make_private(data_dir: Path) -> None:
    """Close an existing data directory to everyone but its owner (0700).

    It holds personal data (the SQLite file, recordings). A shared sticky directory such as
    ``/tmp`` and a directory of another user are left as they are.
    """
    try:
        found = data_dir.stat()
    except FileNotFoundError:
        return  # created 0700 by whoever writes into it first
    if found.st_uid != os.geteuid() or found.st_mode & stat.S_ISVTX:
        return
    if stat.S_IMODE(found.st_mode) & 0o077:
        data_dir.chmod(stat.S_IMODE(found.st_mode) & 0o700)
