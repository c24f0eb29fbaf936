import logging

import pytest

from napomni.logging_setup import PhoneMaskingFilter


@pytest.mark.parametrize("phone", ["+79123456789", "8 (912) 345-67-89", "+7 912 345 67 89"])
def test_phone_numbers_never_reach_a_log_line(phone: str) -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "call to %s failed", (phone,), None)
    PhoneMaskingFilter().filter(record)
    assert record.getMessage() == "call to <phone> failed"


def test_ids_and_amounts_are_kept() -> None:
    record = logging.LogRecord(
        "t",
        logging.INFO,
        __file__,
        1,
        "attempt %d account %s debt %s",
        (42, "LS-1001", "12480.50"),
        None,
    )
    PhoneMaskingFilter().filter(record)
    assert record.getMessage() == "attempt 42 account LS-1001 debt 12480.50"
