"""The collector's screen pop (issue 16): what they see the moment a transferred call rings.

A pop is built from a ringing or connected transfer (:func:`storage.transfers.pops_for`) and
the tables the web already reads: the account (ЛС, address, the debtor's name), its debt by
service and period, the transcript of the call so far (the worker stores each turn as it
happens, in its own process), why the robot escalated and the account's past promises.
Texts are formatted here (money, dates, Russian labels) so the page's script only places
them with ``textContent``. The card holds personal data: it goes to the collector the call
was transferred to and nowhere else — never into a log.

:class:`PopWatch` is one stream's memory: which transfers it has shown and what of each
(state, turns, case), so each poll yields only what changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models import Account, DebtLine, Person
from storage.models.campaigns import Promise, Turn
from storage.models.transfers import TransferState
from storage.models.users import AccountOpening, OpeningPurpose, User
from storage.transfer_reports import TransferProgress, case_transfer, transfer_progress
from storage.transfers import TransferPop, pops_for
from web.access import Principal
from web.pages import format_date, format_money, format_period, title

__all__ = [
    "PROMISE_STATUS_TITLES",
    "CaseTransferNote",
    "TRANSFER_STATE_TITLES",
    "PopCard",
    "PopDebt",
    "PopLine",
    "PopPromise",
    "PopUpdate",
    "PopWatch",
    "case_transfer_note",
    "record_openings",
]

TRANSFER_STATE_TITLES: dict[str, str] = {
    TransferState.WAITING: "ищем свободного специалиста",
    TransferState.RINGING: "звонит — возьмите трубку",
    TransferState.CONNECTED: "идёт разговор",
    TransferState.ENDED: "звонок окончен",
    TransferState.NO_COLLECTOR: "никого не было на линии",
    TransferState.NO_ANSWER: "не ответили вовремя — обращение в очереди",
    TransferState.ABANDONED: "должник положил трубку, не дождавшись",
    TransferState.REFUSED: "перевод не удался",
    TransferState.FAILED: "сбой соединения",
}
PROMISE_STATUS_TITLES = {"made": "ждём оплату", "kept": "выполнено", "broken": "нарушено"}
# After its end a transfer is followed this long for the case the call's end links to it.
FOLLOW_ENDED = dt.timedelta(minutes=2)
_TAG_SHOWN = 0.5  # the classifier's confidence from which a tag is shown
_PROMISES_SHOWN = 10


@dataclass(frozen=True, slots=True)
class PopLine:
    """One line of the transcript: who said it, the words, the tags heard in them."""

    speaker: str  # "robot" or "debtor"
    text: str
    tags: list[str]


@dataclass(frozen=True, slots=True)
class PopDebt:
    """One debt line: service, billed month, what is owed."""

    service: str
    period: str
    debt: str
    peni: str


@dataclass(frozen=True, slots=True)
class PopPromise:
    """A past promise to pay and its fate."""

    made_at: str
    due_on: str
    amount: str
    status: str
    status_title: str
    by: str  # «робот» or «взыскатель»


@dataclass(frozen=True, slots=True)
class PopUpdate:
    """What changed in a shown transfer: its state, the transcript so far, its case."""

    transfer_id: int
    state: str
    state_title: str
    transcript: list[PopLine]
    case_url: str | None


@dataclass(frozen=True, slots=True)
class PopCard:
    """Everything the collector needs before saying «Здравствуйте»."""

    transfer_id: int
    call_id: int
    account_id: int
    state: str
    state_title: str
    reason: str
    reason_title: str
    ringing_at: str
    account_number: str
    address: str
    debtor_name: str
    debt_total: str
    peni_total: str
    debts: list[PopDebt]
    transcript: list[PopLine]
    promises: list[PopPromise]
    account_url: str
    case_url: str | None
    organisation_id: int


def record_openings(session: Session, principal: Principal, cards: list[PopCard]) -> None:
    """Audit the pops shown like openings of the account's card (who saw which account).

    Written apart from the poll, which only reads: on SQLite a write transaction takes the
    database's write lock, and the stream polls twice a second while the worker writes turns.
    """
    for card in cards:
        session.add(
            AccountOpening(
                user_id=principal.user_id,
                organisation_id=card.organisation_id,
                account_id=card.account_id,
                purpose=OpeningPurpose.CARD,
                phones_shown=False,
                documents_shown=False,
            )
        )


def _transcript(session: Session, call_id: int) -> list[PopLine]:
    lines: list[PopLine] = []
    for turn in session.scalars(
        sa.select(Turn).where(Turn.call_id == call_id).order_by(Turn.index)
    ):
        if turn.robot_text:
            lines.append(PopLine("robot", turn.robot_text, []))
        if turn.debtor_text is not None:
            heard = sorted((turn.tags or {}).items(), key=lambda item: -item[1])
            tags = [title(tag) for tag, confidence in heard if confidence >= _TAG_SHOWN]
            lines.append(PopLine("debtor", turn.debtor_text, tags))
    return lines


def _card(session: Session, principal: Principal, pop: TransferPop) -> PopCard | None:
    account = session.get(Account, pop.account_id)
    if account is None or not principal.sees_organisation(account.organisation_id):
        return None
    names = session.scalars(
        sa.select(Person.full_name).where(Person.account_id == account.id).order_by(Person.id)
    ).all()
    debts = session.scalars(
        sa.select(DebtLine)
        .where(DebtLine.account_id == account.id, DebtLine.debt > Decimal("0"))
        .order_by(DebtLine.period.desc(), DebtLine.service)
    ).all()
    promises = session.scalars(
        sa.select(Promise)
        .where(Promise.account_id == account.id)
        .order_by(Promise.id.desc())
        .limit(_PROMISES_SHOWN)
    ).all()
    zero = Decimal("0")
    return PopCard(
        transfer_id=pop.transfer_id,
        call_id=pop.call_id,
        account_id=account.id,
        state=pop.state.value,
        state_title=TRANSFER_STATE_TITLES[pop.state],
        reason=pop.reason,
        reason_title=title(pop.reason) if pop.reason else "—",
        ringing_at=format_date(pop.ringing_at),
        account_number=account.number,
        address=" кв. ".join(part for part in (account.address, account.flat or "") if part),
        debtor_name=", ".join(names) or "—",
        debt_total=format_money(sum((d.debt for d in debts), zero)),
        peni_total=format_money(sum((d.peni for d in debts), zero)),
        debts=[
            PopDebt(d.service, format_period(d.period), format_money(d.debt), format_money(d.peni))
            for d in debts
        ],
        transcript=_transcript(session, pop.call_id),
        promises=[
            PopPromise(
                made_at=format_date(p.made_at),
                due_on=format_date(p.due_on),
                amount=format_money(p.amount) if p.amount is not None else "весь долг",
                status=p.status.value,
                status_title=PROMISE_STATUS_TITLES.get(p.status.value, p.status.value),
                by="робот" if p.made_by is None else "взыскатель",
            )
            for p in promises
        ],
        account_url=f"/accounts/{account.id}",
        case_url=None,
        organisation_id=account.organisation_id,
    )


@dataclass(frozen=True, slots=True)
class _Shown:
    state: TransferState
    turns: int
    escalation_id: int | None


@dataclass(slots=True)
class PopWatch:
    """One collector's stream: the transfers shown and what was sent of each.

    :meth:`poll` runs on a database thread with that thread's session and returns the new
    pops (full cards) and the changes of those already shown. A transfer is followed until
    its case is linked, or for :data:`FOLLOW_ENDED` after its end."""

    principal: Principal
    shown: dict[int, _Shown] = field(default_factory=dict)

    def poll(self, session: Session, now: dt.datetime) -> tuple[list[PopCard], list[PopUpdate]]:
        """New pops and updates since the last poll (the first poll: what rings now)."""
        cards: list[PopCard] = []
        # Every open transfer of the collector, not "id above the last seen": ids are given
        # at the offer, so an older offer may start ringing after a newer one.
        for pop in reversed(pops_for(session, self.principal.user_id)):
            if pop.transfer_id in self.shown:
                continue
            card = _card(session, self.principal, pop)
            if card is None:
                continue
            cards.append(card)
            self.shown[pop.transfer_id] = _Shown(pop.state, 0, None)
        fresh = {card.transfer_id for card in cards}
        updates: list[PopUpdate] = []
        for progress in transfer_progress(session, sorted(self.shown)):
            if progress.transfer_id in fresh:  # the card was read just now: remember, not send
                self.shown[progress.transfer_id] = _Shown(
                    progress.state, progress.turns, progress.escalation_id
                )
            elif (update := self._changed(session, progress, now)) is not None:
                updates.append(update)
        return cards, updates

    def _changed(
        self, session: Session, progress: TransferProgress, now: dt.datetime
    ) -> PopUpdate | None:
        before = self.shown[progress.transfer_id]
        if progress.collector_user_id != self.principal.user_id:
            del self.shown[progress.transfer_id]  # re-routed to someone else: not ours now
            return None
        if progress.ended_at is not None and (
            progress.escalation_id is not None or now - progress.ended_at > FOLLOW_ENDED
        ):
            del self.shown[progress.transfer_id]  # the last update below carries the case
        else:
            self.shown[progress.transfer_id] = _Shown(
                progress.state, progress.turns, progress.escalation_id
            )
        if (before.state, before.turns, before.escalation_id) == (
            progress.state,
            progress.turns,
            progress.escalation_id,
        ):
            return None
        escalation = progress.escalation_id
        return PopUpdate(
            transfer_id=progress.transfer_id,
            state=progress.state.value,
            state_title=TRANSFER_STATE_TITLES[progress.state],
            transcript=_transcript(session, progress.call_id),
            case_url=None if escalation is None else f"/escalations/{escalation}",
        )


@dataclass(frozen=True, slots=True)
class CaseTransferNote:
    """For the case page: the case came from a call transferred live to a collector."""

    call_id: int
    collector_user_id: int
    collector_name: str
    answered_at: dt.datetime
    ended_at: dt.datetime | None


def case_transfer_note(session: Session, case_id: int) -> CaseTransferNote | None:
    """The answered transfer the case ``case_id`` came from (``None``: it came otherwise).

    Called after the case itself was read with the principal's rights."""
    found = case_transfer(session, case_id)
    if found is None:
        return None
    name = session.scalar(sa.select(User.display_name).where(User.id == found.collector_user_id))
    return CaseTransferNote(
        call_id=found.call_id,
        collector_user_id=found.collector_user_id,
        collector_name=name or f"пользователь {found.collector_user_id}",
        answered_at=found.answered_at,
        ended_at=found.ended_at,
    )
