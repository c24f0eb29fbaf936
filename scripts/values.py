"""Typed values a script speaks, and the account variables they come from.

A spoken line is a sequence of parts: literal text, or a typed :class:`Amount`,
:class:`DateValue` or :class:`Count` carrying the grammatical case its template asked for
(``{debt:gen}`` in «в размере {debt:gen}»). Whoever drives a conversation renders the typed
parts into Russian words (``speech.russian``); ``scripts`` never formats numbers itself, so
the call and the rehearsal say exactly the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal, get_args

__all__ = [
    "Case",
    "CASES",
    "Amount",
    "DateValue",
    "Count",
    "Weekday",
    "WEEKDAY_WORDS",
    "Part",
    "ServiceDebt",
    "LastPayment",
    "PastPromise",
    "AccountVariables",
    "VariableKind",
    "VariableSpec",
    "VARIABLES",
    "spoken_text",
    "weekday_word",
]

Case = Literal["nom", "gen", "dat", "acc", "ins", "loc"]
CASES: tuple[Case, ...] = get_args(Case)


@dataclass(frozen=True, slots=True)
class Amount:
    """A sum of money in roubles, to be spoken in ``case`` («двенадцати тысяч рублей»)."""

    value: Decimal
    case: Case = "nom"


@dataclass(frozen=True, slots=True)
class DateValue:
    """A calendar day, to be spoken in ``case`` («двадцатого ноября»)."""

    value: dt.date
    case: Case = "gen"


@dataclass(frozen=True, slots=True)
class Count:
    """A number of things (``noun`` in its dictionary form), spoken in ``case`` («три месяца»)."""

    value: int
    noun: str
    case: Case = "nom"


@dataclass(frozen=True, slots=True)
class Weekday:
    """The day of the week of a date, to be spoken in ``case`` («до пятницы»)."""

    value: dt.date
    case: Case = "nom"


Part = str | Amount | DateValue | Count | Weekday


def spoken_text(parts: tuple[Part, ...]) -> str:
    """A plain, unrendered view of ``parts`` for logs of tests and error messages.

    Typed values appear in angle brackets (``<amount 5000 gen>``); the real rendering into
    Russian words belongs to ``speech.russian``. A weekday is its word («пятницы»).
    """
    out: list[str] = []
    for part in parts:
        match part:
            case str():
                out.append(part)
            case Amount(value=value, case=case):
                out.append(f"<amount {value} {case}>")
            case DateValue(value=value, case=case):
                out.append(f"<date {value.isoformat()} {case}>")
            case Count(value=value, noun=noun, case=case):
                out.append(f"<count {value} {noun} {case}>")
            case Weekday(value=value, case=case):
                out.append(weekday_word(value, case))  # a closed table of words, said here
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ServiceDebt:
    """The debt for one service («отопление», «холодная вода»)."""

    service: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LastPayment:
    """The account's most recent payment."""

    paid_on: dt.date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PastPromise:
    """A promise the debtor made in an earlier call."""

    made_on: dt.date
    due: dt.date
    amount: Decimal | None
    kept: bool


@dataclass(frozen=True, slots=True)
class AccountVariables:
    """What a script may say about one account; the dialer or the rehearsal fills it in.

    ``addressed_as`` is how the robot addresses the debtor (name and patronymic, «Иван
    Петрович»); ``full_name`` is used for the identity question only. Everything from
    ``address`` down is a debt detail: a script may speak it only after the debtor has
    confirmed who they are.
    """

    organisation: str
    addressed_as: str
    full_name: str
    address: str
    debt_total: Decimal
    debt_by_service: tuple[ServiceDebt, ...] = ()
    months_overdue: int = 0
    peni: Decimal = Decimal(0)
    last_payment: LastPayment | None = None
    promises: tuple[PastPromise, ...] = ()
    payment_link: str | None = None
    # Whether a payment message may go to this phone after the call (caps, opt-out, landline,
    # no gateway): when not, the robot never promises «пришлём в СМС».
    can_text: bool = True

    @property
    def last_promise(self) -> PastPromise | None:
        """The most recent promise on record (by the day it was made), if any."""
        if not self.promises:
            return None
        return max(self.promises, key=lambda p: (p.made_on, p.due))


