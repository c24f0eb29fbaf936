"""A campaign as it runs: progress, calls in progress with their transcript, today's
figures and why the rest are not being called now.

Read from storage alone (the worker writes each turn as it happens, in its own process),
so the page and its Server-Sent Events stream see the same thing from any web process.
The "why not now" part is the dry run of :func:`dialer.campaigns.planning.plan_campaign`,
the same classification the worker's claim uses.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.campaigns.planning import plan_campaign
from dialer.compliance import ProductionCalendar
from storage.models import Account
from storage.models.campaigns import (
    Attempt,
    AttemptStatus,
    Call,
    Campaign,
    EscalationCase,
    Promise,
    Turn,
)
from web.campaigns import CampaignProgress, campaign_progress
from web.pages import TEAM_ZONE

__all__ = [
    "LEFT_OUT_TITLES",
    "LiveCall",
    "LiveLine",
    "LiveSnapshot",
    "TodayFigures",
    "live_snapshot",
    "why_not_now",
]

# The page shows the end of a long conversation, not all of it.
LINES_PER_CALL = 30
CALLS_SHOWN = 20

LEFT_OUT_TITLES: dict[str, str] = {
    "campaign_inactive": "кампания не запущена или на паузе",
    "outside_schedule": "вне дат кампании",
    "in_flight": "звоним сейчас",
    "not_due": "повторный звонок позже",
    "stop_flag": "запрет контакта (отказ, банкротство, спор…)",
    "no_phone": "нет телефона, по которому можно звонить",
    "paid": "оплачено",
    "hours": "вне разрешённых часов (230-ФЗ, по местному времени должника)",
    "cap": "исчерпан лимит контактов (230-ФЗ: в день, неделю, месяц)",
    "already_active": "уже в работе в другой кампании",
    "pacing": "ждёт свободной линии (лимит одновременных звонков)",
    "finished": "обзвон завершён",
}


@dataclass(frozen=True, slots=True)
class LiveLine:
    """One line of a transcript: who said it and what."""

    speaker: str  # "robot" or "debtor"
    text: str


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call in progress and its transcript so far."""

    call_id: int
    account_id: int
    account_number: str
    started_at: dt.datetime
    answered: bool
    lines: tuple[LiveLine, ...]


