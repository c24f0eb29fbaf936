"""``napomni script check|rehearse`` end to end: real scripts, the real trained classifier,
amounts and dates rendered by ``speech.russian``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from napomni.cli import cli
from scripts.loader import LIBRARY_DIR

REHEARSALS = LIBRARY_DIR / "rehearsals"


def rehearse(*args: str, answers: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["script", "rehearse", *args], input=answers, env=env)
    return result.exit_code, result.output


def test_check_passes_the_library() -> None:
    result = CliRunner().invoke(cli, ["script", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.count("ок  ") == 5


def test_check_names_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "soft_reminder.yaml"
    text = (LIBRARY_DIR / "soft_reminder.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("confirm: reminder", "confirm: remindr"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["script", "check", str(broken)])
    assert result.exit_code == 1
    assert "node 'identity', field 'on.confirm': неизвестный узел 'remindr'" in result.output


def test_rehearsal_reaches_a_promise_with_the_real_classifier() -> None:
    code, output = rehearse(
        "soft_reminder",
        "--today",
        "2026-11-23",
        answers="да это я\nзабыл совсем\nзаплачу в пятницу\nда верно\n",
    )
    assert code == 0, output
    assert "Долг — двенадцать тысяч четыреста восемьдесят рублей пятьдесят копеек." in output
    assert "до пятницы, двадцать седьмого ноября. Верно?" in output
    assert "Итог: promise" in output
    assert "12480.50 ₽ до 2026-11-27 (подтверждено)" in output


def test_wrong_number_in_a_rehearsal() -> None:
    code, output = rehearse("warning", answers="вы ошиблись номером\n")
    assert code == 0, output
    assert "Итог: wrong_person" in output
    assert "номер телефона: неверный" in output
    assert "рублей" not in output  # nothing about the debt to a stranger


def test_end_of_input_is_a_hang_up_and_commands_work() -> None:
    code, output = rehearse("pre_court", answers="/dtmf 0\n")
    assert "Хорошо, одну минуту." in output
    assert "соединить сейчас" in output  # the session connects a person, if one is free
    code, output = rehearse("pre_court", answers="/voicemail\n")
    assert "Итог: no_dialogue" in output
    code, output = rehearse("thanks", answers="")
    assert code == 0
    assert "Итог: no_dialogue" in output


def test_missing_model_says_how_to_train(tmp_path: Path) -> None:
    code, output = rehearse("thanks", answers="", env={"NAPOMNI_MODELS_DIR": str(tmp_path)})
    assert code == 1
    assert "napomni classifier train" in output


def test_unknown_script_lists_the_library() -> None:
    code, output = rehearse("nonexistent", answers="")
    assert code == 1
    assert "soft_reminder" in output


@pytest.mark.parametrize(
    "name", ["soft_reminder", "warning", "pre_court", "broken_promise", "thanks"]
)
def test_committed_rehearsal_is_what_the_command_prints(name: str) -> None:
    answers = (REHEARSALS / f"{name}.answers").read_text(encoding="utf-8")
    code, output = rehearse(name, "--today", "2026-11-23", answers=answers)
    assert code == 0, output
    expected = (REHEARSALS / f"{name}.txt").read_text(encoding="utf-8")
    # Confidences move when the classifier is retrained; the dialogue itself must not.
    assert _dialogue(output) == _dialogue(expected)


def _dialogue(transcript: str) -> list[str]:
    return [line for line in transcript.splitlines() if not line.lstrip().startswith("[")]
