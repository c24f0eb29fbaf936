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
