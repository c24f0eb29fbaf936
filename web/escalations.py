"""The collectors' queue: escalation cases by priority and age, and what a collector does.

Taking a case assigns it to the collector (``user:<id>``) and puts it in progress; only
then does the account card show that collector the full phone numbers. Every action
appends to the account's contact history; notes are appended to the case, never replaced.

A scheduled callback (``case_callbacks``) brings the case back: once its time has come the
case goes to the top of the queue (the most overdue first); until then it waits below the
cases without one, since the debtor asked to be called later. Closing the case ends it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.models import Account, ContactEvent, ContactKind, Phone, PhoneStatus, utc_now
from storage.models.callbacks import CaseCallback
from storage.models.campaigns import OPEN_CASE_STATUSES, EscalationCase, EscalationStatus
from web.access import Principal
from web.collector_promises import (
    DUE_FIELD,
    CollectorPromise,
    has_collector_promise,
    record_promise,
    rub_text,
)
from web.errors import BadInput, Conflict, NotFound

__all__ = [
    "CaseRow",
    "Resolution",
    "add_note",
    "case_row",
    "list_queue",
    "mark_phone",
    "promise_on_case",
    "resolve_case",
    "schedule_callback",
    "take_case",
    "visible_case",
]

MAX_NOTE_LENGTH = 2000


class Resolution(StrEnum):
    """How a collector closes a case."""

    PROMISE = "promise"  # договорились об оплате
    PAID = "paid"  # оплата подтверждена
    INSTALLMENT = "installment"  # рассрочка
    DISPUTE_SENT = "dispute_sent"  # передано на перерасчёт / в спор
    REFUSED = "refused"  # отказ, готовим претензию
    UNREACHABLE = "unreachable"  # не дозвонились
    WRONG_PERSON = "wrong_person"


RESOLUTION_TITLES = {
    Resolution.PROMISE: "договорились об оплате",
    Resolution.PAID: "оплата подтверждена",
    Resolution.INSTALLMENT: "рассрочка",
    Resolution.DISPUTE_SENT: "передано на перерасчёт",
    Resolution.REFUSED: "отказ — готовим претензию",
    Resolution.UNREACHABLE: "не дозвонились",
    Resolution.WRONG_PERSON: "не тот человек",
}


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case in the queue."""

    id: int
    account_id: int
    account_number: str
    address: str
    status: str
    reasons: Sequence[str]
    priority: int
    debt: Decimal
    assignee: str | None
    mine: bool
    opened_at: dt.datetime
    age_days: int
    notes: str
    callback_at: dt.datetime | None = None
    callback_due: bool = False


