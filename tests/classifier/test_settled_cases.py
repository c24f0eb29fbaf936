"""The spec's settled cases and one clear turn per tag, through the trained classifier."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from classifier.contract import Asked, Tag, TurnContext
from classifier.model import TrainedClassifier

TODAY = dt.date(2026, 11, 23)  # a Monday
DEBT = Decimal("12480.50")


def _ctx(asked: Asked) -> TurnContext:
    return TurnContext(asked=asked, today=TODAY, debt=DEBT)


@pytest.mark.parametrize(
    ("text", "asked", "tags"),
    [
        # two tags in one turn
        ("денег нет заплачу с зарплаты десятого", Asked.REASON,
         {Tag.FINANCIAL_HARDSHIP, Tag.PROMISE_TO_PAY}),
        ("да заплачу завтра", Asked.PROMISE_DATE, {Tag.CONFIRM, Tag.PROMISE_TO_PAY}),
        # a conditional promise is no promise
        ("сделаете перерасчёт тогда и оплачу", Asked.REASON, {Tag.DISPUTE_AMOUNT}),
        ("пока крышу не залатаете ни рубля не дам", Asked.REASON, {Tag.SERVICE_COMPLAINT}),
        # a categorical refusal with a reason carries both
        ("не буду платить у вас трубы текут", Asked.REASON,
         {Tag.REFUSAL, Tag.SERVICE_COMPLAINT}),
        # a relative answering the identity question
        ("нет это жена его", Asked.IDENTITY, {Tag.DENY}),
        ("вы ошиблись номером", Asked.IDENTITY, {Tag.WRONG_PERSON}),
        # parts
        ("можно частями?", Asked.PROMISE_DATE, {Tag.INSTALLMENT_REQUEST}),
        ("буду платить по три тысячи", Asked.PROMISE_DATE,
         {Tag.PROMISE_TO_PAY, Tag.INSTALLMENT_REQUEST}),
        # negated or hedged words do not count
        ("я ж не говорю что платить не буду", Asked.PROMISE_DATE, set()),
        ("сегодня вряд ли а вот к среде переведу", Asked.PROMISE_DATE, {Tag.PROMISE_TO_PAY}),
        # confirm/deny only answer a yes/no question
        ("да это я", Asked.IDENTITY, {Tag.CONFIRM}),
        ("нет", Asked.IDENTITY, {Tag.DENY}),
        ("да", Asked.REASON, set()),
        # one clear turn per remaining tag
        ("уже оплатил через сбербанк онлайн", Asked.REASON, {Tag.ALREADY_PAID}),
        ("не согласен ошибка в квитанции", Asked.REASON, {Tag.DISPUTE_AMOUNT}),
        ("квартиру продали", Asked.REASON, {Tag.WRONG_PERSON}),
        ("квитанцию не получал", Asked.REASON, {Tag.UNAWARE}),
        ("на даче всё лето были", Asked.REASON, {Tag.AWAY}),
        ("подавайте в суд", Asked.REASON, {Tag.REFUSAL}),
        ("неудобно говорить перезвоните вечером", Asked.IDENTITY, {Tag.CALLBACK_LATER}),
        ("соедините с оператором", Asked.OPEN, {Tag.OPERATOR_REQUEST}),
        ("пришлите реквизиты", Asked.OPEN, {Tag.PAYMENT_QUESTION}),
        ("алло алло", Asked.REASON, set()),
    ],
)  # fmt: skip
def test_tags(model: TrainedClassifier, text: str, asked: Asked, tags: set[Tag]) -> None:
    result = model.classify(text, _ctx(asked))
    assert set(result.tags) == tags
    assert all(0.0 <= conf <= 1.0 for conf in result.tags.values())


def test_promise_carries_date_and_amount(model: TrainedClassifier) -> None:
    result = model.classify("денег нет заплачу с зарплаты десятого", _ctx(Asked.REASON))
    assert result.promise_date == dt.date(2026, 12, 10)
    assert result.promise_amount is None
    result = model.classify("буду платить по три тысячи", _ctx(Asked.PROMISE_DATE))
    assert result.promise_amount == Decimal(3000)
    assert result.promise_date is None
    result = model.classify("сегодня вряд ли а вот к среде переведу", _ctx(Asked.PROMISE_DATE))
    assert result.promise_date == dt.date(2026, 11, 25)


def test_no_promise_means_no_date(model: TrainedClassifier) -> None:
    result = model.classify("сделаете перерасчёт тогда и оплачу пятнадцатого", _ctx(Asked.REASON))
    assert not result.has(Tag.PROMISE_TO_PAY)
    assert result.promise_date is None
    assert result.promise_amount is None


def test_typed_text_with_digits(model: TrainedClassifier) -> None:
    result = model.classify("Заплачу 15-го, 3 000 руб.", _ctx(Asked.PROMISE_DATE))
    assert result.has(Tag.PROMISE_TO_PAY)
    assert result.promise_date == dt.date(2026, 12, 15)
    assert result.promise_amount == Decimal(3000)


def test_thread_safe_and_deterministic(model: TrainedClassifier) -> None:
    texts = [
        "денег нет заплачу с зарплаты десятого",
        "нет это жена его",
        "перезвоните вечером",
        "оплачу всю сумму до конца месяца",
    ] * 50
    expected = [model.classify(t, _ctx(Asked.PROMISE_DATE)) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda t: model.classify(t, _ctx(Asked.PROMISE_DATE)), texts))
    assert got == expected


def test_own_money_condition_is_a_promise(model: TrainedClassifier) -> None:
    """ "как только дадут (зарплату)" is the debtor's condition, not the company's."""
    result = model.classify(
        "зарплату задерживают как только дадут сразу заплачу", _ctx(Asked.REASON)
    )
    assert result.has(Tag.PROMISE_TO_PAY)


def test_probe_set_written_apart_from_the_generator(model: TrainedClassifier) -> None:
    """50 hand-labelled turns never trained on (classifier/data/probe.jsonl): a regression guard."""
    from importlib import resources

    from classifier.corpus import read_labelled
    from classifier.evaluation import evaluate

    text = resources.files("classifier.data").joinpath("probe.jsonl").read_text(encoding="utf-8")
    gold = read_labelled(text.splitlines())
    result = evaluate(gold, [model.classify(t.text, t.context) for t in gold])
    assert result.macro_f1 >= 0.85
    assert result.date_accuracy >= 0.9
