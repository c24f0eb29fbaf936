"""The contract's context rules in code (issue 13): a bare date answering «когда оплатите?»
is the promise; the promised date is the one the paying verb governs, not the story's.
New wordings, not copies of the training phrases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from classifier.contract import Asked, Tag, TurnContext
from classifier.promises import promise_date
from classifier.rules import apply_rules

WEDNESDAY = dt.date(2026, 12, 2)


def _when(asked: Asked = Asked.PROMISE_DATE) -> TurnContext:
    return TurnContext(asked=asked, today=WEDNESDAY, debt=Decimal("4480.50"))


@pytest.mark.parametrize(
    ("answer", "day"),
    [
        ("в среду", dt.date(2026, 12, 9)),
        ("Двадцатого.", dt.date(2026, 12, 20)),
        ("ну в феврале", dt.date(2027, 2, 28)),
        ("до конца недели постараюсь", dt.date(2026, 12, 6)),
        ("сегодня после работы", WEDNESDAY),
        ("пятого числа", dt.date(2026, 12, 5)),
        ("к 15-му", dt.date(2026, 12, 15)),
    ],
)
def test_a_bare_date_answering_when_is_a_promise(answer: str, day: dt.date) -> None:
    tags = apply_rules(answer, _when(), {}, {})
    assert Tag.PROMISE_TO_PAY in tags
    assert promise_date(answer, WEDNESDAY) == day


@pytest.mark.parametrize(
    ("answer", "asked"),
    [
        ("в среду не смогу", Asked.PROMISE_DATE),  # taken back
        ("нет, в среду никак", Asked.PROMISE_DATE),
        ("в ноябре уезжали", Asked.PROMISE_DATE),  # a story
        ("в среду", Asked.REASON),  # not asked when
    ],
)
def test_a_date_that_is_no_answer_to_when_is_no_promise(answer: str, asked: Asked) -> None:
    assert Tag.PROMISE_TO_PAY not in apply_rules(answer, _when(asked), {}, {})


@pytest.mark.parametrize(
    ("turn", "day"),
    [
        ("в ноябре был в командировке, заплачу до конца месяца", dt.date(2026, 12, 31)),
        ("в санатории была до 15 октября, оплачу на этой неделе", dt.date(2026, 12, 6)),
        ("Летом лежала в больнице — к двадцатому внесу.", dt.date(2026, 12, 20)),
        ("в октябре сократили, пятого числа отдам", dt.date(2026, 12, 5)),
    ],
)
def test_the_promised_date_is_the_paying_verbs_not_the_storys(turn: str, day: dt.date) -> None:
    assert promise_date(turn, WEDNESDAY) == day


def test_a_date_only_of_the_past_is_no_promised_date() -> None:
    assert promise_date("в октябре была в отпуске", WEDNESDAY) is None


@pytest.mark.parametrize("turn", ["денег нет, но к пятому наскребу", "занесу в кассу на днях"])
def test_promises_in_plain_words(turn: str) -> None:
    assert Tag.PROMISE_TO_PAY in apply_rules(turn, _when(Asked.REASON), {}, {})


@pytest.mark.parametrize(
    "turn",
    [
        "соедините меня",
        "Соедините меня, пожалуйста.",
        "соедини меня с кем-нибудь",
        "переключите, пожалуйста",
        "свяжите меня с вашим специалистом",
        "позовите кого-то из людей",
        "вы меня соедините или нет?",
        "соедините-ка меня с начальством",
    ],
)
def test_asking_to_be_put_through_is_asking_for_a_person(turn: str) -> None:
    """The demo's «Соедините меня …» with the word «оператор» misheard still transfers."""
    assert Tag.OPERATOR_REQUEST in apply_rules(turn, _when(Asked.REASON), {}, {})


@pytest.mark.parametrize(
    "turn",
    [
        "не соединяйте меня ни с кем",
        "переведите меня на рассрочку",  # an installment plan, not a person
        "подключите отопление наконец",  # a complaint
        "свяжитесь со мной завтра",  # a call back
        "соединили меня вчера с вашим диспетчером, толку никакого",  # a story
    ],
)
def test_other_verbs_and_stories_are_no_request_to_be_put_through(turn: str) -> None:
    assert Tag.OPERATOR_REQUEST not in apply_rules(turn, _when(Asked.REASON), {}, {})
