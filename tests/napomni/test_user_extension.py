"""``napomni user add … --extension`` and ``napomni user extension LOGIN N|--clear`` (issue 16)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from napomni.cli import cli
from storage.models import Organisation
from storage.models.users import User, UserOrganisation

PASSWORD = "пароль-для-тестов-1\n"


def _run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, "user", *args], input=PASSWORD)


def _extensions(factory: sessionmaker[Session], login: str) -> list[str | None]:
    with factory() as session:
        return list(
            session.scalars(
                sa.select(UserOrganisation.extension)
                .join(User, User.id == UserOrganisation.user_id)
                .where(User.login == login)
            )
        )


def test_add_with_an_extension_then_change_and_clear_it(
    database_url: str, session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        session.add(Organisation(name=unique_name))
    first, second = f"c1-{uuid.uuid4().hex[:8]}", f"c2-{uuid.uuid4().hex[:8]}"
    add = ("add", "--role", "collector", "--org", unique_name, "--password-stdin")
    result = _run(database_url, *add, first, "--extension", "201")
    assert result.exit_code == 0, result.output
    assert _extensions(session_factory, first) == ["201"]

    result = _run(database_url, *add, second, "--extension", "201")
    assert result.exit_code == 1
    assert f"добавочный номер 201 уже у {first}" in result.stderr
    with session_factory() as session:  # nothing written: the user was not created either
        assert session.scalar(sa.select(User.id).where(User.login == second)) is None

    assert _run(database_url, *add, second).exit_code == 0
    result = _run(database_url, "extension", second, "202")
    assert (result.exit_code, result.stdout) == (0, f"Добавочный номер {second}: 202.\n")
    result = _run(database_url, "extension", second, "201")
    assert result.exit_code == 1
    assert "уже у" in result.stderr
    result = _run(database_url, "extension", first, "--clear")
    assert (result.exit_code, result.stdout) == (0, f"У {first} больше нет добавочного номера.\n")
    assert _extensions(session_factory, first) == [None]
    assert _run(database_url, "extension", second, "201").exit_code == 0


def test_wrong_extensions_are_refused_naming_the_field(
    database_url: str, session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        session.add(Organisation(name=unique_name))
    login = f"m-{uuid.uuid4().hex[:8]}"
    org = ("--org", unique_name, "--password-stdin")
    result = _run(database_url, "add", "--role", "collector", *org, login, "--extension", "2a")
    assert result.exit_code == 1
    assert "добавочный номер (extension): от 2 до 6 цифр" in result.stderr
    result = _run(database_url, "add", "--role", "manager", *org, login, "--extension", "201")
    assert result.exit_code == 1
    assert "--extension" in result.stderr
    assert _run(database_url, "add", "--role", "manager", *org, login).exit_code == 0
    result = _run(database_url, "extension", login, "201")
    assert result.exit_code == 1
    assert "только у взыскателя" in result.stderr
    result = _run(database_url, "extension", "nobody-" + uuid.uuid4().hex, "201")
    assert result.exit_code == 1
    assert "нет пользователя" in result.stderr
    for args in ((login,), (login, "201", "--clear")):
        result = _run(database_url, "extension", *args)
        assert result.exit_code == 2
        assert "или --clear" in result.stderr
