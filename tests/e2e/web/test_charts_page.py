"""The report charts in a real browser: drawn on the server, shown under the strict CSP,
above the tables, and kept when printed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from storage.models.users import UserRole
from tests.e2e.web.conftest import screenshot
from tests.e2e.web.test_flows import sign_in
from tests.web.conftest import WebWorld, web_config
from web.server import ThreadedServer


@pytest.fixture
def server_url(database_url: str) -> Iterator[str]:
    """The live service for the browser."""
    with ThreadedServer(web_config(database_url)) as server:
        yield server.url


def test_reports_page_shows_the_charts(page: Page, server_url: str, called_world: WebWorld) -> None:
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    sign_in(page, server_url, called_world.logins[UserRole.MANAGER])
    page.goto(f"{server_url}/reports")
    charts = page.locator("#report-charts figure.chart img")
    expect(charts).to_have_count(4)
    expect(page.locator("#report-charts")).to_contain_text("Графики")
    for index in range(4):
        image = charts.nth(index)
        expect(image).to_be_visible()
        # Drawn, not a broken image: the SVG decoded and has a size.
        assert image.evaluate("img => img.complete && img.naturalWidth > 0") is True
    expect(charts.first).to_have_attribute(
        "alt", "Обещания оплатить по неделям: дано 1, выполнено 1, нарушено 0"
    )
    # The tables stay, below the charts.
    first_table = page.locator("table.grid").first.bounding_box()
    last_chart = charts.nth(3).bounding_box()
    assert first_table is not None
    assert last_chart is not None
    assert first_table["y"] > last_chart["y"]
    screenshot(page, "reports-charts")

    # Printed: the charts stay, the toolbar goes.
    page.emulate_media(media="print")
    expect(charts.first).to_be_visible()
    expect(page.locator("form.toolbar")).to_be_hidden()
    assert refused == []
