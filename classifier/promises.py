"""The promise's date and amount, by the spec's rules (``shared/spec/tags.md``).

:func:`extract_promise` reads a turn (recogniser words or typed digits) against the call's
``today`` and ``debt``. Every date phrase the spec lists becomes a candidate date; hedged
or negated ones ("сегодня вряд ли", "не завтра") drop out, and the result is the last day
the debtor promised to pay by — the latest remaining candidate. Phrases with no day ("с
зарплаты", "на днях", "когда будут деньги") give no date, so the robot asks for one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from classifier.contract import TurnContext
from classifier.language import grammemes, lemma, lemmas, paying_tags, words
from classifier.numbers import NumberSpan, read_numbers

__all__ = ["extract_promise", "promise_date", "promise_amount"]

_MONTHS = {
    "январь": 1, "февраль": 2, "март": 3, "апрель": 4, "май": 5, "июнь": 6, "июль": 7,
    "август": 8, "сентябрь": 9, "октябрь": 10, "ноябрь": 11, "декабрь": 12,
}  # fmt: skip
_WEEKDAYS = {
    "понедельник": 0, "вторник": 1, "среда": 2, "четверг": 3, "пятница": 4, "суббота": 5,
    "воскресенье": 6,
}  # fmt: skip
_NOW = {"сегодня": 0, "сейчас": 0, "щас": 0, "ща": 0, "завтра": 1, "послезавтра": 2}
_UNIT_DAYS = {"день": 1, "денек": 1, "сутки": 1, "неделя": 7, "неделька": 7}
_DATE_PREPOSITIONS = {"в", "во", "до", "к", "ко", "на", "по", "числу", "прямо", "же", "уже"}
# A day number followed by these is not a date ("первого раза", "двадцать шестого года").
_NOT_A_DAY = {
    "раз", "год", "этаж", "квартал", "час", "подъезд", "квартира", "дом", "место", "месяц",
    "неделя", "день", "ребенок", "класс",
}  # fmt: skip
_CURRENCY = {"рубль", "руб", "р", "рэ", "рублик", "копейка"}
_CLAUSE_BREAK = re.compile(r"[,.;!?…]+|\s[-–—]\s")
_PAY_VERBS = {
    "заплатить", "оплатить", "погасить", "внести", "закрыть", "перевести", "отдать",
    "платить", "выплатить", "рассчитаться", "оплачивать", "гасить", "вносить", "кинуть",
    "скинуть", "положить", "вернуть", "перечислить", "закинуть", "погашать", "наскрести",
    "занести", "расплатиться", "отнести",
}  # fmt: skip
_CLAUSE_WORDS = {"но", "а", "зато", "однако", "потом"}
# A date this near after a past verb may be the story's ("была до 15 октября") even with a
# paying verb after it.
_TIE_REACH = 3
_UNABLE = {"мочь", "смочь", "получиться", "выйти", "успеть", "быть", "получаться"}
_NOT_WHOLE_AFTER = {
    "равно", "понятно", "ясно", "хорошо", "нормально", "время", "лето", "деньга", "добрый",
    "хороший", "никак", "не",
}  # fmt: skip
# An amount right after these is what the debtor earns, not what they will pay ("пенсия
# двенадцать тысяч", "зарплата 15 тыс").
_INCOME = {"пенсия", "зарплата", "получка", "пособие", "доход", "аванс", "оклад", "пенсион"}
_DOTTED = re.compile(r"(\d{1,2})[./-](\d{1,2})(?:[./-](\d{2,4}))?$")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class _Candidate:
    day: dt.date
    start: int
    end: int


def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _next_month(day: dt.date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def _sunday_of_week(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=6 - day.weekday())


def _day_of_month(n: int, today: dt.date) -> dt.date:
    """Day N of this month if after today, else of next month (clamped to the month's end)."""
    this = dt.date(today.year, today.month, min(n, _last_day(today.year, today.month).day))
    if this > today:
        return this
    year, month = _next_month(today)
    return dt.date(year, month, min(n, _last_day(year, month).day))


def _named_date(day: int, month: int, today: dt.date, year: int | None = None) -> dt.date | None:
    """Day and named month: this year, or next year if already past."""
    target_year = year if year is not None else today.year
    if not 1 <= month <= 12 or not 1 <= day <= _last_day(target_year, month).day:
        return None
    result = dt.date(target_year, month, day)
    if year is None and result < today:
        result = dt.date(today.year + 1, month, day)
    return result


def _month_only(month: int, today: dt.date, where: str) -> dt.date:
    """A month with no day: its last day; "в начале" the 10th, "в середине" the 15th."""
    for year in (today.year, today.year + 1):
        if where == "start":
            result = dt.date(year, month, 10)
        elif where == "middle":
            result = dt.date(year, month, 15)
        else:
            result = _last_day(year, month)
        if result >= today:
            return result
    return result


def _word_is(tokens: Sequence[str], i: int, *forms: str) -> bool:
    return 0 <= i < len(tokens) and (tokens[i] in forms or lemma(tokens[i]) in forms)


def _lemma_in(word: str, table: dict[str, int]) -> int | None:
    for form in lemmas(word):
        if form in table:
            return table[form]
    return None


def _position_words(tokens: Sequence[str], i: int) -> str:
    """Where in a period the phrase before ``i`` points: "start", "middle", "end" or ""."""
    for j in (i - 1, i - 2):
        if j < 0:
            break
        form = lemma(tokens[j])
        if form in ("начало", "начале"):
            return "start"
        if form in ("середина",):
            return "middle"
        if form in ("конец", "концу", "конца"):
            return "end"
    return ""


def _after_span(spans: dict[int, NumberSpan], i: int) -> NumberSpan | None:
    """The number span that ends right before token ``i``, if any."""
    for span in spans.values():
        if span.end == i:
            return span
    return None


def _now_is_payment(tokens: Sequence[str], i: int) -> bool:
    """ "сейчас" dates a payment ("прямо сейчас", "щас оплачу"), not "сейчас туго с деньгами"."""
    if _word_is(tokens, i - 1, "прямо") or _word_is(tokens, i + 1, "же"):
        return True
    near = list(tokens[i + 1 : i + 5])
    for n, t in enumerate(near):
        if t in _CLAUSE_WORDS:
            del near[n:]  # "сейчас туго с деньгами но заплачу": the date is not the payment's
            break
    return any(lemma(t) in _PAY_VERBS for t in [*tokens[max(0, i - 2) : i], *near])


def _candidates(tokens: Sequence[str], today: dt.date) -> list[_Candidate]:
    found: list[_Candidate] = []
    spans = {s.start: s for s in read_numbers(tokens)}
    used: set[int] = set()
    for i, word in enumerate(tokens):
        form = lemma(word)
        if (m := _DOTTED.match(word)) is not None:
            year = int(m.group(3)) if m.group(3) else None
            if year is not None and year < 100:
                year += 2000
            if (day := _named_date(int(m.group(1)), int(m.group(2)), today, year)) is not None:
                found.append(_Candidate(day, i, i + 1))
        elif word in _NOW or form in _NOW:
            if form == "сейчас" and not _now_is_payment(tokens, i):
                continue
            found.append(
                _Candidate(today + dt.timedelta(days=_NOW.get(word, _NOW.get(form, 0))), i, i + 1)
            )
        elif word == "через" and i + 1 < len(tokens):
            count: Decimal = Decimal(1)
            j = i + 1
            if j in spans and not spans[j].ordinal:
                count, j = spans[j].value, spans[j].end
                used.update(range(i + 1, j))
            if j < len(tokens):
                unit = _lemma_in(tokens[j], _UNIT_DAYS)
                if unit is not None:
                    found.append(_Candidate(today + dt.timedelta(days=int(count * unit)), i, j + 1))
                elif lemma(tokens[j]) == "месяц":
                    next_year, next_month = _next_month(today)
                    last = _last_day(next_year, next_month).day
                    found.append(
                        _Candidate(dt.date(next_year, next_month, min(today.day, last)), i, j + 1)
                    )
        elif (weekday := _lemma_in(word, _WEEKDAYS)) is not None:
            if any(
                "past" in grammemes(t) and lemma(t) in _PAY_VERBS for t in tokens[max(0, i - 3) : i]
            ):
                continue  # "оплатила в понедельник": a past payment, not a promise
            ahead = (weekday - today.weekday()) % 7 or 7
            found.append(_Candidate(today + dt.timedelta(days=ahead), i, i + 1))
        elif form in ("неделя", "неделька") and not _word_is(tokens, i - 1, "через"):
            if _after_span(spans, i) is not None or _word_is(tokens, i - 1, "прошлый", "тот"):
                continue  # "две недели", "на прошлой неделе", "на той неделе"
            if _word_is(tokens, i - 1, "следующий") or _word_is(tokens, i - 2, "следующий"):
                found.append(
                    _Candidate(_sunday_of_week(today) + dt.timedelta(days=7), i - 1, i + 1)
                )
            elif any(_word_is(tokens, j, "этот", "конец", "на", "до") for j in (i - 1, i - 2)):
                found.append(_Candidate(_sunday_of_week(today), i - 1, i + 1))
        elif (month := _lemma_in(word, _MONTHS)) is not None:
            preceding = _after_span(spans, i)
            if (
                preceding is not None
                and 1 <= preceding.value <= 31
                and preceding.value == int(preceding.value)
            ):
                used.update(range(preceding.start, preceding.end))
                named = _named_date(int(preceding.value), month, today)
                if named is not None:
                    found.append(_Candidate(named, preceding.start, i + 1))
            else:
                found.append(
                    _Candidate(_month_only(month, today, _position_words(tokens, i)), i, i + 1)
                )
        elif form == "месяц" and not _word_is(tokens, i - 1, "через"):
            where = _position_words(tokens, i)
            following = _word_is(tokens, i - 1, "следующий")
            if following:
                year, month = _next_month(today)
                day = dt.date(year, month, 10) if where == "start" else _last_day(year, month)
            elif where == "start":
                day = dt.date(today.year, today.month, 10)
                if day <= today:
                    year, month = _next_month(today)
                    day = dt.date(year, month, 10)
            elif where == "end" or _word_is(tokens, i - 1, "этот"):
                day = _last_day(today.year, today.month)
            else:
                continue
            found.append(_Candidate(day, i - 1, i + 1))
    for start, span in spans.items():
        if start in used or not 1 <= span.value <= 31 or span.value != int(span.value):
            continue
        after = tokens[span.end] if span.end < len(tokens) else ""
        after_form = lemma(after) if after else ""
        if _lemma_in(after, _MONTHS) is not None or after_form in _NOT_A_DAY:
            continue
        before = tokens[start - 1] if start > 0 else ""
        is_day = (
            (span.ordinal and not span.suffix)
            or after_form == "число"
            or (
                span.digits
                and not span.suffix
                and before in ("до", "к", "ко", "на")
                and after_form not in _CURRENCY
            )
        )
        if is_day:
            found.append(_Candidate(_day_of_month(int(span.value), today), start, span.end))
    return found


def _negated(tokens: Sequence[str], candidate: _Candidate) -> bool:
    """ "не завтра", "сегодня вряд ли", "в пятницу не смогу": a date the debtor rules out."""
    j = candidate.start - 1
    while j >= 0 and tokens[j] in _DATE_PREPOSITIONS:
        j -= 1
    if j >= 0 and tokens[j] in ("не", "ни"):
        return True
    following = list(tokens[candidate.end : candidate.end + 3])
    if "вряд" in following[:2]:
        return True
    if following[:1] == ["нет"] and following[1:2] in ([], ["а"], ["но"]):
        return True
    return any(
        a == "не" and lemma(b) in _UNABLE for a, b in zip(following, following[1:], strict=False)
    )


# Spoken clauses have no commas: these words open a new one ("работу потерял но в июне внесу").
_CLAUSE_BREAK_WORDS = re.compile(r"\s(?=(?:а|но|зато|однако|поэтому|потом)\s)")
# Remarks to the caller, not the story: "ладно уговорили в субботу оплатим", "я вас услышала".
_REMARK_VERBS = {
    "услышать", "понять", "уговорить", "договориться", "сказать", "убедить", "слышать",
    "понимать", "знать", "говорить", "записать", "записывать",
}  # fmt: skip


def _clauses(text: str) -> list[int]:
    """The clause of each token of ``words(text)``: clauses end at , . ; ! ? and dashes, and
    before "а", "но", "потом"… (the recogniser writes no commas)."""
    ids: list[int] = []
    parts = [
        piece
        for sentence in _CLAUSE_BREAK.split(text)
        for piece in _CLAUSE_BREAK_WORDS.split(f" {sentence} ")
    ]
    for n, part in enumerate(parts):
        ids += [n] * len(words(part))
    return ids


def _verb_tags(word: str) -> frozenset[str] | None:
    """The grammemes of ``word`` as a verb that can carry a story or a promise, else None.

    Remarks to the caller ("понимаете", "уговорили", "слушайте") are no such verb. A paying
    verb counts even when pymorphy3 ranks a noun first ("закрою" as «закрой»).
    """
    tags = grammemes(word)
    if "VERB" in tags or "INFN" in tags:
        if "2per" in tags or "impr" in tags or lemma(word) in _REMARK_VERBS:
            return None
        return tags
    return paying_tags(word, _PAY_VERBS)


def _story_side(
    tokens: Sequence[str], clauses: Sequence[int], candidate: _Candidate
) -> Literal["story", "tie", "promise"]:
    """Whether a date belongs to the story the debtor tells ("в ноябре был в командировке",
    "в санатории была до 15 октября"): the verb nearest to it in its clause is in the past
    tense. "tie" when a past verb before it and a paying verb after it are equally near
    ("задержали пятого внесу", "была до двадцатого ноября оплачу…"): the story's only if the
    turn promises another date."""
    clause = clauses[candidate.start] if candidate.start < len(clauses) else -1
    before: tuple[int, frozenset[str]] | None = None
    after: tuple[int, frozenset[str]] | None = None
    for i, token in enumerate(tokens):
        if candidate.start <= i < candidate.end or (i < len(clauses) and clauses[i] != clause):
            continue
        tags = _verb_tags(token)
        if tags is None:
            continue
        if i < candidate.start:
            before = (candidate.start - i, tags)
        elif after is None:
            after = (i - candidate.end + 1, tags)
    if (
        before is not None
        and after is not None
        and "past" in before[1]
        and "past" not in after[1]
        and before[0] <= _TIE_REACH
    ):
        return "tie"
    if before is None and after is None:
        return "promise"
    if after is None or (before is not None and before[0] <= after[0]):
        return "story" if before is not None and "past" in before[1] else "promise"
    return "story" if "past" in after[1] else "promise"


def promise_date(text: str, today: dt.date) -> dt.date | None:
    """The last day the debtor promised to pay by, or None when no day was said.

    The promised date is the one the paying verb governs: dates of the story told around
    it ("в ноябре был в командировке, заплачу до конца месяца") are left out.
    """
    tokens = words(text)
    candidates = [c for c in _candidates(tokens, today) if not _negated(tokens, c)]
    if not candidates:
        return None
    clauses = _clauses(text)
    if len(clauses) != len(tokens):  # a break inside a token: no clauses, one sentence
        clauses = [0] * len(tokens)
    sides = [(c, _story_side(tokens, clauses, c)) for c in candidates]
    promised = [c.day for c, side in sides if side == "promise"]
    if not promised:
        promised = [c.day for c, side in sides if side == "tie"]
    return max(promised, default=None)


def _is_amount(tokens: Sequence[str], span: NumberSpan) -> bool:
    after = tokens[span.end] if span.end < len(tokens) else ""
    after_form = lemma(after) if after else ""
    if span.ordinal or after_form in _NOT_A_DAY or after_form == "число":
        return False
    if _lemma_in(after, _MONTHS) is not None or _lemma_in(after, _UNIT_DAYS) is not None:
        return False
    if after_form in ("месяц", "неделя", "процент", "минута", "час", "год", "лет"):
        return False
    if after_form in _CURRENCY or span.suffix in ("к", "т", "р"):
        return True
    if span.value >= 1000 or (span.value >= 100 and not span.digits):
        return True
    # Bare digits ≥ 100 from Whisper ("заплачу 500"); never a year said alone.
    return span.digits and span.value >= 100 and not 1990 <= span.value <= 2100


def _whole_or_half(tokens: Sequence[str], debt: Decimal | None) -> Decimal | None:
    if debt is None:
        return None
    forms = [lemma(t) for t in tokens]
    for i, form in enumerate(forms):
        if form in ("половина", "полсуммы", "полдолга") or tokens[i] in ("пол", "половинку"):
            return debt / 2
        if form in ("полностью", "целиком", "сполна"):
            return debt
        if form in ("весь", "все"):
            after = forms[i + 1] if i + 1 < len(forms) else ""
            if (
                i > 0
                and forms[i - 1] == "и"
                and not any(_will_pay(t) for t in tokens[i + 1 : i + 3])
            ):
                continue  # "внесу и всё": the end of a sentence, not an amount
            before = list(tokens[max(0, i - 2) : i])
            while any(t in _CLAUSE_WORDS for t in before):
                before.pop(0)  # "погашу но всё течёт": another clause
            if after in ("долг", "сумма", "задолженность", "остаток"):
                if any(f in ("никак", "не") for f in forms[i + 2 : i + 4]):
                    continue  # "сразу всю сумму никак"
                if any((g := paying_tags(t, _PAY_VERBS)) and "past" in g for t in before):
                    continue  # "внесла всю сумму на той неделе": already paid
                return debt
            near = [*before, *tokens[i + 1 : i + 3]]
            if after not in _NOT_WHOLE_AFTER and any(_will_pay(t) for t in near):
                return debt
    return None


def _is_income(tokens: Sequence[str], span: NumberSpan) -> bool:
    """ "пенсия у меня двенадцать тысяч": the sum names what the debtor earns (the income
    noun is the subject, in the nominative), not what they will pay ("с пенсии тысячу")."""
    for t in reversed(tokens[max(0, span.start - 3) : span.start]):
        if t in _CLAUSE_WORDS:
            return False
        if lemma(t) in _INCOME and "nomn" in grammemes(t):
            return True
    return False


def _will_pay(word: str) -> bool:
    """A paying verb not in the past ("закрою", "оплачу"; not "оплачено", "закрыл")."""
    tags = paying_tags(word, _PAY_VERBS)
    return tags is not None and "past" not in tags


def _money(value: Decimal) -> Decimal:
    return (
        value.quantize(_CENT).normalize()
        if value != value.to_integral()
        else value.quantize(Decimal(1))
    )


def promise_amount(text: str, debt: Decimal | None) -> Decimal | None:
    """The amount the debtor promised: a sum said, the whole debt, half of it, or None."""
    tokens = words(text)
    spans = read_numbers(tokens)
    for k, span in enumerate(spans):
        if not _is_amount(tokens, span):
            continue
        if _is_income(tokens, span):
            continue
        value = span.value
        # "… рублей пятьдесят копеек"
        if k + 1 < len(spans):
            nxt = spans[k + 1]
            if nxt.end < len(tokens) and lemma(tokens[nxt.end]) == "копейка" and nxt.value < 100:
                value += nxt.value / 100
        return _money(value)
    whole = _whole_or_half(tokens, debt)
    return _money(whole) if whole is not None else None


def extract_promise(text: str, context: TurnContext) -> tuple[dt.date | None, Decimal | None]:
    """The promise's date and amount in ``text``, by the spec's rules, against ``context``.

    Digits ("20", "5000", "15.12", "3 000 руб") and words ("двадцатого", "пять тысяч") both
    work. Either part is None when the debtor did not say it.
    """
    return promise_date(text, context.today), promise_amount(text, context.debt)
