"""«Перезвоните вечером»: when the debtor asked the robot to call back, and when the law
lets us.

The script ends such a call with ``callback_requested`` after asking «Когда вам удобнее?»;
the call runner hands over the debtor's words (:class:`CallbackRequest`). Here they become a
local moment — a day (by the classifier's date reading: «завтра», «в понедельник», «25-го»),
a time of day («в семь вечера», «в 19:30», «после шести», «утром», «после обеда») or a
delay («через два часа», «через полчаса», «попозже») — and then the first moment at or after
it that the calling window and the frequency caps allow, keeping the asked time of day on a
later day when the caps close the asked one. Words that name no time give ``None``: the
caller falls back to its own retry delay.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from classifier.language import lemma, words
from classifier.numbers import read_numbers
from classifier.promises import promise_date
from dialer.campaigns.attempts import CallbackRequest
from dialer.campaigns.rules import CallRules
from dialer.compliance import LedgerState, blocking_cap, next_callable_at

__all__ = ["CallbackRequest", "callback_due", "requested_moment", "schedule_callback"]

# Parts of the day, as a clock time to call at.
_PARTS = {
    "утро": dt.time(10, 0), "утром": dt.time(10, 0), "утречком": dt.time(10, 0),
    "днём": dt.time(14, 0), "днем": dt.time(14, 0), "обед": dt.time(14, 0),
    "обеда": dt.time(14, 0), "вечер": dt.time(18, 30), "вечером": dt.time(18, 30),
    "вечерком": dt.time(18, 30),
}  # fmt: skip
_LATER = {"попозже", "позже", "позднее", "потом"}
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_HOUR_WORDS = {"в", "к", "после", "около", "часов", "час", "часа", "до"}
# The shortest delay we honour: the call that asked has only just ended.
_SOONEST = dt.timedelta(minutes=15)
_DAYS_TO_TRY = 62  # a month cap reached now opens within two months


def _pm(tokens: Sequence[str], after: int) -> bool | None:
    """``True`` for «вечера»/«дня» after the hour, ``False`` for «утра», ``None`` if neither."""
    for token in tokens[after : after + 2]:
        if token in ("вечера", "вечером", "дня", "днём", "днем"):
            return True
        if token in ("утра", "утром"):
            return False
    return None


def _clock(tokens: Sequence[str]) -> tuple[dt.time | None, frozenset[int]]:
    """A clock time the words name («19:30», «в семь вечера», «после шести», «к 10 утра»)
    and the positions of its words (so the day is not read from the hour)."""
    for i, token in enumerate(tokens):
        found = _CLOCK.match(token)
        if found and int(found.group(1)) < 24 and int(found.group(2)) < 60:
            return dt.time(int(found.group(1)), int(found.group(2))), frozenset({i})
    for span in read_numbers(list(tokens)):
        before = tokens[span.start - 1] if span.start > 0 else ""
        after = lemma(tokens[span.end]) if span.end < len(tokens) else ""
        if before == "через" or after in ("минута", "день", "неделя", "число", "месяц"):
            continue
        if before not in _HOUR_WORDS and after != "час" and _pm(tokens, span.end) is None:
            continue
        hour = int(span.value) if span.value == int(span.value) else -1
        if not 0 < hour < 24:
            continue
        pm = _pm(tokens, span.end + (1 if after == "час" else 0))
        # «после шести» means the evening: nobody asks for a call at six in the morning.
        if hour < 12 and (pm or (pm is None and hour < 8)):
            hour += 12
        return dt.time(hour, 0), frozenset(range(span.start, span.end + 1))
    for token in tokens:
        if token in _PARTS:
            return _PARTS[token], frozenset()
    return None, frozenset()


def _delay(tokens: Sequence[str]) -> dt.timedelta | None:
    """«через два часа», «через час», «через полчаса», «через 20 минут», «попозже»."""
    for i, token in enumerate(tokens[:-1]):
        if token != "через":
            continue
        rest = tokens[i + 1 :]
        if rest[0] == "полчаса":
            return dt.timedelta(minutes=30)
        spans = [s for s in read_numbers(list(rest)) if s.start == 0]
        count = float(spans[0].value) if spans else 1.0
        unit = lemma(rest[spans[0].end]) if spans and spans[0].end < len(rest) else lemma(rest[0])
        if unit == "час":
            return dt.timedelta(hours=count)
        if unit == "минута":
            return dt.timedelta(minutes=count)
    if any(token in _LATER for token in tokens):
        return dt.timedelta(hours=2)
    return None


def requested_moment(text: str, now: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """The moment (UTC) the words ask to be called at, read in the debtor's zone at ``now``.

    A time without a day is today if still ahead, else tomorrow; a day without a time
    keeps the time of day of ``now`` (the debtor could talk at this hour).
    """
    tokens = words(text.lower())
    if not tokens:
        return None
    local = now.astimezone(zone)
    delay = _delay(tokens)
    if delay is not None and not any(t in _PARTS for t in tokens):
        return (local + delay).astimezone(dt.UTC)
    clock, hour_words = _clock(tokens)
    rest = " ".join(t for i, t in enumerate(tokens) if i not in hour_words)
    day = promise_date(rest, local.date())
    if day is None and clock is None:
        return None
    if clock is None:
        clock = local.time().replace(second=0, microsecond=0, tzinfo=None)
    if day is None:
        day = local.date()
        if dt.datetime.combine(day, clock, zone) < local + _SOONEST:
            day += dt.timedelta(days=1)
    return dt.datetime.combine(day, clock, zone).astimezone(dt.UTC)


def callback_due(
    wanted: dt.datetime,
    *,
    now: dt.datetime,
    zone: ZoneInfo,
    rules: CallRules,
    ledger: LedgerState,
) -> dt.datetime:
    """The first moment at or after ``wanted`` (UTC) that the calling window and the caps
    allow, given the ledger after the call that asked; on a later day the asked time of day
    is kept. The claim checks both again; this only avoids a callback doomed to be moved.
    """
    wanted = max(wanted, now + _SOONEST)
    local = wanted.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    for shift in range(_DAYS_TO_TRY):
        day = local.date() + dt.timedelta(days=shift)
        if blocking_cap(ledger, day, rules.caps) is not None:
            continue
        # The asked time of day (or the window's start when it is later); on a later day,
        # if the asked time is past that day's window, the window's start is still after
        # ``wanted`` and so the first lawful moment.
        tries = [dt.datetime.combine(day, clock, zone)]
        if shift:
            tries.append(dt.datetime.combine(day, dt.time(0), zone))
        for moment in tries:
            opens = next_callable_at(moment.astimezone(dt.UTC), zone, rules.calendar, rules.hours)
            if opens is not None and opens.astimezone(zone).date() == day:
                return opens
    return wanted


def schedule_callback(
    request: CallbackRequest,
    *,
    now: dt.datetime,
    zone: ZoneInfo,
    rules: CallRules,
    ledger: LedgerState,
    otherwise: dt.timedelta,
) -> dt.datetime:
    """When to call back: the time asked (or ``now + otherwise`` when the words name none),
    moved to the first moment the window and the caps allow."""
    wanted = requested_moment(request.words, now, zone) or now + otherwise
    return callback_due(wanted, now=now, zone=zone, rules=rules, ledger=ledger)
