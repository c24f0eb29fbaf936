"""Fixtures of the web tests: a seeded world on the real database, a real server on 127.0.0.1.

``web_world`` seeds two organisations with buildings, accounts, people, phones, debts and
payments, and one user per role (passwords hashed with argon2 for real). ``web_server``
runs ``create_app`` behind aiohttp's test server on 127.0.0.1 with a port from the OS.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.orm import Session, sessionmaker

from storage.models import (
    Account,
    Building,
    ContactEvent,
    ContactKind,
    DebtLine,
    Organisation,
    Payment,
    Person,
    Phone,
    utc_now,
)
from storage.models.campaigns import Call, Promise, PromiseStatus, Turn
from storage.models.users import UserRole
from web.app import create_app
from web.config import WebConfig
from web.passwords import hash_password
from web.users import NewUser, create_user

PASSWORD = "пароль-для-тестов-1"
SECRET = "test-secret-" + "x" * 40
# One hash for every seeded user: argon2 is slow by design.
_PASSWORD_HASH = hash_password(PASSWORD)


@dataclass(frozen=True, slots=True)
class WebWorld:
    """What ``web_world`` seeded: ids and logins the tests use."""

    org_a: int
    org_b: int
    org_a_name: str
    account_a: int
    account_b: int
    building_a: int
    person_name: str
    phone: str
    passport: str
    logins: dict[UserRole, str]
    collector_b: str


def _seed_account(
    session: Session, org: int, building: int, number: str, name: str, phone: str, passport: str
) -> int:
    account = Account(
        organisation_id=org, building_id=building, number=number, address="ул. Ленина, 10", flat="5"
    )
    session.add(account)
    session.flush()
    person = Person(
        account_id=account.id,
        full_name=name,
        passport=passport,
        snils="112-233-445 95",
        inn="500100732259",
    )
    session.add(person)
    session.flush()
    session.add(Phone(account_id=account.id, person_id=person.id, number=phone))
    for month, (charged, paid) in enumerate(
        [(Decimal("3000.00"), Decimal("3000.00")), (Decimal("3000.00"), Decimal("1000.00"))],
        start=9,
    ):
        session.add(
            DebtLine(
                organisation_id=org,
                account_id=account.id,
                service="Отопление",
                period=dt.date(2026, month, 1),
                charged=charged,
                paid=paid,
                debt=charged - paid,
                peni=Decimal("15.40"),
            )
        )
    session.add(
        Payment(
            organisation_id=org,
            account_id=account.id,
            paid_on=dt.date(2026, 10, 3),
            amount=Decimal("4000.00"),
            document=f"ПП-{number}",
        )
    )
    session.add(
        ContactEvent(
            organisation_id=org,
            account_id=account.id,
            kind=ContactKind.IMPORT,
            summary="Загружен из 1С",
            actor="import",
        )
    )
    session.flush()
    return account.id


@pytest.fixture
def web_world(session_factory: sessionmaker[Session]) -> WebWorld:
    """Two organisations and one user per role (plus a collector of the other organisation)."""
    tag = uuid.uuid4().hex[:8]
    with session_factory.begin() as session:
        org_a = Organisation(name=f"УК Рассвет {tag}")
        org_b = Organisation(name=f"ТСЖ Заря {tag}")
        session.add_all([org_a, org_b])
        session.flush()
        building_a = Building(organisation_id=org_a.id, address=f"ул. Ленина, 10 ({tag})")
        building_b = Building(organisation_id=org_b.id, address=f"пр. Мира, 3 ({tag})")
        session.add_all([building_a, building_b])
        session.flush()
        account_a = _seed_account(
            session,
            org_a.id,
            building_a.id,
            f"A{tag}",
            "Петров Пётр Петрович",
            "+79161234567",
            "4510 123456",
        )
        account_b = _seed_account(
            session,
            org_b.id,
            building_b.id,
            f"B{tag}",
            "Сидорова Анна Ивановна",
            "+79031112233",
            "4511 654321",
        )
        logins: dict[UserRole, str] = {}
        for role in UserRole:
            login = f"{role.value}-{tag}"
            create_user(
                session,
                NewUser(
                    login=login,
                    password_hash=_PASSWORD_HASH,
                    role=role,
                    organisation_ids=() if role is UserRole.ADMIN else (org_a.id,),
                    display_name=f"Сотрудник {role.value}",
                ),
            )
            logins[role] = login
        collector_b = f"collector-b-{tag}"
        create_user(
            session,
            NewUser(
                login=collector_b,
                password_hash=_PASSWORD_HASH,
                role=UserRole.COLLECTOR,
                organisation_ids=(org_b.id,),
            ),
        )
        return WebWorld(
            org_a=org_a.id,
            org_b=org_b.id,
            org_a_name=org_a.name,
            account_a=account_a,
            account_b=account_b,
            building_a=building_a.id,
            person_name="Петров Пётр Петрович",
            phone="+79161234567",
            passport="4510 123456",
            logins=logins,
            collector_b=collector_b,
        )


@pytest.fixture
def called_world(web_world: WebWorld, session_factory: sessionmaker[Session]) -> WebWorld:
    """A conversation 20 days ago with a reason and a kept promise, paid 3 days later."""
    started = utc_now() - dt.timedelta(days=20)
    with session_factory.begin() as session:
        call = Call(
            account_id=web_world.account_a,
            script="soft_reminder",
            started_at=started,
            answered_at=started + dt.timedelta(seconds=5),
            ended_at=started + dt.timedelta(seconds=70),
            outcome="conversation",
            counted_as="conversation",
        )
        session.add(call)
        session.flush()
        session.add(
            Turn(
                call_id=call.id,
                index=0,
                robot_text="Почему возникла задолженность?",
                debtor_text="денег нет заплачу десятого",
                asked="reason",
                tags={"financial_hardship": 0.91, "promise_to_pay": 0.88},
            )
        )
        session.add(
            Promise(
                account_id=web_world.account_a,
                call_id=call.id,
                due_on=started.date() + dt.timedelta(days=5),
                amount=Decimal("1000.00"),
                debt_at_promise=Decimal("2000.00"),
                status=PromiseStatus.KEPT,
                made_at=started,
            )
        )
        session.add(
            Payment(
                organisation_id=web_world.org_a,
                account_id=web_world.account_a,
                paid_on=started.date() + dt.timedelta(days=3),
                amount=Decimal("1000.00"),
                document="ПП-после-звонка",
            )
        )
    return web_world


def web_config(database_url: str) -> WebConfig:
    """The configuration the tests run the service with."""
    return WebConfig(database_url=database_url, secret=SECRET, db_threads=4)


@pytest.fixture
async def web_server(database_url: str) -> AsyncIterator[TestServer]:
    """The real service on 127.0.0.1 (port from the OS), stopped in ``finally``."""
    server = TestServer(create_app(web_config(database_url)), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebUser:
    """A browser-like HTTP client: its own cookie jar, signs in through the login form."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        # unsafe=True: the jar must keep cookies for an IP address host (127.0.0.1).
        self.http = aiohttp.ClientSession(
            base_url=str(server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.csrf = ""

    async def form_token(self, path: str = "/login") -> str:
        """The CSRF token of a form page."""
        async with self.http.get(path) as response:
            html = await response.text()
        match = _CSRF_RE.search(html)
        if match is None:
            raise AssertionError(f"no CSRF token on {path}")
        return match.group(1)

    async def sign_in(self, login: str, password: str = PASSWORD) -> int:
        """Submit the login form; returns the status (303 on success)."""
        token = await self.form_token("/login")
        async with self.http.post(
            "/login",
            data={"csrf_token": token, "login": login, "password": password, "next": ""},
            allow_redirects=False,
        ) as response:
            status = response.status
        if status == 303:
            async with self.http.get("/api/me") as me:
                self.csrf = (await me.json())["csrf_token"]
        return status

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.http.close()


@pytest.fixture
async def make_user(web_server: TestServer) -> AsyncIterator[Callable[[], Awaitable[WebUser]]]:
    """Make clients for ``web_server``; all closed at the end of the test."""
    made: list[WebUser] = []

    async def make() -> WebUser:
        user = WebUser(web_server)
        made.append(user)
        return user

    try:
        yield make
    finally:
        for user in made:
            await user.close()


def add_unregistered_route(app: web.Application, path: str) -> None:
    """A route added behind the route table's back (the deny-by-default test)."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="should never be served")

    app.router.add_get(path, handler)
