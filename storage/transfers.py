"""Live transfers of a call to a collector (issue 16): what the dialer writes, what the web reads.

One ``transfers`` row per offer of a person within a call (see
:class:`storage.models.transfers.Transfer`). Its life, as the call session writes it::

    offer_transfer()           state waiting       the robot said «Соединяю со специалистом…»
      ├─ end_transfer(no_collector)                nobody of the organisation on the line
      └─ mark_ringing()        state ringing       a collector claimed, their phone rings
           ├─ end_transfer(no_answer | abandoned | refused | failed)
           └─ mark_connected() state connected     the collector answered
                └─ end_transfer(ended, end_reason=collector_hung_up | debtor_hung_up | …)
    attach_case()              escalation_id set   when the call's end opened/joined a case;
                                                   an answered transfer's case is assigned to
                                                   its collector (``user:<id>``, in progress)

For the web (the screen pop): :func:`pops_for` lists the transfers ringing or connected at
one collector, newest first; poll it with ``after_id`` (the largest id seen) to get only new
ones — an SSE loop calls it every second or so in ``asyncio.to_thread`` with its own session.
A pop carries ids only (transfer, call, account, organisation) and the script's reason; the
card itself (account, debts, transcript) comes from the tables the web already reads —
``turns`` of ``call_id`` are written as the call goes, so the transcript so far is there
before the collector answers. Reports read the table directly: ``state``, ``wait_ms``
(offer → answer, or offer → end when never answered), ``method`` and ``escalation_id``.

Times are zone-aware UTC. Functions take the caller's session; the caller owns the
transaction and should commit each step at once (other processes watch these rows).
Ending a transfer that has already ended changes nothing (returns ``False``), so a
fault path and a normal path that both try to end it cannot overwrite the first reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models.campaigns import OPEN_CASE_STATUSES, EscalationCase, EscalationStatus
from storage.models.debt_book import Organisation
from storage.models.transfers import (
    OPEN_TRANSFER_STATES,
    Transfer,
    TransferMethod,
    TransferState,
)

__all__ = [
    "DEFAULT_TRANSFER_WAIT_S",
    "END_STATES",
    "TransferOfCall",
    "TransferPop",
    "TransferSettingRefused",
    "attach_case",
    "end_transfer",
    "mark_connected",
    "mark_ringing",
    "offer_transfer",
    "pops_for",
    "set_transfer_wait_s",
    "transfer_of_call",
    "transfer_wait_s",
]

DEFAULT_TRANSFER_WAIT_S = 30
# A wait shorter than a few rings reaches nobody; longer than a few minutes loses the debtor.
_WAIT_BOUNDS_S = (5, 300)

END_STATES = frozenset(
    {
        TransferState.ENDED,
        TransferState.NO_COLLECTOR,
        TransferState.NO_ANSWER,
        TransferState.ABANDONED,
        TransferState.REFUSED,
        TransferState.FAILED,
    }
)


class TransferSettingRefused(StorageError):
    """An organisation's transfer setting out of bounds; the message names the field."""


@dataclass(frozen=True, slots=True)
class TransferPop:
    """A transfer ringing or connected at a collector: what their screen pop needs to load."""

    transfer_id: int
    call_id: int
    account_id: int
    organisation_id: int
    reason: str  # the script's escalation reason (dispute, operator_request, …)
    state: TransferState  # ringing or connected
    ringing_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TransferOfCall:
    """The last transfer of a call, as the call's end stores the case."""

    transfer_id: int
    state: TransferState
    collector_user_id: int | None


def offer_transfer(
    session: Session,
    *,
    organisation_id: int,
    call_id: int,
    account_id: int,
    reason: str,
    now: dt.datetime,
) -> int:
    """Record that the robot offered the debtor a person (state ``waiting``); its id."""
    transfer = Transfer(
        organisation_id=organisation_id,
        call_id=call_id,
        account_id=account_id,
        escalation_reason=reason,
        state=TransferState.WAITING,
        offered_at=now,
    )
    session.add(transfer)
    session.flush()
    return transfer.id


def mark_ringing(
    session: Session,
    transfer_id: int,
    *,
    collector_user_id: int,
    extension: str,
    method: TransferMethod,
    now: dt.datetime,
) -> None:
    """The collector ``collector_user_id`` was claimed and their phone rings (by ``method``).

    Also used again when a refused REFER falls back to a bridge (the method changes)."""
    session.execute(
        sa.update(Transfer)
        .where(Transfer.id == transfer_id, Transfer.state.in_(OPEN_TRANSFER_STATES))
        .values(
            state=TransferState.RINGING,
            collector_user_id=collector_user_id,
            extension=extension,
            method=method,
            ringing_at=sa.func.coalesce(Transfer.ringing_at, now),
        )
        .execution_options(synchronize_session=False)
    )


