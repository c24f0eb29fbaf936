"""Train the classifier on Napomni's own data, report on the held-out set, write the artifact.

``python -m classifier.train [MODELS_DIR]`` (``napomni classifier train`` passes the
configured models directory).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from classifier.contract import TAGS
from classifier.corpus import LabelledTurn, labelled_to_json
from classifier.data import heldout_set, training_set
from classifier.embeddings import EMBEDDING_DIM
from classifier.evaluation import Evaluation, evaluate
from classifier.features import TurnVectoriser
from classifier.model import TrainedClassifier, save_classifier

__all__ = ["TrainingReport", "fit", "train", "data_hash", "main"]

# Chosen by comparing variants on a split of the training phrases, never on the held-out set.
REGULARISATION_C = 8.0
THRESHOLD = 0.35


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """What a training run produced and how it scored on the held-out set."""

    artifact: Path
    heldout: Evaluation
    train_turns: int
    seconds: float


def data_hash(turns: Sequence[LabelledTurn]) -> str:
    """sha256 of the labelled turns as JSON lines: the artifact says what it learnt from."""
    digest = hashlib.sha256()
    for turn in turns:
        digest.update(
            json.dumps(labelled_to_json(turn), ensure_ascii=False, sort_keys=True).encode()
        )
        digest.update(b"\n")
    return digest.hexdigest()


def fit(
    turns: Sequence[LabelledTurn],
    c: float = REGULARISATION_C,
    embedding_dim: int = EMBEDDING_DIM,
) -> TrainedClassifier:
    """One logistic regression per tag on hashed word + character features and the mean
    word vector (``embedding_dim=0`` leaves the vectors out)."""
    vectoriser = TurnVectoriser(embedding_dim=embedding_dim)
    x = vectoriser.matrix([(t.text, t.context) for t in turns])
    columns = []
    intercepts = []
    for tag in TAGS:
        y = np.array([tag in t.tags for t in turns], dtype=np.int8)
        model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
        model.fit(x, y)
        columns.append(model.coef_.astype(np.float32).ravel())
        intercepts.append(float(model.intercept_[0]))
    return TrainedClassifier(
        vectoriser,
        np.stack(columns, axis=1),
        np.array(intercepts, dtype=np.float32),
        np.full(len(TAGS), THRESHOLD, dtype=np.float32),
    )


def train(models_dir: Path) -> TrainingReport:
    """Train on the training set, score the held-out set, write the artifact."""
    started = time.perf_counter()
    turns = training_set()
    heldout = heldout_set()
    model = fit(turns)
    result = evaluate(heldout, [model.classify(t.text, t.context) for t in heldout])
    seconds = time.perf_counter() - started
    artifact = save_classifier(
        model,
        models_dir,
        {
            "data_hash": data_hash(turns),
            "heldout_hash": data_hash(heldout),
            "train_turns": len(turns),
            "heldout": result.to_json(),
            "train_seconds": round(seconds, 1),
            "regularisation_c": REGULARISATION_C,
            "embedding_dim": model.vectoriser.embedding_dim,
        },
    )
    return TrainingReport(artifact, result, len(turns), seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m classifier.train [MODELS_DIR]``."""
    from classifier.evaluation import format_evaluation

    args = list(sys.argv[1:] if argv is None else argv)
    models_dir = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "models"
    report = train(models_dir)
    sys.stdout.write(format_evaluation(report.heldout) + "\n")
    sys.stdout.write(f"модель: {report.artifact} ({report.seconds:.1f} с)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
