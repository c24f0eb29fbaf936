"""``napomni script rehearse --account ID``: the variables come from the debt book."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from napomni.cli import cli
from napomni.commands.script_cmd import account_variables
from storage.models.campaigns import Promise, PromiseStatus
from storage.models.debt_book import Account, Organisation, Person
from storage.models.ledger import DebtLine, Payment


def _account(session_factory: sessionmaker[Session], unique_name: str) -> int:
    with session_factory() as session, session.begin():
        org = Organisation(name=f"ТСЖ «Берёзка» {unique_name}")
        account = Account(organisation=org, number="ЛС-1", address="улица Мира, 3", flat="7")
        session.add_all([org, account])
        session.flush()
        session.add(Person(account_id=account.id, full_name="Петрова Анна Сергеевна"))
        for month, service, debt in [
            (dt.date(2026, 9, 1), "отопление", Decimal("2100.00")),
            (dt.date(2026, 10, 1), "отопление", Decimal("2100.00")),
            (dt.date(2026, 10, 1), "вода", Decimal("800.50")),
            (dt.date(2026, 8, 1), "вода", Decimal("0.00")),
        ]:
            session.add(
                DebtLine(
                    organisation_id=org.id, account_id=account.id, service=service,
                    period=month, charged=debt, debt=debt, peni=Decimal("10.00"),
                )
            )  # fmt: skip
        session.add(
            Payment(
                organisation_id=org.id, account_id=account.id,
                paid_on=dt.date(2026, 11, 20), amount=Decimal("1500.00"),
            )
        )  # fmt: skip
        session.add(
            Promise(
                account_id=account.id, due_on=dt.date(2026, 11, 15), amount=None,
                debt_at_promise=Decimal("5000.50"), status=PromiseStatus.BROKEN,
                made_at=dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC),
            )
        )  # fmt: skip
        return account.id


def test_variables_from_the_debt_book(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    account_id = _account(session_factory, unique_name)
    with session_factory() as session:
        variables = account_variables(session, account_id)
    assert variables.addressed_as == "Анна Сергеевна"
    assert variables.full_name == "Петрова Анна Сергеевна"
    assert variables.address == "улица Мира, 3, квартира 7"
    assert variables.debt_total == Decimal("5000.50")
    assert [(d.service, d.amount) for d in variables.debt_by_service] == [
        ("вода", Decimal("800.50")),
        ("отопление", Decimal("4200.00")),
    ]
    assert variables.months_overdue == 2
    assert variables.peni == Decimal("30.00")
    assert variables.last_payment is not None
    assert variables.last_payment.amount == Decimal("1500.00")
    assert variables.last_promise is not None
    assert variables.last_promise.due == dt.date(2026, 11, 15)
    assert not variables.last_promise.kept


def test_rehearse_an_account_from_the_database(
    session_factory: sessionmaker[Session], unique_name: str, database_url: str
) -> None:
    account_id = _account(session_factory, unique_name)
    result = CliRunner().invoke(
        cli,
        ["--database-url", database_url, "script", "rehearse", "broken_promise",
         "--account", str(account_id), "--today", "2026-11-23"],
        input="да\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "Анна Сергеевна, в прошлый раз вы обещали оплатить до пятнадцатого ноября" in result.output
    )
    assert "Сейчас долг — пять тысяч рублей пятьдесят копеек." in result.output


def test_unknown_account(database_url: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["--database-url", database_url, "script", "rehearse", "warning", "--account", "999999"],
    )
    assert result.exit_code == 1
    assert "лицевой счёт id=999999 не найден" in result.output