def mark_connected(session: Session, transfer_id: int, now: dt.datetime) -> None:
    """The collector answered: state ``connected``, the debtor's wait is measured."""
    offered_at = session.scalar(sa.select(Transfer.offered_at).where(Transfer.id == transfer_id))
    if offered_at is None:
        raise StorageError(f"нет перевода {transfer_id}")
    session.execute(
        sa.update(Transfer)
        .where(Transfer.id == transfer_id, Transfer.state.in_(OPEN_TRANSFER_STATES))
        .values(state=TransferState.CONNECTED, answered_at=now, wait_ms=_ms(offered_at, now))
        .execution_options(synchronize_session=False)
    )


def end_transfer(
    session: Session,
    transfer_id: int,
    *,
    state: TransferState,
    end_reason: str,
    now: dt.datetime,
) -> bool:
    """End an open transfer in ``state`` (one of :data:`END_STATES`) with a short reason.

    A transfer never answered gets its wait (offer → now). Returns whether the row changed:
    ``False`` when it had already ended (the first reason stays).
    """
    if state not in END_STATES:
        raise StorageError(f"перевод не может закончиться состоянием {state.value}")
    row = session.execute(
        sa.select(Transfer.offered_at, Transfer.wait_ms).where(Transfer.id == transfer_id)
    ).first()
    if row is None:
        raise StorageError(f"нет перевода {transfer_id}")
    wait_ms = row.wait_ms if row.wait_ms is not None else _ms(row.offered_at, now)
    ended = session.execute(
        sa.update(Transfer)
        .where(Transfer.id == transfer_id, Transfer.state.in_(OPEN_TRANSFER_STATES))
        .values(state=state, end_reason=end_reason[:32], ended_at=now, wait_ms=wait_ms)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(ended, "rowcount", 0) or 0) == 1


def attach_case(session: Session, call_id: int, escalation_id: int) -> int | None:
    """Link every transfer of the call to the case its end opened or joined.

    When the call reached a collector (its last transfer was answered), the case becomes
    theirs and in progress — they talked to the debtor, they record the outcome. Returns
    that collector's user id (``None`` when no transfer of the call was answered).
    """
    session.execute(
        sa.update(Transfer)
        .where(Transfer.call_id == call_id)
        .values(escalation_id=escalation_id)
        .execution_options(synchronize_session=False)
    )
    collector = session.scalar(
        sa.select(Transfer.collector_user_id)
        .where(Transfer.call_id == call_id, Transfer.answered_at.is_not(None))
        .order_by(Transfer.id.desc())
        .limit(1)
    )
    if collector is None:
        return None
    session.execute(
        sa.update(EscalationCase)
        .where(EscalationCase.id == escalation_id, EscalationCase.status.in_(OPEN_CASE_STATUSES))
        .values(assignee=f"user:{collector}", status=EscalationStatus.IN_PROGRESS)
        .execution_options(synchronize_session="fetch")
    )
    return int(collector)


def transfer_of_call(session: Session, call_id: int) -> TransferOfCall | None:
    """The call's last transfer (``None`` if it had none)."""
    row = session.execute(
        sa.select(Transfer.id, Transfer.state, Transfer.collector_user_id)
        .where(Transfer.call_id == call_id)
        .order_by(Transfer.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return TransferOfCall(row.id, row.state, row.collector_user_id)


def pops_for(session: Session, user_id: int, after_id: int = 0) -> list[TransferPop]:
    """Transfers ringing or connected at the collector ``user_id`` with id above ``after_id``,
    newest first (the screen pop; see the module docstring)."""
    rows = session.execute(
        sa.select(Transfer)
        .where(
            Transfer.collector_user_id == user_id,
            Transfer.state.in_((TransferState.RINGING, TransferState.CONNECTED)),
            Transfer.id > after_id,
        )
        .order_by(Transfer.id.desc())
    ).scalars()
    return [
        TransferPop(
            transfer_id=row.id,
            call_id=row.call_id,
            account_id=row.account_id,
            organisation_id=row.organisation_id,
            reason=row.escalation_reason,
            state=row.state,
            ringing_at=row.ringing_at,
        )
        for row in rows
    ]


def transfer_wait_s(session: Session, organisation_id: int) -> int:
    """How long a collector's phone may ring for this organisation (30 s by default)."""
    value = session.scalar(
        sa.select(Organisation.transfer_wait_s).where(Organisation.id == organisation_id)
    )
    return DEFAULT_TRANSFER_WAIT_S if value is None else int(value)


def set_transfer_wait_s(session: Session, organisation_id: int, seconds: int) -> int:
    """Set the organisation's wait for a collector's answer (5–300 s); returns it."""
    low, high = _WAIT_BOUNDS_S
    if not low <= seconds <= high:
        raise TransferSettingRefused(
            f"ожидание ответа специалиста (transfer_wait_s): от {low} до {high} секунд"
        )
    updated = session.execute(
        sa.update(Organisation)
        .where(Organisation.id == organisation_id)
        .values(transfer_wait_s=seconds)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(updated, "rowcount", 0) or 0) != 1:
        raise TransferSettingRefused(f"нет организации {organisation_id}")
    return seconds


def _ms(start: dt.datetime, end: dt.datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))
