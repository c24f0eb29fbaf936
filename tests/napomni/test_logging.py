import datetime as dt
import json
import logging
from collections.abc import Iterator

import pytest

from napomni.logging_setup import PhoneMaskingFilter, configure_logging


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


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_json_lines_parse_and_carry_no_phone(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log = logging.getLogger("napomni.test")
    log.info("attempt %d: call to %s failed", 42, "+7 912 345-67-89", extra={"attempt_id": 42})
    log.warning("retry", extra={"callee": "89123456789", "number": 79123456789, "ms": 350})
    try:
        raise RuntimeError("dial +79123456789 refused")
    except RuntimeError:
        log.exception("call %s failed", "ЛС1/a7")
    lines = capsys.readouterr().err.splitlines()

    records = [json.loads(line) for line in lines]
    assert len(records) == 3
    first, second, third = records
    assert first["message"] == "attempt 42: call to <phone> failed"
    assert (first["level"], first["logger"], first["attempt_id"]) == ("INFO", "napomni.test", 42)
    assert dt.datetime.fromisoformat(first["time"]).utcoffset() == dt.timedelta(0)
    assert (second["callee"], second["number"], second["ms"]) == ("<phone>", "<phone>", 350)
    assert third["message"] == "call ЛС1/a7 failed"  # Russian stays readable, not \\u-escaped
    assert "RuntimeError: dial <phone> refused" in third["exc_info"]
    for line in lines:
        assert "9123456789" not in line
        assert "912 345" not in line


@pytest.mark.usefixtures("restore_root_logger")
def test_text_stays_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("napomni.test").info("call to %s", "+79123456789")
    line = capsys.readouterr().err.strip()
    assert line.endswith("INFO napomni.test: call to <phone>")
