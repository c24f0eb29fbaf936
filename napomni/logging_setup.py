"""Logging for every Napomni process.

Log lines carry ids (attempt, account, call), never phones, names or transcripts. Code is
written that way; this filter is the second line of defence: any run of digits that looks
like a phone number is masked before a record is written, whatever the caller passed.
"""

from __future__ import annotations

import logging
import re

__all__ = ["PhoneMaskingFilter", "configure_logging"]

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


def configure_logging(level: str) -> None:
    """Configure the root logger once for a command-line process."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PhoneMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that chat at INFO about their own start-up (dictionary loads, model loads):
    # useful when debugging them, noise on every command otherwise.
    for chatty in ("pymorphy3", "faster_whisper", "numba"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