def _visible(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.organisation_ids is None:
        return sa.true()
    return EscalationCase.organisation_id.in_(sorted(principal.organisation_ids))


def list_queue(
    session: Session, principal: Principal, *, include_closed: bool = False, limit: int = 200
) -> list[CaseRow]:
    """Open cases the principal may see: callbacks due first (the most overdue first), then
    by priority (highest first) and age (oldest first), callbacks not yet due last."""
    now = utc_now()
    due = CaseCallback.due_at
    waiting = sa.case((due.is_(None), 1), (due <= now, 0), else_=2)
    query = (
        sa.select(EscalationCase, Account.number, Account.address, due)
        .join(Account, Account.id == EscalationCase.account_id)
        .outerjoin(CaseCallback, CaseCallback.case_id == EscalationCase.id)
        .where(_visible(principal))
        .order_by(
            waiting,
            sa.case((due <= now, due), else_=None),
            EscalationCase.priority.desc(),
            EscalationCase.opened_at,
            EscalationCase.id,
        )
        .limit(limit)
    )
    if not include_closed:
        query = query.where(EscalationCase.status.in_(OPEN_CASE_STATUSES))
    return [
        _row(case, principal, number, address, callback_at, now)
        for case, number, address, callback_at in session.execute(query)
    ]


def _row(
    case: EscalationCase,
    principal: Principal,
    number: str,
    address: str,
    callback_at: dt.datetime | None,
    now: dt.datetime,
) -> CaseRow:
    return CaseRow(
        id=case.id,
        account_id=case.account_id,
        account_number=number,
        address=address,
        status=str(case.status),
        reasons=list(case.reasons or []),
        priority=case.priority,
        debt=case.debt,
        assignee=case.assignee,
        mine=case.assignee == principal.actor,
        opened_at=case.opened_at,
        age_days=max(0, (now - case.opened_at).days),
        notes=case.notes,
        callback_at=callback_at,
        callback_due=callback_at is not None and callback_at <= now,
    )


def visible_case(session: Session, principal: Principal, case_id: int) -> EscalationCase:
    """The case if the principal may see its organisation; else "not found"."""
    case = session.get(EscalationCase, case_id)
    if case is None or not principal.sees_organisation(case.organisation_id):
        raise NotFound("обращение не найдено")
    return case


def case_row(session: Session, principal: Principal, case_id: int) -> CaseRow:
    """One case as the queue shows it (the organisation is checked)."""
    case = visible_case(session, principal, case_id)
    account = session.get(Account, case.account_id)
    callback = session.get(CaseCallback, case.id)
    return _row(
        case,
        principal,
        account.number if account is not None else "",
        account.address if account is not None else "",
        callback.due_at if callback is not None else None,
        utc_now(),
    )


def _event(
    session: Session,
    case: EscalationCase,
    principal: Principal,
    kind: ContactKind,
    summary: str,
    details: dict[str, object],
    *,
    phone_id: int | None = None,
) -> None:
    session.add(
        ContactEvent(
            organisation_id=case.organisation_id,
            account_id=case.account_id,
            phone_id=phone_id,
            kind=kind,
            actor=principal.actor,
            summary=summary,
            ref_table="escalation_cases",
            ref_id=case.id,
            details={"case": case.id, **details},
        )
    )


def _append_note(case: EscalationCase, principal: Principal, text: str) -> None:
    stamp = utc_now().strftime("%d.%m.%Y %H:%M")
    line = f"[{stamp} {principal.login}] {text}"
    case.notes = f"{case.notes}\n{line}" if case.notes else line


def _check_open(case: EscalationCase) -> None:
    if str(case.status) not in OPEN_CASE_STATUSES:
        raise Conflict("обращение уже закрыто")


def _clean(text: str, field: str) -> str:
    cleaned = text.strip()
    if len(cleaned) > MAX_NOTE_LENGTH:
        raise BadInput(f"{field}: не длиннее {MAX_NOTE_LENGTH} символов")
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in cleaned):
        raise BadInput(f"{field}: недопустимые символы")
    return cleaned


def take_case(session: Session, principal: Principal, case_id: int) -> None:
    """Assign the case to the principal and put it in progress (a taken case stays theirs)."""
    case = visible_case(session, principal, case_id)
    _check_open(case)
    if case.assignee not in (None, principal.actor):
        raise Conflict("обращение уже взял другой сотрудник")
    case.assignee = principal.actor
    case.status = EscalationStatus.IN_PROGRESS
    case.updated_at = utc_now()
    _event(session, case, principal, ContactKind.ESCALATION, "Обращение взято в работу", {})


def _own_open(session: Session, principal: Principal, case_id: int) -> EscalationCase:
    case = visible_case(session, principal, case_id)
    _check_open(case)
    if case.assignee != principal.actor and not principal.is_admin:
        raise Conflict("сначала возьмите обращение в работу")
    return case


