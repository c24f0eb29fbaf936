"""The trained turn classifier: hashed features, one logistic model per tag, exact rules.

The artifact in ``<models_dir>/classifier/`` is two files: ``weights.npz`` (plain numpy
arrays — no pickle, nothing executable) and ``metadata.json`` (library versions, the
training data's hash, the held-out figures). Loading refuses an artifact built with other
library versions, since lemmas and hashing could differ, and says to retrain.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from classifier.contract import TAGS, Classification, Tag, TurnContext
from classifier.embeddings import preload
from classifier.errors import RETRAIN_HINT, ModelMismatch, ModelNotFound
from classifier.features import TurnVectoriser
from classifier.language import words
from classifier.promises import extract_promise
from classifier.rules import apply_rules

__all__ = [
    "FEATURES_VERSION",
    "ARTIFACT_DIR",
    "TrainedClassifier",
    "library_versions",
    "load_classifier",
    "save_classifier",
]

FEATURES_VERSION = 2
# Turns longer than this are also read in windows (see TrainedClassifier.scores).
LONG_TURN_WORDS = 10
WINDOW_WORDS = 8
WINDOW_STRIDE = 5
# A window has less context than the turn: its reading must be this much surer (in logits).
WINDOW_MARGIN = 0.5
_WINDOWED = np.array([tag not in (Tag.CONFIRM, Tag.DENY) for tag in TAGS])
ARTIFACT_DIR = "classifier"
_LIBRARIES = (
    "scikit-learn", "numpy", "scipy", "pymorphy3", "pymorphy3-dicts-ru", "navec", "natasha",
)  # fmt: skip


def library_versions() -> dict[str, str]:
    """The versions an artifact depends on: Python, the libraries, our feature code."""
    versions = {name: metadata.version(name) for name in _LIBRARIES}
    versions["python"] = platform.python_version()
    versions["features"] = str(FEATURES_VERSION)
    return versions


@dataclass(frozen=True, slots=True)
class TrainedClassifier:
    """A :class:`~classifier.contract.TurnClassifier` from learnt weights plus exact rules.

    Immutable after construction, so one instance serves every thread of a worker.
    """

    vectoriser: TurnVectoriser
    weights: np.ndarray  # features × tags, dense: a live turn gathers a few hundred rows
    intercepts: np.ndarray  # tags
    thresholds: np.ndarray  # tags

    def _logits(self, text: str, context: TurnContext) -> np.ndarray:
        indices, values = self.vectoriser.vector(text, context)
        logits: np.ndarray = values @ self.weights[indices] + self.intercepts
        return logits

    def scores(self, text: str, context: TurnContext) -> dict[Tag, float]:
        """The model's probability for every tag, before thresholds and rules.

        A long turn is also read in overlapping windows of a few words, and each tag takes
        its best reading: a story of several clauses ("бабушка болела мы к ней в деревню
        ездили всё лето и квитанции никто не видел") dilutes every clause's words in one
        vector, while each clause alone is clear. confirm/deny are read off the whole turn
        only: they answer the question with the turn's first words.
        """
        logits = self._logits(text, context)
        tokens = words(text)
        if len(tokens) > LONG_TURN_WORDS:
            last = len(tokens) - WINDOW_WORDS
            starts = [*range(0, last, WINDOW_STRIDE), last]
            windows = np.stack(
                [self._logits(" ".join(tokens[i : i + WINDOW_WORDS]), context) for i in starts]
            )
            best = windows.max(axis=0) - WINDOW_MARGIN
            logits = np.where(_WINDOWED, np.maximum(logits, best), logits)
        return {tag: 1.0 / (1.0 + math.exp(-float(z))) for tag, z in zip(TAGS, logits, strict=True)}

    def classify(self, text: str, context: TurnContext) -> Classification:
        """Tags with confidences and the promise's date and amount, by the spec."""
        scores = self.scores(text, context)
        asserted = {
            tag: round(p, 4)
            for (tag, p), limit in zip(scores.items(), self.thresholds, strict=True)
            if p >= limit
        }
        tags = apply_rules(text, context, asserted, scores)
        day, amount = (None, None)
        if Tag.PROMISE_TO_PAY in tags:
            day, amount = extract_promise(text, context)
        ordered = {tag: tags[tag] for tag in TAGS if tag in tags}
        return Classification(MappingProxyType(ordered), day, amount)


def save_classifier(
    model: TrainedClassifier, models_dir: Path, extra_metadata: Mapping[str, object]
) -> Path:
    """Write the artifact to ``<models_dir>/classifier/`` atomically; return the directory."""
    target = models_dir / ARTIFACT_DIR
    target.mkdir(parents=True, exist_ok=True)
    weights = sp.csc_matrix(model.weights)
    tmp_weights = target / "weights.tmp.npz"
    np.savez_compressed(
        tmp_weights,
        data=weights.data,
        indices=weights.indices,
        indptr=weights.indptr,
        shape=np.array(weights.shape),
        intercepts=model.intercepts,
        thresholds=model.thresholds,
        word_bits=np.array(model.vectoriser.word_bits),
        char_bits=np.array(model.vectoriser.char_bits),
        embedding_dim=np.array(model.vectoriser.embedding_dim),
    )
    meta = {"libraries": library_versions(), "tags": [t.value for t in TAGS], **extra_metadata}
    tmp_meta = target / "metadata.tmp.json"
    tmp_meta.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    # Weights first, metadata last: a reader never sees new metadata with old weights.
    tmp_weights.replace(target / "weights.npz")
    tmp_meta.replace(target / "metadata.json")
    return target


def read_metadata(models_dir: Path) -> dict[str, object]:
    """The artifact's metadata; ModelNotFound when absent, ModelMismatch when unreadable."""
    path = models_dir / ARTIFACT_DIR / "metadata.json"
    if not path.is_file() or not (path.parent / "weights.npz").is_file():
        raise ModelNotFound(f"нет обученного классификатора в {path.parent}; {RETRAIN_HINT}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelMismatch(f"повреждены метаданные {path}; {RETRAIN_HINT}") from err
    if not isinstance(meta, dict):
        raise ModelMismatch(f"повреждены метаданные {path}; {RETRAIN_HINT}")
    return meta


def load_classifier(models_dir: Path) -> TrainedClassifier:
    """Load ``<models_dir>/classifier/``; refuse other library versions (say how to retrain)."""
    meta = read_metadata(models_dir)
    built = meta.get("libraries")
    current = library_versions()
    if built != current:
        differ = sorted(
            f"{name} {built.get(name) if isinstance(built, dict) else '?'} → {current[name]}"
            for name in current
            if not isinstance(built, dict) or built.get(name) != current[name]
        )
        raise ModelMismatch(
            "классификатор обучен с другими версиями библиотек ("
            + ", ".join(differ)
            + f"); {RETRAIN_HINT}"
        )
    if meta.get("tags") != [t.value for t in TAGS]:
        raise ModelMismatch(f"классификатор обучен на другом наборе меток; {RETRAIN_HINT}")
    path = models_dir / ARTIFACT_DIR / "weights.npz"
    try:
        with np.load(path, allow_pickle=False) as arrays:
            weights = sp.csc_matrix(
                (arrays["data"], arrays["indices"], arrays["indptr"]),
                shape=tuple(int(v) for v in arrays["shape"]),
            ).toarray()
            vectoriser = TurnVectoriser(
                int(arrays["word_bits"]), int(arrays["char_bits"]), int(arrays["embedding_dim"])
            )
            model = TrainedClassifier(
                vectoriser, weights, arrays["intercepts"].copy(), arrays["thresholds"].copy()
            )
    except (OSError, KeyError, ValueError) as err:
        raise ModelMismatch(f"повреждены веса {path}; {RETRAIN_HINT}") from err
    if model.weights.shape != (vectoriser.n_features, len(TAGS)):
        raise ModelMismatch(f"веса {path} не подходят к признакам; {RETRAIN_HINT}")
    if vectoriser.embedding_dim:
        preload()
    return model
