"""Live transfers (issue 16): the row's life, the screen pop's query, the organisation's wait —
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import StorageError
from storage.models import Account, Base, Organisation
from storage.models.campaigns import Call, EscalationCase, EscalationStatus
from storage.models.transfers import Transfer, TransferMethod, TransferState
from storage.models.users import User, UserOrganisation, UserRole
from storage.transfers import (
    TransferSettingRefused,
    attach_case,
    end_transfer,
    mark_connected,
    mark_ringing,
    offer_transfer,
    pops_for,
    set_transfer_wait_s,
    transfer_of_call,
    transfer_wait_s,
)

T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


def _seconds(n: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=n)


def _world(session: Session, name: str) -> tuple[int, int, int, int]:
    """An organisation, an account, a call on it and a collector: their ids."""
    organisation = Organisation(name=name)
    session.add(organisation)
    session.flush()
    account = Account(organisation_id=organisation.id, number=f"ЛС-{uuid.uuid4().hex[:6]}")
    session.add(account)
    session.flush()
    call = Call(account_id=account.id, script="soft_reminder", started_at=T0)
    user = User(
        login=f"c-{uuid.uuid4().hex[:12]}",
        display_name="Иванова",
        password_hash="x",
        role=UserRole.COLLECTOR,
        active=True,
        session_epoch=0,
    )
    user.organisations = [UserOrganisation(organisation_id=organisation.id)]
    session.add_all([call, user])
    session.flush()
    return organisation.id, account.id, call.id, user.id


def _offer(session: Session, world: tuple[int, int, int, int], at: dt.datetime) -> int:
    organisation_id, account_id, call_id, _ = world
    return offer_transfer(
        session,
        organisation_id=organisation_id,
        call_id=call_id,
        account_id=account_id,
        reason="operator_request",
        now=at,
    )


def test_the_migration_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    mine = ("'transfers'", "'organisations'", "transfer_wait_s")
    assert [d for d in diffs if any(name in repr(d) for name in mine)] == []


def test_a_connected_transfer_pops_then_ends_and_links_its_case(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        world = _world(session, unique_name)
        organisation_id, account_id, call_id, collector = world
        transfer_id = _offer(session, world, T0)
        assert pops_for(session, collector) == []  # waiting: nobody's phone rings yet
        mark_ringing(
            session,
            transfer_id,
            collector_user_id=collector,
            extension="201",
            method=TransferMethod.BRIDGE,
            now=_seconds(1),
        )
        [pop] = pops_for(session, collector)
        assert (pop.transfer_id, pop.call_id, pop.account_id, pop.organisation_id) == (
            transfer_id,
            call_id,
            account_id,
            organisation_id,
        )
        assert (pop.reason, pop.state, pop.ringing_at) == (
            "operator_request",
            TransferState.RINGING,
            _seconds(1),
        )
        assert pops_for(session, collector, after_id=transfer_id) == []
        mark_connected(session, transfer_id, _seconds(4.5))
        assert [p.state for p in pops_for(session, collector)] == [TransferState.CONNECTED]
        seen = transfer_of_call(session, call_id)
        assert seen is not None
        assert (seen.state, seen.collector_user_id) == (TransferState.CONNECTED, collector)
        assert end_transfer(
            session,
            transfer_id,
            state=TransferState.ENDED,
            end_reason="collector_hung_up",
            now=_seconds(60),
        )
        # A second ending (a fault path after the normal one) keeps the first reason.
        assert not end_transfer(
            session,
            transfer_id,
            state=TransferState.FAILED,
            end_reason="rtp_lost_debtor",
            now=_seconds(61),
        )
        assert pops_for(session, collector) == []
        case = EscalationCase(
            organisation_id=organisation_id,
            account_id=account_id,
            reasons=["operator_request"],
            debt=Decimal("100.00"),
        )
        session.add(case)
        session.flush()
        assert attach_case(session, call_id, case.id) == collector
        session.refresh(case)
        assert (case.assignee, case.status) == (f"user:{collector}", EscalationStatus.IN_PROGRESS)
        row = session.get_one(Transfer, transfer_id)
        session.refresh(row)
        assert (row.state, row.end_reason, row.method, row.extension) == (
            TransferState.ENDED,
            "collector_hung_up",
            TransferMethod.BRIDGE,
            "201",
        )
        assert (row.offered_at, row.ringing_at, row.answered_at, row.ended_at) == (
            T0,
            _seconds(1),
            _seconds(4.5),
            _seconds(60),
        )
        assert (row.wait_ms, row.escalation_id) == (4500, case.id)


@pytest.mark.parametrize(
    ("state", "reason", "rang"),
    [
        (TransferState.NO_COLLECTOR, "no_collector", False),
        (TransferState.NO_ANSWER, "no_answer", True),
        (TransferState.ABANDONED, "debtor_hung_up", True),
        (TransferState.REFUSED, "refer_refused", True),
    ],
)
def test_a_transfer_never_answered_keeps_the_debtors_wait(
    session_factory: sessionmaker[Session],
    unique_name: str,
    state: TransferState,
    reason: str,
    rang: bool,
) -> None:
    with session_factory.begin() as session:
        world = _world(session, unique_name)
        transfer_id = _offer(session, world, T0)
        if rang:
            mark_ringing(
                session,
                transfer_id,
                collector_user_id=world[3],
                extension="201",
                method=TransferMethod.REFER,
                now=_seconds(0.5),
            )
        assert end_transfer(session, transfer_id, state=state, end_reason=reason, now=_seconds(30))
        assert pops_for(session, world[3]) == []
        case = EscalationCase(
            organisation_id=world[0], account_id=world[1], reasons=[], debt=Decimal("1.00")
        )
        session.add(case)
        session.flush()
        assert attach_case(session, world[2], case.id) is None  # a callback case, unassigned
        session.refresh(case)
        assert (case.assignee, case.status) == (None, EscalationStatus.OPEN)
        row = session.get_one(Transfer, transfer_id)
        session.refresh(row)
        assert (row.state, row.end_reason, row.wait_ms, row.answered_at) == (
            state,
            reason,
            30_000,
            None,
        )


def test_an_open_state_is_no_end_and_a_missing_transfer_is_named(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        transfer_id = _offer(session, _world(session, unique_name), T0)
        with pytest.raises(StorageError, match="connected"):
            end_transfer(
                session, transfer_id, state=TransferState.CONNECTED, end_reason="x", now=T0
            )
        with pytest.raises(StorageError, match="нет перевода"):
            mark_connected(session, transfer_id + 1000, T0)


def test_pops_are_the_collectors_own_newest_first(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        world = _world(session, unique_name)
        other = _world(session, f"{unique_name}-b")
        first, second = _offer(session, world, T0), _offer(session, world, _seconds(1))
        elsewhere = _offer(session, other, T0)
        for transfer_id, collector in (
            (first, world[3]),
            (second, world[3]),
            (elsewhere, other[3]),
        ):
            mark_ringing(
                session,
                transfer_id,
                collector_user_id=collector,
                extension="201",
                method=TransferMethod.BRIDGE,
                now=_seconds(2),
            )
        assert [p.transfer_id for p in pops_for(session, world[3])] == [second, first]
        assert [p.transfer_id for p in pops_for(session, world[3], after_id=first)] == [second]
        assert [p.transfer_id for p in pops_for(session, other[3])] == [elsewhere]


def test_the_wait_is_thirty_seconds_unless_the_organisation_says_otherwise(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        organisation_id = _world(session, unique_name)[0]
        assert transfer_wait_s(session, organisation_id) == 30
        assert set_transfer_wait_s(session, organisation_id, 45) == 45
        assert transfer_wait_s(session, organisation_id) == 45
        for bad in (0, 4, 301):
            with pytest.raises(TransferSettingRefused, match="transfer_wait_s"):
                set_transfer_wait_s(session, organisation_id, bad)
        with pytest.raises(TransferSettingRefused, match="нет организации"):
            set_transfer_wait_s(session, organisation_id + 10_000, 30)
    with session_factory.begin() as session:
        # A row written without the column (an older writer) gets the server default.
        session.execute(
            sa.insert(Organisation).values(
                name=f"{unique_name}-raw", time_zone="UTC", created_at=T0
            )
        )
        raw = session.scalar(
            sa.select(Organisation.id).where(Organisation.name == f"{unique_name}-raw")
        )
        assert raw is not None
        assert transfer_wait_s(session, raw) == 30
