"""Napomni's own labelled turns: phrase files written for this project and their generator.

:func:`training_set` and :func:`heldout_set` are deterministic; the held-out set comes from
a different phrase file and different pools, and is never trained on. :func:`independent_set`
is a second evaluation set made another way: 459 turns written from descriptions of debtor
situations by a writer who saw only the contract (``spec/tags.md``) — never the phrase
files, the generator or the model — and labelled by the contract; never trained on.
"""

from __future__ import annotations

from importlib import resources

from classifier.corpus import LabelledTurn, read_labelled
from classifier.data.generate import generate

__all__ = ["training_set", "heldout_set", "independent_set", "TRAIN_SIZE", "HELDOUT_SIZE"]

TRAIN_SIZE = 6000
HELDOUT_SIZE = 1500


def training_set(seed: int = 1) -> list[LabelledTurn]:
    """The turns the model learns from."""
    return generate("train", TRAIN_SIZE, seed)


def heldout_set(seed: int = 1) -> list[LabelledTurn]:
    """The turns reported on and never learnt from."""
    return generate("heldout", HELDOUT_SIZE, seed)


def independent_set() -> list[LabelledTurn]:
    """The independently written turns (see the module doc): reported on, never learnt from."""
    text = resources.files(__package__).joinpath("independent_turns.jsonl").read_text("utf-8")
    return read_labelled(text.splitlines())
