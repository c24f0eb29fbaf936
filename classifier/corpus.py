"""Turns as JSON lines: the input of ``napomni classify`` and the labelled sets.

An input line is ``{"text", "asked", "today", "debt"}`` (other fields ignored); a labelled
line also carries ``tags`` (a list of tag names, or a mapping of names to confidences),
``promise_date`` and ``promise_amount``. A bad line raises :class:`TurnInputError` naming
the line number and the field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from classifier.contract import Asked, Tag, TurnContext
from classifier.errors import TurnInputError

__all__ = ["LabelledTurn", "read_turn", "read_labelled", "iter_lines", "labelled_to_json"]


@dataclass(frozen=True, slots=True)
class LabelledTurn:
    """A debtor turn with its context and the answer the spec expects."""

    text: str
    context: TurnContext
    tags: frozenset[Tag]
    promise_date: dt.date | None = None
    promise_amount: Decimal | None = None


def iter_lines(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, object]]]:
    """Numbered JSON objects of non-blank lines (numbering counts every line from 1)."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            raise TurnInputError(f"строка {number}: не JSON ({err.msg})") from err
        if not isinstance(obj, dict):
            raise TurnInputError(f"строка {number}: ожидается JSON-объект")
        yield number, obj


def _date(obj: dict[str, object], key: str, number: int, required: bool) -> dt.date | None:
    raw = obj.get(key)
    if raw is None and not required:
        return None
    if not isinstance(raw, str):
        raise TurnInputError(f"строка {number}: поле {key!r} — нужна дата ГГГГ-ММ-ДД")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as err:
        raise TurnInputError(f"строка {number}: поле {key!r}={raw!r} — не дата ГГГГ-ММ-ДД") from err


def _money(obj: dict[str, object], key: str, number: int) -> Decimal | None:
    raw = obj.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TurnInputError(f"строка {number}: поле {key!r} — нужно число")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as err:
        raise TurnInputError(f"строка {number}: поле {key!r}={raw!r} — не число") from err
    if not value.is_finite() or value < 0:
        raise TurnInputError(f"строка {number}: поле {key!r}={raw!r} — нужна сумма ≥ 0")
    return value


def read_turn(obj: dict[str, object], number: int) -> tuple[str, TurnContext]:
    """Text and context of one input line; the error names line ``number`` and the field."""
    text = obj.get("text")
    if not isinstance(text, str):
        raise TurnInputError(f"строка {number}: поле 'text' — нужна строка")
    asked_raw = obj.get("asked")
    try:
        asked = Asked(str(asked_raw))
    except ValueError as err:
        allowed = ", ".join(a.value for a in Asked)
        raise TurnInputError(
            f"строка {number}: поле 'asked'={asked_raw!r} — допустимо: {allowed}"
        ) from err
    today = _date(obj, "today", number, required=True)
    if today is None:  # required=True never returns None; keeps mypy exact
        raise TurnInputError(f"строка {number}: поле 'today' отсутствует")
    return text, TurnContext(asked=asked, today=today, debt=_money(obj, "debt", number))


def _tags(obj: dict[str, object], number: int) -> frozenset[Tag]:
    raw = obj.get("tags")
    names: Iterable[object]
    if isinstance(raw, dict):
        names = raw.keys()
    elif isinstance(raw, list):
        names = raw
    else:
        raise TurnInputError(f"строка {number}: поле 'tags' — нужен список имён меток")
    tags = set()
    for name in names:
        try:
            tags.add(Tag(name))
        except ValueError as err:
            raise TurnInputError(f"строка {number}: неизвестная метка {name!r}") from err
    return frozenset(tags)


def read_labelled(lines: Iterable[str]) -> list[LabelledTurn]:
    """Labelled turns from JSON lines (the ``--evaluate`` file)."""
    turns = []
    for number, obj in iter_lines(lines):
        text, context = read_turn(obj, number)
        turns.append(
            LabelledTurn(
                text=text,
                context=context,
                tags=_tags(obj, number),
                promise_date=_date(obj, "promise_date", number, required=False),
                promise_amount=_money(obj, "promise_amount", number),
            )
        )
    return turns


def labelled_to_json(turn: LabelledTurn) -> dict[str, object]:
    """The JSON-line form of a labelled turn (the ``--evaluate`` format)."""
    return {
        "text": turn.text,
        "asked": turn.context.asked.value,
        "today": turn.context.today.isoformat(),
        "debt": float(turn.context.debt) if turn.context.debt is not None else None,
        "tags": sorted(tag.value for tag in turn.tags),
        "promise_date": turn.promise_date.isoformat() if turn.promise_date else None,
        "promise_amount": float(turn.promise_amount) if turn.promise_amount is not None else None,
    }
