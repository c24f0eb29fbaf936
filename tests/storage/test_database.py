"""The debt book on a real database: migrations, types, constraints, append-only history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.database import applied_revisions
from storage.models import (
    Account,
    Base,
    Building,
    ContactEvent,
    ContactKind,
    DebtLine,
    Organisation,
    Person,
    Phone,
    PhoneStatus,
    sensitive_columns,
)


def _account(session: Session, org_name: str) -> Account:
    organisation = Organisation(name=org_name)
    building = Building(organisation=organisation, address="г. Тверь, ул. Советская, д. 5")
    account = Account(
        organisation=organisation,
        building=building,
        number="100200300",
        address="г. Тверь, ул. Советская, д. 5, кв. 12",
        flat="12",
        area_m2=Decimal("54.30"),
    )
    session.add(account)
    session.flush()
    return account


def test_migrations_match_the_models(engine: Engine, database_url: str) -> None:
    assert "0001_debt_book" in _history(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if _is_ours(d)]
    assert differences == []


def _history(database_url: str) -> set[str]:
    from alembic.script import ScriptDirectory

    from storage.database import migrations_config

    script = ScriptDirectory.from_config(migrations_config())
    heads = set(applied_revisions(database_url))
    assert heads == set(script.get_heads())
    return {rev.revision for rev in script.walk_revisions()}


def _is_ours(difference: object) -> bool:
    # Tables of later revisions are compared by their own parts' tests.
    text = repr(difference)
    return any(f"'{table}'" in text for table in Base.metadata.tables if table in _DEBT_BOOK)


_DEBT_BOOK = {
    "organisations", "buildings", "accounts", "people", "phones", "debt_lines",
    "payments", "payment_allocations", "contact_events", "segment_rules",
}  # fmt: skip


def test_money_and_time_round_trip_exactly(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        account = _account(session, unique_name)
        line = DebtLine(
            organisation_id=account.organisation_id,
            account_id=account.id,
            service="Отопление",
            period=dt.date(2026, 1, 1),
            charged=Decimal("3456.78"),
            paid=Decimal("0.10"),
            debt=Decimal("3456.68"),
            peni=Decimal("12.01"),
        )
        session.add(line)
        session.flush()
        line_id = line.id
    with session_factory() as session:
        stored = session.get_one(DebtLine, line_id)
        assert stored.debt == Decimal("3456.68")
        assert stored.charged - stored.paid == stored.debt
        assert stored.updated_at.tzinfo == dt.UTC
        assert session.get_one(Account, stored.account_id).area_m2 == Decimal("54.30")


def test_one_line_per_account_service_and_month(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    with session_factory.begin() as session:
        account = _account(session, unique_name)
        key = {"organisation_id": account.organisation_id, "account_id": account.id}
    twins = [DebtLine(**key, service="ХВС", period=dt.date(2026, 2, 1)) for _ in range(2)]
    with pytest.raises(IntegrityError), session_factory.begin() as session:
        session.add_all(twins)


def test_phone_status_is_a_closed_set_in_the_database(
    session_factory: sessionmaker[Session], engine: Engine, unique_name: str
) -> None:
    with session_factory.begin() as session:
        account = _account(session, unique_name)
        session.add(Phone(account_id=account.id, number="+79161234567"))
        session.flush()
        account_id = account.id
    with pytest.raises(IntegrityError), engine.begin() as connection:
        # Raw SQL: the ORM would refuse the value before the database sees it.
        connection.execute(
            sa.text("UPDATE phones SET status = 'maybe' WHERE account_id = :id"), {"id": account_id}
        )
    with session_factory() as session:
        phone = session.scalars(sa.select(Phone).where(Phone.account_id == account_id)).one()
        assert phone.status is PhoneStatus.OK


def test_contact_history_is_append_only(
    session_factory: sessionmaker[Session], engine: Engine, unique_name: str
) -> None:
    with session_factory.begin() as session:
        account = _account(session, unique_name)
        event = ContactEvent(
            organisation_id=account.organisation_id,
            account_id=account.id,
            kind=ContactKind.NOTE,
            summary="Обещал зайти в кассу",
            ref_table="calls",
            ref_id=42,
        )
        session.add(event)
        session.flush()
        event_id = event.id
    table = ContactEvent.__table__
    for statement in (
        sa.update(table).where(table.c.id == event_id).values(summary="исправлено"),
        sa.delete(table).where(table.c.id == event_id),
    ):
        with (
            pytest.raises(DBAPIError, match="contact_events is append-only"),
            engine.begin() as connection,
        ):
            connection.execute(statement)
    with session_factory() as session:
        assert session.get_one(ContactEvent, event_id).summary == "Обещал зайти в кассу"


def test_identity_documents_are_marked_sensitive() -> None:
    assert set(sensitive_columns(Person.__table__)) == {
        "full_name", "birth_date", "passport", "snils", "inn",
    }  # fmt: skip
    assert sensitive_columns(Phone.__table__) == ["number"]


def test_sqlite_runs_in_wal_with_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_a_failing_statement_does_not_carry_its_parameters(engine: Engine) -> None:
    # Typed login names reached the log through tracebacks' "[parameters: ...]" (issue 14, item 8).
    secret = "Иванов-секретный-логин"
    with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO no_such_table_for_parameters (name) VALUES (:name)"),
            {"name": secret},
        )
    assert secret not in str(raised.value)
    assert secret not in repr(raised.value)
