"""Campaigns as the pages show them: list with progress, preview of a filter, attempts.

Creating, starting, pausing and stopping go through :mod:`dialer.campaigns.service`
(the campaigns part's functions); this module adds the read side the pages need and the
organisation checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.campaigns.filters import AccountFilter, select_debtors
from storage.models import Account, Organisation, Phone, PhoneStatus
from storage.models.campaigns import (
    OPEN_ATTEMPT_STATUSES,
    Attempt,
    Call,
    Campaign,
    EscalationCase,
    Promise,
    StopFlagRecord,
)
from web.access import Principal
from web.errors import NotFound

__all__ = [
    "AttemptRow",
    "CampaignPreview",
    "CampaignProgress",
    "campaign_attempts",
    "campaign_progress",
    "list_campaigns",
    "preview_campaign",
    "visible_campaign",
]

ZERO = Decimal("0.00")


def _money(value: object) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class CampaignPreview:
    """What a filter would select: accounts, total debt, and who cannot be called and why."""

    accounts: int
    total_debt: Decimal
    callable_now: int
    left_out: dict[str, int]


def preview_campaign(
    session: Session, organisation_id: int, account_filter: AccountFilter
) -> CampaignPreview:
    """Count the filter's accounts and the reasons some of them cannot be called now.

    Reasons: ``no_phone`` (no number that may be dialled), ``stop_flag`` (do-not-call,
    bankrupt, deceased…), ``already_active`` (another campaign's open attempt). Calling
    hours are judged per attempt at claim time by the worker, not here.
    """
    debtors = select_debtors(organisation_id, account_filter).subquery()
    has_phone = sa.exists().where(
        Phone.account_id == debtors.c.id,
        Phone.status == PhoneStatus.OK,
        Phone.former_at.is_(None),
    )
    stopped = sa.exists().where(
        StopFlagRecord.account_id == debtors.c.id, StopFlagRecord.lifted_at.is_(None)
    )
    active = sa.exists().where(
        Attempt.account_id == debtors.c.id, Attempt.status.in_(OPEN_ATTEMPT_STATUSES)
    )
    row = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(debtors.c.debt),
            sa.func.sum(sa.case((~has_phone, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(has_phone, stopped), 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(has_phone, ~stopped, active), 1), else_=0)),
        ).select_from(debtors)
    ).one()
    accounts = int(row[0] or 0)
    left_out = {
        "no_phone": int(row[2] or 0),
        "stop_flag": int(row[3] or 0),
        "already_active": int(row[4] or 0),
    }
    return CampaignPreview(
        accounts=accounts,
        total_debt=_money(row[1]),
        callable_now=accounts - sum(left_out.values()),
        left_out=left_out,
    )


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """A campaign and its live figures."""

    id: int
    organisation_id: int
    organisation: str
    name: str
    status: str
    script: str
    starts_on: dt.date
    ends_on: dt.date | None
    attempts: int
    pending: int
    dialled: int
    answered: int
    conversations: int
    messages: int
    promises: int
    promised_sum: Decimal
    escalations: int


def visible_campaign(session: Session, principal: Principal, campaign_id: int) -> Campaign:
    """The campaign if the principal may see its organisation; else "not found"."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not principal.sees_organisation(campaign.organisation_id):
        raise NotFound("кампания не найдена")
    return campaign


def campaign_progress(session: Session, campaign: Campaign) -> CampaignProgress:
    """The live figures of one campaign (set-based counts)."""
    attempts = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((Attempt.status == "pending", 1), else_=0)),
        ).where(Attempt.campaign_id == campaign.id)
    ).one()
    calls = session.execute(
        sa.select(
            sa.func.count(Call.id),
            sa.func.count(Call.answered_at),
            sa.func.sum(sa.case((Call.counted_as == "conversation", 1), else_=0)),
            sa.func.sum(sa.case((Call.counted_as == "message", 1), else_=0)),
        )
        .join(Attempt, Attempt.id == Call.attempt_id)
        .where(Attempt.campaign_id == campaign.id)
    ).one()
    promises = session.execute(
        sa.select(sa.func.count(Promise.id), sa.func.sum(Promise.amount))
        .join(Call, Call.id == Promise.call_id)
        .join(Attempt, Attempt.id == Call.attempt_id)
        .where(Attempt.campaign_id == campaign.id)
    ).one()
    escalations = session.scalar(
        sa.select(sa.func.count(sa.distinct(EscalationCase.id)))
        .join(Call, Call.id == EscalationCase.last_call_id)
        .join(Attempt, Attempt.id == Call.attempt_id)
        .where(Attempt.campaign_id == campaign.id)
    )
    organisation = session.get(Organisation, campaign.organisation_id)
    return CampaignProgress(
        id=campaign.id,
        organisation_id=campaign.organisation_id,
        organisation=organisation.name if organisation is not None else "",
        name=campaign.name,
        status=str(campaign.status),
        script=campaign.script,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        attempts=int(attempts[0] or 0),
        pending=int(attempts[1] or 0),
        dialled=int(calls[0] or 0),
        answered=int(calls[1] or 0),
        conversations=int(calls[2] or 0),
        messages=int(calls[3] or 0),
        promises=int(promises[0] or 0),
        promised_sum=_money(promises[1]),
        escalations=int(escalations or 0),
    )


def list_campaigns(session: Session, principal: Principal) -> list[CampaignProgress]:
    """Every campaign the principal may see, newest first, with progress."""
    query = sa.select(Campaign).order_by(Campaign.id.desc())
    if principal.organisation_ids is not None:
        query = query.where(Campaign.organisation_id.in_(sorted(principal.organisation_ids)))
    return [campaign_progress(session, c) for c in session.scalars(query.limit(200))]


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One attempt of a campaign."""

    id: int
    account_id: int
    account_number: str
    status: str
    purpose: str
    number: int
    tries: int
    due_at: dt.datetime
    debt_snapshot: Decimal
    outcome: str | None
    reason: str | None
    finished_at: dt.datetime | None


def campaign_attempts(
    session: Session, campaign: Campaign, *, limit: int = 200, offset: int = 0
) -> Sequence[AttemptRow]:
    """A page of the campaign's attempts, most recent first."""
    rows = session.execute(
        sa.select(Attempt, Account.number)
        .join(Account, Account.id == Attempt.account_id)
        .where(Attempt.campaign_id == campaign.id)
        .order_by(Attempt.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        AttemptRow(
            id=a.id,
            account_id=a.account_id,
            account_number=number,
            status=str(a.status),
            purpose=str(a.purpose),
            number=a.number,
            tries=a.tries,
            due_at=a.due_at,
            debt_snapshot=a.debt_snapshot,
            outcome=a.outcome,
            reason=a.reason,
            finished_at=a.finished_at,
        )
        for a, number in rows
    ]
