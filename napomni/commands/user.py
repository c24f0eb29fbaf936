"""``napomni user``: users of the web service."""

from __future__ import annotations

import sys

import click

from napomni.settings import Settings

__all__ = ["user"]

_ROLES = ("admin", "campaign_manager", "collector", "manager")


@click.group(help="Пользователи веб-сервиса.")
def user() -> None:
    pass


@user.command(
    "add",
    help=(
        "Создать пользователя. Роли: admin — всё; campaign_manager — кампании и карточки; "
        "collector — очередь эскалаций; manager — отчёты (только чтение). "
        "Пароль спрашивается дважды или читается из stdin (--password-stdin)."
    ),
)
@click.argument("login")
@click.option("--role", type=click.Choice(_ROLES), required=True, help="Роль пользователя.")
@click.option(
    "--org",
    "orgs",
    multiple=True,
    help="Организация (название или номер), данные которой видит пользователь; можно несколько.",
)
@click.option("--name", "display_name", default="", help="Имя сотрудника для интерфейса.")
@click.option(
    "--extension",
    default=None,
    help="Добавочный SIP-номер взыскателя (2–6 цифр, свой в каждой организации), например 201.",
)
@click.option("--password-stdin", is_flag=True, help="Прочитать пароль из первой строки stdin.")
@click.pass_obj
def user_add(
    settings: Settings,
    login: str,
    role: str,
    orgs: tuple[str, ...],
    display_name: str,
    extension: str | None,
    password_stdin: bool,
) -> None:
    from napomni.commands.db import quiet_migration_log

    quiet_migration_log(settings)  # before alembic is imported: it logs while loading
    from storage.collectors import parse_extension, set_extension
    from storage.database import make_engine, make_session_factory, upgrade_to_heads
    from storage.errors import CollectorLineRefused
    from storage.models.users import UserRole
    from web.errors import UserError
    from web.passwords import check_password_strength, hash_password
    from web.users import NewUser, create_user, resolve_organisations

    try:  # before the password is typed twice
        if extension is not None:
            parse_extension(extension)
            if role != UserRole.COLLECTOR.value:
                raise CollectorLineRefused(
                    "--extension: добавочный номер бывает только у роли collector"
                )
    except CollectorLineRefused as err:
        raise click.ClickException(str(err)) from err
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Пароль", hide_input=True, confirmation_prompt="Ещё раз")
    try:
        check_password_strength(password)
    except UserError as err:
        raise click.ClickException(str(err)) from err
    upgrade_to_heads(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            organisation_ids = resolve_organisations(session, orgs)
            user_id = create_user(
                session,
                NewUser(
                    login=login,
                    password_hash=hash_password(password),
                    role=UserRole(role),
                    organisation_ids=organisation_ids,
                    display_name=display_name,
                ),
            )
            if extension is not None:
                set_extension(session, user_id, extension)
    except (UserError, CollectorLineRefused) as err:
        raise click.ClickException(str(err)) from err
    finally:
        engine.dispose()
    click.echo(f"Пользователь {login} создан (№ {user_id}, роль {role}).")


@user.command(
    "unblock",
    help=(
        "Снять блокировку входа по логину после неудачных попыток (иначе она снимется сама "
        "через 15 минут). Блокировка по адресу клиента остаётся."
    ),
)
@click.argument("login")
@click.pass_obj
def user_unblock(settings: Settings, login: str) -> None:
    from napomni.commands.db import quiet_migration_log

    quiet_migration_log(settings)
    from napomni.commands.serve import web_config
    from storage.database import make_engine, make_session_factory, upgrade_to_heads
    from web.throttle import LoginSubjects, clear_login

    # The failures are stored under a hash keyed with the service secret: use the same one.
    config = web_config(settings)
    upgrade_to_heads(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            cleared = clear_login(session, LoginSubjects.of(config.secret, login, ""))
    finally:
        engine.dispose()
    click.echo(f"Неудачных попыток входа снято: {cleared}.")


def _change_user(settings: Settings, login: str, change: str, password: str | None = None) -> int:
    """Apply ``change`` to the user ``login``; every change ends the user's sessions."""
    from napomni.commands.db import quiet_migration_log

    quiet_migration_log(settings)
    import sqlalchemy as sa

    from storage.database import make_engine, make_session_factory, upgrade_to_heads
    from storage.models import utc_now
    from storage.models.users import User
    from web.passwords import hash_password
    from web.users import change_user

    upgrade_to_heads(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            found = session.scalar(sa.select(User).where(User.login == login.strip()))
            if found is None:
                raise click.ClickException(f"нет пользователя {login!r}")
            hashed = hash_password(password) if password is not None else ""
            return change_user(session, found, change, utc_now(), hashed)
    finally:
        engine.dispose()


@user.command("disable", help="Запретить вход; все сеансы пользователя заканчиваются сразу.")
@click.argument("login")
@click.pass_obj
def user_disable(settings: Settings, login: str) -> None:
    ended = _change_user(settings, login, "disable")
    click.echo(f"Пользователь {login} отключён; закончено сеансов: {ended}.")


@user.command("enable", help="Снова разрешить вход отключённому пользователю.")
@click.argument("login")
@click.pass_obj
def user_enable(settings: Settings, login: str) -> None:
    _change_user(settings, login, "enable")
    click.echo(f"Пользователь {login} может входить.")


@user.command(
    "password",
    help="Сменить пароль (спрашивается дважды или из stdin); все сеансы пользователя заканчиваются.",
)
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Прочитать пароль из первой строки stdin.")
@click.pass_obj
def user_password(settings: Settings, login: str, password_stdin: bool) -> None:
    from web.errors import UserError
    from web.passwords import check_password_strength

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Новый пароль", hide_input=True, confirmation_prompt="Ещё раз")
    try:
        check_password_strength(password)
    except UserError as err:
        raise click.ClickException(str(err)) from err
    ended = _change_user(settings, login, "password", password)
    click.echo(f"Пароль {login} сменён; закончено сеансов: {ended}.")


@user.command("sign-out", help="Закончить все сеансы пользователя (украденный или забытый вход).")
@click.argument("login")
@click.pass_obj
def user_sign_out(settings: Settings, login: str) -> None:
    ended = _change_user(settings, login, "sign_out")
    click.echo(f"Закончено сеансов {login}: {ended}.")


@user.command(
    "extension",
    help=(
        "Задать добавочный SIP-номер взыскателя (2–6 цифр; в организации не повторяется) "
        "или снять его (--clear). На него робот будет переводить звонки."
    ),
)
@click.argument("login")
@click.argument("extension", required=False)
@click.option("--clear", is_flag=True, help="Снять добавочный номер.")
@click.pass_obj
def user_extension(settings: Settings, login: str, extension: str | None, clear: bool) -> None:
    if clear == (extension is not None):
        raise click.UsageError("укажите добавочный номер (например 201) или --clear, одно из двух")
    from napomni.commands.db import quiet_migration_log

    quiet_migration_log(settings)
    import sqlalchemy as sa

    from storage.collectors import set_extension
    from storage.database import make_engine, make_session_factory, upgrade_to_heads
    from storage.errors import CollectorLineRefused
    from storage.models.users import User

    upgrade_to_heads(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            user_id = session.scalar(sa.select(User.id).where(User.login == login.strip()))
            if user_id is None:
                raise click.ClickException(f"нет пользователя {login!r}")
            set_to = set_extension(session, user_id, extension)
    except CollectorLineRefused as err:
        raise click.ClickException(str(err)) from err
    finally:
        engine.dispose()
    if set_to is None:
        click.echo(f"У {login} больше нет добавочного номера.")
    else:
        click.echo(f"Добавочный номер {login}: {set_to}.")
