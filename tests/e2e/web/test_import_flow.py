"""1С files through the web in a real browser: a file with a bad row is refused with its
errors on the page and nothing written; a good file is checked, imported with a progress
bar, and its accounts appear on /accounts (issue 17)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Account
from storage.models.users import UserRole
from storage.samples import write_debts
from tests.e2e.web.conftest import screenshot
from tests.web.conftest import PASSWORD, WebWorld, web_config
from web.server import ThreadedServer

# Big enough for the progress bar to be seen moving (two passes over ~48,000 lines).
ACCOUNTS = 500
IMPORT_TIMEOUT_MS = 180_000


@pytest.fixture
def server_url(database_url: str) -> Iterator[str]:
    """The live service for the browser."""
    with ThreadedServer(web_config(database_url)) as server:
        yield server.url


def _sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()


def _upload(page: Page, organisation: str, path: Path) -> None:
    page.get_by_role("link", name="Загрузка из 1С", exact=True).click()
    expect(page.get_by_role("heading", name="Загрузка из 1С")).to_be_visible()
    page.get_by_label("Организация").select_option(label=organisation)
    page.get_by_label("Что в файле").select_option("debts")
    page.get_by_label("Файл выгрузки", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Проверить файл").click()


def _count_accounts(session_factory: sessionmaker[Session], organisation_id: int) -> int:
    with session_factory() as session:
        return session.scalar(
            sa.select(sa.func.count(Account.id)).where(Account.organisation_id == organisation_id)
        ) or 0  # fmt: skip


def test_a_bad_file_is_refused_and_a_good_one_imported(
    page: Page,
    server_url: str,
    web_world: WebWorld,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    accounts_before = _count_accounts(session_factory, web_world.org_a)
    _sign_in(page, server_url, web_world.logins[UserRole.CAMPAIGN_MANAGER])

    bad = tmp_path / "ведомость-с-ошибкой.csv"
    bad.write_text(
        "Лицевой счет;ФИО;Адрес;Телефон;Услуга;Период;Начислено;Оплачено;Сальдо конечное;Пени\r\n"
        "E2E-1;Иванова Анна Петровна;г. Тверь, ул. Советская, д. 5;89161234567;Отопление;10.2026;1000,00;0,00;1000,00;0,00\r\n"
        "E2E-2;Петров Иван Ильич;г. Тверь, ул. Советская, д. 7;89167654321;Отопление;13.2026;900,00;0,00;900,00;0,00\r\n",
        encoding="cp1251",
    )  # fmt: skip
    _upload(page, web_world.org_a_name, bad)
    expect(page.locator("[data-test=import-status]")).to_have_text("отклонён, ничего не записано")
    problems = page.locator("[data-test=import-problems]")
    expect(problems.get_by_role("cell", name="Период", exact=True)).to_be_visible()
    expect(problems.locator("tbody tr").first.locator("td").first).to_have_text("3")
    expect(page.get_by_role("link", name="Скачать ошибки (CSV)")).to_be_visible()
    screenshot(page, "import-errors")
    assert _count_accounts(session_factory, web_world.org_a) == accounts_before

    good = tmp_path / "osv.csv"
    made = write_debts(good, ACCOUNTS)
    _upload(page, web_world.org_a_name, good)
    expect(page.locator("[data-test=import-status]")).to_have_text(
        "проверен, ждёт подтверждения", timeout=IMPORT_TIMEOUT_MS
    )
    summary = page.locator("[data-test=import-summary]")
    expect(summary.locator("[data-key=accounts_new]")).to_have_text(str(ACCOUNTS))
    assert _count_accounts(session_factory, web_world.org_a) == accounts_before  # a dry run

    page.get_by_role("button", name="Импортировать").click()
    expect(page.locator("[data-test=import-status]")).to_have_text("импортируется")
    bar = page.locator("[data-progress-bar]")
    expect(bar).to_be_visible()
    # The bar moves as the job reports (polled JSON); the first report may take a moment.
    expect(page.locator("[data-progress-percent]")).not_to_have_text(re.compile(r"^0$"))
    screenshot(page, "import-progress")
    expect(page.locator("[data-test=import-status]")).to_have_text(
        "импортирован", timeout=IMPORT_TIMEOUT_MS
    )
    expect(summary.locator("[data-key=accounts_new]")).to_have_text(str(ACCOUNTS))
    screenshot(page, "import-done")
    assert _count_accounts(session_factory, web_world.org_a) == accounts_before + ACCOUNTS

    page.get_by_role("link", name="Лицевые счета").click()
    page.get_by_label("Поиск").fill(made[0].number)
    page.get_by_role("button", name="Найти").click()
    expect(page.get_by_role("link", name=made[0].number, exact=True)).to_be_visible()

    page.get_by_role("link", name="Загрузка из 1С", exact=True).click()
    history = page.locator("[data-test=import-history]")
    expect(history.get_by_text("osv.csv")).to_be_visible()
    expect(history.get_by_text("ведомость-с-ошибкой.csv")).to_be_visible()
