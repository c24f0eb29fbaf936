"""A collector's promise on a real server and database: recorded from the case card or with
the closing, checked (date, amount against debt + пени), shown in the account's history,
decided by the same daily run as the robot's, counted in the summaries and in robot vs human.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.promises import decide_promises
from dialer.compliance import ProductionCalendar
from dialer.escalation import EscalationReason, escalate
from storage.models import ContactEvent, ContactKind, Payment, utc_now
from storage.models.campaigns import EscalationCase, Promise, PromiseStatus
from storage.models.reports import ReportPromiseDay
from storage.models.users import UserRole
from tests.web.conftest import WebUser, WebWorld

MakeUser = Callable[[], Awaitable[WebUser]]
# account_a owes 2000.00 and 2 × 15.40 пени (tests/web/conftest.py).
OWED = Decimal("2030.80")


def _open_case(session_factory: sessionmaker[Session], world: WebWorld) -> int:
    with session_factory.begin() as session:
        case = escalate(
            session,
            organisation_id=world.org_a,
            account_id=world.account_a,
            reasons=[EscalationReason.INSTALLMENT_REQUEST],
            debt=Decimal("2000.00"),
            now=utc_now(),
        )
        assert case is not None
        return case.id


async def _collector_on_case(make_user: MakeUser, world: WebWorld, case_id: int) -> WebUser:
    user = await make_user()
    assert await user.sign_in(world.logins[UserRole.COLLECTOR]) == 303
    async with user.http.post(
        f"/api/escalations/{case_id}/take", headers={"X-CSRF-Token": user.csrf}
    ) as response:
        assert response.status == 200
    return user


async def _post(user: WebUser, path: str, body: dict[str, object]) -> tuple[int, str]:
    async with user.http.post(path, json=body, headers={"X-CSRF-Token": user.csrf}) as response:
        data = await response.json()
        return response.status, str(data.get("error", "")) if isinstance(data, dict) else ""


async def test_the_promise_is_checked_and_stored_like_the_robots(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    case_id = _open_case(session_factory, web_world)
    user = await _collector_on_case(make_user, web_world, case_id)
    path = f"/api/escalations/{case_id}/promise"
    today = utc_now().astimezone(dt.timezone(dt.timedelta(hours=3))).date()
    due = today + dt.timedelta(days=10)
    refused = {
        "past date": ({"promise_due": (today - dt.timedelta(days=1)).isoformat(),
                       "promise_amount": "100"}, "promise_due (дата оплаты): не раньше"),
        "no date": ({"promise_amount": "100"}, "promise_due (дата оплаты): укажите дату"),
        "bad date": ({"promise_due": "31.11.2026", "promise_amount": "100"}, "ГГГГ-ММ-ДД"),
        "zero": ({"promise_due": due.isoformat(), "promise_amount": 0}, "больше нуля"),
        "negative": ({"promise_due": due.isoformat(), "promise_amount": "-5"}, "больше нуля"),
        "not a number": ({"promise_due": due.isoformat(), "promise_amount": "NaN"}, "число"),
        "kopecks": ({"promise_due": due.isoformat(), "promise_amount": "1.005"}, "двух знаков"),
        "above debt": ({"promise_due": due.isoformat(), "promise_amount": "2030.81"},
                       "не больше долга с пени (2\u00a0030,80 ₽)"),
    }  # fmt: skip
    for name, (body, message) in refused.items():
        status, error = await _post(user, path, body)
        assert status == 400, name
        assert message in error, (name, error)
    with session_factory.begin() as session:
        assert (
            session.scalar(
                sa.select(sa.func.count()).where(Promise.account_id == web_world.account_a)
            )
            == 0
        )

    # The whole debt with пени, on the debtor's today, is allowed.
    status, _ = await _post(
        user, path, {"promise_due": today.isoformat(), "promise_amount": "2030,80"}
    )
    assert status == 200
    status, _ = await _post(user, path, {"promise_due": due.isoformat(), "promise_amount": 1500.5})
    assert status == 200

    with session_factory.begin() as session:
        stored = session.scalars(
            sa.select(Promise).where(Promise.account_id == web_world.account_a).order_by(Promise.id)
        ).all()
        user_id = session.scalar(
            sa.text("SELECT id FROM users WHERE login = :login"),
            {"login": web_world.logins[UserRole.COLLECTOR]},
        )
        assert [(p.due_on, p.amount, p.call_id, p.made_by, p.status) for p in stored] == [
            (today, OWED, None, f"user:{user_id}", PromiseStatus.MADE),
            (due, Decimal("1500.50"), None, f"user:{user_id}", PromiseStatus.MADE),
        ]
        assert all(p.debt_at_promise == OWED for p in stored)
        events = session.scalars(
            sa.select(ContactEvent).where(
                ContactEvent.account_id == web_world.account_a,
                ContactEvent.kind == ContactKind.PROMISE,
            )
        ).all()
        assert [e.ref_id for e in events] == [p.id for p in stored]
        case = session.get_one(EscalationCase, case_id)
        assert "Обещание: 1\u00a0500,50 ₽ до" in case.notes
        assert str(case.status) == "in_progress"  # recording a promise leaves the case open

    async with user.http.get(f"/api/accounts/{web_world.account_a}") as response:
        card = await response.json()
    assert [(p["amount"], p["made_by"]) for p in card["promises"]] == [
        ("1500.50", f"user:{user_id}"),
        ("2030.80", f"user:{user_id}"),
    ]
    async with user.http.get(f"/accounts/{web_world.account_a}") as response:
        html = await response.text()
    assert html.count("<td data-made-by>взыскатель</td>") == 2
    assert "Обещание оплатить 1\u00a0500,50 ₽ до" in html  # in the history of work

    # Another organisation's collector cannot record one on this case.
    stranger = await make_user()
    assert await stranger.sign_in(web_world.collector_b) == 303
    async with stranger.http.post(
        path,
        json={"promise_due": due.isoformat(), "promise_amount": "10"},
        headers={"X-CSRF-Token": stranger.csrf},
    ) as response:
        assert response.status == 404


async def test_closing_with_a_promise_needs_its_date_and_amount(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    case_id = _open_case(session_factory, web_world)
    user = await _collector_on_case(make_user, web_world, case_id)
    path = f"/api/escalations/{case_id}/resolve"
    due = (utc_now() + dt.timedelta(days=7)).date()
    status, error = await _post(user, path, {"resolution": "promise"})
    assert status == 400
    assert "promise_due" in error
    assert "укажите дату и сумму" in error
    status, error = await _post(
        user, path, {"resolution": "promise", "promise_due": due.isoformat()}
    )
    assert status == 400
    assert "promise_amount (сумма обещания)" in error
    status, _ = await _post(
        user,
        path,
        {"resolution": "promise", "promise_due": due.isoformat(), "promise_amount": "700"},
    )
    assert status == 200
    with session_factory.begin() as session:
        case = session.get_one(EscalationCase, case_id)
        assert str(case.status) == "closed"
        promise = session.scalars(
            sa.select(Promise).where(Promise.account_id == web_world.account_a)
        ).one()
        assert (promise.due_on, promise.amount) == (due, Decimal("700.00"))


async def test_a_promise_recorded_on_the_card_lets_the_case_close_as_promised(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    """The page forms: CSRF, the message on the case page, the promise then the closing."""
    case_id = _open_case(session_factory, web_world)
    user = await _collector_on_case(make_user, web_world, case_id)
    page = f"/escalations/{case_id}"
    token = await user.form_token(page)
    async with user.http.get(page) as response:
        html = await response.text()
    assert f'action="/escalations/{case_id}/promise"' in html
    assert 'max="2030.80"' in html
    due = (utc_now() + dt.timedelta(days=5)).date().isoformat()

    async with user.http.post(
        f"{page}/promise", data={"promise_due": due, "promise_amount": "5000"},
        allow_redirects=False,
    ) as response:  # fmt: skip
        assert response.status == 403  # no CSRF token
    async with user.http.post(
        f"{page}/promise",
        data={"csrf_token": token, "promise_due": due, "promise_amount": "5000"},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        location = response.headers["Location"]
    assert urlsplit(location).path == page
    message = parse_qs(urlsplit(location).query)["error"][0]
    assert message.startswith("promise_amount (сумма обещания): не больше долга с пени")
    async with user.http.get(location) as response:
        assert re.search(
            r'<p class="error">promise_amount \(сумма обещания\)', await response.text()
        )

    async with user.http.post(
        f"{page}/promise",
        data={"csrf_token": token, "promise_due": due, "promise_amount": "1 000,00"},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == page
    async with user.http.post(
        f"{page}/resolve",
        data={
            "csrf_token": token,
            "resolution": "promise",
            "promise_due": "",
            "promise_amount": "",
        },
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/escalations"
    with session_factory.begin() as session:
        assert str(session.get_one(EscalationCase, case_id).status) == "closed"
        assert session.scalars(
            sa.select(Promise.amount).where(Promise.account_id == web_world.account_a)
        ).all() == [Decimal("1000.00")]


async def test_decided_counted_and_shown_on_the_collectors_side(
    make_user: MakeUser, web_world: WebWorld, session_factory: sessionmaker[Session]
) -> None:
    """Kept by a payment, broken when the date passes — the robot's daily run; the summary
    and robot vs human count both on the collector's side."""
    case_id = _open_case(session_factory, web_world)
    user = await _collector_on_case(make_user, web_world, case_id)
    now = utc_now()
    due = (now + dt.timedelta(days=2)).date()
    for amount in ("300", "900"):
        status, _ = await _post(
            user,
            f"/api/escalations/{case_id}/promise",
            {"promise_due": due.isoformat(), "promise_amount": amount},
        )
        assert status == 200
    with session_factory.begin() as session:
        session.add(
            Payment(
                organisation_id=web_world.org_a,
                account_id=web_world.account_a,
                paid_on=(now + dt.timedelta(days=1)).date(),
                amount=Decimal("500.00"),
                document="ПП-после-взыскателя",
            )
        )
    calendar = ProductionCalendar()
    with session_factory.begin() as session:
        decided = decide_promises(
            session, now=now + dt.timedelta(days=1, hours=1), calendar=calendar,
            organisation_id=web_world.org_a,
        )  # fmt: skip
        assert (decided.kept, decided.broken) == (1, 0)
    with session_factory.begin() as session:
        decided = decide_promises(
            session, now=now + dt.timedelta(days=7), calendar=calendar,
            organisation_id=web_world.org_a,
        )  # fmt: skip
        assert (decided.kept, decided.broken) == (0, 1)
        statuses = session.scalars(
            sa.select(Promise.status)
            .where(Promise.account_id == web_world.account_a)
            .order_by(Promise.id)
        ).all()
        assert statuses == [PromiseStatus.KEPT, PromiseStatus.BROKEN]
        summary = session.execute(
            sa.select(
                sa.func.sum(ReportPromiseDay.made),
                sa.func.sum(ReportPromiseDay.made_kopecks),
                sa.func.sum(ReportPromiseDay.kept),
                sa.func.sum(ReportPromiseDay.broken),
            ).where(ReportPromiseDay.organisation_id == web_world.org_a)
        ).one()
    assert tuple(int(v) for v in summary) == (2, 120000, 1, 1)

    manager = await make_user()
    assert await manager.sign_in(web_world.logins[UserRole.MANAGER]) == 303
    async with manager.http.get("/api/reports/robot_vs_human") as response:
        assert response.status == 200
        robot, human = (await response.json())["rows"]
    assert robot[3] == 0  # no promise heard by the robot
    assert human[0] == "взыскатель"
    assert human[3:8] == [2, "1200.00", 1, "300.00", 1]
