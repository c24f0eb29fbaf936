"""Validation on load: every problem named by file, node and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.errors import ScriptInvalid
from scripts.loader import (
    LIBRARY_DIR,
    library_script,
    load_script,
    parse_script,
    shipped_scripts,
)

MINIMAL = """
script: tiny
title: Проверка
start: hello
give_up: give_up
on:
  wrong_person: bye
  operator_request: bye
  callback_later: bye
  already_paid: bye
  dispute_amount: bye
  service_complaint: bye
  promise_to_pay: bye
  installment_request: bye
  financial_hardship: bye
  refusal: bye
  payment_question: bye
  unaware: bye
  away: bye
  confirm: bye
  deny: bye
otherwise: repeat
nodes:
  hello:
    say: "Здравствуйте! Это {organisation}. Звонок автоматический, разговор записывается."
    next: identity
  identity:
    say: "Это {full_name}?"
    ask: identity
    on:
      confirm: debt
    otherwise: repeat
  debt:
    say: "Ваш долг — {debt:nom}."
    next: bye
  bye:
    say: "До свидания!"
    end: completed
  give_up:
    say: "Не понимаю."
    end: escalated
"""


def problems(text: str) -> str:
    with pytest.raises(ScriptInvalid) as info:
        parse_script(text, source="tiny.yaml")
    return str(info.value)


def test_minimal_script_loads() -> None:
    loaded = parse_script(MINIMAL, source="tiny.yaml")
    assert loaded.start == "hello"
    assert "on" not in {str(k) for k in loaded.nodes}  # `on:` stays a key, not YAML's True
    assert loaded.variables == {"organisation", "full_name", "debt"}


@pytest.mark.parametrize("name", shipped_scripts())
def test_shipped_scripts_load(name: str) -> None:
    assert load_script(library_script(name)).name == name


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "confirm: debt",
            "confirm: dept",
            "tiny.yaml: node 'identity', field 'on.confirm': неизвестный узел 'dept'",
        ),
        ("confirm: debt", "confrim: debt", "field 'on.confrim': неизвестный тег 'confrim'"),
        ("{debt:nom}", "{dept}", "node 'debt', field 'say[0]': неизвестная переменная {dept}"),
        ("{debt:nom}", "{debt:abl}", "node 'debt', field 'say[0]': неизвестный падеж 'abl'"),
        ("{full_name}", "{full_name:gen}", "{full_name} произносится как написано"),
        (
            "end: completed",
            "end: finished",
            "node 'bye', field 'end': недопустимое значение 'finished'",
        ),
        ("ask: identity", "ask: who", "node 'identity', field 'ask': недопустимое значение 'who'"),
        ("    next: bye\n", "    next: repeat\n", "repeat возможен только в ответ на вопрос"),
        ("start: hello", "start: hello\nfoo: 1", "field 'foo': неизвестное поле"),
        ("script: tiny", "script: other", "имя 'other' не совпадает с именем файла 'tiny'"),
        ("{debt:nom}", "{debt", "непарная фигурная скобка"),
    ],
)
def test_problems_name_file_node_and_field(old: str, new: str, expected: str) -> None:
    assert old in MINIMAL
    assert expected in problems(MINIMAL.replace(old, new, 1))


def test_missing_tag_branch_names_the_asking_node() -> None:
    text = MINIMAL.replace("  deny: bye\n", "").replace("    otherwise: repeat\n", "    on2: x\n")
    assert "неизвестное поле" in problems(text)
    text = MINIMAL.replace("  deny: bye\n", "").replace(
        "    on:\n      confirm: debt\n    otherwise: repeat\n", "    on:\n      confirm: debt\n"
    )
    assert "tiny.yaml: node 'identity', field 'on': нет ветки для тега deny" in problems(text)


def test_unreachable_node() -> None:
    text = MINIMAL + '  lonely:\n    say: "Я тут"\n    end: completed\n'
    assert "node 'lonely', field '': узел недостижим из start" in problems(text)


def test_debt_before_identity_is_rejected() -> None:
    text = MINIMAL.replace("Это {full_name}?", "Это {full_name}? Ваш долг {debt}.")
    assert (
        "node 'identity', field 'say[0]': {debt} — подробность долга, а узел достижим до того, "
        "как должник подтвердил, что это он"
    ) in problems(text)


def test_details_in_a_node_reachable_from_deny_are_rejected() -> None:
    text = MINIMAL.replace("  deny: bye\n", "  deny: debt\n").replace(
        "    on:\n      confirm: debt\n    otherwise: repeat\n",
        "    on:\n      confirm: debt\n      deny: debt\n    otherwise: repeat\n",
    )
    assert "{debt} — подробность долга" in problems(text)


def test_address_and_payment_message_before_identity_are_rejected() -> None:
    text = MINIMAL.replace(
        '    say: "Здравствуйте! Это {organisation}. Звонок автоматический, разговор записывается."\n',
        '    say: "Здравствуйте! Звоним по адресу {address}."\n    send: payment_link\n',
    )
    found = problems(text)
    assert "{address} — подробность долга" in found
    assert "node 'hello', field 'send': реквизиты отправляются только после подтверждения" in found


def test_script_without_identity_question() -> None:
    text = MINIMAL.replace("ask: identity", "ask: open")
    assert "сценарий не спрашивает, с кем говорит" in problems(text)


def test_loop_without_question() -> None:
    text = MINIMAL.replace("    next: bye\n", "    next: debt2\n") + (
        '  debt2:\n    say: "Ещё раз."\n    next: debt\n'
    )
    assert "цикл без вопроса" in problems(text)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "не YAML" in problems("nodes: [")
    with pytest.raises(ScriptInvalid, match="не удаётся прочитать"):
        load_script(tmp_path / "absent.yaml")


def test_all_problems_are_reported_at_once() -> None:
    text = MINIMAL.replace("confirm: debt", "confirm: dept").replace("{debt:nom}", "{dept}")
    with pytest.raises(ScriptInvalid) as info:
        parse_script(text, source="tiny.yaml")
    assert len(info.value.problems) >= 2


@pytest.mark.parametrize(
    "name",
    ["../../../../var/evil", "/etc/passwd", "warning/../thanks", "Warning", "", "a.b", "a\0"],
)
def test_library_script_refuses_a_name_that_is_not_a_plain_identifier(name: str) -> None:
    # Issue 14, item 10: a campaign's script name resolved to a file outside the library.
    with pytest.raises(ScriptInvalid):
        library_script(name)


def test_library_script_stays_in_the_library() -> None:
    path = library_script("warning")
    assert path.parent == LIBRARY_DIR
    assert path.name == "warning.yaml"
