"""Whether a collector works an escalation case on an account (unmasks its phones)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models.campaigns import EscalationCase, EscalationStatus
from web.access import Principal

__all__ = ["works_case"]


def works_case(session: Session, principal: Principal, account_id: int) -> bool:
    """True when ``principal`` has taken a case on ``account_id`` that is still in progress."""
    found = session.scalar(
        sa.select(EscalationCase.id).where(
            EscalationCase.account_id == account_id,
            EscalationCase.status == EscalationStatus.IN_PROGRESS,
            EscalationCase.assignee == principal.actor,
        )
    )
    return found is not None
