"""The storage commands as a user runs them: db upgrade, sample, import, segment, demo."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from click.testing import CliRunner

from napomni.cli import cli
from storage.database import migrations_config


def _run(args: list[str]) -> tuple[int, str]:
    """Exit code and standard output (logs and click's errors go to standard error)."""
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout


def _run_failing(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_db_upgrade_on_a_fresh_data_dir(tmp_path: Path) -> None:
    code, out = _run(["--data-dir", str(tmp_path), "db", "current"])
    assert (code, out) == (0, "Миграции не применялись: выполните napomni db upgrade\n")
    code, out = _run(["--data-dir", str(tmp_path), "db", "upgrade"])
    assert code == 0
    assert out == f"Схема базы обновлена: sqlite:///{tmp_path / 'napomni.db'}\n"
    code, out = _run(["--data-dir", str(tmp_path), "db", "current"])
    assert code == 0
    assert set(out.split()) == set(ScriptDirectory.from_config(migrations_config()).get_heads())


def test_sample_import_and_segment(database_url: str, tmp_path: Path, unique_name: str) -> None:
    base = ["--data-dir", str(tmp_path), "--database-url", database_url]
    debts, payments = tmp_path / "debts.csv", tmp_path / "payments.csv"
    code, out = _run(
        [
            *base,
            "sample",
            "debts",
            "--accounts",
            "12",
            "--out",
            str(debts),
            "--payments",
            str(payments),
        ]
    )
    assert code == 0, out
    assert out.startswith(f"{debts}: 1152 строк, лицевых счетов 12\n")

    code, out = _run([*base, "import", "debts", str(debts), "--org", unique_name, "--dry-run"])
    assert code == 0, out
    assert "строк долга: новых 1152, изменённых 0, без изменений 0" in out
    assert out.endswith("Ничего не записано (--dry-run)\n")

    code, out = _run([*base, "import", "debts", str(debts), "--org", unique_name])
    assert code == 0, out
    assert "лицевых счетов: 12 (новых 12, изменённых 0)" in out
    code, out = _run([*base, "import", "debts", str(debts), "--org", unique_name])
    assert "строк долга: новых 0, изменённых 0, без изменений 1152" in out

    code, out = _run([*base, "import", "payments", str(payments), "--org", unique_name])
    assert code == 0, out
    assert "уже загруженных 0" in out

    code, out = _run([*base, "segment", "--org", unique_name, "--as-of", "23.11.2026"])
    assert code == 0, out
    assert f"«{unique_name}» на 23.11.2026: сегменты" in out
    assert "красный (за красной чертой)" in out
    assert "одна услуга не оплачена" in out


def test_a_bad_import_prints_every_problem_and_fails(
    database_url: str, tmp_path: Path, unique_name: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ЛС;Услуга;Период;Долг\n1;ХВС;13.2026;1,00\n;ГВС;11.2026;2\n", encoding="utf-8")
    code, out, err = _run_failing(
        ["--database-url", database_url, "import", "debts", str(path), "--org", unique_name]
    )
    assert code == 1
    assert out.splitlines() == [
        "Ошибки:",
        "  bad.csv, строка 2, столбец «Период»: не период: «13.2026» (ожидается «ноябрь 2026» или «11.2026»)",
        "  bad.csv, строка 3, столбец «ЛС»: пустое значение",
    ]
    assert err.splitlines()[-1] == "Error: ошибок в файле: 2; ничего не записано"


def test_segment_without_an_organisation(tmp_path: Path) -> None:
    _run(["--data-dir", str(tmp_path), "db", "upgrade"])
    code, _out, err = _run_failing(["--data-dir", str(tmp_path), "segment"])
    assert code == 1
    assert "Error: в базе нет ни одной организации: сначала импортируйте долги" in err


def test_the_demo_builds_its_own_database(tmp_path: Path) -> None:
    code, out = _run(["--data-dir", str(tmp_path), "demo", "--accounts", "30", "--no-calls"])
    assert code == 0, out
    assert (tmp_path / "demo" / "napomni.db").exists()
    assert "лицевых счетов: 30 (новых 30, изменённых 0)" in out
    assert "Типы должников" in out
    # A second run starts again from an empty database.
    code, again = _run(["--data-dir", str(tmp_path), "demo", "--accounts", "30", "--no-calls"])
    assert code == 0
    assert "лицевых счетов: 30 (новых 30, изменённых 0)" in again
