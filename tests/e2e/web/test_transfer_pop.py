"""The screen pop in a real browser (issue 16): a collector on ``/escalations``; a call is
transferred to them (written through :mod:`storage.transfers`, as the worker does from its
own process) → the pop shows the account and the transcript so far within seconds, follows
the call, and links to the case once the call's end opened it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import ConsoleMessage, Page, Response, expect
from sqlalchemy.orm import Session, sessionmaker

from dialer.escalation import EscalationReason, escalate
from storage.models import utc_now
from storage.models.transfers import TransferState
from storage.models.users import UserRole
from storage.transfers import attach_case, end_transfer, mark_connected
from tests.e2e.web.conftest import screenshot
from tests.e2e.web.test_flows import sign_in
from tests.web.conftest import WebWorld, web_config
from tests.web.test_transfer_pops import add_turn, ring, start_call, user_id
from web.server import ThreadedServer

POP_WAIT_MS = 5_000  # the stream polls twice a second; the pop must be there well within this


@pytest.fixture
def server_url(database_url: str) -> Iterator[str]:
    """The live service for the browser."""
    with ThreadedServer(web_config(database_url)) as server:
        yield server.url


def test_the_pop_shows_the_account_and_the_transcript_when_the_phone_rings(
    page: Page, server_url: str, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    problems: list[str] = []
    page.on("console", lambda m: _note(problems, m))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda r: _note_failed(problems, r))
    login = web_world.logins[UserRole.COLLECTOR]
    sign_in(page, server_url, login)
    page.goto(f"{server_url}/escalations")
    expect(page.get_by_role("heading", name="Очередь обращений")).to_be_visible()
    pops = page.locator("[data-test=pops]")
    expect(pops).to_be_hidden()

    call_id = start_call(session_factory, web_world.account_a)
    transfer_id = ring(
        session_factory,
        organisation_id=web_world.org_a,
        account_id=web_world.account_a,
        call_id=call_id,
        collector=user_id(session_factory, login),
    )
    pop = page.locator(f"[data-transfer-id='{transfer_id}']")
    expect(pop).to_be_visible(timeout=POP_WAIT_MS)
    expect(pop.locator(".pop-state")).to_have_text("звонит — возьмите трубку")
    expect(pop.locator(".pop-account")).to_contain_text(web_world.person_name)
    expect(pop.locator(".pop-account")).to_contain_text("ул. Ленина, 10 кв. 5")
    expect(pop).to_contain_text("спор о сумме")
    transcript = pop.locator(".pop-transcript li")
    expect(transcript).to_have_count(4)
    expect(transcript.nth(1)).to_contain_text("соедините с оператором")
    expect(transcript.nth(3)).to_contain_text("не согласен с суммой")  # the tag, in Russian
    expect(pop.locator(".pop-debts")).to_contain_text("Отопление")
    expect(pop).to_contain_text("Обещаний раньше не было")

    # The call goes on: the robot's next line appears, then the collector answers.
    with session_factory.begin() as session:
        add_turn(session, call_id, 2)
    expect(transcript).to_have_count(5, timeout=POP_WAIT_MS)
    screenshot(page, "transfer-pop")
    with session_factory.begin() as session:
        mark_connected(session, transfer_id, utc_now())
    expect(pop.locator(".pop-state")).to_have_text("идёт разговор", timeout=POP_WAIT_MS)

    # The call ends; its end opens the case, assigned to this collector: the pop links to it.
    with session_factory.begin() as session:
        now = utc_now()
        end_transfer(
            session, transfer_id, state=TransferState.ENDED, end_reason="debtor_hung_up", now=now
        )
        case = escalate(
            session,
            organisation_id=web_world.org_a,
            account_id=web_world.account_a,
            reasons=[EscalationReason.DISPUTE],
            debt=Decimal("2030.80"),
            now=now + dt.timedelta(seconds=1),
            call_id=call_id,
        )
        assert case is not None
        case_id = case.id
        attach_case(session, call_id, case_id)
    link = pop.get_by_role("link", name="Открыть обращение и записать итог")
    expect(link).to_be_visible(timeout=POP_WAIT_MS)
    link.click()
    expect(page).to_have_url(re.compile(rf"/escalations/{case_id}$"))
    expect(page.locator("[data-test=case-transfer]")).to_contain_text("Переведён на вас, звонок")
    expect(page.get_by_role("button", name="Закрыть обращение")).to_be_visible()
    assert problems == []


def _note(problems: list[str], message: ConsoleMessage) -> None:
    # A CSP refusal or a script error shows as a console error (a failed load is noted
    # with its address below).
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(message.text)


def _note_failed(problems: list[str], response: Response) -> None:
    # The browser asks for /favicon.ico by itself; the service has none.
    if response.status >= 400 and not response.url.endswith("/favicon.ico"):
        problems.append(f"{response.status} {response.url}")
