"""Exact rules applied over the model's tags: what must not be left to statistics.

- confirm/deny only answer a yes/no question: after «Почему возникла задолженность?»
  a "да" or "нет" is neither.
- A conditional on the company's action is no promise and no refusal ("сделаете перерасчёт
  тогда и оплачу", "пока крышу не залатаете ни рубля не дам"): the condition is a clause
  opened by "если"/"пока"/"когда"/"как только" whose verb is the company's (2nd or 3rd
  person plural, or an imperative followed by "тогда").
- A first-person future of a paying verb, not negated ("переведу", "отдам", "буду платить"),
  is a promise even in words the model has not met.
- Hedged refusals are no refusal: "я ж не говорю что платить не буду", "я не отказываюсь".
- A bare date answering «Когда сможете оплатить?» ("в среду", "двадцатого", "до конца
  недели", "сегодня после работы") is the promise with that date: the question supplies
  the verb. Not when the answer is negated, tells of the past, or sets a time to call back
  ("давайте завтра созвонимся"): a call-back with no paying word is no promise.
- Asking the robot to put you through is asking for a person, whoever it names or none:
  "соедините меня", "переключите, пожалуйста", "свяжите меня с кем-нибудь", "позовите
  кого-то" (an imperative, or "вы меня соедините?", of a verb of putting through).
"""

from __future__ import annotations

from collections.abc import Sequence

from classifier.contract import Asked, Tag, TurnContext
from classifier.language import grammemes, lemma, paying_tags, words
from classifier.promises import promise_date

__all__ = [
    "answers_when",
    "apply_rules",
    "asks_to_be_put_through",
    "is_conditional_on_company",
    "is_hedged_refusal",
    "states_promise",
]

_CONDITION_OPENERS = {"если", "пока", "когда", "как", "сначала", "вот"}
_THEN = {"тогда", "потом"}
_OWN_MONEY = {"деньга", "зарплата", "пенсия", "получка", "аванс", "пособие"}
_HEDGES = (("не", "говорить"), ("не", "отказываться"), ("не", "отказ"))


def _company_verb(word: str) -> bool:
    tags = grammemes(word)
    return "VERB" in tags and "plur" in tags and ("2per" in tags or "3per" in tags)


def is_conditional_on_company(tokens: Sequence[str]) -> bool:
    """Whether the turn makes its payment depend on what the company does first."""
    for i, word in enumerate(tokens):
        if word in _CONDITION_OPENERS:
            window = tokens[i + 1 : i + 6]
            if word == "как" and (not window or window[0] != "только"):
                continue
            verb = next((k for k, w in enumerate(window) if _company_verb(w)), None)
            if verb is None:
                continue
            if any(
                lemma(w) in _OWN_MONEY for w in [*tokens[max(0, i - 4) : i], *window[: verb + 2]]
            ):
                continue  # "когда будут деньги заплачу" is the debtor's own condition: a promise
            return True
        if word in _THEN and i > 0:
            before = tokens[max(0, i - 5) : i]
            if any(_company_verb(w) or "impr" in grammemes(w) for w in before):
                return True
    return False


_PAYING = {
    "заплатить", "оплатить", "погасить", "внести", "перевести", "отдать", "вернуть",
    "перечислить", "рассчитаться", "закинуть", "скинуть", "выплатить", "расплатиться",
    "наскрести", "закрыть", "занести",
}  # fmt: skip
_PAYING_IMPERFECT = {"платить", "оплачивать", "гасить", "погашать", "вносить", "отдавать"}


def states_promise(tokens: Sequence[str]) -> bool:
    """A non-negated first-person future of a paying verb: "оплачу", "внесём", "буду платить"."""
    for i, word in enumerate(tokens):
        if i > 0 and tokens[i - 1] in ("не", "ни"):
            continue
        tags = grammemes(word)
        paying = paying_tags(word, _PAYING)
        if paying is not None and "1per" in paying and "futr" in paying:
            return True
        if (
            lemma(word) == "быть"
            and "1per" in tags
            and "futr" in tags
            and i + 1 < len(tokens)
            and lemma(tokens[i + 1]) in _PAYING_IMPERFECT
        ):
            return True
    return False


