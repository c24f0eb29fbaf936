"""Database errors a command does not handle reach the user as a sentence, never a traceback
(issue 14, item 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from napomni.cli import database_problem
from storage.models import Organisation

ROOT = Path(__file__).resolve().parents[2]


def test_import_into_a_database_never_upgraded(tmp_path: Path) -> None:
    export = tmp_path / "debts.csv"
    export.write_text(
        "Лицевой счет;ФИО;Адрес;Услуга;Период;Сальдо конечное\n"
        "1001;Иванов Иван;г. Тверь, ул. Ленина, д. 1;Отопление;10.2026;100,00\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "napomni", "import", "debts", str(export)],
        cwd=ROOT,
        env={**os.environ, "NAPOMNI_DATA_DIR": str(tmp_path / "var")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "napomni db upgrade" in done.stderr


def test_a_duplicate_written_by_another_command_at_once(session_factory: sa.orm.sessionmaker[sa.orm.Session], unique_name: str) -> None:  # fmt: skip
    with session_factory.begin() as session:
        session.add(Organisation(name=unique_name))
    with pytest.raises(sa.exc.IntegrityError) as caught, session_factory.begin() as session:
        session.add(Organisation(name=unique_name))
    message = database_problem(caught.value)
    assert message is not None
    assert "повторите" in message
    assert unique_name not in message  # typed values stay out of the sentence


def test_other_errors_are_not_disguised() -> None:
    assert database_problem(ValueError("x")) is None


def test_a_database_behind_the_code_asks_for_an_upgrade(engine: sa.Engine) -> None:
    # A release that added a column, run before «napomni db upgrade»: SQLite says «no such
    # column», PostgreSQL «column … does not exist» (a ProgrammingError, not operational).
    with pytest.raises(sa.exc.DBAPIError) as caught, engine.connect() as connection:
        connection.execute(sa.text("SELECT organisations.added_by_a_later_release FROM organisations"))  # fmt: skip
    message = database_problem(caught.value)
    assert message is not None
    assert "napomni db upgrade" in message
