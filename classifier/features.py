"""What the model sees of a turn: lemmas with negation marked, character n-grams, context.

Words are lemmatised (pymorphy3) so "заплачу", "заплатила", "заплатим" share a feature;
numbers, month names and weekdays become class tokens so "пятнадцатого" and "15-го" look
alike; a word after "не"/"ни" is marked ("не_платить") so negation is visible to a linear
model. Character n-grams carry what lemmas lose on misheard words ("заплочу"). The question
asked is a token of its own and is crossed with the first word, which is how "да"/"нет"
become confirm/deny only as answers to a question. Vectors are hashed: nothing to load
but the model's weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from classifier.contract import TurnContext
from classifier.language import lemma, lemmas, normalise, words
from classifier.numbers import cardinal_value, is_multiplier, ordinal_value

__all__ = ["turn_tokens", "TurnVectoriser"]

_NEGATIONS = {"не", "ни", "нет", "без"}
_MONTHS = {
    "январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
    "октябрь", "ноябрь", "декабрь",
}  # fmt: skip
_WEEKDAYS = {"понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"}
_FILLERS = {"ну", "э", "эм", "алло", "вот", "так", "ой", "слушайте", "значит", "короче"}


def _class_token(word: str) -> str:
    if word[0].isdigit():
        return "<num>"
    forms = lemmas(word)
    if any(f in _MONTHS for f in forms):
        return "<month>"
    if any(f in _WEEKDAYS for f in forms):
        return "<weekday>"
    if is_multiplier(word) is not None:
        return "<thousand>"
    if ordinal_value(word) is not None:
        return "<ordinal>"
    if cardinal_value(word) is not None:
        return "<num>"
    return lemma(word)


def turn_tokens(text: str, context: TurnContext) -> list[str]:
    """The word-level tokens of a turn: lemmas, negation marks, context crossings."""
    raw = words(text)
    tokens = [_class_token(w) for w in raw]
    marked: list[str] = []
    for i, token in enumerate(tokens):
        marked.append(token)
        if i > 0 and tokens[i - 1] in _NEGATIONS:
            marked.append(f"{tokens[i - 1]}_{token}")
    asked = context.asked.value
    first = next((t for t in tokens if t not in _FILLERS), "<empty>")
    marked.append(f"asked={asked}")
    marked.append(f"first={first}|{asked}")
    if len(tokens) <= 3:
        marked.append(f"short|{asked}")
    return marked


class TurnVectoriser:
    """Hashed lemma 1–2-grams + character 2–5-grams of a turn, l2-normalised and stacked."""

    def __init__(self, word_bits: int = 18, char_bits: int = 18) -> None:
        self.word_bits = word_bits
        self.char_bits = char_bits
        self._words = HashingVectorizer(
            analyzer=_identity_ngrams,
            n_features=2**word_bits,
            alternate_sign=False,
            norm="l2",
            dtype=np.float32,
        )
        self._chars = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            n_features=2**char_bits,
            alternate_sign=False,
            norm="l2",
            dtype=np.float32,
        )

    def transform(self, turns: Sequence[tuple[str, TurnContext]]) -> sp.csr_matrix:
        """The feature matrix of ``turns`` (text, context) — stateless, thread-safe."""
        token_lists = [turn_tokens(text, context) for text, context in turns]
        texts = [normalise(text) for text, _ in turns]
        return sp.hstack(
            [self._words.transform(token_lists), self._chars.transform(texts)], format="csr"
        )


def _identity_ngrams(tokens: Sequence[str]) -> list[str]:
    """Unigrams and adjacent bigrams of the word tokens (context tokens stay unigrams)."""
    plain = [t for t in tokens if "=" not in t and "|" not in t]
    grams = list(tokens)
    grams.extend(f"{a} {b}" for a, b in zip(plain, plain[1:], strict=False))
    return grams