_NEGATIONS = {"не", "нет", "ни", "никогда", "нечем"}
_CALLING = {"созвониться", "перезвонить", "позвонить", "звонить", "набрать", "связаться"}


def answers_when(tokens: Sequence[str], text: str, context: TurnContext) -> bool:
    """A date said in answer to «когда оплатите?», with nothing that takes it back."""
    if context.asked is not Asked.PROMISE_DATE or not tokens:
        return False
    if any(t in _NEGATIONS for t in tokens):
        return False
    if any("VERB" in (g := grammemes(t)) and "past" in g for t in tokens):
        return False  # "в ноябре уезжали": a story, not the answer
    if any(lemma(t) in _CALLING for t in tokens):
        return False  # "давайте завтра созвонимся": when to call, not when to pay
    return promise_date(text, context.today) is not None


# "перевести" is left out: "переведите на рассрочку" asks for an installment plan;
# "подключить" too: "подключите отопление" is a complaint.
_PUTTING_THROUGH = {"соединить", "соединять", "переключить", "переключать", "связать", "позвать"}


def asks_to_be_put_through(tokens: Sequence[str]) -> bool:
    """A verb of putting through said to the robot: "соедините меня", "позовите кого-нибудь"."""
    for i, word in enumerate(tokens):
        if i > 0 and tokens[i - 1] in ("не", "ни"):
            continue
        word = word.removesuffix("-ка")
        if lemma(word) not in _PUTTING_THROUGH:
            continue
        tags = grammemes(word)
        # "соедините" parses first as the future "вы соедините", spelt as the imperative.
        if "impr" in tags or {"2per", "futr"} <= tags:
            return True
    return False


def _only_calls_back(tokens: Sequence[str]) -> bool:
    """ "давайте завтра созвонимся": a time to call back and no paying word at all."""
    forms = {lemma(t) for t in tokens}
    paying = _PAYING | _PAYING_IMPERFECT | {"оплата", "деньга", "платеж"}
    return bool(forms & _CALLING) and not forms & paying


def is_hedged_refusal(tokens: Sequence[str]) -> bool:
    """ "не говорю что не буду", "не отказываюсь": negated refusal words."""
    forms = [lemma(t) for t in tokens]
    return any((a, b) in _HEDGES for a, b in zip(forms, forms[1:], strict=False))


def apply_rules(
    text: str, context: TurnContext, tags: dict[Tag, float], scores: dict[Tag, float]
) -> dict[Tag, float]:
    """The model's asserted ``tags`` corrected by the exact rules (a new dict).

    ``scores`` are the model's probabilities for every tag: a tag a rule adds keeps the
    model's confidence for it, raised to at least 0.5.
    """
    result = dict(tags)
    tokens = words(text)
    if (
        Tag.PROMISE_TO_PAY not in result
        and Tag.REFUSAL not in result
        and (states_promise(tokens) or answers_when(tokens, text, context))
    ):
        result[Tag.PROMISE_TO_PAY] = round(max(scores.get(Tag.PROMISE_TO_PAY, 0.0), 0.5), 4)
    if context.asked is Asked.REASON:
        result.pop(Tag.CONFIRM, None)
        result.pop(Tag.DENY, None)
    if is_conditional_on_company(tokens):
        result.pop(Tag.PROMISE_TO_PAY, None)
        result.pop(Tag.REFUSAL, None)
    if _only_calls_back(tokens):
        result.pop(Tag.PROMISE_TO_PAY, None)
    if is_hedged_refusal(tokens):
        result.pop(Tag.REFUSAL, None)
    if Tag.OPERATOR_REQUEST not in result and asks_to_be_put_through(tokens):
        result[Tag.OPERATOR_REQUEST] = round(max(scores.get(Tag.OPERATOR_REQUEST, 0.0), 0.5), 4)
    if Tag.CONFIRM in result and Tag.DENY in result:
        weaker = Tag.CONFIRM if result[Tag.CONFIRM] < result[Tag.DENY] else Tag.DENY
        result.pop(weaker)
    return result
