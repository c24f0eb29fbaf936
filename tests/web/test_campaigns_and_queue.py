"""Campaign and escalation flows through the API, on the real server and database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.escalation import EscalationReason, escalate
from storage.models import Account, ContactEvent, Phone, PhoneStatus, utc_now
from storage.models.campaigns import Campaign, EscalationCase
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld

MakeUser = Callable[[], Awaitable[WebUser]]


async def test_campaign_preview_create_start_pause_stop(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    headers = {"X-CSRF-Token": user.csrf}
    body = {"organisation_id": web_world.org_a, "name": "Ноябрь", "min_debt": "500"}
    async with user.http.post("/api/campaigns/preview", json=body, headers=headers) as response:
        assert response.status == 200
        preview = await response.json()
    assert preview["accounts"] == 1
    assert preview["total_debt"] == "2000.00"
    assert preview["callable_now"] == 1
    async with user.http.post("/api/campaigns", json=body) as response:
        assert response.status == 403  # no CSRF header
    async with user.http.post("/api/campaigns", json=body, headers=headers) as response:
        assert response.status == 201
        campaign_id = (await response.json())["id"]
    async with user.http.post(f"/api/campaigns/{campaign_id}/start", headers=headers) as response:
        assert response.status == 200
    async with user.http.get(f"/api/campaigns/{campaign_id}") as response:
        progress = await response.json()
    assert progress["status"] == "active"
    assert progress["attempts"] == 1
    async with user.http.post(f"/api/campaigns/{campaign_id}/pause", headers=headers) as response:
        assert response.status == 200
    async with user.http.post(f"/api/campaigns/{campaign_id}/pause", headers=headers) as response:
        assert response.status == 409
    async with user.http.post(f"/api/campaigns/{campaign_id}/stop", headers=headers) as response:
        assert response.status == 200
    async with user.http.get(f"/api/campaigns/{campaign_id}/attempts") as response:
        attempts = await response.json()
    assert [a["status"] for a in attempts] == ["cancelled"]

    other = await make_user()
    assert await other.sign_in(web_world.collector_b) == 303
    async with other.http.get(f"/api/campaigns/{campaign_id}") as response:
        assert response.status == 403  # collectors do not manage campaigns


async def test_campaign_of_invisible_organisation_is_not_found(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    body = {"organisation_id": web_world.org_b, "name": "Чужая"}
    async with user.http.post(
        "/api/campaigns", json=body, headers={"X-CSRF-Token": user.csrf}
    ) as response:
        assert response.status == 404


async def test_collector_takes_resolves_and_sees_phones_only_while_working(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        case = escalate(
            session,
            organisation_id=web_world.org_a,
            account_id=web_world.account_a,
            reasons=[EscalationReason.DISPUTE],
            debt=Decimal("2000.00"),
            now=utc_now(),
        )
        assert case is not None
        case_id = case.id
        phone_id = session.scalar(
            sa.select(Phone.id).where(Phone.account_id == web_world.account_a)
        )
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.COLLECTOR]) == 303
    headers = {"X-CSRF-Token": user.csrf}
    async with user.http.get("/api/escalations") as response:
        queue = await response.json()
    assert case_id in [c["id"] for c in queue]
    async with user.http.get(f"/api/accounts/{web_world.account_a}") as response:
        assert (await response.json())["phones"][0]["masked"] is True
    async with user.http.post(
        f"/api/escalations/{case_id}/note", json={"note": "x"}, headers=headers
    ) as response:
        assert response.status == 409  # take it first
    async with user.http.post(f"/api/escalations/{case_id}/take", headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["mine"] is True
    async with user.http.get(f"/api/accounts/{web_world.account_a}") as response:
        phones = (await response.json())["phones"]
    assert phones[0]["masked"] is False
    assert phones[0]["number"] == web_world.phone
    async with user.http.post(
        f"/api/escalations/{case_id}/callback",
        json={"callback_at": "2026-11-25T10:30:00+03:00", "note": "вечером"},
        headers=headers,
    ) as response:
        assert response.status == 200
    async with user.http.post(
        f"/api/escalations/{case_id}/phone",
        json={"phone_id": phone_id, "status": "do_not_call"},
        headers=headers,
    ) as response:
        assert response.status == 200
    async with user.http.post(
        f"/api/escalations/{case_id}/resolve",
        json={"resolution": "bogus"},
        headers=headers,
    ) as response:
        assert response.status == 400
    async with user.http.post(
        f"/api/escalations/{case_id}/resolve",
        json={"resolution": "dispute_sent", "note": "перерасчёт"},
        headers=headers,
    ) as response:
        assert response.status == 200
        assert (await response.json())["status"] == "closed"
    async with user.http.get(f"/api/accounts/{web_world.account_a}") as response:
        assert (await response.json())["phones"][0]["masked"] is True

    with session_factory.begin() as session:
        stored = session.get(EscalationCase, case_id)
        assert stored is not None
        assert "Перезвонить 25.11.2026 10:30" in stored.notes
        phone = session.get(Phone, phone_id)
        assert phone is not None
        assert phone.status is PhoneStatus.DO_NOT_CALL
        kinds = session.scalars(
            sa.select(ContactEvent.kind).where(
                ContactEvent.ref_table == "escalation_cases", ContactEvent.ref_id == case_id
            )
        ).all()
    # opened (by the rule), taken, callback, phone marked, resolved
    assert sorted(str(k) for k in kinds) == sorted(
        ["escalation", "escalation", "note", "phone_status", "escalation"]
    )

    stranger = await make_user()
    assert await stranger.sign_in(web_world.collector_b) == 303
    async with stranger.http.post(
        f"/api/escalations/{case_id}/take", headers={"X-CSRF-Token": stranger.csrf}
    ) as response:
        assert response.status == 404


async def test_a_due_callback_brings_the_case_to_the_top_of_the_queue(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    """Callbacks due first (highlighted), then priority and age, callbacks not yet due last."""
    with session_factory.begin() as session:
        case_ids = []
        for k, priority in enumerate((50, 10, 10)):
            account = Account(organisation_id=web_world.org_a, number=f"CB{k}-{web_world.org_a}")
            session.add(account)
            session.flush()
            case = EscalationCase(organisation_id=web_world.org_a, account_id=account.id,
                                  reasons=["callback_later"], priority=priority,
                                  debt=Decimal("100.00"))  # fmt: skip
            session.add(case)
            session.flush()
            case_ids.append(case.id)
    important, later, soon = case_ids
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.COLLECTOR]) == 303
    headers = {"X-CSRF-Token": user.csrf}
    now = utc_now()
    for case_id, when in (
        (soon, now - dt.timedelta(minutes=5)),
        (later, now + dt.timedelta(hours=3)),
    ):
        async with user.http.post(f"/api/escalations/{case_id}/take", headers=headers) as response:
            assert response.status == 200
        async with user.http.post(f"/api/escalations/{case_id}/callback", headers=headers,
                                  json={"callback_at": when.isoformat()}) as response:  # fmt: skip
            assert response.status == 200
            assert (await response.json())["callback_due"] is (case_id == soon)
    async with user.http.get("/api/escalations") as response:
        queue = [c for c in await response.json() if c["id"] in case_ids]
    assert [c["id"] for c in queue] == [soon, important, later]
    assert [c["callback_due"] for c in queue] == [True, False, False]
    assert queue[0]["callback_at"] is not None
    assert queue[1]["callback_at"] is None
    async with user.http.get("/escalations") as response:
        html = await response.text()
    assert html.count('class="callback-due"') == 1
    assert html.index(f'href="/escalations/{soon}"') < html.index(
        f'href="/escalations/{important}"'
    )
    # Closing the case ends its callback.
    async with user.http.post(f"/api/escalations/{soon}/resolve", headers=headers,
                              json={"resolution": "unreachable"}) as response:  # fmt: skip
        assert response.status == 200
        assert (await response.json())["callback_at"] is None


async def test_campaign_refuses_a_script_outside_the_library_and_another_organisations_building(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    # Issue 14, items 10 and 13: both were accepted with 201.
    with session_factory() as session:
        building_b = session.get_one(Account, web_world.account_b).building_id
    assert building_b is not None
    assert building_b != web_world.building_a
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    headers = {"X-CSRF-Token": user.csrf}
    base = {"organisation_id": web_world.org_a, "name": "Проверка полей"}
    refused = [
        {"script": "../../../../var/evil"},
        {"script": "no_such_script"},
        {"script": "/etc/passwd"},
        {"building_id": building_b},
    ]
    for extra in refused:
        body = {**base, **extra}
        async with user.http.post("/api/campaigns", json=body, headers=headers) as response:
            assert response.status in (400, 404), extra
            message = str((await response.json())["error"])
        if "script" in extra:
            assert "сценари" in message
    with session_factory() as session:
        names = session.scalars(
            sa.select(Campaign.name).where(Campaign.organisation_id == web_world.org_a)
        ).all()
    assert "Проверка полей" not in names
    # The preview refuses another organisation's building too (it had shown it as empty).
    body = {**base, "script": "warning", "building_id": building_b}
    async with user.http.post("/api/campaigns/preview", json=body, headers=headers) as response:
        assert response.status == 400
        assert "building_ids" in str((await response.json())["error"])
    body = {**base, "script": "warning", "building_id": web_world.building_a}
    async with user.http.post("/api/campaigns", json=body, headers=headers) as response:
        assert response.status == 201
