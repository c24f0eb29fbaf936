"""Messages on the team's pages: the account card's history and the reports' counts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from storage.models import utc_now
from storage.models.messages import MessageStatus, OutboxMessage
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld

MakeUser = Callable[[], Awaitable[WebUser]]


async def test_the_card_shows_messages_and_their_delivery_and_reports_count_them(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    now = utc_now()
    with session_factory.begin() as session:
        session.add_all(
            [
                OutboxMessage(
                    organisation_id=web_world.org_a,
                    account_id=web_world.account_a,
                    kind="payment_link",
                    status=MessageStatus.DELIVERED,
                    text="личный текст сообщения",
                    amount=Decimal("3500.50"),
                    due_on=dt.date(2026, 11, 30),
                    page_token=uuid.uuid4().hex,
                    page_expires_at=now + dt.timedelta(days=30),
                    page_opened_at=now,
                    page_opens=2,
                    tries=1,
                    created_at=now,
                    sent_at=now,
                    delivered_at=now,
                ),
                OutboxMessage(
                    organisation_id=web_world.org_a,
                    account_id=web_world.account_a,
                    kind="payment_link",
                    status=MessageStatus.QUEUED,
                    tries=2,
                    error_code="unavailable",
                    created_at=now,
                ),
                OutboxMessage(
                    organisation_id=web_world.org_a,
                    account_id=web_world.account_a,
                    kind="payment_link",
                    status=MessageStatus.REFUSED,
                    reason="landline",
                    created_at=now - dt.timedelta(days=1),
                ),
            ]
        )
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.ADMIN]) == 303
    async with user.http.get(f"/accounts/{web_world.account_a}") as response:
        assert response.status == 200
        html = await response.text()
    assert "Сообщения" in html
    assert "доставлено" in html
    assert "городской номер" in html
    assert "открыта 2 раз" in html
    assert "личный текст сообщения" not in html  # the card shows the status, not the text

    async with user.http.get("/reports") as response:
        assert response.status == 200
        report = await response.text()
    assert "СМС после звонков" in report
    assert "Страница оплаты открыта" in report
    assert "Шлюз СМС не принял" in report  # the alert: the gateway failed a message


async def test_the_campaign_team_edits_bank_details_and_template_checked_first(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    from dialer.messages.payees import load_message_settings
    from tests.dialer.messages.builders import PAYEE

    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    page = f"/messages/settings?organisation_id={web_world.org_a}"
    async with user.http.get(page) as response:
        assert response.status == 200
        assert "Реквизитов ещё нет" in await response.text()
    form = {
        "csrf_token": user.csrf,
        **PAYEE,
        "template": "{payee}: ЛС {account}, {amount}. {link}",
        "sender": "UKrassvet",
        "link_ttl_days": "14",
    }
    target = f"/messages/settings/{web_world.org_a}"
    bad = {**form, "settlement_account": "40702810038000012345"}
    async with user.http.post(target, data=bad, allow_redirects=False) as response:
        assert response.status == 400
        assert "контрольный ключ" in await response.text()
    unknown_field = {**form, "template": "{payee} {phone} {link}"}
    async with user.http.post(target, data=unknown_field, allow_redirects=False) as response:
        assert response.status == 400
        assert "неизвестные поля" in await response.text()
    with session_factory() as session:
        assert load_message_settings(session, web_world.org_a) is None

    async with user.http.post(target, data=form, allow_redirects=False) as response:
        assert response.status == 303
    with session_factory() as session:
        stored = load_message_settings(session, web_world.org_a)
    assert stored is not None
    assert stored.payee.settlement_account == PAYEE["settlement_account"]
    assert (stored.template, stored.sender, stored.link_ttl_days) == (
        form["template"],
        "UKrassvet",
        14,
    )
    async with user.http.get(page) as response:
        assert 'value="044525225"' in await response.text()

    collector = await make_user()
    assert await collector.sign_in(web_world.logins[UserRole.COLLECTOR]) == 303
    async with collector.http.get("/messages/settings") as response:
        assert response.status == 403