def resolve_case(
    session: Session,
    principal: Principal,
    case_id: int,
    resolution: str,
    note: str = "",
    promise: CollectorPromise | None = None,
) -> None:
    """Close the case with an outcome (and an optional note).

    ``promise`` (date and amount) is recorded with the closing; «договорились об оплате»
    needs one, given here or recorded on the case before."""
    try:
        outcome = Resolution(resolution)
    except ValueError as err:
        raise BadInput(f"resolution: одно из {', '.join(r.value for r in Resolution)}") from err
    case = _own_open(session, principal, case_id)
    text = _clean(note, "note")
    if promise is not None:
        _record(session, principal, case, promise)
    elif outcome is Resolution.PROMISE and not has_collector_promise(session, case):
        raise BadInput(f"{DUE_FIELD}: «договорились об оплате» — укажите дату и сумму обещания")
    _append_note(
        case, principal, f"Закрыто: {RESOLUTION_TITLES[outcome]}" + (f". {text}" if text else "")
    )
    now = utc_now()
    case.status = EscalationStatus.CLOSED
    case.closed_at = now
    session.execute(sa.delete(CaseCallback).where(CaseCallback.case_id == case.id))
    case.updated_at = now
    _event(
        session,
        case,
        principal,
        ContactKind.ESCALATION,
        f"Обращение закрыто: {RESOLUTION_TITLES[outcome]}",
        {"resolution": outcome.value},
    )


def schedule_callback(
    session: Session, principal: Principal, case_id: int, when: dt.datetime, note: str = ""
) -> None:
    """Record when the collector will call back: the case comes back to the top of the
    queue at that time (the latest time set wins); noted on the case and in the history."""
    if when.tzinfo is None:
        raise BadInput("callback_at: время с часовым поясом")
    case = _own_open(session, principal, case_id)
    text = _clean(note, "note")
    local = when.strftime("%d.%m.%Y %H:%M")
    _append_note(case, principal, f"Перезвонить {local}" + (f". {text}" if text else ""))
    now = utc_now()
    callback = session.get(CaseCallback, case.id)
    if callback is None:
        session.add(CaseCallback(case_id=case.id, due_at=when, set_by=principal.actor, set_at=now))
    else:
        callback.due_at, callback.set_by, callback.set_at = when, principal.actor, now
    case.updated_at = now
    _event(
        session,
        case,
        principal,
        ContactKind.NOTE,
        f"Назначен повторный звонок на {local}",
        {"callback_at": when.isoformat()},
    )


def promise_on_case(
    session: Session, principal: Principal, case_id: int, promise: CollectorPromise
) -> None:
    """Record the debtor's promise from the case card (the case stays open)."""
    case = _own_open(session, principal, case_id)
    _record(session, principal, case, promise)
    case.updated_at = utc_now()


def _record(
    session: Session, principal: Principal, case: EscalationCase, promise: CollectorPromise
) -> None:
    record_promise(session, principal, case, promise)
    _append_note(
        case,
        principal,
        f"Обещание: {rub_text(promise.amount)} ₽ до {promise.due_on.strftime('%d.%m.%Y')}",
    )


def add_note(session: Session, principal: Principal, case_id: int, note: str) -> None:
    """Append a note to the case."""
    text = _clean(note, "note")
    if not text:
        raise BadInput("note: пустая заметка")
    case = _own_open(session, principal, case_id)
    _append_note(case, principal, text)
    case.updated_at = utc_now()
    _event(session, case, principal, ContactKind.NOTE, "Заметка взыскателя", {})


def mark_phone(
    session: Session, principal: Principal, case_id: int, phone_id: int, status: str
) -> None:
    """Mark a phone of the case's account wrong or do-not-call (it is never dialled again)."""
    if status not in (PhoneStatus.WRONG.value, PhoneStatus.DO_NOT_CALL.value):
        raise BadInput("status: wrong или do_not_call")
    case = _own_open(session, principal, case_id)
    phone = session.get(Phone, phone_id)
    if phone is None or phone.account_id != case.account_id:
        raise NotFound("телефон не найден у этого лицевого счёта")
    phone.status = PhoneStatus(status)
    phone.status_changed_at = utc_now()
    title = "неверный номер" if status == PhoneStatus.WRONG.value else "не звонить"
    _append_note(case, principal, f"Телефон №{phone.id}: {title}")
    _event(
        session,
        case,
        principal,
        ContactKind.PHONE_STATUS,
        f"Телефон отмечен: {title}",
        {"status": status},
        phone_id=phone.id,
    )
