"""Russian text as the classifier sees it: normalised words and their lemmas.

Recogniser output (lower case, no punctuation, "щас") and typed text ("Заплачу 15.12,
3 000 руб.") are brought to one form: lower case, "ё" → "е", punctuation dropped except
inside numbers. Lemmas come from pymorphy3, cached per word: the analyser is read-only
after loading, so one instance serves every thread.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from functools import lru_cache

import pymorphy3

__all__ = ["normalise", "words", "lemma", "lemmas", "grammemes", "paying_tags", "morph"]

# Numbers keep their inner separators ("15.12", "3,5", "3 000" is joined later); everything
# else that is not a letter or a digit separates words.
_TOKEN = re.compile(r"\d+(?:[.,:/-]\d+)*(?:-?(?:го|е|ое|ого|му|ому|ех|х|к|т|р))?|[а-яa-z]+")

_morph_lock = threading.Lock()
_morph: pymorphy3.MorphAnalyzer | None = None


def morph() -> pymorphy3.MorphAnalyzer:
    """The one shared analyser, loaded on first use (≈0.2 s)."""
    global _morph
    if _morph is None:
        with _morph_lock:
            if _morph is None:
                _morph = pymorphy3.MorphAnalyzer()
    return _morph


def normalise(text: str) -> str:
    """Lower case, "ё" → "е", hyphens between words become spaces."""
    return text.lower().replace("ё", "е").replace("\u00a0", " ")


def words(text: str) -> list[str]:
    """The words and numbers of ``text`` in order, normalised."""
    return _TOKEN.findall(normalise(text))


@lru_cache(maxsize=65536)
def _parse(word: str) -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple(
        (p.normal_form.replace("ё", "е"), frozenset(str(p.tag).replace(" ", ",").split(",")))
        for p in morph().parse(word)[:4]
    )


def lemma(word: str) -> str:
    """The most likely dictionary form of ``word`` (digits stay as they are)."""
    if not word or word[0].isdigit():
        return word
    parses = _parse(word)
    return parses[0][0] if parses else word


def lemmas(word: str) -> tuple[str, ...]:
    """Every dictionary form pymorphy3 considers for ``word`` (best first)."""
    if not word or word[0].isdigit():
        return (word,)
    return tuple(p[0] for p in _parse(word)) or (word,)


def grammemes(word: str) -> frozenset[str]:
    """The grammemes of the most likely parse ("VERB", "plur", "2per", …)."""
    if not word or word[0].isdigit():
        return frozenset()
    parses = _parse(word)
    return parses[0][1] if parses else frozenset()


def paying_tags(word: str, verbs: Collection[str]) -> frozenset[str] | None:
    """The grammemes of ``word`` read as one of ``verbs``, if any of its parses is one.

    pymorphy3 ranks a noun first for some verb forms ("закрою" → «закрой»); a turn about
    paying means the verb.
    """
    if not word or word[0].isdigit():
        return None
    for form, tags in _parse(word):
        if form in verbs and ("VERB" in tags or "INFN" in tags or "PRTS" in tags):
            return tags
    return None
