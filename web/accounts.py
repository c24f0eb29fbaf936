"""Accounts as the service shows them: search, and the account card with its history.

Query functions take the caller's session and the principal; organisation checks are
made here, where the data is loaded. Opening a card appends an audit row
(:class:`storage.models.users.AccountOpening`) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models import (
    Account,
    Building,
    ContactEvent,
    DebtLine,
    Organisation,
    Payment,
    Person,
    Phone,
)
from storage.models.campaigns import Call, Promise, Turn
from storage.models.users import AccountOpening, OpeningPurpose, UserRole
from web.access import Principal, mask_document, mask_phone
from web.errors import NotFound

__all__ = [
    "AccountCard",
    "AccountPage",
    "AccountRow",
    "CardPerson",
    "CardPhone",
    "DebtRow",
    "HistoryItem",
    "PaymentRow",
    "load_card",
    "search_accounts",
]

ZERO = Decimal("0.00")
# Who works an escalation case on an account (decided by the campaigns tables when present).
CaseChecker = Callable[[Session, Principal, int], bool]


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One account in a list."""

    id: int
    number: str
    organisation: str
    address: str
    flat: str | None
    debt: Decimal
    peni: Decimal


@dataclass(frozen=True, slots=True)
class AccountPage:
    """A page of search results."""

    items: Sequence[AccountRow]
    total: int
    limit: int
    offset: int


