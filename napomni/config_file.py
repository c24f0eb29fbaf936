"""One TOML configuration file besides the environment (``NAPOMNI_CONFIG`` or ``--config``).

Its keys mirror the ``NAPOMNI_*`` variables: a top-level key ``data_dir`` is
``NAPOMNI_DATA_DIR``, ``[sip] max_calls`` is ``NAPOMNI_SIP_MAX_CALLS``. The file is turned
into variables of that name and the real environment is laid over it, so the environment
overrides the file and :func:`napomni.settings.load_settings` parses both the same way. An
unknown key is an error naming the key and the file.

```toml
data_dir = "/var/lib/napomni"
[database]
url = "postgresql://napomni@127.0.0.1/napomni"
[sip]
registrar = "pbx.example.ru:5060"
codecs = ["PCMA", "PCMU"]
```
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from napomni.settings import SettingsError

__all__ = ["CONFIG_VARIABLE", "FILE_VARIABLES", "merged_environment", "read_config_file"]

CONFIG_VARIABLE = "NAPOMNI_CONFIG"

# Every setting the file may carry. A new NAPOMNI_* setting is added here too
# (tests/napomni/test_config_file.py compares this with the names settings.py reads).
FILE_VARIABLES: frozenset[str] = frozenset(
    {
        "NAPOMNI_DATA_DIR",
        "NAPOMNI_LOG_LEVEL",
        "NAPOMNI_LOG_FORMAT",
        "NAPOMNI_METRICS_ADDRESS",
        "NAPOMNI_METRICS_TOKEN",
        "NAPOMNI_MODELS_DIR",
        "NAPOMNI_VOSK_MODEL",
        "NAPOMNI_WHISPER_MODEL",
        "NAPOMNI_DATABASE_URL",
        "NAPOMNI_SPEECH_PROCESSES",
        "NAPOMNI_WEB_SECRET",
        "NAPOMNI_WEB_TLS_CERT",
        "NAPOMNI_WEB_TLS_KEY",
        "NAPOMNI_WEB_HTTPS",
        "NAPOMNI_TRANSFER_METHOD",
        *(
            f"NAPOMNI_SIP_{name}"
            for name in (
                "REGISTRAR", "USER", "PASSWORD", "CALLER_ID", "TRANSPORT", "CODECS",
                "RTP_PORT_MIN", "RTP_PORT_MAX", "MAX_CALLS", "ADAPTER",
            )
        ),
        *(
            f"NAPOMNI_SMS_{name}"
            for name in (
                "KANNEL_URL", "KANNEL_USER", "KANNEL_PASSWORD", "PUBLIC_URL", "DLR_TOKEN",
                "GATEWAY", "SMPP_HOST", "SMPP_PORT", "SMPP_SYSTEM_ID", "SMPP_PASSWORD",
                "SMPP_SYSTEM_TYPE", "SMPP_BIND",
            )
        ),
    }
)  # fmt: skip


def _variable(section: str | None, key: str) -> str:
    return f"NAPOMNI_{section.upper() + '_' if section else ''}{key.upper()}"


def _text(where: str, value: object) -> str:
    match value:
        case bool():
            return "1" if value else "0"
        case int() | str():
            return str(value)
        case list() if all(isinstance(item, str) for item in value):
            return ",".join(value)
        case _:
            raise SettingsError(f"{where}: ожидается строка, число, true/false или список строк")


def read_config_file(path: Path) -> dict[str, str]:
    """The file's settings as ``NAPOMNI_*`` variables; SettingsError naming a bad key."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError as err:
        raise SettingsError(f"{CONFIG_VARIABLE}: файла настроек нет: {path}") from err
    except OSError as err:
        raise SettingsError(
            f"{CONFIG_VARIABLE}: файл настроек не читается: {path} ({err})"
        ) from err
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path}: не TOML ({err})") from err
    found: dict[str, str] = {}
    for key, value in document.items():
        entries = value.items() if isinstance(value, dict) else [(None, value)]
        for inner, item in entries:
            section, name = (key, inner) if inner is not None else (None, key)
            where = f"{path}: ключ «{f'[{section}] ' if section else ''}{name}»"
            variable = _variable(section, name)
            if isinstance(item, dict) or variable not in FILE_VARIABLES:
                raise SettingsError(f"{where}: неизвестный ключ (такой настройки нет)")
            found[variable] = _text(where, item)
    return found


def merged_environment(environ: Mapping[str, str], config: Path | None) -> dict[str, str]:
    """The environment laid over the configuration file (given, or named by NAPOMNI_CONFIG);
    a variable set to an empty value leaves the file's value."""
    named = config or (Path(environ[CONFIG_VARIABLE]) if environ.get(CONFIG_VARIABLE) else None)
    if named is None:
        return dict(environ)
    from_file = read_config_file(named.expanduser())
    # An empty variable means "not set" to the settings, so it does not blank the file's value
    # (an env file with `NAPOMNI_SIP_PASSWORD=` left over must not undo the TOML file).
    overrides = {k: v for k, v in environ.items() if v.strip() or k not in from_file}
    return {**from_file, **overrides}
