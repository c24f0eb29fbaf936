"""Live transfers of a call to a collector (issue 16): one row per offer, and what became of it.

A row is written when the robot offers the debtor a person (``waiting``), updated when a
collector's phone rings (``ringing``, who and how: SIP REFER or a bridge through the robot),
when they answer (``connected``) and once more when it ends — ``ended`` after a connected
call, else why nobody took it (``no_collector``, ``no_answer``, ``abandoned`` while waiting,
``refused``, ``failed``). ``escalation_id`` links the case the call's end opened or joined.
Migration ``0021_transfers``; functions in :mod:`storage.transfers`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime
from storage.models.debt_book import utc_now
from storage.models.enums import enum_column_type

__all__ = ["OPEN_TRANSFER_STATES", "Transfer", "TransferMethod", "TransferState"]


class TransferState(StrEnum):
    """Where a transfer is: open (waiting, ringing, connected) or how it ended."""

    WAITING = "waiting"  # offered, no collector dialled yet
    RINGING = "ringing"  # the collector's phone rings
    CONNECTED = "connected"  # the collector answered; debtor and collector talk
    ENDED = "ended"  # a connected transfer ended (``end_reason`` says who hung up)
    NO_COLLECTOR = "no_collector"  # nobody of the organisation was on the line
    NO_ANSWER = "no_answer"  # the collector did not answer within the organisation's wait
    ABANDONED = "abandoned"  # the debtor hung up while waiting
    REFUSED = "refused"  # the trunk refused the REFER and no bridge could be made
    FAILED = "failed"  # a fault before the connection (the collector's leg failed)


OPEN_TRANSFER_STATES = (TransferState.WAITING, TransferState.RINGING, TransferState.CONNECTED)


class TransferMethod(StrEnum):
    """How the call reached the collector."""

    REFER = "refer"  # blind transfer: the trunk re-routes the debtor's call, the robot leaves
    BRIDGE = "bridge"  # the robot dials the collector and relays audio both ways


class Transfer(Base):
    """One offer of a live transfer within a call, and its outcome."""

    __tablename__ = "transfers"
    __table_args__ = (
        sa.Index("ix_transfers_collector_state", "collector_user_id", "state"),
        sa.Index("ix_transfers_organisation_offered", "organisation_id", "offered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    # The script's escalation reason (dispute, operator_request, …), not the debtor's words.
    escalation_reason: Mapped[str] = mapped_column(sa.Text, default="")
    escalation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("escalation_cases.id"))
    collector_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    extension: Mapped[str | None] = mapped_column(sa.String(6))
    method: Mapped[TransferMethod | None] = mapped_column(
        enum_column_type(TransferMethod, column="method", length=8)
    )
    state: Mapped[TransferState] = mapped_column(
        enum_column_type(TransferState, column="state", length=16), default=TransferState.WAITING
    )
    offered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    ringing_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Short machine text: collector_hung_up, debtor_hung_up, rtp_lost_debtor, refer_refused…
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))
    # How long the debtor waited: offer → answer, or offer → end for a transfer never answered.
    wait_ms: Mapped[int | None] = mapped_column(sa.Integer)
