"""Importing debt exports on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.importing import BadSource, RowsRejected, import_debts
from storage.models import Account, ContactEvent, ContactKind, DebtLine, Person, Phone, PhoneKind
from tests.storage.conftest import WriteExport, book_snapshot

HEADER = ["Лицевой счет", "ФИО", "Адрес", "Телефон", "Услуга", "Период", "Начислено", "Оплачено", "Сальдо конечное", "Пени"]  # fmt: skip
NBSP = "\u00a0"


def _row(
    account: str, service: str, period: str, debt: str, *, phone: str = "8 916 123-45-67"
) -> list[str]:
    return [account, "Иванова Анна Петровна", "г. Тверь, ул. Советская, д. 5, кв. 12", phone,
            service, period, debt, "0,00", debt, "0,00"]  # fmt: skip


def _lines(
    session_factory: sessionmaker[Session], org: str
) -> list[tuple[str, str, dt.date, Decimal]]:
    with session_factory() as session:
        rows = session.execute(
            sa.select(Account.number, DebtLine.service, DebtLine.period, DebtLine.debt)
            .join(Account, DebtLine.account_id == Account.id)
            .join(Account.organisation)
            .where(Account.organisation.has(name=org))
        )
        return sorted((r[0], r[1], r[2], r[3]) for r in rows)


def test_a_cp1251_semicolon_export_with_title_and_totals(
    session_factory: sessionmaker[Session], write_export: WriteExport, unique_name: str
) -> None:
    path = write_export("osv.csv", [
        ["Оборотно-сальдовая ведомость по лицевым счетам"],
        ["Период: ноябрь 2026"],
        [],
        HEADER,
        _row("1001", "Отопление", "октябрь 2026", f"12{NBSP}345,67"),
        _row("1001", "ХВС", "10.2026", "456,00"),
        _row("1002", "Отопление", "01.10.2026", "0,00", phone="нет"),
        ["Итого", "", "", "", "", "", "", "", f"12{NBSP}801,67", ""],
    ])  # fmt: skip
    summary = import_debts(session_factory, path, organisation=unique_name)
    assert summary.rows == 3
    assert summary.total_debt == Decimal("12801.67")
    assert summary.changes.lines_new == 3
    assert summary.changes.accounts_new == 2
    assert [str(w) for w in summary.warnings] == [
        "osv.csv, строка 7, столбец «Телефон»: не телефон: «нет»"
    ]
    assert _lines(session_factory, unique_name) == [
        ("1001", "Отопление", dt.date(2026, 10, 1), Decimal("12345.67")),
        ("1001", "ХВС", dt.date(2026, 10, 1), Decimal("456.00")),
        ("1002", "Отопление", dt.date(2026, 10, 1), Decimal("0.00")),
    ]
    with session_factory() as session:
        account = session.scalars(
            sa.select(Account).where(
                Account.number == "1001", Account.organisation.has(name=unique_name)
            )
        ).one()
        assert account.flat is None
        assert account.building is not None
        assert account.building.address == "г. Тверь, ул. Советская, д. 5"
        assert account.time_zone == "Europe/Moscow"
        phone = session.scalars(sa.select(Phone).where(Phone.account_id == account.id)).one()
        assert (phone.number, phone.kind) == ("+79161234567", PhoneKind.MOBILE)
        person = session.scalars(sa.select(Person).where(Person.account_id == account.id)).one()
        assert phone.person_id == person.id
        assert person.full_name == "Иванова Анна Петровна"


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ","), ("utf-8", "\t"), ("cp1251", "\t"), ("utf-8", ";")],
)
def test_encodings_and_delimiters(
    session_factory: sessionmaker[Session], write_export: WriteExport, unique_name: str,
    encoding: str, delimiter: str,
) -> None:  # fmt: skip
    rows = [HEADER, _row("7", "Электроэнергия", "ноябрь 2026", "1 234,50")]
    path = write_export("x.csv", rows, encoding=encoding, delimiter=delimiter)
    summary = import_debts(session_factory, path, organisation=unique_name)
    assert summary.total_debt == Decimal("1234.50")
    assert _lines(session_factory, unique_name) == [
        ("7", "Электроэнергия", dt.date(2026, 11, 1), Decimal("1234.50"))
    ]


def test_headers_by_synonym_case_and_spacing(
    session_factory: sessionmaker[Session], write_export: WriteExport, unique_name: str
) -> None:
    header = ["  номер  ЛС ", "СОБСТВЕННИК", "Тел.", "услуга", "Месяц", "Долг (руб.)", "Пеня"]
    path = write_export(
        "syn.csv", [header, ["55", "Петров П.П.", "", "ТКО", "09.2026", "10,00", "0,01"]]
    )
    summary = import_debts(session_factory, path, organisation=unique_name)
    assert summary.total_peni == Decimal("0.01")
    assert _lines(session_factory, unique_name) == [
        ("55", "ТКО", dt.date(2026, 9, 1), Decimal("10.00"))
    ]


def test_xlsx_with_typed_cells(
    session_factory: sessionmaker[Session], tmp_path: Path, unique_name: str
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Ведомость"])
    sheet.append(["ЛС", "ФИО", "Услуга", "Период", "Задолженность", "Пени", "Площадь"])
    sheet.append(
        [100200, "Сидоров С.С.", "Капремонт", dt.datetime(2026, 8, 1), 2500.5, 12.25, 54.3]
    )
    path = tmp_path / "export.xlsx"
    workbook.save(path)
    summary = import_debts(session_factory, path, organisation=unique_name)
    assert summary.total_debt == Decimal("2500.50")
    assert _lines(session_factory, unique_name) == [
        ("100200", "Капремонт", dt.date(2026, 8, 1), Decimal("2500.50"))
    ]
    with session_factory() as session:
        area = session.scalars(
            sa.select(Account.area_m2).where(Account.organisation.has(name=unique_name))
        ).one()
    assert area == Decimal("54.30")


def test_a_mapping_file_names_columns_and_gives_constants(
    session_factory: sessionmaker[Session],
    write_export: WriteExport,
    tmp_path: Path,
    unique_name: str,
) -> None:
    path = write_export("odd.csv", [["Код плательщика", "Итого к оплате"], ["A-1", "99,90"]])
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[columns]\naccount = "Код плательщика"\ndebt = "итого к оплате"\n\n'
        '[constants]\nservice = "Домофон"\nperiod = "октябрь 2026"\n',
        encoding="utf-8",
    )
    import_debts(session_factory, path, organisation=unique_name, mapping_path=mapping)
    assert _lines(session_factory, unique_name) == [
        ("A-1", "Домофон", dt.date(2026, 10, 1), Decimal("99.90"))
    ]


def test_reimporting_the_same_file_changes_nothing(
    session_factory: sessionmaker[Session],
    engine: Engine,
    write_export: WriteExport,
    unique_name: str,
) -> None:
    path = write_export("same.csv", [HEADER, _row("1", "ГВС", "ноябрь 2026", "100,00"),
                                     _row("1", "ХВС", "ноябрь 2026", "50,00")])  # fmt: skip
    import_debts(session_factory, path, organisation=unique_name)
    before = book_snapshot(engine)
    again = import_debts(session_factory, path, organisation=unique_name)
    assert book_snapshot(engine) == before
    assert (
        again.changes.lines_new,
        again.changes.lines_changed,
        again.changes.lines_unchanged,
    ) == (0, 0, 2)
    assert (again.changes.accounts_new, again.changes.phones_new, again.changes.people_new) == (
        0,
        0,
        0,
    )


def test_a_changed_amount_updates_one_line_and_is_noted_in_history(
    session_factory: sessionmaker[Session], write_export: WriteExport, unique_name: str
) -> None:
    first = write_export("v1.csv", [HEADER, _row("1", "ГВС", "ноябрь 2026", "100,00")])
    second = write_export("v2.csv", [HEADER, _row("1", "ГВС", "ноябрь 2026", "40,00")])
    import_debts(session_factory, first, organisation=unique_name)
    summary = import_debts(session_factory, second, organisation=unique_name)
    assert (summary.changes.lines_new, summary.changes.lines_changed) == (0, 1)
    assert _lines(session_factory, unique_name) == [
        ("1", "ГВС", dt.date(2026, 11, 1), Decimal("40.00"))
    ]
    with session_factory() as session:
        events = session.scalars(
            sa.select(ContactEvent.summary)
            .join(ContactEvent.account)
            .where(ContactEvent.kind == ContactKind.IMPORT, Account.number == "1",
                   Account.organisation.has(name=unique_name))
            .order_by(ContactEvent.id)
        ).all()  # fmt: skip
    assert events == [
        "Импорт v1.csv: новых строк 1, изменённых 0",
        "Импорт v2.csv: новых строк 0, изменённых 1",
    ]


def test_a_dry_run_reports_and_writes_nothing(
    session_factory: sessionmaker[Session],
    engine: Engine,
    write_export: WriteExport,
    unique_name: str,
) -> None:
    path = write_export("dry.csv", [HEADER, _row("9", "ТКО", "ноябрь 2026", "10,00")])
    before = book_snapshot(engine)
    summary = import_debts(session_factory, path, organisation=unique_name, dry_run=True)
    assert summary.dry_run
    assert (summary.changes.accounts_new, summary.changes.lines_new) == (1, 1)
    assert book_snapshot(engine) == before


def test_every_bad_row_is_reported_and_nothing_is_written(
    session_factory: sessionmaker[Session],
    engine: Engine,
    write_export: WriteExport,
    unique_name: str,
) -> None:
    path = write_export("bad.csv", [
        ["Ведомость"],
        HEADER,
        _row("1", "ГВС", "ноябрь 2026", "100,00"),
        _row("", "ГВС", "ноябрь 2026", "100,00"),
        _row("2", "", "брюмер 2026", "сто"),
        _row("3", "ХВС", "ноябрь 2026", "1,005"),
        ["4", "Иванов", "", "", "ХВС", "ноябрь 2026", "1,00", "0,00", "1,00", "-2,00"],
        _row("1", "ГВС", "11.2026", "7,00"),
    ])  # fmt: skip
    before = book_snapshot(engine)
    with pytest.raises(RowsRejected) as err:
        import_debts(session_factory, path, organisation=unique_name)
    assert [str(p) for p in err.value.problems] == [
        "bad.csv, строка 4, столбец «Лицевой счет»: пустое значение",
        "bad.csv, строка 5, столбец «Услуга»: пустое значение",
        "bad.csv, строка 5, столбец «Период»: не период: «брюмер 2026» (ожидается «ноябрь 2026» или «11.2026»)",
        "bad.csv, строка 5, столбец «Сальдо конечное»: не сумма: «сто»",
        "bad.csv, строка 5, столбец «Начислено»: не сумма: «сто»",
        "bad.csv, строка 6, столбец «Сальдо конечное»: больше двух знаков после запятой: «1,005»",
        "bad.csv, строка 6, столбец «Начислено»: больше двух знаков после запятой: «1,005»",
        "bad.csv, строка 7, столбец «Пени»: пени не может быть отрицательной: -2.00",
        "bad.csv, строка 8, столбец «Лицевой счет»: повторяет строку 3 (тот же лицевой счёт, услуга и период)",
    ]
    assert err.value.total == 9
    assert str(err.value) == "ошибок в файле: 9; ничего не записано"
    assert book_snapshot(engine) == before


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["Ведомость"], ["ФИО", "Услуга"], ["Иванов", "ХВС"]],
         "h.csv: не найдена строка заголовка в первых 30 строках; нет столбцов: Лицевой счёт; Период; "
         "Задолженность или Начислено + Оплачено (переименуйте столбцы или укажите их в файле "
         "соответствий --mapping)"),
        ([["ЛС", "Услуга", "Период", "Долг", "Задолженность"], ["1", "ХВС", "11.2026", "1", "1"]],
         "h.csv, строка 1: столбцы «Долг» и «Задолженность» оба означают «Задолженность»; укажите "
         "нужный в файле соответствий (--mapping)"),
        ([["ЛС", "Услуга", "Период", "Долг"]], "h.csv: под заголовком нет ни одной строки с данными"),
    ],
)  # fmt: skip
def test_a_file_without_a_usable_header(
    session_factory: sessionmaker[Session], engine: Engine, write_export: WriteExport,
    unique_name: str, rows: list[list[str]], message: str,
) -> None:  # fmt: skip
    path = write_export("h.csv", rows)
    before = book_snapshot(engine)
    with pytest.raises(BadSource) as err:
        import_debts(session_factory, path, organisation=unique_name)
    assert str(err.value) == message
    assert book_snapshot(engine) == before


def test_an_empty_file(
    session_factory: sessionmaker[Session], tmp_path: Path, unique_name: str
) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(BadSource, match="^empty.csv: файл пуст$"):
        import_debts(session_factory, path, organisation=unique_name)


def test_bytes_that_are_neither_utf8_nor_cp1251_later_in_the_file(
    session_factory: sessionmaker[Session], engine: Engine, tmp_path: Path, unique_name: str
) -> None:
    good = "ЛС;Услуга;Период;Долг\r\n" + "1;ХВС;11.2026;1,00\r\n" * 5000
    path = tmp_path / "mixed.csv"
    # UTF-8 for the first 64 KiB, then a cp1251 line: the file's encoding lies.
    path.write_bytes(
        good.encode("utf-8")[:70_000].rsplit(b"\r\n", 1)[0]
        + b"\r\n2;\xcf\xe5\xed\xe8;11.2026;1,00\r\n"
    )
    before = book_snapshot(engine)
    with pytest.raises(BadSource) as err:
        import_debts(session_factory, path, organisation=unique_name)
    assert "не читается в кодировке utf-8; сохраните файл в UTF-8 или cp1251" in str(err.value)
    assert str(err.value).startswith("mixed.csv, строка ")
    assert book_snapshot(engine) == before


def test_a_bad_mapping_file(
    session_factory: sessionmaker[Session],
    write_export: WriteExport,
    tmp_path: Path,
    unique_name: str,
) -> None:
    path = write_export("m.csv", [HEADER, _row("1", "ГВС", "ноябрь 2026", "1,00")])
    mapping = tmp_path / "bad.toml"
    mapping.write_text('[columns]\nsaldo = "Сальдо"\n', encoding="utf-8")
    with pytest.raises(BadSource) as err:
        import_debts(session_factory, path, organisation=unique_name, mapping_path=mapping)
    assert str(err.value).startswith(
        "bad.toml: [columns] saldo: неизвестное поле; известны account, address,"
    )
    mapping.write_text('[columns]\naccount = "Номер абонента"\n', encoding="utf-8")
    with pytest.raises(BadSource) as err:
        import_debts(session_factory, path, organisation=unique_name, mapping_path=mapping)
    assert str(err.value) == "m.csv: нет столбца «Номер абонента» (поле account из bad.toml)"


@pytest.mark.parametrize(
    ("tail", "rest", "says"),
    [
        ("7002;Петров Пётр;г. Тверь, ул. Советская, д. 5, кв. 13;;Отопление;10.2026;500,00;", "0,00;500,00;0,00\n", "8 столбцов из 10"),
        ("7002;Петров Пётр;г. Тверь, ул. Советская, д. 5, кв. 13;;Отопление;10.2026;500,00;0,00;500,00;", "0,00\n", "оборвана после разделителя"),
    ],
)  # fmt: skip
def test_a_file_cut_short_is_refused_and_nothing_is_written(
    session_factory: sessionmaker[Session], engine: Engine, unique_name: str, tmp_path: Path,
    tail: str, rest: str, says: str,
) -> None:  # fmt: skip
    """Cut after a separator, the last row's пени (or more) would import as 0 (issue 14, item 14)."""
    whole = (
        ";".join(HEADER) + "\n" + ";".join(_row("7001", "Отопление", "10.2026", "4480,50")) + "\n"
    )
    path = tmp_path / "cut.csv"
    path.write_text(whole + tail, encoding="utf-8")
    before = book_snapshot(engine)
    with pytest.raises(BadSource, match=says) as refused:
        import_debts(session_factory, path, organisation=unique_name)
    assert "строка 3" in str(refused.value)
    assert book_snapshot(engine) == before
    path.write_text(whole + tail + rest, encoding="utf-8")  # the same file, whole
    assert import_debts(session_factory, path, organisation=unique_name).rows == 2


def test_a_total_line_that_does_not_match_the_rows_is_refused(
    session_factory: sessionmaker[Session], engine: Engine, write_export: WriteExport,
    unique_name: str,
) -> None:  # fmt: skip
    """A file that lost rows says so in its own «Итого» line (issue 14, item 14)."""
    path = write_export("osv.csv", [
        HEADER,
        _row("1001", "Отопление", "10.2026", "1000,00"),
        _row("1001", "ХВС", "10.2026", "456,00"),
        ["Итого", "", "", "", "", "", "", "", f"1{NBSP}956,00", ""],
    ])  # fmt: skip
    before = book_snapshot(engine)
    with pytest.raises(BadSource, match=r"строка 4 \(«Итого»\).*1956\.00.*1456\.00"):
        import_debts(session_factory, path, organisation=unique_name)
    assert book_snapshot(engine) == before
