"""The classifier's exceptions, one small tree.

``ClassifierError``
    ``ModelNotFound`` — no artifact in ``<models_dir>/classifier/``.
    ``ModelMismatch`` — the artifact was built with other library versions or is damaged.
    ``TurnInputError`` — a JSON line of ``napomni classify`` cannot be read (names the line).
"""

from __future__ import annotations

__all__ = ["ClassifierError", "ModelNotFound", "ModelMismatch", "TurnInputError"]

RETRAIN_HINT = "выполните: napomni classifier train"


class ClassifierError(Exception):
    """Base of every error the classifier raises."""


class ModelNotFound(ClassifierError):
    """The trained artifact is missing; the message says how to train it."""


class ModelMismatch(ClassifierError):
    """The artifact cannot be used with the installed libraries; the message says how to retrain."""


class TurnInputError(ClassifierError, ValueError):
    """A turn given as input is malformed; the message names the line and the field."""
