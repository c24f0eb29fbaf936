"""Segments and debtor types in the campaign filter: SQL equals the Python classification,
the filter narrows the queue, every attempt keeps its segment, and a bad field is named."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from dialer.campaigns.errors import CampaignConfigError
from dialer.campaigns.filters import FILTER_SEGMENTS, AccountFilter, select_debtors
from dialer.campaigns.queue import follow_up
from dialer.segments import (
    DebtorType,
    Segment,
    SegmentLines,
    save_lines,
    segment_accounts,
    segment_columns,
)
from napomni.cli import cli
from napomni.commands.campaign import campaign as campaign_group
from storage.models import Account, Organisation, Phone
from storage.models.campaigns import Attempt, AttemptPurpose, Campaign
from storage.models.ledger import DebtLine
from tests.dialer.campaigns.builders import Book, started_campaign
from web.campaigns import preview_campaign
from web.errors import BadInput
from web.views.campaigns import parse_campaign_form

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
SERVICES = ("Отопление", "Содержание жилья", "Вода")
FIRST_MONTH = dt.date(2025, 5, 1)

# One account's debt book: (service, month offset from FIRST_MONTH, paid, debt) lines.
Line = tuple[str, int, Decimal, Decimal]

money = st.one_of(
    st.just(Decimal("0.00")),
    st.decimals(min_value=Decimal("-300"), max_value=Decimal("30000"), places=2),
)
lines_of_one_account = st.lists(
    st.tuples(st.sampled_from(SERVICES), st.integers(0, 17), money, money),
    min_size=1,
    max_size=12,
    unique_by=lambda line: (line[0], line[1]),
)


def _month(offset: int) -> dt.date:
    index = FIRST_MONTH.month - 1 + offset
    return dt.date(FIRST_MONTH.year + index // 12, index % 12 + 1, 1)


def _book(
    factory: sessionmaker[Session],
    accounts: Sequence[Sequence[Line]],
    *,
    lines: SegmentLines | None = None,
    name: str | None = None,
) -> Book:
    """An organisation whose accounts have exactly these debt lines, one phone each."""
    with factory.begin() as session:
        organisation = Organisation(name=name or f"segments-{uuid.uuid4().hex[:10]}")
        session.add(organisation)
        session.flush()
        if lines is not None:
            save_lines(session, organisation.id, lines)
        ids: list[int] = []
        for index, history in enumerate(accounts):
            account = Account(
                organisation_id=organisation.id,
                number=f"SEG-{index:04d}",
                address=f"ул. Сегментная, д. {index}",
                time_zone="Europe/Moscow",
            )
            session.add(account)
            session.flush()
            session.add(
                Phone(account_id=account.id, number=f"+7901{organisation.id:05d}{index:03d}")
            )
            for service, offset, paid, debt in history:
                session.add(
                    DebtLine(
                        organisation_id=organisation.id, account_id=account.id, service=service,
                        period=_month(offset), charged=paid + max(debt, Decimal("0")),
                        paid=paid, debt=debt,
                    )
                )  # fmt: skip
            ids.append(account.id)
        return Book(organisation.name, organisation.id, tuple(ids), {})


def _sql_segments(session: Session, organisation_id: int, as_of: dt.date) -> dict[int, tuple]:
    found = segment_columns(organisation_id, as_of)
    return {
        int(row[0]): (row[1], row[2])
        for row in session.execute(
            sa.select(found.c.account_id, found.c.segment, found.c.debtor_type)
        )
    }


def _python_segments(session: Session, organisation_id: int, as_of: dt.date) -> dict[int, tuple]:
    return {
        s.account_id: (s.segment.value, s.debtor_type.value if s.debtor_type else None)
        for s in segment_accounts(session, organisation_id, as_of)
    }


line_settings = st.one_of(
    st.none(),
    st.builds(
        lambda yd, extra, ym, more_m, yb, more_b: SegmentLines(
            yellow_debt=yd,
            yellow_months=ym,
            yellow_bills=yb,
            red_debt=yd + extra,
            red_months=ym + more_m,
            red_bills=yb + more_b,
        ),  # fmt: skip
        st.decimals(min_value=Decimal("0"), max_value=Decimal("40000"), places=2),
        st.decimals(min_value=Decimal("0"), max_value=Decimal("40000"), places=2),
        st.integers(0, 6),
        st.integers(0, 6),
        st.integers(0, 6),
        st.integers(0, 6),
    ),  # fmt: skip
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    accounts=st.lists(lines_of_one_account, min_size=1, max_size=6),
    lines=line_settings,
    as_of=st.dates(min_value=dt.date(2025, 6, 1), max_value=dt.date(2027, 3, 1)),
)
def test_sql_segments_equal_the_python_classification(
    session_factory: sessionmaker[Session],
    accounts: list[list[Line]],
    lines: SegmentLines | None,
    as_of: dt.date,
) -> None:
    book = _book(session_factory, accounts, lines=lines)
    with session_factory() as session:
        expected = _python_segments(session, book.organisation_id, as_of)
        assert _sql_segments(session, book.organisation_id, as_of) == expected


def test_months_overdue_bound_turns_on_the_payment_day(
    session_factory: sessionmaker[Session],
) -> None:
    # One unpaid month (September 2026) is due on 10 October; three months overdue from
    # 11 January 2027 (the default red line), not on the 10th.
    book = _book(session_factory, [[("Вода", 16, Decimal("0"), Decimal("100.00"))]])
    account = book.account_ids[0]
    with session_factory() as session:
        for day, segment in ((dt.date(2027, 1, 10), "yellow"), (dt.date(2027, 1, 11), "red")):
            assert _sql_segments(session, book.organisation_id, day)[account][0] == segment
            assert _python_segments(session, book.organisation_id, day)[account][0] == segment


def _mixed_book(factory: sessionmaker[Session], name: str) -> Book:
    """Four accounts: green first-timer, yellow single service, red chronic, red other."""
    last = 17  # October 2026
    return _book(
        factory,
        [
            [("Вода", last, Decimal("0"), Decimal("300.00")),
             ("Вода", last - 1, Decimal("300.00"), Decimal("0"))],
            [("Вода", last, Decimal("0"), Decimal("400.00")),
             ("Вода", last - 1, Decimal("0"), Decimal("400.00"))],
            [(s, m, Decimal("0"), Decimal("2000.00")) for s in SERVICES[:2] for m in range(10, 18)],
            [("Вода", last, Decimal("0"), Decimal("60000.00")),
             ("Отопление", last - 1, Decimal("0"), Decimal("100.00"))],
        ],
        name=name,
    )  # fmt: skip


EXPECTED_MIXED = [
    ("green", "first_time"),
    ("yellow", "single_service"),
    ("red", "chronic"),
    ("red", "other"),
]


def _attempts(factory: sessionmaker[Session], campaign_id: int) -> dict[int, tuple]:
    with factory() as session:
        rows = session.execute(
            sa.select(Attempt.account_id, Attempt.segment, Attempt.debtor_type).where(
                Attempt.campaign_id == campaign_id
            )
        )
        return {int(a): (s, t) for a, s, t in rows}


def test_start_snapshots_segments_and_the_filter_narrows_by_them(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = _mixed_book(session_factory, unique_name)
    ids = book.account_ids
    with session_factory() as session:
        assert _python_segments(session, book.organisation_id, NOW.date()) == dict(
            zip(ids, EXPECTED_MIXED, strict=True)
        )
    everyone = started_campaign(session_factory, book, NOW, name=f"{unique_name}-all")
    assert _attempts(session_factory, everyone) == dict(zip(ids, EXPECTED_MIXED, strict=True))
    # Follow-ups of a chain keep the segment the campaign chose the account by.
    with session_factory.begin() as session:
        first = session.scalars(sa.select(Attempt).where(Attempt.campaign_id == everyone)).first()
        assert first is not None
        later = follow_up(first, AttemptPurpose.REMINDER, "reminder", NOW)
        assert (later.segment, later.debtor_type) == (first.segment, first.debtor_type)
        session.execute(sa.update(Attempt).where(Attempt.campaign_id == everyone).values(
            status="cancelled", reason="test"))  # fmt: skip

    red = started_campaign(
        session_factory, book, NOW, name=f"{unique_name}-red",
        account_filter=AccountFilter(segments=(Segment.RED,)),
    )  # fmt: skip
    assert set(_attempts(session_factory, red)) == {ids[2], ids[3]}
    with session_factory.begin() as session:
        session.execute(sa.update(Attempt).where(Attempt.campaign_id == red).values(
            status="cancelled", reason="test"))  # fmt: skip

    picky = started_campaign(
        session_factory, book, NOW, name=f"{unique_name}-picky",
        account_filter=AccountFilter(
            segments=(Segment.GREEN, Segment.RED),
            debtor_types=(DebtorType.FIRST_TIME, DebtorType.CHRONIC),
        ),
    )  # fmt: skip
    assert _attempts(session_factory, picky) == {
        ids[0]: ("green", "first_time"),
        ids[2]: ("red", "chronic"),
    }


def test_segments_follow_the_organisations_own_lines(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = _mixed_book(session_factory, unique_name)
    strict = SegmentLines(
        yellow_debt=Decimal("100.00"), yellow_months=1, yellow_bills=1,
        red_debt=Decimal("500.00"), red_months=2, red_bills=2,
    )  # fmt: skip
    with session_factory.begin() as session:
        save_lines(session, book.organisation_id, strict)
    # The web preview's query: only the filter, no session, the organisation's lines in SQL.
    with session_factory() as session:
        chosen = session.execute(
            select_debtors(
                book.organisation_id, AccountFilter(segments=(Segment.RED,)), as_of=NOW.date()
            )
        ).all()
    assert {row[0] for row in chosen} == {book.account_ids[1], *book.account_ids[2:]}
    assert {row[3] for row in chosen} == {"red"}


def test_filter_json_round_trip_and_bad_fields_named() -> None:
    chosen = AccountFilter(
        building_ids=(3,), service="Вода", min_debt=Decimal("100.00"), min_months_overdue=2,
        segments=(Segment.YELLOW, Segment.RED), debtor_types=(DebtorType.CHRONIC,),
    )  # fmt: skip
    assert AccountFilter.from_json(chosen.to_json()) == chosen
    assert AccountFilter.from_json({}) == AccountFilter()
    with pytest.raises(CampaignConfigError, match="segments: 'purple' — допустимо: clear"):
        AccountFilter.from_json({"segments": ["red", "purple"]})
    with pytest.raises(CampaignConfigError, match="segments: 'clear' — выберите из green"):
        AccountFilter.from_json({"segments": ["clear"]})
    with pytest.raises(CampaignConfigError, match="debtor_types: 'lazy'"):
        AccountFilter.from_json({"debtor_types": ["lazy"]})
    with pytest.raises(CampaignConfigError, match="debtor_types: ожидается список"):
        AccountFilter.from_json({"debtor_types": "chronic"})
    with pytest.raises(CampaignConfigError, match="min_debt: 'много'"):
        AccountFilter.from_json({"min_debt": "много"})


def test_cli_creates_a_campaign_over_segments(database_url: str, unique_name: str) -> None:
    options = {p.name: p for p in campaign_group.commands["create"].params}
    segment_choice, type_choice = options["segments"].type, options["debtor_types"].type
    assert isinstance(segment_choice, click.Choice)
    assert isinstance(type_choice, click.Choice)
    assert list(segment_choice.choices) == [s.value for s in FILTER_SEGMENTS]
    assert list(type_choice.choices) == [t.value for t in DebtorType]

    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.insert(Organisation).values(name=unique_name))
    engine.dispose()
    base = ["--database-url", database_url, "campaign", "create", f"{unique_name}-c",
            "-o", unique_name, "--script", "soft_reminder"]  # fmt: skip
    result = CliRunner().invoke(
        cli, [*base, "--segment", "red", "--segment", "yellow", "--debtor-type", "chronic"]
    )
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        stored = connection.execute(
            sa.select(Campaign.account_filter).where(Campaign.name == f"{unique_name}-c")
        ).scalar_one()
    engine.dispose()
    assert AccountFilter.from_json(stored).segments == (Segment.RED, Segment.YELLOW)
    assert AccountFilter.from_json(stored).debtor_types == (DebtorType.CHRONIC,)
    wrong = CliRunner().invoke(cli, [*base, "--segment", "purple"])
    assert wrong.exit_code == 2
    assert "--segment" in wrong.output


def test_the_web_preview_counts_only_the_chosen_segment(
    session_factory: sessionmaker[Session], unique_name: str
) -> None:
    book = _mixed_book(session_factory, unique_name)
    form = parse_campaign_form(
        {"organisation_id": str(book.organisation_id), "name": "n", "segment": "red",
         "debtor_type": "chronic", "min_debt": "0.01"},
        today=NOW.date(),
    )  # fmt: skip
    assert form.account_filter.segments == (Segment.RED,)
    assert form.account_filter.debtor_types == (DebtorType.CHRONIC,)
    with session_factory() as session:
        preview = preview_campaign(session, book.organisation_id, form.account_filter)
        everyone = preview_campaign(session, book.organisation_id, AccountFilter())
    assert (preview.accounts, everyone.accounts) == (1, 4)
    with pytest.raises(BadInput, match="segments: 'blue'"):
        parse_campaign_form(
            {"organisation_id": "1", "name": "n", "segment": "blue"}, today=NOW.date()
        )


def test_cli_refuses_a_script_outside_the_library(database_url: str, unique_name: str) -> None:
    # Issue 14, item 10: `--script ../../../../var/evil` was stored and the worker loaded it.
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.insert(Organisation).values(name=unique_name))
    base = ["--database-url", database_url, "campaign", "create", f"{unique_name}-c",
            "-o", unique_name]  # fmt: skip
    for script in ("../../../../var/evil", "reminder"):
        result = CliRunner().invoke(cli, [*base, "--script", script])
        assert result.exit_code != 0, script
    result = CliRunner().invoke(cli, [*base, "--script", "warning", "--thanks-script", "../x"])
    assert result.exit_code != 0
    assert "thanks_script" in result.output
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(sa.func.count()).where(Campaign.name == f"{unique_name}-c")
        ).scalar_one()
    engine.dispose()
    assert found == 0
