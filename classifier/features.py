"""What the model sees of a turn: lemmas with negation marked, character n-grams, context,
and the mean pretrained word vector (:mod:`classifier.embeddings`).

Words are lemmatised (pymorphy3) so "заплачу", "заплатила", "заплатим" share a feature;
numbers, month names and weekdays become class tokens so "пятнадцатого" and "15-го" look
alike; a word after "не"/"ни" is marked ("не_платить") so negation is visible to a linear
model. Character n-grams carry what lemmas lose on misheard words ("заплочу"). The question
asked is a token of its own and is crossed with the first word, which is how "да"/"нет"
become confirm/deny only as answers to a question. Word and character features are hashed;
the word vectors come with the installed ``natasha`` package.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sklearn.utils import murmurhash3_32

from classifier.contract import TurnContext
from classifier.embeddings import mean_vector
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


@lru_cache(maxsize=1 << 16)
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
    """Hashed lemma 1–2-grams + character 2–5-grams of a turn, each block l2-normalised,
    then (when ``embedding_dim`` is set) the mean pretrained word vector of the turn.

    Hashing is sklearn's murmurhash3 of each feature string; the same function builds the
    training matrix and a live turn's vector, so they cannot drift apart. The embedding
    block is dense and last: synonyms the training phrases never had still move the model.
    Stateless and thread-safe.
    """

    def __init__(self, word_bits: int = 18, char_bits: int = 18, embedding_dim: int = 0) -> None:
        self.word_bits = word_bits
        self.char_bits = char_bits
        self.embedding_dim = embedding_dim

    @property
    def n_features(self) -> int:
        """Width of the feature space: the word block, the character block, the embedding."""
        return (1 << self.word_bits) + (1 << self.char_bits) + self.embedding_dim

    def vector(self, text: str, context: TurnContext) -> tuple[np.ndarray, np.ndarray]:
        """Sorted unique feature indices and their values for one turn."""
        word_counts = _hashed(_word_grams(turn_tokens(text, context)), 2**self.word_bits, 0)
        char_counts = _hashed(_char_grams(normalise(text)), 2**self.char_bits, 2**self.word_bits)
        indices = np.fromiter(
            [*word_counts, *char_counts], dtype=np.int64, count=len(word_counts) + len(char_counts)
        )
        values = np.concatenate([_unit(word_counts), _unit(char_counts)])
        if self.embedding_dim:
            mean = mean_vector(words(text))
            if mean is not None:
                offset = (1 << self.word_bits) + (1 << self.char_bits)
                indices = np.concatenate([indices, np.arange(offset, offset + mean.size)])
                values = np.concatenate([values, mean])
        order = np.argsort(indices)
        return indices[order], values[order]

    def matrix(self, turns: Sequence[tuple[str, TurnContext]]) -> sp.csr_matrix:
        """The feature matrix of ``turns`` (for training and batch evaluation)."""
        indptr = [0]
        all_indices: list[np.ndarray] = []
        all_values: list[np.ndarray] = []
        for text, context in turns:
            indices, values = self.vector(text, context)
            all_indices.append(indices)
            all_values.append(values)
            indptr.append(indptr[-1] + len(indices))
        return sp.csr_matrix(
            (
                np.concatenate(all_values) if all_values else np.zeros(0, np.float32),
                np.concatenate(all_indices) if all_indices else np.zeros(0, np.int64),
                np.array(indptr),
            ),
            shape=(len(turns), self.n_features),
        )


@lru_cache(maxsize=1 << 18)
def _hash(gram: str) -> int:
    """murmurhash3 of a feature string, cached: a long turn is read again in windows."""
    return abs(int(murmurhash3_32(gram, seed=0)))


def _hashed(grams: Sequence[str], size: int, offset: int) -> dict[int, float]:
    counts: dict[int, float] = {}
    for gram in grams:
        index = offset + _hash(gram) % size
        counts[index] = counts.get(index, 0.0) + 1.0
    return counts


def _unit(counts: dict[int, float]) -> np.ndarray:
    values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    norm = float(np.sqrt(np.dot(values, values)))
    return values / norm if norm else values


def _word_grams(tokens: Sequence[str]) -> list[str]:
    """Unigrams and adjacent bigrams of the word tokens (context tokens stay unigrams)."""
    plain = [t for t in tokens if "=" not in t and "|" not in t]
    grams = list(tokens)
    grams.extend(f"{a} {b}" for a, b in zip(plain, plain[1:], strict=False))
    return grams


def _char_grams(text: str) -> list[str]:
    """Character 2–5-grams inside space-padded words (sklearn's ``char_wb``)."""
    grams: list[str] = []
    for word in words(text):
        grams.extend(_word_char_grams(word))
    return grams


@lru_cache(maxsize=1 << 16)
def _word_char_grams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    grams: list[str] = []
    for n in range(2, 6):
        if n > len(padded):
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return tuple(grams)
