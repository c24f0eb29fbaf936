"""The trained classifier for tests: the project's artifact, or one trained for this run."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.errors import ClassifierError
from classifier.model import TrainedClassifier, load_classifier
from napomni.settings import PROJECT_ROOT


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory holding a loadable classifier (``make test`` trains it first)."""
    project = PROJECT_ROOT / "models"
    try:
        load_classifier(project)
    except ClassifierError:
        from classifier.train import train

        fresh = tmp_path_factory.mktemp("models")
        train(fresh)
        return fresh
    return project


@pytest.fixture(scope="session")
def model(models_dir: Path) -> TrainedClassifier:
    """The loaded classifier."""
    return load_classifier(models_dir)
