"""One person, several accounts: link the accounts of the same debtor to one contact ledger.

230-ФЗ art. 7 counts contacts with a person — a flat owner with a parking space, or with
flats in two buildings of the same managing organisation, may be called once a day in
all. Accounts are the same person's when one of their people shares a СНИЛС, an ИНН, a
passport, or the full name with the birth date (a name alone is not enough: namesakes).
Each group of such accounts points at its first account (``accounts.ledger_account_id``),
whose ``contact_ledger`` row then counts for all; database triggers (migration 0009)
refresh the queued attempts of an account whose link changed.

Exact matches only, as 1С prints them: one 1С base writes one person the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models import Account, Person
from storage.models.campaigns import ContactLedger

__all__ = ["LEDGER_ACCOUNT", "LinkReport", "link_debtors"]

log = logging.getLogger(__name__)


# The account whose contact_ledger row counts for an account's person: its first account,
# or itself when unlinked (read with ``accounts`` in the FROM clause).
LEDGER_ACCOUNT = sa.func.coalesce(Account.ledger_account_id, Account.id)


@dataclass(frozen=True, slots=True)
class LinkReport:
    """What :func:`link_debtors` changed."""

    linked: int  # accounts that share another account's ledger now
    changed: int  # accounts whose link was set, moved or removed


def _identity_keys(organisation_id: int) -> sa.CTE:
    """``(key, account_id)`` for every identifying fact of every person of the organisation."""
    birth = sa.cast(Person.birth_date, sa.String)
    facts = (
        ("s:", Person.snils, Person.snils.is_not(None)),
        ("i:", Person.inn, Person.inn.is_not(None)),
        ("p:", Person.passport, Person.passport.is_not(None)),
        ("n:", Person.full_name + "|" + birth, Person.birth_date.is_not(None)),
    )
    parts = [
        sa.select((sa.literal(prefix) + value).label("k"), Person.account_id.label("account_id"))
        .join(Account, Account.id == Person.account_id)
        .where(Account.organisation_id == organisation_id, present, value != "")
        for prefix, value, present in facts
    ]
    return sa.union_all(*parts).cte("identity_keys")


def _groups(pairs: Iterable[tuple[str, int]]) -> dict[int, int]:
    """Union-find over shared keys: every account of a group → the group's first account."""
    parent: dict[int, int] = {}

    def root(account: int) -> int:
        parent.setdefault(account, account)
        while parent[account] != account:
            parent[account] = parent[parent[account]]
            account = parent[account]
        return account

    first_of_key: dict[str, int] = {}
    for key, account in pairs:
        other = first_of_key.setdefault(key, account)
        a, b = root(account), root(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {account: root(account) for account in parent}


def _fold_ledger(session: Session, source_id: int, target_id: int) -> None:
    """Add the contacts counted on ``source_id``'s ledger row to ``target_id``'s.

    Per bucket (day, week, month): the same period adds up, a newer period wins; the one
    call in flight stays marked. The source row is left at zero, so nothing counts twice.
    """
    source = session.get(ContactLedger, source_id, with_for_update=True)
    if source is None:
        return
    target = session.get(ContactLedger, target_id, with_for_update=True)
    if target is None:
        target = ContactLedger(account_id=target_id, updated_at=source.updated_at)
        for name in ("conversations", "messages"):
            for period in ("day", "week", "month"):
                setattr(target, f"{period}_{name}", 0)
        session.add(target)
    for period in ("day", "week", "month"):
        mine: dt.date | None = getattr(target, period)
        theirs: dt.date | None = getattr(source, period)
        if theirs is None:
            continue
        for name in ("conversations", "messages"):
            column = f"{period}_{name}"
            if mine == theirs:
                setattr(target, column, (getattr(target, column) or 0) + getattr(source, column))
            elif mine is None or theirs > mine:
                setattr(target, column, getattr(source, column))
        if mine is None or theirs > mine:
            setattr(target, period, theirs)
        setattr(source, period, None)
        for name in ("conversations", "messages"):
            setattr(source, f"{period}_{name}", 0)
    if target.active_attempt_id is None:
        target.active_attempt_id = source.active_attempt_id
    source.active_attempt_id = None
    session.flush()


def link_debtors(session: Session, organisation_id: int) -> LinkReport:
    """Point every account of the organisation at its person's first account (set-based
    read, then only the links that change are written) and fold ledgers that merge."""
    keys = _identity_keys(organisation_id)
    shared = (
        sa.select(keys.c.k)
        .group_by(keys.c.k)
        .having(sa.func.count(sa.distinct(keys.c.account_id)) > 1)
    )
    pairs = session.execute(
        sa.select(keys.c.k, keys.c.account_id).where(keys.c.k.in_(shared)).order_by(keys.c.k)
    )
    groups = _groups((str(k), int(a)) for k, a in pairs)
    wanted = {account: first for account, first in groups.items() if first != account}
    current = {
        int(a): int(b)
        for a, b in session.execute(
            sa.select(Account.id, Account.ledger_account_id).where(
                Account.organisation_id == organisation_id, Account.ledger_account_id.is_not(None)
            )
        )
        if b is not None
    }
    changes = {
        account: wanted.get(account)
        for account in wanted.keys() | current.keys()
        if wanted.get(account) != current.get(account)
    }
    for account, first in sorted(changes.items()):
        if first is not None and current.get(account) is None:
            # The account counted on its own ledger until now: those contacts join the
            # person's, so the caps still see them.
            _fold_ledger(session, account, first)
        session.execute(
            sa.update(Account).where(Account.id == account).values(ledger_account_id=first)
        )
    if changes:
        log.info(
            "debtors linked: organisation=%d accounts=%d changed=%d",
            organisation_id, len(wanted), len(changes),
        )  # fmt: skip
    return LinkReport(linked=len(wanted), changed=len(changes))
