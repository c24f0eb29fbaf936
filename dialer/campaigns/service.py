"""Campaign life: create, start (enqueue the accounts), pause, resume, stop, status.

Every function runs in the caller's transaction and is what ``napomni campaign`` and the
web pages call.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.campaigns.errors import CampaignConfigError, CampaignNotFound, CampaignStateError
from dialer.campaigns.filters import AccountFilter, select_debtors
from dialer.campaigns.queue import ensure_ledgers
from scripts.loader import is_script_name, library_script, load_script, shipped_scripts
from storage.debtors import link_debtors
from storage.models import Building, Organisation, Phone, PhoneStatus
from storage.models.campaigns import (
    OPEN_ATTEMPT_STATUSES,
    Attempt,
    AttemptPurpose,
    AttemptStatus,
    Campaign,
    CampaignStatus,
)
from storage.models.ledger import Payment

__all__ = [
    "CampaignSpec",
    "CampaignStatusReport",
    "StartReport",
    "create_campaign",
    "find_campaign",
    "start_campaign",
    "pause_campaign",
    "stop_campaign",
    "campaign_status",
    "check_buildings",
    "library_titles",
]


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What a manager sets when creating a campaign."""

    organisation: str
    name: str
    script: str
    starts_on: dt.date
    ends_on: dt.date | None = None
    account_filter: AccountFilter = field(default_factory=AccountFilter)
    daily_start: dt.time | None = None
    daily_end: dt.time | None = None
    thanks_script: str | None = None
    broken_promise_script: str | None = "broken_promise"
    max_concurrent_calls: int = 8
    max_new_per_minute: int = 30
    retry_no_answer_min: int = 180
    retry_busy_min: int = 30
    retry_failed_min: int = 60
    max_attempts: int = 5
    rereminder_days: int = 7
    paid_share: Decimal = Decimal("0.9")

    def __post_init__(self) -> None:
        for name in (
            "max_concurrent_calls",
            "max_new_per_minute",
            "max_attempts",
            "rereminder_days",
        ):
            if getattr(self, name) < 1:
                raise CampaignConfigError(f"{name}: должно быть не меньше 1")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise CampaignConfigError("ends_on: конец раньше начала")
        if not Decimal("0") < self.paid_share <= Decimal("1"):
            raise CampaignConfigError("paid_share: доля от 0 до 1")
        if (self.daily_start is None) != (self.daily_end is None):
            raise CampaignConfigError("часы кампании: задайте и начало, и конец")


def find_campaign(session: Session, key: str) -> Campaign:
    """A campaign by id or by name (names are unique per organisation)."""
    query = sa.select(Campaign)
    query = (
        query.where(Campaign.id == int(key)) if key.isdigit() else query.where(Campaign.name == key)
    )
    found = session.scalars(query).all()
    if not found:
        raise CampaignNotFound(f"кампания {key!r} не найдена")
    if len(found) > 1:
        raise CampaignNotFound(f"кампаний с именем {key!r} несколько: укажите номер")
    return found[0]


