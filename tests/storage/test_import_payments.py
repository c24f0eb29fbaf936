"""Importing payment registers: allocation to debt lines, idempotence, bad rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.importing import BadSource, RowsRejected, import_debts, import_payments
from storage.models import Account, DebtLine, Payment, PaymentAllocation, PaymentChannel
from tests.storage.conftest import WriteExport, book_snapshot

TODAY = dt.date(2026, 11, 23)
DEBT_HEADER = ["ЛС", "Услуга", "Период", "Задолженность"]
PAY_HEADER = [
    "Лицевой счет",
    "Дата оплаты",
    "Сумма",
    "Номер документа",
    "Способ оплаты",
    "За период",
]


@pytest.fixture
def debtor(
    session_factory: sessionmaker[Session], write_export: WriteExport, unique_name: str
) -> str:
    """An organisation with account 1: ХВС 100 for August, ГВС 300 for September, ХВС 50 for October."""
    path = write_export("debts.csv", [
        DEBT_HEADER,
        ["1", "ХВС", "08.2026", "100,00"],
        ["1", "ГВС", "09.2026", "300,00"],
        ["1", "ХВС", "10.2026", "50,00"],
        ["2", "ХВС", "10.2026", "0,00"],
    ])  # fmt: skip
    import_debts(session_factory, path, organisation=unique_name)
    return unique_name


def _debts(session_factory: sessionmaker[Session], org: str) -> dict[str, Decimal]:
    with session_factory() as session:
        rows = session.execute(
            sa.select(DebtLine.service, DebtLine.period, DebtLine.debt)
            .join(Account, DebtLine.account_id == Account.id)
            .where(Account.number == "1", Account.organisation.has(name=org))
        )
        return {f"{service} {period:%m}": debt for service, period, debt in rows}


def test_a_payment_closes_the_oldest_debt_first(
    session_factory: sessionmaker[Session], write_export: WriteExport, debtor: str
) -> None:
    path = write_export(
        "pay.csv", [PAY_HEADER, ["1", "05.11.2026", "1 50,00", "77", "Сбербанк Онлайн", ""]]
    )
    summary = import_payments(session_factory, path, organisation=debtor, today=TODAY)
    assert summary.changes.payments_new == 1
    assert summary.changes.amount_allocated == Decimal("150.00")
    assert summary.changes.lines_closed == 1
    assert _debts(session_factory, debtor) == {
        "ХВС 08": Decimal("0.00"), "ГВС 09": Decimal("250.00"), "ХВС 10": Decimal("50.00"),
    }  # fmt: skip
    with session_factory() as session:
        payment = session.scalars(
            sa.select(Payment).join(Account).where(Account.organisation.has(name=debtor))
        ).one()
        assert (payment.amount, payment.channel, payment.document) == (
            Decimal("150.00"), PaymentChannel.ONLINE, "77",
        )  # fmt: skip
        allocations = session.scalars(
            sa.select(PaymentAllocation.amount).where(PaymentAllocation.payment_id == payment.id)
        ).all()
        assert sorted(allocations) == [Decimal("50.00"), Decimal("100.00")]


def test_the_named_month_is_closed_first_and_reimport_changes_nothing(
    session_factory: sessionmaker[Session], engine: Engine, write_export: WriteExport, debtor: str
) -> None:
    path = write_export(
        "pay.csv", [PAY_HEADER, ["1", "05.11.2026", "60,00", "", "Почта России", "октябрь 2026"]]
    )
    import_payments(session_factory, path, organisation=debtor, today=TODAY)
    assert _debts(session_factory, debtor)["ХВС 10"] == Decimal("0.00")
    assert _debts(session_factory, debtor)["ХВС 08"] == Decimal("90.00")
    before = book_snapshot(engine)
    again = import_payments(session_factory, path, organisation=debtor, today=TODAY)
    assert (again.changes.payments_new, again.changes.payments_known) == (0, 1)
    assert book_snapshot(engine) == before


def test_bad_payment_rows_are_all_reported_and_nothing_is_written(
    session_factory: sessionmaker[Session], engine: Engine, write_export: WriteExport, debtor: str
) -> None:
    path = write_export("pay.csv", [
        PAY_HEADER,
        ["1", "05.11.2026", "10,00", "1", "", ""],
        ["999", "05.11.2026", "10,00", "2", "", ""],
        ["1", "31.11.2026", "0,00", "3", "", ""],
        ["1", "01.12.2026", "10,00", "4", "", ""],
        ["1", "05.11.2026", "10,00", "1", "", ""],
    ])  # fmt: skip
    before = book_snapshot(engine)
    with pytest.raises(RowsRejected) as err:
        import_payments(session_factory, path, organisation=debtor, today=TODAY)
    assert [str(p) for p in err.value.problems] == [
        f"pay.csv, строка 3, столбец «Лицевой счет»: лицевой счёт «999» не найден в организации «{debtor}»",
        "pay.csv, строка 4, столбец «Дата оплаты»: нет такой даты: «31.11.2026»",
        "pay.csv, строка 4, столбец «Сумма»: сумма платежа должна быть больше нуля: 0.00",
        "pay.csv, строка 5, столбец «Дата оплаты»: дата в будущем: 01.12.2026",
        "pay.csv, строка 6, столбец «Лицевой счет»: повторяет строку 2 "
        "(тот же лицевой счёт, дата, сумма и номер документа)",
    ]
    assert book_snapshot(engine) == before


def test_payments_need_a_known_organisation(
    session_factory: sessionmaker[Session], write_export: WriteExport, unique_name: str
) -> None:
    path = write_export("pay.csv", [PAY_HEADER, ["1", "05.11.2026", "10,00", "", "", ""]])
    with pytest.raises(BadSource) as err:
        import_payments(session_factory, path, organisation=unique_name, today=TODAY)
    assert str(err.value) == f"pay.csv: организация «{unique_name}» не найдена"
