"""Summary-based reports equal the same reports computed directly from calls, turns,
promises and payments, on random data and after random changes (both databases).

The direct queries below are the reports as first written (one grouped query over the
calls each); the summaries are kept by the triggers of migrations 0004 and 0005 whoever
writes. Reasons by service read the services fixed at each call (``call_groups``); a test
of its own checks those are the services owed when the call was stored.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from storage.models import Account, Building, DebtLine, Organisation, Payment
from storage.models.campaigns import Attempt, Call, Campaign, EscalationCase, Promise, Turn
from storage.models.reports import (
    CallGroup,
    ReportCallDay,
    ReportCalledAccount,
    ReportGroupDay,
    ReportPromiseDay,
)
from storage.models.users import UserRole
from web.access import Principal
from web.reports import (
    GROUP_TITLES,
    PAID_WINDOWS_DAYS,
    REASON_TAGS,
    FunnelRow,
    PaidAfterRow,
    PromiseRow,
    ReasonRow,
    ReportPeriod,
    funnel,
    paid_after,
    promises_by_month,
    reasons,
)
from web.robot_vs_human import HUMAN, ROBOT, robot_vs_human

ZERO = Decimal("0.00")
TODAY = dt.date(2026, 11, 23)
PERIODS = (
    ReportPeriod(dt.date(2026, 8, 1), dt.date(2026, 11, 23)),
    ReportPeriod(dt.date(2026, 9, 15), dt.date(2026, 10, 31)),
    ReportPeriod(dt.date(2026, 11, 20), dt.date(2026, 11, 20)),
)
OTHER_TAGS = ("promise_to_pay", "callback", "greeting")
SERVICES = ("ЖКУ", "Отопление", "Водоснабжение")
SEGMENTS = ("green", "yellow", "red", None)
DEBTOR_TYPES = ("first_time", "chronic", "other", None)


def _money(value: object) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _month(
    session: Session, column: sa.ColumnElement[dt.datetime] | InstrumentedAttribute[dt.datetime]
) -> sa.ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def _calls_in(principal: Principal, period: ReportPeriod) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [
        Call.started_at >= period.start,
        Call.started_at < period.end,
    ]
    if principal.organisation_ids is not None:
        where.append(Account.organisation_id.in_(sorted(principal.organisation_ids)))
    return where


def direct_reasons(
    session: Session, principal: Principal, period: ReportPeriod, by: str = "building"
) -> list[ReasonRow]:
    """Reasons for non-payment heard in calls, grouped ``by`` building or month.

    A call counts once per reason however many turns carried it. Tags are matched in the
    stored JSON text, which works the same on SQLite and PostgreSQL.
    """
    tags_text = sa.cast(Turn.tags, sa.String)
    if by == "month":
        key: sa.ColumnElement[str] = _month(session, Call.started_at)
    elif by == "service":
        key = sa.func.coalesce(sa.func.nullif(CallGroup.label, ""), "без долга по услугам")
    elif by in GROUP_TITLES:
        key = sa.func.coalesce(getattr(Attempt, by), "")
    else:
        key = sa.func.coalesce(Building.address, "без дома")
    columns = [
        sa.func.count(sa.distinct(sa.case((tags_text.like(f'%"{tag}"%'), Turn.call_id))))
        for tag in REASON_TAGS
    ]
    query = (
        sa.select(key, sa.func.count(sa.distinct(Call.id)), *columns)
        .select_from(Call)
        .join(Account, Account.id == Call.account_id)
        .outerjoin(Building, Building.id == Account.building_id)
        .outerjoin(Turn, Turn.call_id == Call.id)
    )
    if by == "service":
        query = query.join(
            CallGroup, sa.and_(CallGroup.call_id == Call.id, CallGroup.dimension == "service")
        )
    elif by in GROUP_TITLES:
        # Straight from the attempts, not through the groups the triggers wrote.
        query = query.outerjoin(Attempt, Attempt.id == Call.attempt_id)
    rows = session.execute(
        query.where(*_calls_in(principal, period), Call.answered_at.is_not(None))
        .group_by(key)
        .order_by(key)
    ).all()
    titles = GROUP_TITLES.get(by, {})
    return [
        ReasonRow(
            key=titles.get(str(row[0]), str(row[0])),
            calls=int(row[1]),
            counts={tag: int(row[2 + i]) for i, tag in enumerate(REASON_TAGS)},
        )
        for row in rows
    ]


def direct_funnel(session: Session, principal: Principal, period: ReportPeriod) -> list[FunnelRow]:
    """Dialled → answered → conversation → promise, by month."""
    month = _month(session, Call.started_at)
    calls = session.execute(
        sa.select(
            month,
            sa.func.count(Call.id),
            sa.func.count(Call.answered_at),
            sa.func.sum(sa.case((Call.counted_as == "conversation", 1), else_=0)),
            sa.func.sum(sa.case((Call.counted_as == "message", 1), else_=0)),
        )
        .join(Account, Account.id == Call.account_id)
        .where(*_calls_in(principal, period))
        .group_by(month)
        .order_by(month)
    ).all()
    promises = {
        str(row[0]): (int(row[1]), _money(row[2]))
        for row in session.execute(
            sa.select(
                month,
                sa.func.count(Promise.id),
                sa.func.sum(sa.func.coalesce(Promise.amount, Promise.debt_at_promise)),
            )
            .select_from(Promise)
            .join(Call, Call.id == Promise.call_id)
            .join(Account, Account.id == Call.account_id)
            .where(*_calls_in(principal, period))
            .group_by(month)
        )
    }
    return [
        FunnelRow(
            month=str(row[0]),
            dialled=int(row[1]),
            answered=int(row[2]),
            conversations=int(row[3] or 0),
            messages=int(row[4] or 0),
            promises=promises.get(str(row[0]), (0, ZERO))[0],
            promised_sum=promises.get(str(row[0]), (0, ZERO))[1],
        )
        for row in calls
    ]


def direct_promises(
    session: Session, principal: Principal, period: ReportPeriod
) -> list[PromiseRow]:
    """Promises made, kept and broken (and their sums), by month made."""
    month = _month(session, Promise.made_at)
    amount = sa.func.coalesce(Promise.amount, Promise.debt_at_promise)
    where: list[sa.ColumnElement[bool]] = [
        Promise.made_at >= period.start,
        Promise.made_at < period.end,
    ]
    if principal.organisation_ids is not None:
        where.append(Account.organisation_id.in_(sorted(principal.organisation_ids)))

    def by_status(status: str) -> tuple[sa.ColumnElement[int], sa.ColumnElement[Decimal]]:
        return (
            sa.func.sum(sa.case((Promise.status == status, 1), else_=0)),
            sa.func.sum(sa.case((Promise.status == status, amount), else_=None)),
        )

    rows = session.execute(
        sa.select(
            month,
            sa.func.count(Promise.id),
            sa.func.sum(amount),
            *by_status("kept"),
            *by_status("broken"),
            sa.func.sum(sa.case((Promise.status == "made", 1), else_=0)),
        )
        .join(Account, Account.id == Promise.account_id)
        .where(*where)
        .group_by(month)
        .order_by(month)
    ).all()
    return [
        PromiseRow(
            month=str(r[0]),
            made=int(r[1]),
            made_sum=_money(r[2]),
            kept=int(r[3] or 0),
            kept_sum=_money(r[4]),
            broken=int(r[5] or 0),
            broken_sum=_money(r[6]),
            waiting=int(r[7] or 0),
        )
        for r in rows
    ]


def _plus_days(
    session: Session, day: sa.ColumnElement[dt.date], days: int
) -> sa.ColumnElement[dt.date]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(day, sa.Date) + days
    return sa.func.date(day, f"+{days} days", type_=sa.Date)


def _day(session: Session, moment: sa.ColumnElement[dt.datetime]) -> sa.ColumnElement[dt.date]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", moment), sa.Date)
    return sa.func.date(moment, type_=sa.Date)


def _paid_within(session: Session, anchors: sa.Subquery, days: int, group: str) -> PaidAfterRow:
    """``anchors`` has ``(account_id, day)``: payments in ``(day, day + days]`` per account."""
    paid = (
        sa.select(
            anchors.c.account_id.label("account_id"),
            sa.func.sum(Payment.amount).label("amount"),
        )
        .join(Payment, Payment.account_id == anchors.c.account_id)
        .where(
            Payment.paid_on > anchors.c.day,
            Payment.paid_on <= _plus_days(session, anchors.c.day, days),
        )
        .group_by(anchors.c.account_id)
        .subquery()
    )
    total = session.scalar(sa.select(sa.func.count()).select_from(anchors)) or 0
    row = session.execute(sa.select(sa.func.count(), sa.func.sum(paid.c.amount))).one()
    return PaidAfterRow(group, days, int(total), int(row[0] or 0), _money(row[1]))


def direct_paid_after(
    session: Session, principal: Principal, period: ReportPeriod, today: dt.date
) -> list[PaidAfterRow]:
    """Money paid within 7/14/30 days after the first conversation (robot), after a
    collector closed the case (human), against accounts with debt not yet called.

    Only anchors at least N days old count for window N, so every window is complete.
    Accounts not yet called are anchored at ``today - N``: the same length of time,
    just before now.
    """
    visible: list[sa.ColumnElement[bool]] = []
    if principal.organisation_ids is not None:
        visible.append(Account.organisation_id.in_(sorted(principal.organisation_ids)))
    rows: list[PaidAfterRow] = []
    for days in PAID_WINDOWS_DAYS:
        cutoff = min(
            period.end,
            dt.datetime.combine(today - dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC),
        )
        robot = (
            sa.select(Call.account_id.label("account_id"), _day(session, sa.func.min(Call.started_at)).label("day"))
            .join(Account, Account.id == Call.account_id)
            .where(Call.counted_as == "conversation", Call.started_at >= period.start,
                   Call.started_at < cutoff, *visible)
            .group_by(Call.account_id)
            .subquery()
        )  # fmt: skip
        human = (
            sa.select(EscalationCase.account_id.label("account_id"),
                      _day(session, sa.func.min(sa.type_coerce(EscalationCase.closed_at, sa.DateTime(timezone=True)))).label("day"))
            .join(Account, Account.id == EscalationCase.account_id)
            .where(EscalationCase.closed_at.is_not(None), EscalationCase.closed_at >= period.start,
                   EscalationCase.closed_at < cutoff, *visible)
            .group_by(EscalationCase.account_id)
            .subquery()
        )  # fmt: skip
        anchor_day = today - dt.timedelta(days=days)
        not_called = (
            sa.select(Account.id.label("account_id"), sa.literal(anchor_day, sa.Date).label("day"))
            .where(~sa.exists().where(Call.account_id == Account.id), *visible,
                   sa.exists().where(DebtLine.account_id == Account.id, DebtLine.debt > ZERO))
            .subquery()
        )  # fmt: skip
        rows.append(_paid_within(session, robot, days, "после разговора с роботом"))
        rows.append(_paid_within(session, human, days, "после работы взыскателя"))
        rows.append(_paid_within(session, not_called, days, "ещё не звонили"))
    return rows


def _moment(rng: random.Random) -> dt.datetime:
    start = dt.datetime(2026, 7, 25, tzinfo=dt.UTC)
    return start + dt.timedelta(seconds=rng.randrange(0, 122 * 86400))


def _tags(rng: random.Random) -> dict[str, float]:
    chosen = rng.sample(REASON_TAGS + OTHER_TAGS, rng.randrange(0, 4))
    return {tag: round(rng.random(), 2) for tag in chosen}


def _seed(session: Session, rng: random.Random, name: str) -> tuple[int, list[int], list[int]]:
    """An organisation with buildings, accounts (some without a building), debts, payments,
    calls with turns (reasons repeated across turns), promises and closed cases."""
    organisation = Organisation(name=name)
    session.add(organisation)
    session.flush()
    org = organisation.id
    buildings = [Building(organisation_id=org, address=f"ул. Случайная, {k}") for k in range(4)]
    session.add_all(buildings)
    session.flush()
    building_ids = [b.id for b in buildings]
    accounts = [
        Account(organisation_id=org, building_id=rng.choice([*building_ids, None]), number=f"R{k}")
        for k in range(40)
    ]
    session.add_all(accounts)
    session.flush()
    account_ids = [a.id for a in accounts]
    for account_id in account_ids:
        for service in rng.sample(SERVICES, rng.randrange(0, 3)):
            session.add(DebtLine(organisation_id=org, account_id=account_id, service=service,
                                 period=dt.date(2026, 10, 1), debt=Decimal(rng.choice([0, 1200]))))  # fmt: skip
        for k in range(rng.randrange(0, 3)):
            session.add(Payment(organisation_id=org, account_id=account_id, document=f"P{k}",
                                paid_on=TODAY - dt.timedelta(days=rng.randrange(0, 110)),
                                amount=Decimal(rng.randrange(100, 500000)) / 100))  # fmt: skip
    called = account_ids[:30]  # the rest are never called
    campaign = Campaign(organisation_id=org, name=name, script="soft", starts_on=TODAY)
    session.add(campaign)
    session.flush()
    for _ in range(150):
        started = _moment(rng)
        answered = rng.random() < 0.6
        account_id = rng.choice(called)
        attempt_id = None
        if rng.random() < 0.8:  # some calls have no attempt (stored by hand)
            attempt = Attempt(campaign_id=campaign.id, account_id=account_id, script="soft",
                              status="done", due_at=started, debt_snapshot=Decimal("1200.00"),
                              debt_as_of=started, time_zone="Europe/Moscow",
                              segment=rng.choice(SEGMENTS), debtor_type=rng.choice(DEBTOR_TYPES))  # fmt: skip
            session.add(attempt)
            session.flush()
            attempt_id = attempt.id
        call = Call(account_id=account_id, attempt_id=attempt_id, script="soft", started_at=started,
                    answered_at=started + dt.timedelta(seconds=4) if answered else None,
                    counted_as=rng.choice(["conversation", "message", "none", None]))  # fmt: skip
        session.add(call)
        session.flush()
        for index in range(rng.randrange(0, 4)):
            session.add(Turn(call_id=call.id, index=index, tags=_tags(rng)))
        if rng.random() < 0.4:
            session.add(_promise(rng, call.account_id, call.id, started))
    for _ in range(5):  # promises made without a call (by a collector)
        session.add(_promise(rng, rng.choice(account_ids), None, _moment(rng)))
    for account_id in rng.sample(called, 8):
        closed = _moment(rng)
        session.add(EscalationCase(organisation_id=org, account_id=account_id, debt=Decimal("10.00"),
                                   status="closed", opened_at=closed, closed_at=closed))  # fmt: skip
    return org, building_ids, account_ids


def _promise(rng: random.Random, account: int, call: int | None, at: dt.datetime) -> Promise:
    return Promise(
        account_id=account, call_id=call, due_on=at.date() + dt.timedelta(days=7),
        amount=rng.choice([None, Decimal(rng.randrange(100, 900000)) / 100]),
        debt_at_promise=Decimal(rng.randrange(100, 900000)) / 100,
        status=rng.choice(["made", "kept", "broken"]), made_at=at,
    )  # fmt: skip


def _change(session: Session, rng: random.Random, org: int, buildings: list[int]) -> None:
    """Random later writes: answers, tags, deleted turns, promise outcomes, moved accounts."""
    calls = list(session.scalars(sa.select(Call).join(Account, Account.id == Call.account_id)
                                 .where(Account.organisation_id == org).order_by(Call.id)))  # fmt: skip
    for call in rng.sample(calls, 40):
        match rng.randrange(5):
            case 0:
                call.answered_at = None if call.answered_at else call.started_at
            case 1:
                call.counted_as = rng.choice(["conversation", "message", "none"])
            case 2:
                call.started_at = _moment(rng)
            case 3:
                turns = list(session.scalars(sa.select(Turn).where(Turn.call_id == call.id)))
                for turn in turns:
                    if rng.random() < 0.5:
                        session.delete(turn)
                    else:
                        turn.tags = _tags(rng)
            case _:
                # Several turns carrying the same reason, in one multi-row statement.
                top = session.scalar(
                    sa.select(sa.func.max(Turn.index)).where(Turn.call_id == call.id)
                )
                first = -1 if top is None else top
                tag = rng.choice(REASON_TAGS)
                session.execute(sa.insert(Turn).values([
                    {"call_id": call.id, "index": first + k, "robot_text": "", "tags": {tag: 0.9}}
                    for k in (1, 2)
                ]))  # fmt: skip
        session.flush()
    promises = list(session.scalars(sa.select(Promise).join(Account, Account.id == Promise.account_id)
                                    .where(Account.organisation_id == org)))  # fmt: skip
    for promise in rng.sample(promises, min(10, len(promises))):
        if rng.random() < 0.2:
            session.delete(promise)
        else:
            promise.status = rng.choice(["kept", "broken", "made"])  # type: ignore[assignment]
            promise.amount = rng.choice([None, Decimal("77.70")])
    session.flush()
    for account in session.scalars(
        sa.select(Account).where(Account.organisation_id == org).limit(5)
    ):
        account.building_id = rng.choice([*buildings, None])
    session.flush()
    attempts = list(session.scalars(sa.select(Attempt).join(Account, Account.id == Attempt.account_id)
                                    .where(Account.organisation_id == org).order_by(Attempt.id)))  # fmt: skip
    for attempt in rng.sample(attempts, 10):  # a corrected snapshot
        attempt.segment = rng.choice(SEGMENTS)
        attempt.debtor_type = rng.choice(DEBTOR_TYPES)
    session.flush()
    _move_and_delete_calls(session, rng, org, calls)


def _move_and_delete_calls(
    session: Session, rng: random.Random, org: int, calls: list[Call]
) -> None:
    """Calls moved to another account (one account loses all of its calls, so it joins
    "not yet called") and calls deleted: ``report_called_accounts`` must follow."""
    accounts = list(session.scalars(
        sa.select(Account.id).where(Account.organisation_id == org).order_by(Account.id)
    ))  # fmt: skip
    emptied = calls[0].account_id
    for call in calls:
        if call.account_id == emptied:
            call.account_id = rng.choice([a for a in accounts if a != emptied])
    for call in rng.sample(calls, 5):
        call.account_id = rng.choice(accounts)
    session.flush()
    referenced = sa.union(
        sa.select(Promise.call_id).where(Promise.call_id.is_not(None)),
        sa.select(EscalationCase.last_call_id).where(EscalationCase.last_call_id.is_not(None)),
    )
    free = list(session.scalars(
        sa.select(Call).join(Account, Account.id == Call.account_id)
        .where(Account.organisation_id == org, Call.id.not_in(referenced)).order_by(Call.id)
    ))  # fmt: skip
    for call in rng.sample(free, min(5, len(free))):
        session.execute(sa.delete(Turn).where(Turn.call_id == call.id))
        session.delete(call)
    session.flush()
    assert session.scalar(sa.select(sa.func.count()).where(Call.account_id == emptied)) == 0


def _principal(org: int | None) -> Principal:
    orgs = None if org is None else frozenset({org})
    return Principal(1, "test", "Тест", UserRole.MANAGER, orgs, "token")


def _assert_equal(session: Session, principal: Principal) -> None:
    mine = sa.select(Account.id)
    if principal.organisation_ids is not None:
        mine = mine.where(Account.organisation_id.in_(sorted(principal.organisation_ids)))
    called = session.execute(
        sa.select(ReportCalledAccount.account_id, ReportCalledAccount.calls)
        .where(ReportCalledAccount.account_id.in_(mine))
    ).all()  # fmt: skip
    direct = session.execute(
        sa.select(Call.account_id, sa.func.count()).where(Call.account_id.in_(mine))
        .group_by(Call.account_id)
    ).all()  # fmt: skip
    assert sorted(tuple(r) for r in called) == sorted(tuple(r) for r in direct)
    for period in PERIODS:
        for by in ("building", "month"):
            assert reasons(session, principal, period, by) == direct_reasons(
                session, principal, period, by
            )
        # The collation orders names differently on the two databases.
        for by in ("service", "segment", "debtor_type"):
            assert sorted(reasons(session, principal, period, by), key=lambda r: r.key) == sorted(
                direct_reasons(session, principal, period, by), key=lambda r: r.key
            )
        assert funnel(session, principal, period) == direct_funnel(session, principal, period)
        assert promises_by_month(session, principal, period) == direct_promises(
            session, principal, period
        )
        assert paid_after(session, principal, period, TODAY) == direct_paid_after(
            session, principal, period, TODAY
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_summaries_equal_direct_queries(
    session_factory: sessionmaker[Session], unique_name: str, seed: int
) -> None:
    rng = random.Random(seed)
    with session_factory.begin() as session:
        org, buildings, _ = _seed(session, rng, unique_name)
    with session_factory() as session:
        _assert_equal(session, _principal(org))
        assert reasons(session, _principal(org), PERIODS[0])  # the data is not empty
        assert len(reasons(session, _principal(org), PERIODS[0], "segment")) == len(SEGMENTS)
    with session_factory.begin() as session:
        _change(session, rng, org, buildings)
    with session_factory() as session:
        _assert_equal(session, _principal(org))


def test_paid_after_counts_windows_exactly(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    """Every window: a payment inside, one on the anchor day, one a day too late."""
    with session_factory.begin() as session:
        organisation = Organisation(name=unique_name)
        session.add(organisation)
        session.flush()
        account = Account(organisation_id=organisation.id, number="W1")
        session.add(account)
        session.flush()
        anchor = dt.datetime(2026, 10, 1, 23, 59, tzinfo=dt.UTC)
        session.add(
            Call(account_id=account.id, script="s", started_at=anchor, counted_as="conversation")
        )
        for days, amount in ((0, "1.00"), (7, "2.00"), (8, "4.00"), (30, "8.00"), (31, "16.00")):
            session.add(Payment(organisation_id=organisation.id, account_id=account.id, document=str(days),
                                paid_on=anchor.date() + dt.timedelta(days=days), amount=Decimal(amount)))  # fmt: skip
    with session_factory() as session:
        rows = paid_after(session, _principal(organisation.id), PERIODS[0], TODAY)
    robot = {r.days: r for r in rows if r.group == "после разговора с роботом"}
    assert sorted(robot) == list(PAID_WINDOWS_DAYS)
    assert [(robot[d].accounts, robot[d].paid_sum) for d in PAID_WINDOWS_DAYS] == [
        (1, Decimal("2.00")), (1, Decimal("6.00")), (1, Decimal("14.00")),
    ]  # fmt: skip


def _migration(name: str = "0004_report_summaries") -> ModuleType:
    path = Path(__file__).parents[2] / f"storage/migrations/versions/{name}.py"
    spec = importlib.util.spec_from_file_location("report_summaries_migration", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_backfill_of_stored_calls_equals_direct_queries(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    """What migration 0004 sums from calls stored before it equals the direct queries."""
    rng = random.Random(3)
    with session_factory.begin() as session:
        org, buildings, _ = _seed(session, rng, unique_name)
        _change(session, rng, org, buildings)
    with session_factory() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        # Summed afresh inside a transaction that is rolled back: other tests' rows stay.
        session.execute(sa.delete(ReportCallDay))
        session.execute(sa.delete(ReportPromiseDay))
        for statement in _migration().backfill(postgres):
            session.execute(sa.text(statement))
        assert reasons(session, _principal(org), PERIODS[0])
        _assert_equal(session, _principal(org))
        session.rollback()


def test_backfill_of_groups_sums_like_the_triggers(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    """What migration 0005 sums from calls stored before it equals the direct queries."""
    rng = random.Random(4)
    with session_factory.begin() as session:
        org, buildings, _ = _seed(session, rng, unique_name)
        _change(session, rng, org, buildings)
    with session_factory() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        migration = _migration("0005_reports_by_service")
        session.execute(sa.delete(CallGroup))
        for statement in migration.backfill_groups():
            session.execute(sa.text(statement))
        # The triggers summed the groups as they came; sum them afresh as the migration does.
        session.execute(sa.delete(ReportGroupDay))
        session.execute(sa.text(migration.backfill_sums(postgres)))
        assert reasons(session, _principal(org), PERIODS[0], "service")
        _assert_equal(session, _principal(org))
        session.rollback()


def _services_of(session: Session, call_id: int) -> set[str]:
    return set(
        session.scalars(
            sa.select(CallGroup.label).where(
                CallGroup.call_id == call_id, CallGroup.dimension == "service"
            )
        )
    )


def test_a_call_keeps_the_services_owed_when_it_was_stored(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    """Owed = debt lines with debt > 0 when the call row is written; later debts change nothing."""
    with session_factory.begin() as session:
        organisation = Organisation(name=unique_name)
        session.add(organisation)
        session.flush()
        account = Account(organisation_id=organisation.id, number="S1")
        session.add(account)
        session.flush()
        lines = {
            service: DebtLine(organisation_id=organisation.id, account_id=account.id,
                              service=service, period=dt.date(2026, 10, 1), debt=Decimal(debt))
            for service, debt in (("ЖКУ", "0.00"), ("Отопление", "900.00"), ("Водоснабжение", "5.00"))
        }  # fmt: skip
        # Two periods of one service: the service is listed once.
        session.add(DebtLine(organisation_id=organisation.id, account_id=account.id,
                             service="Отопление", period=dt.date(2026, 9, 1), debt=Decimal("1.00")))  # fmt: skip
        session.add_all(lines.values())
        session.flush()
        started = dt.datetime(2026, 10, 5, 10, tzinfo=dt.UTC)
        first = Call(account_id=account.id, script="s", started_at=started, answered_at=started)
        session.add(first)
        session.flush()
        lines["ЖКУ"].debt = Decimal("300.00")
        lines["Отопление"].debt = Decimal("0.00")
        session.flush()
        assert _services_of(session, first.id) == {"Отопление", "Водоснабжение"}
        second = Call(account_id=account.id, script="s", started_at=started)
        session.add(second)
        session.flush()
        # Heating still owed for September.
        assert _services_of(session, second.id) == {"ЖКУ", "Отопление", "Водоснабжение"}
        for line in session.scalars(sa.select(DebtLine).where(DebtLine.account_id == account.id)):
            line.debt = Decimal("0.00")
        session.flush()
        third = Call(account_id=account.id, script="s", started_at=started)
        session.add(third)
        session.flush()
        assert _services_of(session, third.id) == {""}
        session.add(Turn(call_id=first.id, index=0, tags={"financial_hardship": 0.9}))
        session.flush()
        rows = reasons(session, _principal(organisation.id), PERIODS[0], "service")
        assert {(r.key, r.calls, r.counts["financial_hardship"]) for r in rows} == {
            ("Отопление", 1, 1), ("Водоснабжение", 1, 1),
        }  # fmt: skip
        session.execute(sa.delete(Turn).where(Turn.call_id == first.id))
        session.delete(first)
        session.flush()
        session.delete(second)
        session.delete(third)
        session.flush()
        assert reasons(session, _principal(organisation.id), PERIODS[0], "service") == []
        assert session.scalar(sa.select(sa.func.count()).select_from(CallGroup).where(
            CallGroup.call_id.in_([first.id, second.id, third.id]))) == 0  # fmt: skip


def direct_promises_by_side(
    session: Session, principal: Principal, period: ReportPeriod
) -> dict[bool, tuple[int, Decimal, int, Decimal, int]]:
    """Promises made in the period, by "made in a call": made, sum, kept, kept sum, broken."""
    amount = sa.func.coalesce(Promise.amount, Promise.debt_at_promise)
    in_call = Promise.call_id.is_not(None)
    query = (
        sa.select(in_call, sa.func.count(), sa.func.sum(amount),
                  sa.func.sum(sa.case((Promise.status == "kept", 1), else_=0)),
                  sa.func.sum(sa.case((Promise.status == "kept", amount), else_=None)),
                  sa.func.sum(sa.case((Promise.status == "broken", 1), else_=0)))
        .join(Account, Account.id == Promise.account_id)
        .where(Promise.made_at >= period.start, Promise.made_at < period.end)
        .group_by(in_call)
    )  # fmt: skip
    if principal.organisation_ids is not None:
        query = query.where(Account.organisation_id.in_(sorted(principal.organisation_ids)))
    found = {
        bool(r[0]): (int(r[1]), _money(r[2]), int(r[3] or 0), _money(r[4]), int(r[5] or 0))
        for r in session.execute(query)
    }
    none = (0, ZERO, 0, ZERO, 0)
    return {side: found.get(side, none) for side in (True, False)}


@pytest.mark.parametrize("seed", [5, 6])
def test_robot_vs_human_promises_equal_direct_queries(
    session_factory: sessionmaker[Session], unique_name: str, seed: int
) -> None:
    rng = random.Random(seed)
    with session_factory.begin() as session:
        org, buildings, _ = _seed(session, rng, unique_name)
        _change(session, rng, org, buildings)
    with session_factory() as session:
        principal = _principal(org)
        for period in PERIODS:
            paid = paid_after(session, principal, period, TODAY)
            funnel_rows = funnel(session, principal, period)
            rows = {
                r.side: r for r in robot_vs_human(session, principal, period, paid, funnel_rows)
            }
            expected = direct_promises_by_side(session, principal, period)
            for side, in_call in ((ROBOT, True), (HUMAN, False)):
                r = rows[side]
                got = (r.promises, r.promised_sum, r.kept, r.kept_sum, r.broken)
                assert got == expected[in_call]