def _visible_filter(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.organisation_ids is None:
        return sa.true()
    return Account.organisation_id.in_(sorted(principal.organisation_ids))


def search_accounts(
    session: Session,
    principal: Principal,
    text: str = "",
    *,
    limit: int = 50,
    offset: int = 0,
) -> AccountPage:
    """Accounts the principal may see whose number, address or a person's name matches."""
    where: list[sa.ColumnElement[bool]] = [_visible_filter(principal)]
    if text:
        pattern = f"%{text.replace('%', '').replace('_', '')}%"
        where.append(
            sa.or_(
                Account.number == text,
                Account.address.ilike(pattern),
                Account.id.in_(sa.select(Person.account_id).where(Person.full_name.ilike(pattern))),
            )
        )
    total = session.scalar(sa.select(sa.func.count()).select_from(Account).where(*where)) or 0
    page = session.execute(
        sa.select(Account.id, Account.number, Organisation.name, Account.address, Account.flat)
        .join(Organisation, Organisation.id == Account.organisation_id)
        .where(*where)
        .order_by(Account.id)
        .limit(limit)
        .offset(offset)
    ).all()
    # Debts only for the accounts of this page: the sum never scans the whole book.
    sums = (
        {
            row[0]: (row[1], row[2])
            for row in session.execute(
                sa.select(
                    DebtLine.account_id, sa.func.sum(DebtLine.debt), sa.func.sum(DebtLine.peni)
                )
                .where(DebtLine.account_id.in_([r[0] for r in page]))
                .group_by(DebtLine.account_id)
            )
        }
        if page
        else {}
    )
    rows = [(*r, *sums.get(r[0], (None, None))) for r in page]
    items = [
        AccountRow(
            id=row[0],
            number=row[1],
            organisation=row[2],
            address=row[3],
            flat=row[4],
            debt=_money(row[5]),
            peni=_money(row[6]),
        )
        for row in rows
    ]
    return AccountPage(items=items, total=total, limit=limit, offset=offset)


def _money(value: object) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class CardPerson:
    """A person on the account; documents are ``None`` or ``"скрыто"`` unless admin."""

    id: int
    full_name: str
    role: str
    share: Decimal | None
    birth_date: dt.date | None
    passport: str | None
    snils: str | None
    inn: str | None


@dataclass(frozen=True, slots=True)
class CardPhone:
    """A phone of the account, masked unless the viewer works the case."""

    id: int
    number: str
    masked: bool
    status: str
    kind: str
    person_id: int | None


@dataclass(frozen=True, slots=True)
class DebtRow:
    """One service for one month."""

    service: str
    period: dt.date
    charged: Decimal
    paid: Decimal
    debt: Decimal
    peni: Decimal


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """One payment received."""

    paid_on: dt.date
    amount: Decimal
    channel: str
    document: str
    period: dt.date | None


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One entry of the history of work with the debt, newest first."""

    occurred_at: dt.datetime
    kind: str
    actor: str
    summary: str
    details: dict[str, object]


@dataclass(frozen=True, slots=True)
class TurnItem:
    """One exchange of a call: what the robot said, what the debtor answered, the tags."""

    robot_text: str
    debtor_text: str | None
    tags: dict[str, float]
    promise_date: dt.date | None
    promise_amount: Decimal | None


@dataclass(frozen=True, slots=True)
class CallItem:
    """One call of the account with its transcript."""

    id: int
    started_at: dt.datetime
    outcome: str | None
    counted_as: str | None
    script: str
    has_recording: bool
    turns: Sequence[TurnItem]


@dataclass(frozen=True, slots=True)
class PromiseItem:
    """A promise to pay and what became of it."""

    made_at: dt.datetime
    due_on: dt.date
    amount: Decimal | None
    status: str
    made_by: str | None = None  # None: the robot, in a call; else the collector's actor

    @property
    def by_whom(self) -> str:
        """Who heard the promise, as the card says it."""
        return "робот" if self.made_by is None else "взыскатель"


@dataclass(frozen=True, slots=True)
class AccountCard:
    """Everything the account card shows."""

    id: int
    organisation_id: int
    organisation: str
    number: str
    address: str
    building: str | None
    flat: str | None
    time_zone: str
    people: Sequence[CardPerson]
    phones: Sequence[CardPhone]
    debts: Sequence[DebtRow]
    debt_total: Decimal
    peni_total: Decimal
    charged_total: Decimal
    paid_total: Decimal
    payments: Sequence[PaymentRow]
    history: Sequence[HistoryItem]
    calls: Sequence[CallItem]
    promises: Sequence[PromiseItem]
    phones_shown: bool
    documents_shown: bool


def _no_case(session: Session, principal: Principal, account_id: int) -> bool:
    return False


def load_card(
    session: Session,
    principal: Principal,
    account_id: int,
    *,
    purpose: OpeningPurpose = OpeningPurpose.CARD,
    works_case: CaseChecker = _no_case,
    history_limit: int = 500,
) -> AccountCard:
    """The card of ``account_id``; refuses an account of an organisation not visible.

    Phones are unmasked only for a collector who works an open case on the account
    (``works_case``); identity documents only for admins. The opening is audited.
    """
    account = session.get(Account, account_id)
    if account is None or not principal.sees_organisation(account.organisation_id):
        raise NotFound("лицевой счёт не найден")
    phones_shown = principal.role is UserRole.COLLECTOR and works_case(
        session, principal, account_id
    )
    documents_shown = principal.sees_documents
    organisation = session.get(Organisation, account.organisation_id)
    building = session.get(Building, account.building_id) if account.building_id else None
    people = session.scalars(
        sa.select(Person).where(Person.account_id == account_id).order_by(Person.id)
    ).all()
    phones = session.scalars(
        sa.select(Phone).where(Phone.account_id == account_id).order_by(Phone.id)
    ).all()
    debts = session.scalars(
        sa.select(DebtLine)
        .where(DebtLine.account_id == account_id)
        .order_by(DebtLine.period.desc(), DebtLine.service)
    ).all()
    payments = session.scalars(
        sa.select(Payment)
        .where(Payment.account_id == account_id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
    ).all()
    events = session.scalars(
        sa.select(ContactEvent)
        .where(ContactEvent.account_id == account_id)
        .order_by(ContactEvent.occurred_at.desc(), ContactEvent.id.desc())
        .limit(history_limit)
    ).all()
    calls = _calls(session, account_id, history_limit)
    promises = [
        PromiseItem(p.made_at, p.due_on, p.amount, str(p.status), p.made_by)
        for p in session.scalars(
            sa.select(Promise).where(Promise.account_id == account_id).order_by(Promise.id.desc())
        )
    ]
    session.add(
        AccountOpening(
            user_id=principal.user_id,
            organisation_id=account.organisation_id,
            account_id=account_id,
            purpose=purpose,
            phones_shown=phones_shown,
            documents_shown=documents_shown,
        )
    )
    return AccountCard(
        id=account.id,
        organisation_id=account.organisation_id,
        organisation=organisation.name if organisation is not None else "",
        number=account.number,
        address=account.address,
        building=building.address if building is not None else None,
        flat=account.flat,
        time_zone=account.time_zone,
        people=[_person(p, documents_shown) for p in people],
        phones=[
            CardPhone(
                id=p.id,
                number=p.number if phones_shown else mask_phone(p.number),
                masked=not phones_shown,
                status=p.status.value,
                kind=p.kind.value,
                person_id=p.person_id,
            )
            for p in phones
        ],
        debts=[DebtRow(d.service, d.period, d.charged, d.paid, d.debt, d.peni) for d in debts],
        debt_total=sum((d.debt for d in debts), ZERO),
        peni_total=sum((d.peni for d in debts), ZERO),
        charged_total=sum((d.charged for d in debts), ZERO),
        paid_total=sum((d.paid for d in debts), ZERO),
        payments=[
            PaymentRow(p.paid_on, p.amount, p.channel.value, p.document, p.period) for p in payments
        ],
        history=[
            HistoryItem(
                occurred_at=e.occurred_at,
                kind=str(e.kind),
                actor=e.actor,
                summary=e.summary,
                details=dict(e.details or {}),
            )
            for e in events
        ],
        calls=calls,
        promises=promises,
        phones_shown=phones_shown,
        documents_shown=documents_shown,
    )


def _calls(session: Session, account_id: int, limit: int) -> list[CallItem]:
    calls = session.scalars(
        sa.select(Call)
        .where(Call.account_id == account_id)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    ).all()
    turns: dict[int, list[TurnItem]] = {}
    if calls:
        for turn in session.scalars(
            sa.select(Turn).where(Turn.call_id.in_([c.id for c in calls])).order_by(Turn.index)
        ):
            turns.setdefault(turn.call_id, []).append(
                TurnItem(
                    robot_text=turn.robot_text,
                    debtor_text=turn.debtor_text,
                    tags=dict(turn.tags or {}),
                    promise_date=turn.promise_date,
                    promise_amount=turn.promise_amount,
                )
            )
    return [
        CallItem(
            id=c.id,
            started_at=c.started_at,
            outcome=c.outcome,
            counted_as=c.counted_as,
            script=c.script,
            has_recording=bool(c.recording_path),
            turns=turns.get(c.id, []),
        )
        for c in calls
    ]


def _person(person: Person, documents_shown: bool) -> CardPerson:
    def document(value: str | None) -> str | None:
        return value if documents_shown else mask_document(value)

    return CardPerson(
        id=person.id,
        full_name=person.full_name,
        role=person.role.value,
        share=person.share,
        birth_date=person.birth_date if documents_shown else None,
        passport=document(person.passport),
        snils=document(person.snils),
        inn=document(person.inn),
    )