@dataclass(frozen=True, slots=True)
class TodayFigures:
    """What the campaign did since midnight in the team's zone."""

    calls: int
    answered: int
    conversations: int
    promises: int
    promised_sum: Decimal
    cases: int


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Everything the live view shows, as of one moment."""

    campaign_id: int
    status: str
    planned: int
    finished: int
    in_progress: int
    percent_done: int  # finished of planned, whole percent
    today: TodayFigures
    totals: CampaignProgress  # the campaign's figures since it began (the page's top row)
    calls: tuple[LiveCall, ...]
    left_out: dict[str, int]


def _progress(session: Session, campaign_id: int) -> tuple[int, int, int]:
    finished = (AttemptStatus.DONE.value, AttemptStatus.CANCELLED.value)
    row = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((Attempt.status.in_(finished), 1), else_=0)),
            sa.func.sum(sa.case((Attempt.status == AttemptStatus.CLAIMED.value, 1), else_=0)),
        ).where(Attempt.campaign_id == campaign_id)
    ).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def _today(session: Session, campaign_id: int, since: dt.datetime) -> TodayFigures:
    calls_of_campaign = (
        sa.select(Call.id)
        .join(Attempt, Attempt.id == Call.attempt_id)
        .where(Attempt.campaign_id == campaign_id)
    )
    calls = session.execute(
        sa.select(
            sa.func.count(Call.id),
            sa.func.count(Call.answered_at),
            sa.func.sum(sa.case((Call.counted_as == "conversation", 1), else_=0)),
        )
        .join(Attempt, Attempt.id == Call.attempt_id)
        .where(Attempt.campaign_id == campaign_id, Call.started_at >= since)
    ).one()
    promises = session.execute(
        sa.select(sa.func.count(Promise.id), sa.func.sum(Promise.amount)).where(
            Promise.call_id.in_(calls_of_campaign), Promise.made_at >= since
        )
    ).one()
    cases = session.scalar(
        sa.select(sa.func.count(EscalationCase.id)).where(
            EscalationCase.last_call_id.in_(calls_of_campaign), EscalationCase.opened_at >= since
        )
    )
    return TodayFigures(
        calls=int(calls[0] or 0),
        answered=int(calls[1] or 0),
        conversations=int(calls[2] or 0),
        promises=int(promises[0] or 0),
        promised_sum=Decimal(str(promises[1] or 0)).quantize(Decimal("0.01")),
        cases=int(cases or 0),
    )


def _calls_in_progress(session: Session, campaign_id: int) -> list[LiveCall]:
    rows = session.execute(
        sa.select(Call.id, Call.account_id, Account.number, Call.started_at, Call.answered_at)
        .join(Attempt, Attempt.id == Call.attempt_id)
        .join(Account, Account.id == Call.account_id)
        .where(
            Attempt.campaign_id == campaign_id,
            # A worker that died mid-call leaves the call open; its attempt's lease expires
            # and the attempt is returned, so only a claimed attempt's open call is live.
            Attempt.status == AttemptStatus.CLAIMED.value,
            Call.ended_at.is_(None),
        )
        .order_by(Call.started_at, Call.id)
        .limit(CALLS_SHOWN)
    ).all()
    if not rows:
        return []
    lines: dict[int, list[LiveLine]] = defaultdict(list)
    for call_id, robot_text, debtor_text in session.execute(
        sa.select(Turn.call_id, Turn.robot_text, Turn.debtor_text)
        .where(Turn.call_id.in_([row[0] for row in rows]))
        .order_by(Turn.call_id, Turn.index, Turn.id)
    ):
        said = lines[int(call_id)]
        if robot_text:
            said.append(LiveLine("robot", str(robot_text)))
        if debtor_text:
            said.append(LiveLine("debtor", str(debtor_text)))
    return [
        LiveCall(
            call_id=int(call_id),
            account_id=int(account_id),
            account_number=str(number),
            started_at=started_at,
            answered=answered_at is not None,
            lines=tuple(lines[int(call_id)][-LINES_PER_CALL:]),
        )
        for call_id, account_id, number, started_at, answered_at in rows
    ]


def why_not_now(
    session: Session, campaign: Campaign, now: dt.datetime, calendar: ProductionCalendar
) -> dict[str, int]:
    """Accounts of the campaign not being called at ``now``, counted by reason (230-ФЗ hours
    and caps, stop flags, phones, payments, pacing), as the worker's claim would judge them."""
    plan = plan_campaign(session, campaign, now, calendar)
    order = list(LEFT_OUT_TITLES)
    return dict(
        sorted(
            plan.left_out.items(),
            key=lambda item: order.index(item[0]) if item[0] in order else len(order),
        )
    )


def live_snapshot(
    session: Session,
    campaign: Campaign,
    now: dt.datetime,
    *,
    left_out: dict[str, int],
) -> LiveSnapshot:
    """The live view of ``campaign`` at ``now``; ``left_out`` from :func:`why_not_now`
    (the costliest part, so the stream refreshes it less often than the rest)."""
    midnight = dt.datetime.combine(now.astimezone(TEAM_ZONE).date(), dt.time(), tzinfo=TEAM_ZONE)
    planned, finished, in_progress = _progress(session, campaign.id)
    return LiveSnapshot(
        campaign_id=campaign.id,
        status=str(campaign.status),
        planned=planned,
        finished=finished,
        in_progress=in_progress,
        percent_done=0 if planned == 0 else min(100, finished * 100 // planned),
        today=_today(session, campaign.id, midnight.astimezone(dt.UTC)),
        totals=campaign_progress(session, campaign),
        calls=tuple(_calls_in_progress(session, campaign.id)),
        left_out=left_out,
    )