def create_campaign(session: Session, spec: CampaignSpec, now: dt.datetime) -> Campaign:
    """A new campaign in ``draft``; the organisation is found by name."""
    organisation = session.scalars(
        sa.select(Organisation).where(Organisation.name == spec.organisation)
    ).first()
    if organisation is None:
        raise CampaignConfigError(f"организация {spec.organisation!r} не найдена")
    _check_scripts(spec)
    check_buildings(session, organisation.id, spec.account_filter)
    campaign = Campaign(
        organisation_id=organisation.id,
        name=spec.name,
        status=CampaignStatus.DRAFT,
        script=spec.script,
        thanks_script=spec.thanks_script,
        broken_promise_script=spec.broken_promise_script,
        account_filter=spec.account_filter.to_json(),
        starts_on=spec.starts_on,
        ends_on=spec.ends_on,
        daily_start=spec.daily_start,
        daily_end=spec.daily_end,
        max_concurrent_calls=spec.max_concurrent_calls,
        max_new_per_minute=spec.max_new_per_minute,
        retry_no_answer_min=spec.retry_no_answer_min,
        retry_busy_min=spec.retry_busy_min,
        retry_failed_min=spec.retry_failed_min,
        max_attempts=spec.max_attempts,
        rereminder_days=spec.rereminder_days,
        paid_share=spec.paid_share,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    return campaign


@functools.cache
def library_titles() -> tuple[tuple[str, str], ...]:
    """(name, Russian title) of every script a campaign may use, for the campaign form."""
    return tuple((name, load_script(library_script(name)).title) for name in shipped_scripts())


def _check_scripts(spec: CampaignSpec) -> None:
    """Every script the campaign names is one of the library's (the worker loads it by name)."""
    shipped = shipped_scripts()
    named = (
        ("script", spec.script),
        ("thanks_script", spec.thanks_script),
        ("broken_promise_script", spec.broken_promise_script),
    )
    for field_name, name in named:
        if name is not None and (not is_script_name(name) or name not in shipped):
            raise CampaignConfigError(
                f"{field_name}: сценария {name!r} нет в библиотеке — выберите из "
                + ", ".join(shipped)
            )


def check_buildings(session: Session, organisation_id: int, account_filter: AccountFilter) -> None:
    """The filter's buildings are the organisation's own: another's would be an empty filter."""
    wanted = set(account_filter.building_ids)
    if not wanted:
        return
    own = set(
        session.scalars(
            sa.select(Building.id).where(
                Building.id.in_(sorted(wanted)), Building.organisation_id == organisation_id
            )
        )
    )
    if wanted - own:
        raise CampaignConfigError(
            f"фильтр: building_ids: дома {sorted(wanted - own)} нет в этой организации"
        )


@dataclass(frozen=True, slots=True)
class StartReport:
    """What ``start`` did: attempts queued, accounts held by another campaign's open attempt."""

    queued: int
    already_active: int


def start_campaign(session: Session, campaign: Campaign, now: dt.datetime) -> StartReport:
    """Activate the campaign and queue one attempt per matching account (set-based).

    Accounts with an open attempt in another campaign are recorded as cancelled with the
    reason ``already_active`` (starting again later picks them up). Also resumes a paused
    campaign.
    """
    if campaign.status == CampaignStatus.STOPPED:
        raise CampaignStateError(f"кампания {campaign.name!r} остановлена; создайте новую")
    # One ledger per person: link accounts of the same debtor before their attempts copy it.
    link_debtors(session, campaign.organisation_id)
    # Each attempt keeps the account's segment and debtor type of today (reports group by it).
    debtors = select_debtors(
        campaign.organisation_id,
        AccountFilter.from_json(campaign.account_filter),
        as_of=now.date(),
        with_segments=True,
    ).subquery()
    seen = sa.func.coalesce(sa.select(sa.func.max(Payment.id)).scalar_subquery(), 0)
    first_phone = (
        sa.select(sa.func.min(Phone.id))
        .where(
            Phone.account_id == debtors.c.id,
            Phone.status == PhoneStatus.OK,
            Phone.former_at.is_(None),
        )
        .scalar_subquery()
    )
    open_elsewhere = sa.exists().where(
        Attempt.account_id == debtors.c.id, Attempt.status.in_(OPEN_ATTEMPT_STATUSES)
    )
    here_already = sa.exists().where(
        Attempt.account_id == debtors.c.id,
        Attempt.campaign_id == campaign.id,
        sa.or_(Attempt.status != AttemptStatus.CANCELLED, Attempt.reason != "already_active"),
    )
    columns = ["campaign_id", "account_id", "purpose", "script", "status", "number", "tries",
               "due_at", "debt_snapshot", "debt_as_of", "payments_seen_id", "time_zone",
               "phone_id", "claims", "reason", "created_at", "segment", "debtor_type"]  # fmt: skip
    when = sa.literal(now, type_=Attempt.due_at.type)
    # One pass over the debtors (their segments are the costly part): an account another
    # campaign holds is recorded cancelled, the rest pending. Each row's conditions read only
    # its own account, so the rows of this statement cannot affect each other.
    status = sa.case(
        (open_elsewhere, AttemptStatus.CANCELLED.value), else_=AttemptStatus.PENDING.value
    )
    reason = sa.case((open_elsewhere, "already_active"), else_=sa.null())
    before = session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(Attempt.id), 0)).where(
            Attempt.campaign_id == campaign.id
        )
    )
    session.execute(
        sa.insert(Attempt).from_select(
            columns,
            sa.select(
                sa.literal(campaign.id), debtors.c.id, sa.literal(AttemptPurpose.REMINDER.value),
                sa.literal(campaign.script), status, sa.literal(1), sa.literal(0), when,
                debtors.c.debt, when, seen, debtors.c.time_zone, first_phone, sa.literal(0),
                reason, when, debtors.c.segment, debtors.c.debtor_type,
            ).where(~here_already),
        )
    )  # fmt: skip
    # Counted afterwards: PostgreSQL reports no row count for INSERT … SELECT here.
    counts = {
        str(status): int(count)
        for status, count in session.execute(
            sa.select(Attempt.status, sa.func.count())
            .where(Attempt.campaign_id == campaign.id, Attempt.id > (before or 0))
            .group_by(Attempt.status)
        )
    }
    queued = counts.get(AttemptStatus.PENDING.value, 0)
    held = counts.get(AttemptStatus.CANCELLED.value, 0)
    ensure_ledgers(
        session,
        sa.select(Attempt.account_id).where(
            Attempt.campaign_id == campaign.id, Attempt.status == AttemptStatus.PENDING
        ),
        now,
    )
    campaign.status = CampaignStatus.ACTIVE
    campaign.updated_at = now
    return StartReport(queued=queued, already_active=held)


