"""Frequency caps on contacts with one person (230-ФЗ art. 7 ч.3 п.3–4 and ч.5).

Telephone conversations: at most 1 a day, 2 a week, 8 a month; voice and other messages:
at most 2 a day, 4 a week, 16 a month. Periods are calendar periods in the debtor's local
time (a week runs Monday to Sunday). One ledger per person counts contacts across every
campaign and channel.

Before a call nobody knows whether it will become a conversation, a message or nothing, so
a call may start only when there is room for *both* one more conversation and one more
message (:func:`blocking_cap`). The counts themselves live in a :class:`LedgerState` with
one bucket per period; a bucket whose period is over reads as zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from dialer.compliance.errors import ComplianceConfigError

__all__ = [
    "ContactKind",
    "Limits",
    "FrequencyCaps",
    "LEGAL_CAPS",
    "Periods",
    "Counts",
    "LedgerState",
    "CapBlock",
    "blocking_cap",
]


class ContactKind(StrEnum):
    """How a call counts towards the caps."""

    CONVERSATION = "conversation"
    MESSAGE = "message"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Limits:
    """Most contacts of one kind per calendar day, week and month."""

    per_day: int
    per_week: int
    per_month: int

    def __post_init__(self) -> None:
        if min(self.per_day, self.per_week, self.per_month) < 0:
            raise ComplianceConfigError("лимит контактов не может быть отрицательным")

    def within(self, other: Limits) -> bool:
        """Whether every limit here is at most the one in ``other``."""
        return (
            self.per_day <= other.per_day
            and self.per_week <= other.per_week
            and self.per_month <= other.per_month
        )


_LEGAL_CONVERSATIONS = Limits(1, 2, 8)
_LEGAL_MESSAGES = Limits(2, 4, 16)


@dataclass(frozen=True, slots=True)
class FrequencyCaps:
    """Caps per kind; refuses anything looser than the law."""

    conversation: Limits = _LEGAL_CONVERSATIONS
    message: Limits = _LEGAL_MESSAGES

    def __post_init__(self) -> None:
        if not self.conversation.within(_LEGAL_CONVERSATIONS):
            raise ComplianceConfigError(
                f"лимиты разговоров {self.conversation} выше законных {_LEGAL_CONVERSATIONS}"
            )
        if not self.message.within(_LEGAL_MESSAGES):
            raise ComplianceConfigError(
                f"лимиты сообщений {self.message} выше законных {_LEGAL_MESSAGES}"
            )

    def limits(self, kind: ContactKind) -> Limits:
        """The limits of ``kind`` (``NONE`` never counts)."""
        if kind is ContactKind.CONVERSATION:
            return self.conversation
        if kind is ContactKind.MESSAGE:
            return self.message
        raise ValueError("contacts that count as nothing have no limits")


LEGAL_CAPS = FrequencyCaps()


@dataclass(frozen=True, slots=True)
class Periods:
    """The calendar periods a local date falls in: the day, its week's Monday, its month's 1st."""

    day: dt.date
    week: dt.date
    month: dt.date

    @classmethod
    def of(cls, day: dt.date) -> Periods:
        """The periods of local ``day``."""
        return cls(day, day - dt.timedelta(days=day.weekday()), day.replace(day=1))


@dataclass(frozen=True, slots=True)
class Counts:
    """Contacts of one kind in the current day, week and month."""

    day: int = 0
    week: int = 0
    month: int = 0


@dataclass(frozen=True, slots=True)
class LedgerState:
    """One person's counters: for each period, its start and the counts of both kinds.

    Exactly the columns of the ``contact_ledger`` row; pure functions here, so the
    counting rules are tested without a database.
    """

    day: dt.date | None = None
    week: dt.date | None = None
    month: dt.date | None = None
    day_conversations: int = 0
    day_messages: int = 0
    week_conversations: int = 0
    week_messages: int = 0
    month_conversations: int = 0
    month_messages: int = 0

    def counts(self, kind: ContactKind, today: dt.date) -> Counts:
        """The counts of ``kind`` as seen on local ``today`` (finished periods read 0)."""
        periods = Periods.of(today)
        suffix = "conversations" if kind is ContactKind.CONVERSATION else "messages"
        return Counts(
            day=getattr(self, f"day_{suffix}") if self.day == periods.day else 0,
            week=getattr(self, f"week_{suffix}") if self.week == periods.week else 0,
            month=getattr(self, f"month_{suffix}") if self.month == periods.month else 0,
        )

    def recorded(self, kind: ContactKind, on: dt.date) -> LedgerState:
        """The state after one contact of ``kind`` on local date ``on``.

        A bucket of an earlier period restarts at 1; a contact dated before a bucket's
        period (a call that began before midnight and was recorded after a later one)
        leaves that bucket alone — it belongs to a period already over.
        """
        if kind is ContactKind.NONE:
            return self
        periods = Periods.of(on)
        suffix = "conversations" if kind is ContactKind.CONVERSATION else "messages"
        other = "messages" if kind is ContactKind.CONVERSATION else "conversations"
        changes: dict[str, object] = {}
        for name in ("day", "week", "month"):
            current: dt.date | None = getattr(self, name)
            start: dt.date = getattr(periods, name)
            if current is None or current < start:
                changes[name] = start
                changes[f"{name}_{suffix}"] = 1
                changes[f"{name}_{other}"] = 0
            elif current == start:
                changes[f"{name}_{suffix}"] = getattr(self, f"{name}_{suffix}") + 1
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class CapBlock(StrEnum):
    """Which cap stops another call now."""

    CONVERSATIONS_DAY = "conversations_day"
    CONVERSATIONS_WEEK = "conversations_week"
    CONVERSATIONS_MONTH = "conversations_month"
    MESSAGES_DAY = "messages_day"
    MESSAGES_WEEK = "messages_week"
    MESSAGES_MONTH = "messages_month"


def blocking_cap(state: LedgerState, today: dt.date, caps: FrequencyCaps) -> CapBlock | None:
    """The cap that forbids another call on local ``today``, or ``None`` when one is allowed.

    A call may become a conversation or a message, so both must have room.
    """
    for kind, prefix in (
        (ContactKind.CONVERSATION, "conversations"),
        (ContactKind.MESSAGE, "messages"),
    ):
        counts, limits = state.counts(kind, today), caps.limits(kind)
        if counts.day >= limits.per_day:
            return CapBlock(f"{prefix}_day")
        if counts.week >= limits.per_week:
            return CapBlock(f"{prefix}_week")
        if counts.month >= limits.per_month:
            return CapBlock(f"{prefix}_month")
    return None
