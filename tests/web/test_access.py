"""Sign-in, sessions, CSRF, roles and organisations, against the real server and database."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from sqlalchemy.orm import Session, sessionmaker

from storage.models.users import AccountOpening, OpeningPurpose, User, UserRole
from tests.web.conftest import SECRET, WebUser, WebWorld, add_unregistered_route, web_config
from web.app import create_app
from web.keys import ROUTES

MakeUser = Callable[[], Awaitable[WebUser]]


async def test_healthz_answers_without_login(make_user: MakeUser) -> None:
    user = await make_user()
    async with user.http.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_pages_redirect_to_login_and_api_answers_401(make_user: MakeUser) -> None:
    user = await make_user()
    async with user.http.get("/accounts?q=x", allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"].startswith("/login?next=")
    async with user.http.get("/no/such/page", allow_redirects=False) as response:
        assert response.status == 303
    async with user.http.get("/api/accounts") as response:
        assert response.status == 401
        assert (await response.json())["status"] == 401
    async with user.http.get("/login") as response:
        assert response.status == 200
        assert "Вход в «Напомни»" in await response.text()


async def test_sign_in_with_wrong_password_is_refused(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.ADMIN], "не-тот-пароль-123") == 401
    assert await user.sign_in("nobody-at-all", "не-тот-пароль-123") == 401
    async with user.http.get("/api/me") as response:
        assert response.status == 401


async def test_login_form_needs_its_csrf_token(make_user: MakeUser, web_world: WebWorld) -> None:
    user = await make_user()
    async with user.http.post(
        "/login",
        data={"login": web_world.logins[UserRole.ADMIN], "password": "пароль-для-тестов-1"},
        allow_redirects=False,
    ) as response:
        assert response.status == 403
    async with user.http.get("/api/me") as response:
        assert response.status == 401


async def test_logout_needs_csrf_and_ends_the_session(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.MANAGER]) == 303
    async with user.http.post("/logout", allow_redirects=False) as response:
        assert response.status == 403
    async with user.http.get("/api/me") as response:
        assert response.status == 200
    async with user.http.post(
        "/logout", data={"csrf_token": user.csrf}, allow_redirects=False
    ) as response:
        assert response.status == 303
    async with user.http.get("/api/me") as response:
        assert response.status == 401


async def test_forged_cookie_is_anonymous(make_user: MakeUser, web_world: WebWorld) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.ADMIN]) == 303
    cookie = next(c for c in user.http.cookie_jar if c.key == "napomni_session")
    forged = cookie.value[:-3] + ("AAA" if not cookie.value.endswith("AAA") else "BBB")
    user.http.cookie_jar.clear()
    user.http.cookie_jar.update_cookies(
        {"napomni_session": forged}, response_url=user.server.make_url("/")
    )
    async with user.http.get("/api/me") as response:
        assert response.status == 401


async def test_bumping_session_epoch_signs_the_user_out(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    user = await make_user()
    login = web_world.logins[UserRole.CAMPAIGN_MANAGER]
    assert await user.sign_in(login) == 303
    with session_factory.begin() as session:
        session.execute(
            sa.update(User).where(User.login == login).values(session_epoch=User.session_epoch + 1)
        )
    async with user.http.get("/api/me") as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (UserRole.MANAGER, "/api/accounts", 403),
        (UserRole.MANAGER, "/accounts", 403),
        (UserRole.COLLECTOR, "/api/accounts", 200),
        (UserRole.CAMPAIGN_MANAGER, "/api/accounts", 200),
        (UserRole.MANAGER, "/api/transparency", 200),
    ],
)
async def test_roles_decide_what_is_served(
    make_user: MakeUser, web_world: WebWorld, role: UserRole, path: str, status: int
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[role]) == 303
    async with user.http.get(path, allow_redirects=False) as response:
        assert response.status == status


async def test_route_without_policy_is_refused_even_to_admin(
    database_url: str, web_world: WebWorld
) -> None:
    app = create_app(web_config(database_url))
    add_unregistered_route(app, "/sneaky")
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    user = WebUser(server)
    try:
        assert await user.sign_in(web_world.logins[UserRole.ADMIN]) == 303
        async with user.http.get("/sneaky") as response:
            assert response.status == 403
            assert "should never" not in await response.text()
    finally:
        await user.close()
        await server.close()


def test_every_registered_route_has_a_policy() -> None:
    app = create_app(web_config("sqlite:///unused.db"))
    table = app[ROUTES]
    for route in app.router.routes():
        entry = table.entry_for(route)
        assert entry is not None, f"{route.method} {route.resource} has no access policy"
        if entry.policy.public:
            assert entry.path in _PUBLIC_PATHS, entry.path


# The routes anybody may open: the debtor's payment page and its QR (an expiring token in
# the path) and the SMS gateway's delivery reports (a configured token) are public too;
# /metrics passes the session check and guards itself (a token, or this machine only).
_PUBLIC_PATHS = {
    "/healthz",
    "/metrics",
    "/login",
    "/api/openapi.json",
    "/static",
    r"/pay/{token:[A-Za-z0-9_-]{16,64}}",
    r"/pay/{token:[A-Za-z0-9_-]{16,64}}/qr.png",
    r"/messages/dlr/{token:[A-Za-z0-9_-]{1,128}}",
}


async def test_organisations_limit_search_and_cards(
    make_user: MakeUser, web_world: WebWorld
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.collector_b) == 303
    async with user.http.get(f"/api/accounts/{web_world.account_a}") as response:
        assert response.status == 404
    async with user.http.get(f"/accounts/{web_world.account_a}") as response:
        assert response.status == 404
    async with user.http.get(f"/api/accounts/{web_world.account_b}") as response:
        assert response.status == 200
    async with user.http.get("/api/accounts", params={"q": "Петров"}) as response:
        body = await response.json()
    assert all(item["id"] != web_world.account_a for item in body["items"])


async def test_documents_only_to_admins_phones_masked_and_openings_audited(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    admin = await make_user()
    assert await admin.sign_in(web_world.logins[UserRole.ADMIN]) == 303
    async with admin.http.get(f"/api/accounts/{web_world.account_a}") as response:
        card = await response.json()
    assert card["people"][0]["passport"] == web_world.passport
    assert card["phones"][0]["masked"] is True
    assert web_world.phone not in str(card)
    assert card["debt_total"] == "2000.00"
    assert card["peni_total"] == "30.80"

    manager = await make_user()
    assert await manager.sign_in(web_world.logins[UserRole.CAMPAIGN_MANAGER]) == 303
    async with manager.http.get(f"/accounts/{web_world.account_a}") as response:
        html = await response.text()
    assert web_world.person_name in html
    assert web_world.passport not in html
    assert "+7 916 ***-**-67" in html
    assert "4\u00a0000,00\u00a0₽" in html  # the payment, Russian grouping and kopecks

    with session_factory.begin() as session:
        openings = session.scalars(
            sa.select(AccountOpening).where(AccountOpening.account_id == web_world.account_a)
        ).all()
        purposes = sorted((o.purpose.value, o.documents_shown) for o in openings)
        assert purposes == [("api", True), ("card", False)]
        assert {o.purpose for o in openings} == {OpeningPurpose.API, OpeningPurpose.CARD}


async def test_audit_log_is_append_only(
    session_factory: sessionmaker[Session], web_world: WebWorld, make_user: MakeUser
) -> None:
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.COLLECTOR]) == 303
    async with user.http.get(f"/api/accounts/{web_world.account_a}") as response:
        assert response.status == 200
    with pytest.raises(sa.exc.DBAPIError), session_factory.begin() as session:
        session.execute(
            sa.delete(AccountOpening).where(AccountOpening.account_id == web_world.account_a)
        )


async def test_logs_carry_no_names_phones_or_searches(
    make_user: MakeUser, web_world: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = await make_user()
    assert await user.sign_in(web_world.logins[UserRole.ADMIN]) == 303
    async with user.http.get("/accounts", params={"q": "Петров"}) as response:
        assert response.status == 200
    async with user.http.get(f"/accounts/{web_world.account_a}") as response:
        assert response.status == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("Петров", web_world.phone, "9161234567", web_world.passport, SECRET):
        assert secret not in logged
