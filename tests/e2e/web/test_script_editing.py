"""A script edited and rehearsed in a real browser (issue 17): a line with a mistake is
refused with the error beside it, a good edit becomes version 2, and the rehearsal answers
«да, это я» and «заплачу пятого числа» with the robot's next lines and a playable WAV."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from storage.models.users import UserRole
from tests.e2e.web.conftest import screenshot
from tests.web.conftest import PASSWORD, WebWorld, web_config
from web.server import ThreadedServer

# The first rehearsal turn loads the classifier; a line's voice runs Festival.
REHEARSAL_TIMEOUT_MS = 60_000


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


def _answer(page: Page, text: str, turns: int) -> None:
    page.get_by_label("Ответ должника").fill(text)
    page.get_by_role("button", name="Ответить").click()
    expect(page.locator("[data-rehearsal]")).to_have_attribute(
        "data-turns", str(turns), timeout=REHEARSAL_TIMEOUT_MS
    )


def test_a_script_edited_and_rehearsed(page: Page, server_url: str, web_world: WebWorld) -> None:
    _sign_in(page, server_url, web_world.logins[UserRole.CAMPAIGN_MANAGER])
    page.get_by_role("link", name="Сценарии", exact=True).click()
    expect(page.get_by_role("heading", name="Сценарии разговора")).to_be_visible()
    expect(page.get_by_text("дружелюбно узнать причину и дату оплаты")).to_be_visible()
    page.get_by_role("link", name="Мягкое напоминание").click()
    expect(page.get_by_role("heading", name="Мягкое напоминание")).to_be_visible()

    greeting = page.locator("textarea[name='line:hello:say:0']")
    greeting.fill("Добрый день! Это {organisaton}.")
    page.get_by_role("button", name="Сохранить новой версией").click()
    error = page.locator("[data-field='line:hello:say:0']")
    expect(error).to_contain_text("неизвестная переменная {organisaton}")
    expect(page.locator("[data-test=problems]")).to_contain_text("ничего не сохранено")

    page.locator("textarea[name='line:hello:say:0']").fill(
        "Добрый день! Это {organisation}. Звонок автоматический, разговор записывается."
    )
    page.locator("textarea[name='line:why:say:0']").fill("Скажите, что помешало оплатить?")
    page.get_by_role("button", name="Сохранить новой версией").click()
    expect(page.locator("[data-test=notice]")).to_have_text("Сохранена версия 2")
    expect(page.locator("[data-test=history]")).to_contain_text("Версия 2")
    screenshot(page, "script-edit")

    lines = page.locator("[data-rehearsal-lines] li")
    expect(lines.first).to_contain_text("Добрый день!", timeout=REHEARSAL_TIMEOUT_MS)
    _answer(page, "да, это я", 1)
    expect(page.locator("[data-speaker=debtor]").first).to_contain_text("да, это я")
    expect(lines.last).to_contain_text("Скажите, что помешало оплатить?")
    _answer(page, "заплачу пятого числа", 2)
    expect(page.locator("[data-speaker=debtor]").last).to_contain_text("promise_to_pay")
    expect(lines.last).to_contain_text("пятого")

    # The last robot line's voice: load it in the page and check it plays as audio.
    audio = page.locator("[data-speaker=robot] audio").last
    source = audio.get_attribute("src")
    assert source is not None
    assert source.startswith("/api/scripts/voice?text=")
    response = page.request.get(server_url + source)
    assert response.ok
    assert response.headers["content-type"] == "audio/wav"
    assert response.body()[:4] == b"RIFF"
    duration = audio.evaluate(
        """(element) => new Promise((resolve, reject) => {
            element.addEventListener("loadedmetadata", () => resolve(element.duration));
            element.addEventListener("error", () => reject(new Error("audio error")));
            element.preload = "auto";
            element.load();
        })"""
    )
    assert isinstance(duration, float | int)
    assert duration > 1.0
    screenshot(page, "script-rehearsal")
