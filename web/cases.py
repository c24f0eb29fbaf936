"""Whether a collector works an escalation case on an account (unmasks its phones)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from web.access import Principal

__all__ = ["works_case"]


def works_case(session: Session, principal: Principal, account_id: int) -> bool:
    """True when ``principal`` has taken an open escalation case on ``account_id``.

    Until the campaigns tables exist there are no cases, so nobody works one.
    """
    return False
