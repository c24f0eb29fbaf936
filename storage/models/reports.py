"""Summary tables of the managers' reports, kept exact by database triggers.

A report over a million calls must not read a million calls. These tables hold the
counters the reports sum, one row per organisation × UTC day (× building for calls), and
triggers of migration ``0004_report_summaries`` change them in the same transaction as
the call, turn, promise or account row they come from — whichever part writes it — so a
report read from them equals the same report computed from the calls themselves.

Money is summed in kopecks (integers), so SQLite's float NUMERIC never rounds a sum.
``building_key`` is the account's building id, 0 for an account without a building.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.models.campaigns import Call, Promise

__all__ = [
    "REPORT_REASON_TAGS",
    "CallGroup",
    "ReportCallDay",
    "ReportCalledAccount",
    "ReportGroupDay",
    "ReportPromiseDay",
    "reason_column",
]

# The classifier's tags that are reasons for non-payment; one counter column each.
REPORT_REASON_TAGS = (
    "financial_hardship", "dispute_amount", "service_complaint", "wrong_person",
    "unaware", "away", "refusal", "already_paid",
)  # fmt: skip


def reason_column(tag: str) -> str:
    """The column of :class:`ReportCallDay` counting answered calls that heard ``tag``."""
    return f"reason_{tag}"


def _counter() -> Mapped[int]:
    return mapped_column(sa.BigInteger, default=0, server_default=sa.text("0"))


class ReportCallDay(Base):
    """Calls of one organisation, day and building: the funnel and the reasons heard.

    ``reason_<tag>`` counts answered calls with at least one turn tagged ``tag`` (a call
    counts once per reason). ``promises`` and ``promised_kopecks`` are the promises made
    in these calls (the whole debt when no amount was named).
    """

    __tablename__ = "report_call_days"

    organisation_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    building_key: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    dialled: Mapped[int] = _counter()
    answered: Mapped[int] = _counter()
    conversations: Mapped[int] = _counter()
    messages: Mapped[int] = _counter()
    promises: Mapped[int] = _counter()
    promised_kopecks: Mapped[int] = _counter()
    reason_financial_hardship: Mapped[int] = _counter()
    reason_dispute_amount: Mapped[int] = _counter()
    reason_service_complaint: Mapped[int] = _counter()
    reason_wrong_person: Mapped[int] = _counter()
    reason_unaware: Mapped[int] = _counter()
    reason_away: Mapped[int] = _counter()
    reason_refusal: Mapped[int] = _counter()
    reason_already_paid: Mapped[int] = _counter()


class ReportPromiseDay(Base):
    """Promises made on one UTC day for one organisation, by what became of them."""

    __tablename__ = "report_promise_days"

    organisation_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    made: Mapped[int] = _counter()
    made_kopecks: Mapped[int] = _counter()
    kept: Mapped[int] = _counter()
    kept_kopecks: Mapped[int] = _counter()
    broken: Mapped[int] = _counter()
    broken_kopecks: Mapped[int] = _counter()
    waiting: Mapped[int] = _counter()


class CallGroup(Base):
    """A group a call is reported under, fixed when the call is stored.

    ``dimension`` ``service``: one row per service the account owed when the call row was
    written (its debt lines with ``debt > 0`` at that moment), or one row with an empty
    ``label`` when it owed none. ``segment`` and ``debtor_type``: the call's attempt's
    snapshot (``attempts.segment`` / ``debtor_type``, taken when the campaign queued it),
    empty when unknown. Triggers of migration ``0005_reports_by_service`` write them on the
    call's insert, whoever stores the call; later debt changes leave them.
    """

    __tablename__ = "call_groups"

    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(100), primary_key=True)


class ReportGroupDay(Base):
    """Calls of one organisation and day under one group (:class:`CallGroup`): the calls
    and the reasons heard, as in :class:`ReportCallDay`. A call counts under each of its
    groups, so the groups of one dimension may overlap."""

    __tablename__ = "report_group_days"

    organisation_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    dialled: Mapped[int] = _counter()
    answered: Mapped[int] = _counter()
    conversations: Mapped[int] = _counter()
    reason_financial_hardship: Mapped[int] = _counter()
    reason_dispute_amount: Mapped[int] = _counter()
    reason_service_complaint: Mapped[int] = _counter()
    reason_wrong_person: Mapped[int] = _counter()
    reason_unaware: Mapped[int] = _counter()
    reason_away: Mapped[int] = _counter()
    reason_refusal: Mapped[int] = _counter()
    reason_already_paid: Mapped[int] = _counter()


# Indexes the reports and the summary triggers need on the campaigns part's tables
# (created by migration 0004, declared here so the models match the migrations).
# The triggers find a call's promises; paid-after reads conversations by time.
sa.Index("ix_promises_call_id", Promise.call_id)
sa.Index("ix_calls_counted_started_account", Call.counted_as, Call.started_at, Call.account_id)


class ReportCalledAccount(Base):
    """An account that has been called: how many call rows it has (never zero — the row
    goes when its last call does). Paid-after's "not yet called" group is the accounts
    without a row here: an anti-join over one row per account instead of every call.
    Kept by triggers of migration ``0010_collector_promises`` on the call's insert, delete
    and move to another account."""

    __tablename__ = "report_called_accounts"

    account_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    calls: Mapped[int] = _counter()