class VariableKind(StrEnum):
    """How a template variable is spoken."""

    TEXT = "text"  # said as written; no grammatical case
    AMOUNT = "amount"
    DATE = "date"
    COUNT = "count"
    SERVICES = "services"  # the per-service list, amounts in the nominative
    WEEKDAY = "weekday"  # the day of the week of a date, as a word in the template's case


@dataclass(frozen=True, slots=True)
class VariableSpec:
    """One variable a template may use: its kind, whether it is a debt detail, its source."""

    kind: VariableKind
    private: bool
    help: str
    noun: str = ""  # for counts: the counted noun, dictionary form
    from_conversation: bool = False  # filled during the call, not from the account


VARIABLES: dict[str, VariableSpec] = {
    "organisation": VariableSpec(VariableKind.TEXT, False, "название организации"),
    "name": VariableSpec(VariableKind.TEXT, False, "имя и отчество должника"),
    "full_name": VariableSpec(VariableKind.TEXT, False, "фамилия, имя, отчество"),
    "address": VariableSpec(VariableKind.TEXT, True, "адрес квартиры"),
    "debt": VariableSpec(VariableKind.AMOUNT, True, "долг всего"),
    "services": VariableSpec(VariableKind.SERVICES, True, "долг по услугам"),
    "months_overdue": VariableSpec(VariableKind.COUNT, True, "месяцев просрочки", noun="месяц"),
    "peni": VariableSpec(VariableKind.AMOUNT, True, "пени"),
    "last_payment_date": VariableSpec(VariableKind.DATE, True, "дата последнего платежа"),
    "last_payment_amount": VariableSpec(VariableKind.AMOUNT, True, "сумма последнего платежа"),
    "promised_date": VariableSpec(VariableKind.DATE, True, "срок прошлого обещания"),
    "promised_amount": VariableSpec(VariableKind.AMOUNT, True, "сумма прошлого обещания"),
    "promise_date": VariableSpec(
        VariableKind.DATE, True, "дата, названная в этом звонке", from_conversation=True
    ),
    "promise_weekday": VariableSpec(
        VariableKind.WEEKDAY, True, "день недели названной даты", from_conversation=True
    ),
    "promise_amount": VariableSpec(
        VariableKind.AMOUNT, True, "сумма, названная в этом звонке", from_conversation=True
    ),
}


# Weekday names by case: a closed table of words (no numbers), so it lives here, not in speech.
_WEEKDAYS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("понедельник", "понедельника", "понедельнику", "понедельник", "понедельником", "понедельнике"),
    ("вторник", "вторника", "вторнику", "вторник", "вторником", "вторнике"),
    ("среда", "среды", "среде", "среду", "средой", "среде"),
    ("четверг", "четверга", "четвергу", "четверг", "четвергом", "четверге"),
    ("пятница", "пятницы", "пятнице", "пятницу", "пятницей", "пятнице"),
    ("суббота", "субботы", "субботе", "субботу", "субботой", "субботе"),
    ("воскресенье", "воскресенья", "воскресенью", "воскресенье", "воскресеньем", "воскресенье"),
)


WEEKDAY_WORDS: frozenset[str] = frozenset(word for forms in _WEEKDAYS for word in forms)
"""Every form of every weekday name (the robot renders them once, as it does numbers)."""


def weekday_word(day: dt.date, case: Case = "nom") -> str:
    """The day of the week of ``day`` in ``case``: ``до {gen}`` → «до пятницы», ``в {acc}`` → «в пятницу»."""
    return _WEEKDAYS[day.weekday()][CASES.index(case)]
