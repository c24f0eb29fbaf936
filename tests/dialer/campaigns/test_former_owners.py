"""A flat sold between two 1С exports: the old owner is never called for it (issue 14, item 1).

Both files go through the real importer and the campaign through the real claim, on SQLite
and (when configured) PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.queue import claim_attempts
from dialer.campaigns.service import CampaignSpec, create_campaign, start_campaign
from dialer.compliance import ProductionCalendar
from dialer.session.accounts import account_variables
from storage.importing import import_debts
from storage.models import Account, Person, Phone, PhoneSource

HEADER = "Лицевой счет;ФИО;Адрес;Телефон;Услуга;Период;Начислено;Оплачено;Сальдо конечное;Пени"
ADDRESS = "г. Тверь, ул. Советская, д. 5, кв. 12"
NOON = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # 12:00 in Moscow, a Tuesday


def _export(path: Path, owner: str, phone: str, debt: str = "4480,50") -> Path:
    path.write_text(
        f"{HEADER}\n7001;{owner};{ADDRESS};{phone};Отопление;10.2026;{debt};0,00;{debt};0,00\n",
        encoding="utf-8",
    )
    return path


def _state(
    factory: sessionmaker[Session], org: str
) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    with factory() as session:
        account = session.scalars(
            sa.select(Account).where(Account.number == "7001", Account.organisation.has(name=org))
        ).one()
        people = session.execute(
            sa.select(Person.full_name, Person.former_at).where(Person.account_id == account.id)
        ).all()
        phones = session.execute(
            sa.select(Phone.number, Phone.former_at).where(Phone.account_id == account.id)
        ).all()
    return (
        sorted((name, former is not None) for name, former in people),
        sorted((number, former is not None) for number, former in phones),
    )


def test_the_latest_file_decides_who_is_called(
    session_factory: sessionmaker[Session], unique_name: str, tmp_path: Path
) -> None:
    import_debts(
        session_factory,
        _export(tmp_path / "oct.csv", "Петров Пётр Петрович", "8 916 111-11-11"),
        organisation=unique_name,
    )
    summary = import_debts(session_factory, _export(tmp_path / "nov.csv", "Сидорова Мария Ивановна", "8 916 222-22-22"), organisation=unique_name)  # fmt: skip
    assert (summary.changes.people_former, summary.changes.phones_former) == (1, 1)
    assert _state(session_factory, unique_name) == (
        [("Петров Пётр Петрович", True), ("Сидорова Мария Ивановна", False)],
        [("+79161111111", True), ("+79162222222", False)],
    )
    with session_factory.begin() as session:
        campaign = create_campaign(
            session,
            CampaignSpec(
                organisation=unique_name,
                name=f"{unique_name}-c",
                script="soft_reminder",
                starts_on=NOON.date(),
                max_concurrent_calls=5,
                max_new_per_minute=100,
            ),  # fmt: skip
            NOON,
        )
        start_campaign(session, campaign, NOON)
        campaign_id = campaign.id
    with session_factory.begin() as session:
        claimed = claim_attempts(
            session, worker_id="w", now=NOON, want=5, lease=dt.timedelta(minutes=2),
            calendar=ProductionCalendar(), campaign_ids=[campaign_id],
        )  # fmt: skip
        assert [c.phone_number for c in claimed] == ["+79162222222"]
        variables = account_variables(session, claimed[0].account_id, claimed[0].phone_id)
        assert variables.full_name == "Сидорова Мария Ивановна"


def test_a_former_owner_listed_again_is_current_again_and_added_numbers_go_with_their_person(
    session_factory: sessionmaker[Session], unique_name: str, tmp_path: Path
) -> None:
    import_debts(session_factory, _export(tmp_path / "a.csv", "Петров Пётр Петрович", "8 916 111-11-11"), organisation=unique_name)  # fmt: skip
    with session_factory.begin() as session:
        person = session.scalars(
            sa.select(Person).where(Person.account.has(Account.organisation.has(name=unique_name)))
        ).one()
        # A number the debtor gave during a call: not in any 1С file, yet his.
        session.add(Phone(account_id=person.account_id, person_id=person.id,
                          number="+79163333333", source=PhoneSource.CALL))  # fmt: skip
    import_debts(session_factory, _export(tmp_path / "b.csv", "Сидорова Мария Ивановна", "8 916 222-22-22"), organisation=unique_name)  # fmt: skip
    people, phones = _state(session_factory, unique_name)
    assert ("+79163333333", True) in phones  # went with Петров
    import_debts(session_factory, _export(tmp_path / "c.csv", "Петров Пётр Петрович", "8 916 111-11-11"), organisation=unique_name)  # fmt: skip
    people, phones = _state(session_factory, unique_name)
    assert people == [("Петров Пётр Петрович", False), ("Сидорова Мария Ивановна", True)]
    assert ("+79161111111", False) in phones
    assert ("+79162222222", True) in phones


def test_a_file_without_phones_drops_no_number(
    session_factory: sessionmaker[Session], unique_name: str, tmp_path: Path
) -> None:
    import_debts(session_factory, _export(tmp_path / "a.csv", "Петров Пётр Петрович", "8 916 111-11-11"), organisation=unique_name)  # fmt: skip
    import_debts(session_factory, _export(tmp_path / "b.csv", "Петров Пётр Петрович", "", debt="5000,00"), organisation=unique_name)  # fmt: skip
    assert _state(session_factory, unique_name) == (
        [("Петров Пётр Петрович", False)],
        [("+79161111111", False)],
    )
