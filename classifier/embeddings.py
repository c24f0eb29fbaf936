"""Pretrained Russian word vectors: what a turn means beyond the words we trained on.

The vectors are navec's news embeddings (250 000 words, 300 dimensions, product-quantised)
shipped inside the ``natasha`` wheel; ``navec`` reads them. Nothing is downloaded: the file
comes with the installed package. A turn's feature is the mean of its words' unit vectors,
so "получка" and "зарплата", "поперли" and "уволили" land near each other even when only
one of them is in the training phrases. Loaded once per process, on first use (≈0.3 s);
read-only afterwards, so one instance serves every thread.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Protocol

import numpy as np

from classifier.errors import ModelMismatch
from classifier.language import lemma

__all__ = ["EMBEDDING_DIM", "NAVEC_FILE", "mean_vector", "embeddings_path", "preload"]

EMBEDDING_DIM = 300
NAVEC_FILE = "natasha/data/emb/navec_news_v1_1B_250K_300d_100q.tar"


class _Vectors(Protocol):
    def __contains__(self, word: str) -> bool: ...

    def __getitem__(self, word: str) -> np.ndarray: ...


_lock = threading.Lock()
_vectors: _Vectors | None = None


def embeddings_path() -> Path:
    """Where the installed ``natasha`` package keeps the navec file (no import of natasha)."""
    try:
        path = Path(str(metadata.distribution("natasha").locate_file(NAVEC_FILE)))
    except metadata.PackageNotFoundError as err:
        raise ModelMismatch("нет пакета natasha с векторами слов; выполните: make setup") from err
    if not path.is_file():
        raise ModelMismatch(f"нет файла векторов {path}; переустановите natasha: make setup")
    return path


def _loaded() -> _Vectors:
    global _vectors
    if _vectors is None:
        with _lock:
            if _vectors is None:
                from navec import Navec

                _vectors = Navec.load(str(embeddings_path()))
    return _vectors


def preload() -> None:
    """Read the vectors now (model loading, off the event loop), not on a live turn."""
    _loaded()


@lru_cache(maxsize=65536)
def _unit(word: str) -> np.ndarray | None:
    """The word's unit vector: its own form, else its lemma; None if navec lacks both."""
    vectors = _loaded()
    for form in (word, lemma(word)):
        if form in vectors:
            vector = np.asarray(vectors[form], dtype=np.float32)
            norm = float(np.linalg.norm(vector))
            return vector / norm if norm else None
    return None


def mean_vector(words: Sequence[str]) -> np.ndarray | None:
    """The unit-length mean of the words' vectors (digits skipped); None if none is known."""
    found = [v for w in words if w and not w[0].isdigit() and (v := _unit(w)) is not None]
    if not found:
        return None
    mean = np.mean(found, axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm else None
