"""Napomni's own labelled turns: phrase files written for this project and their generator.

:func:`training_set` and :func:`heldout_set` are deterministic; the held-out set comes from
a different phrase file and different pools, and is never trained on.
"""

from __future__ import annotations

from classifier.corpus import LabelledTurn
from classifier.data.generate import generate

__all__ = ["training_set", "heldout_set", "TRAIN_SIZE", "HELDOUT_SIZE"]

TRAIN_SIZE = 6000
HELDOUT_SIZE = 1500


def training_set(seed: int = 1) -> list[LabelledTurn]:
    """The turns the model learns from."""
    return generate("train", TRAIN_SIZE, seed)


def heldout_set(seed: int = 1) -> list[LabelledTurn]:
    """The turns reported on and never learnt from."""
    return generate("heldout", HELDOUT_SIZE, seed)
