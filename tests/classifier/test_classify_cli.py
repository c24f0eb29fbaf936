"""``napomni classify``: JSON lines in and out, order kept, bad lines named, --evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from napomni.cli import cli


def _run(models_dir: Path, args: list[str], stdin: str | None = None) -> tuple[int, str]:
    """Exit code and stdout; on failure stdout and stderr together (the error message)."""
    result = CliRunner().invoke(
        cli, ["classify", *args], input=stdin, env={"NAPOMNI_MODELS_DIR": str(models_dir)}
    )
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_lines_in_order_other_fields_ignored(models_dir: Path) -> None:
    lines = [
        {"text": "нет это жена его", "asked": "identity", "today": "2026-11-23", "id": 7},
        {"text": "алло алло", "asked": "reason", "today": "2026-11-23", "debt": 100},
        {
            "text": "денег нет заплачу с зарплаты десятого половину",
            "asked": "reason",
            "today": "2026-11-23",
            "debt": 12480.5,
            "phone": "+79990000000",
        },
    ]
    stdin = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n\n"
    code, output = _run(models_dir, [], stdin)
    assert code == 0, output
    got = [json.loads(line) for line in output.splitlines()]
    assert len(got) == 3
    assert set(got[0]["tags"]) == {"deny"}
    assert got[1] == {"tags": {}, "promise_date": None, "promise_amount": None}
    assert set(got[2]["tags"]) == {"financial_hardship", "promise_to_pay"}
    assert got[2]["promise_date"] == "2026-12-10"
    assert got[2]["promise_amount"] == 6240.25


def test_reads_a_file(models_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "turns.jsonl"
    path.write_text(
        json.dumps({"text": "Соедините с оператором!", "asked": "open", "today": "2026-11-23"})
        + "\n",
        encoding="utf-8",
    )
    code, output = _run(models_dir, [str(path)])
    assert code == 0, output
    assert set(json.loads(output)["tags"]) == {"operator_request"}


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("{not json", "строка 2: не JSON"),
        ('{"asked": "open", "today": "2026-11-23"}', "строка 2: поле 'text'"),
        ('{"text": "да", "asked": "why", "today": "2026-11-23"}', "строка 2: поле 'asked'"),
        ('{"text": "да", "asked": "open", "today": "23.11.2026"}', "строка 2: поле 'today'"),
        (
            '{"text": "да", "asked": "open", "today": "2026-11-23", "debt": "много"}',
            "строка 2: поле 'debt'",
        ),
        ("[1, 2]", "строка 2: ожидается JSON-объект"),
    ],
)
def test_bad_line_is_named_and_nothing_is_written(models_dir: Path, bad: str, needle: str) -> None:
    good = json.dumps({"text": "да это я", "asked": "identity", "today": "2026-11-23"})
    code, output = _run(models_dir, [], f"{good}\n{bad}\n{good}\n")
    assert code != 0
    assert needle in output
    assert '"tags"' not in output


def test_evaluate(models_dir: Path, tmp_path: Path) -> None:
    labelled = [
        {"text": "заплачу завтра три тысячи", "asked": "promise_date", "today": "2026-11-23",
         "debt": 5000, "tags": ["promise_to_pay"], "promise_date": "2026-11-24",
         "promise_amount": 3000},
        {"text": "перезвоните вечером", "asked": "identity", "today": "2026-11-23",
         "tags": ["callback_later"], "promise_date": None, "promise_amount": None},
        {"text": "денег нет", "asked": "reason", "today": "2026-11-23",
         "tags": ["financial_hardship"], "promise_date": None, "promise_amount": None},
    ]  # fmt: skip
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in labelled), "utf-8")
    code, output = _run(models_dir, ["--evaluate", str(path)])
    assert code == 0, output
    assert "macro-F1: 1.000" in output
    assert "дата верна: 1.000" in output
    assert "promise_to_pay" in output
    assert "callback_later" in output