def pause_campaign(session: Session, campaign: Campaign, now: dt.datetime) -> None:
    """Stop claiming new attempts; calls in flight finish; ``start`` resumes."""
    if campaign.status != CampaignStatus.ACTIVE:
        raise CampaignStateError(f"кампания {campaign.name!r} не запущена ({campaign.status})")
    campaign.status = CampaignStatus.PAUSED
    campaign.updated_at = now


def stop_campaign(session: Session, campaign: Campaign, now: dt.datetime) -> int:
    """Stop for good: pending attempts are cancelled (calls in flight finish). How many."""
    campaign.status = CampaignStatus.STOPPED
    campaign.updated_at = now
    result = session.execute(
        sa.update(Attempt)
        .where(Attempt.campaign_id == campaign.id, Attempt.status == AttemptStatus.PENDING)
        .values(status=AttemptStatus.CANCELLED, reason="campaign_stopped", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class CampaignStatusReport:
    """Counts of a campaign's attempts by status and outcome."""

    name: str
    status: str
    attempts: dict[str, int]
    outcomes: dict[str, int]


def campaign_status(session: Session, campaign: Campaign) -> CampaignStatusReport:
    """Attempts by status and by outcome (set-based)."""
    by_status = Counter[str]()
    for status, count in session.execute(
        sa.select(Attempt.status, sa.func.count())
        .where(Attempt.campaign_id == campaign.id)
        .group_by(Attempt.status)
    ):
        by_status[str(status)] = int(count)
    by_outcome = Counter[str]()
    for outcome, count in session.execute(
        sa.select(sa.func.coalesce(Attempt.outcome, Attempt.reason), sa.func.count())
        .where(Attempt.campaign_id == campaign.id, Attempt.status.in_(["done", "cancelled"]))
        .group_by(sa.func.coalesce(Attempt.outcome, Attempt.reason))
    ):
        by_outcome[str(outcome)] = int(count)
    return CampaignStatusReport(
        campaign.name, str(campaign.status), dict(by_status), dict(by_outcome)
    )
