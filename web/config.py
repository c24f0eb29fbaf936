"""The web service's own configuration, built by the composition root from the settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from web.errors import ConfigError
from web.throttle import LoginLimits

__all__ = ["SECRET_FILE_NAME", "WebConfig", "load_or_create_secret"]

SECRET_FILE_NAME = "web_secret"
_MIN_SECRET_LENGTH = 32


@dataclass(frozen=True, slots=True)
class WebConfig:
    """What :func:`web.app.create_app` needs; nothing here reads the environment.

    ``secret`` signs session cookies (and with them the CSRF tokens); changing it signs
    everybody out. ``cookie_secure`` must be on behind HTTPS.
    """

    database_url: str
    secret: str = field(repr=False)
    session_max_age_s: int = 12 * 3600
    # A session not used for this long ends (a workstation left signed in).
    session_idle_s: int = 3600
    cookie_secure: bool = False
    db_threads: int = 8
    recordings_dir: Path | None = None
    login_limits: LoginLimits = LoginLimits()
    # The secret part of the delivery-report URL the SMS gateway calls (``/messages/dlr/…``);
    # empty: delivery reports are refused.
    sms_dlr_token: str = field(default="", repr=False)
    # ``GET /metrics`` wants ``Authorization: Bearer <token>``; empty: this machine only.
    metrics_token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < _MIN_SECRET_LENGTH:
            raise ConfigError(
                f"секрет веб-сервиса короче {_MIN_SECRET_LENGTH} символов (NAPOMNI_WEB_SECRET)"
            )
        if self.db_threads < 1:
            raise ConfigError("db_threads: нужен хотя бы один поток для базы данных")


def load_or_create_secret(data_dir: Path) -> str:
    """The session secret kept in ``<data_dir>/web_secret``; made on first use (mode 600)."""
    path = data_dir / SECRET_FILE_NAME
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    except OSError as err:
        raise ConfigError(f"не удалось прочитать {path}: {err.strerror}") from err
    if len(existing) >= _MIN_SECRET_LENGTH:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        # O_EXCL-free but 0600 from the start: nobody else on the machine may read it.
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(secret + "\n", encoding="ascii")
    except OSError as err:
        raise ConfigError(f"не удалось записать {path}: {err.strerror}") from err
    return secret
