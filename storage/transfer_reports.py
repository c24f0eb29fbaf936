"""What became of live transfers (issue 16): the report's figures, and the reads the web's
screen pop and case page need beyond :mod:`storage.transfers`.

The report counts transfers *offered* in a period (by ``offered_at``), by how they ended:
connected (answered, whatever came after), abandoned while waiting, nobody on the line,
not answered, refused or failed; the debtor's wait as p50/p95 over the transfers that have
one (``wait_ms``: offer → answer, or offer → end when never answered). Outcomes after a
transfer: the promises the collector who took the call recorded on that account from the
answer on (``made_by = user:<id>``), with their fate, and the resolutions of the cases
linked to connected transfers. Percentiles are taken in Python over the period's rows: the
same on SQLite and PostgreSQL, and a period holds thousands of transfers, not millions.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models.campaigns import Promise, PromiseStatus, Turn
from storage.models.enums import ContactKind
from storage.models.history import ContactEvent
from storage.models.transfers import Transfer, TransferState

__all__ = [
    "CaseTransfer",
    "TransferProgress",
    "TransferSummary",
    "case_transfer",
    "percentile_ms",
    "transfer_progress",
    "transfer_summary",
]

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class TransferSummary:
    """Transfers offered in a period and what became of them."""

    offered: int = 0
    connected: int = 0
    abandoned: int = 0
    no_collector: int = 0
    no_answer: int = 0
    refused: int = 0
    failed: int = 0
    in_progress: int = 0
    by_refer: int = 0  # connected by SIP REFER
    by_bridge: int = 0  # connected through the robot's bridge
    wait_p50_ms: int | None = None
    wait_p95_ms: int | None = None
    answered_wait_p50_ms: int | None = None  # over connected transfers only
    promises: int = 0
    promised_sum: Decimal = ZERO
    kept: int = 0
    kept_sum: Decimal = ZERO
    broken: int = 0
    resolutions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TransferProgress:
    """A transfer as the screen pop follows it: state, turns stored so far, its case."""

    transfer_id: int
    call_id: int
    state: TransferState
    collector_user_id: int | None
    turns: int
    escalation_id: int | None
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class CaseTransfer:
    """The answered transfer a case came from (for the case page)."""

    transfer_id: int
    call_id: int
    collector_user_id: int
    answered_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str | None


def percentile_ms(values: Sequence[int], share: float) -> int | None:
    """The nearest-rank percentile (``share`` 0.5 for p50) of ``values``; ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _in_period(
    organisation_ids: Sequence[int] | None, start: dt.datetime, end: dt.datetime
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [Transfer.offered_at >= start, Transfer.offered_at < end]
    if organisation_ids is not None:
        where.append(Transfer.organisation_id.in_(sorted(organisation_ids)))
    return where


_STATE_FIELD = {
    TransferState.ABANDONED: "abandoned",
    TransferState.NO_COLLECTOR: "no_collector",
    TransferState.NO_ANSWER: "no_answer",
    TransferState.REFUSED: "refused",
    TransferState.FAILED: "failed",
    TransferState.WAITING: "in_progress",
    TransferState.RINGING: "in_progress",
}


def transfer_summary(
    session: Session,
    organisation_ids: Sequence[int] | None,
    start: dt.datetime,
    end: dt.datetime,
) -> TransferSummary:
    """Transfers offered in ``[start, end)`` of the organisations (``None``: all)."""
    rows = session.execute(
        sa.select(
            Transfer.state,
            Transfer.method,
            Transfer.wait_ms,
            Transfer.answered_at,
            Transfer.collector_user_id,
            Transfer.account_id,
            Transfer.escalation_id,
        ).where(*_in_period(organisation_ids, start, end))
    ).all()
    counts: Counter[str] = Counter()
    waits: list[int] = []
    answered_waits: list[int] = []
    answered: list[tuple[int, int, dt.datetime]] = []  # collector, account, answered at
    cases: set[int] = set()
    for row in rows:
        if row.wait_ms is not None:
            waits.append(int(row.wait_ms))
        if row.answered_at is not None:
            counts["connected"] += 1
            counts[f"by_{row.method}"] += 1
            if row.wait_ms is not None:
                answered_waits.append(int(row.wait_ms))
            if row.collector_user_id is not None:
                answered.append((row.collector_user_id, row.account_id, row.answered_at))
            if row.escalation_id is not None:
                cases.add(row.escalation_id)
        else:
            counts[_STATE_FIELD.get(row.state, "failed")] += 1
    made, made_sum, kept, kept_sum, broken = _promises_after(session, answered)
    return TransferSummary(
        offered=len(rows),
        connected=counts["connected"],
        abandoned=counts["abandoned"],
        no_collector=counts["no_collector"],
        no_answer=counts["no_answer"],
        refused=counts["refused"],
        failed=counts["failed"],
        in_progress=counts["in_progress"],
        by_refer=counts["by_refer"],
        by_bridge=counts["by_bridge"],
        wait_p50_ms=percentile_ms(waits, 0.5),
        wait_p95_ms=percentile_ms(waits, 0.95),
        answered_wait_p50_ms=percentile_ms(answered_waits, 0.5),
        promises=made,
        promised_sum=made_sum,
        kept=kept,
        kept_sum=kept_sum,
        broken=broken,
        resolutions=_resolutions(session, cases),
    )


def _promises_after(
    session: Session, answered: Sequence[tuple[int, int, dt.datetime]]
) -> tuple[int, Decimal, int, Decimal, int]:
    """Promises the answering collector recorded on the account from the answer on;
    each promise counted once even when two transfers of one account lead to it."""
    if not answered:
        return 0, ZERO, 0, ZERO, 0
    first_answer: dict[tuple[str, int], dt.datetime] = {}
    for collector, account, at in answered:
        key = (f"user:{collector}", account)
        first_answer[key] = min(at, first_answer.get(key, at))
    promises = session.execute(
        sa.select(
            Promise.id,
            Promise.account_id,
            Promise.made_by,
            Promise.made_at,
            Promise.status,
            sa.func.coalesce(Promise.amount, Promise.debt_at_promise).label("amount"),
        ).where(
            Promise.account_id.in_(sorted({a for _, a, _ in answered})),
            Promise.made_by.in_(sorted({f"user:{c}" for c, _, _ in answered})),
        )
    ).all()
    made = kept = broken = 0
    made_sum = kept_sum = ZERO
    for promise in promises:
        since = first_answer.get((str(promise.made_by), promise.account_id))
        if since is None or promise.made_at < since:
            continue
        amount = Decimal(str(promise.amount or 0)).quantize(Decimal("0.01"))
        made, made_sum = made + 1, made_sum + amount
        if promise.status == PromiseStatus.KEPT:
            kept, kept_sum = kept + 1, kept_sum + amount
        elif promise.status == PromiseStatus.BROKEN:
            broken += 1
    return made, made_sum, kept, kept_sum, broken


def _resolutions(session: Session, case_ids: set[int]) -> dict[str, int]:
    if not case_ids:
        return {}
    found: Counter[str] = Counter()
    # The resolution lives in the case's closing event (the case keeps only "closed").
    for details in session.scalars(
        sa.select(ContactEvent.details).where(
            ContactEvent.ref_table == "escalation_cases",
            ContactEvent.ref_id.in_(sorted(case_ids)),
            ContactEvent.kind == ContactKind.ESCALATION,
        )
    ):
        resolution = (details or {}).get("resolution")
        if isinstance(resolution, str):
            found[resolution] += 1
    return dict(found)


def transfer_progress(session: Session, transfer_ids: Sequence[int]) -> list[TransferProgress]:
    """The state, stored turns of the call and linked case of each transfer in ``transfer_ids``."""
    if not transfer_ids:
        return []
    turns = (
        sa.select(sa.func.count())
        .where(Turn.call_id == Transfer.call_id)
        .correlate(Transfer)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(
            Transfer.id,
            Transfer.call_id,
            Transfer.state,
            Transfer.collector_user_id,
            turns.label("turns"),
            Transfer.escalation_id,
            Transfer.answered_at,
            Transfer.ended_at,
        ).where(Transfer.id.in_(sorted(transfer_ids)))
    ).all()
    return [TransferProgress(*row) for row in rows]


def case_transfer(session: Session, escalation_id: int) -> CaseTransfer | None:
    """The last answered transfer linked to the case ``escalation_id`` (``None``: none)."""
    row = session.execute(
        sa.select(
            Transfer.id,
            Transfer.call_id,
            Transfer.collector_user_id,
            Transfer.answered_at,
            Transfer.ended_at,
            Transfer.end_reason,
        )
        .where(
            Transfer.escalation_id == escalation_id,
            Transfer.answered_at.is_not(None),
            Transfer.collector_user_id.is_not(None),
        )
        .order_by(Transfer.id.desc())
        .limit(1)
    ).first()
    if row is None or row.collector_user_id is None or row.answered_at is None:
        return None
    return CaseTransfer(
        row.id, row.call_id, row.collector_user_id, row.answered_at, row.ended_at, row.end_reason
    )
