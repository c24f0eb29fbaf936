"""Logging for every Napomni process.

Log lines carry ids (attempt, account, call), never phones, names or transcripts. Code is
written that way; this filter is the second line of defence: any run of digits that looks
like a phone number is masked before a record is written, whatever the caller passed.

``configure_logging(level, "json")`` writes one JSON object per line (``time``, ``level``,
``logger``, ``message`` and any ``extra=`` fields) for a log collector; the same filter runs
first, and the JSON formatter masks phone-like values in the extra fields and the traceback too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

__all__ = ["JsonLogFormatter", "PhoneMaskingFilter", "configure_logging"]

# +7 912 345-67-89, 89123456789, 8 (912) 345 67 89 …: ten or more digits with separators.
_PHONE_RE = re.compile(r"\+?\d(?:[\s\-()]*\d){9,14}")


class PhoneMaskingFilter(logging.Filter):
    """Masks phone-like digit runs in the rendered message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _PHONE_RE.sub("<phone>", message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


def _masked(value: object) -> object:
    if isinstance(value, str):
        return _PHONE_RE.sub("<phone>", value)
    if isinstance(value, int) and not isinstance(value, bool) and _PHONE_RE.fullmatch(str(value)):
        return "<phone>"
    return value


class JsonLogFormatter(JsonFormatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, the record's ``extra=`` fields and ``exc_info``; phone-like values masked."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Mask phone-like values in every field (the message is masked by the filter)."""
        return {key: _masked(value) for key, value in log_data.items()}


def configure_logging(level: str, log_format: str = "text") -> None:
    """Configure the root logger once for a command-line process (``text`` or ``json``)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PhoneMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that chat at INFO about their own start-up (dictionary loads, model loads):
    # useful when debugging them, noise on every command otherwise.
    for chatty in ("pymorphy3", "faster_whisper", "numba"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
