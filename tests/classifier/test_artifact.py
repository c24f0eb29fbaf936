"""The artifact: metadata, refusal across library versions, ``napomni classifier check``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.errors import ModelMismatch, ModelNotFound
from classifier.model import library_versions, load_classifier, read_metadata
from napomni.cli import cli


@pytest.fixture
def artifact_copy(models_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(models_dir / "classifier", tmp_path / "classifier")
    return tmp_path


def test_metadata_records_versions_data_and_figures(models_dir: Path) -> None:
    meta = read_metadata(models_dir)
    assert meta["libraries"] == library_versions()
    assert isinstance(meta["data_hash"], str)
    assert len(meta["data_hash"]) == 64
    heldout = meta["heldout"]
    assert isinstance(heldout, dict)
    assert {"macro_f1", "micro_f1", "promise_date_accuracy", "per_tag"} <= heldout.keys()


def test_refuses_other_library_versions(artifact_copy: Path) -> None:
    path = artifact_copy / "classifier" / "metadata.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["libraries"]["scikit-learn"] = "0.1.0"
    path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelMismatch, match="napomni classifier train") as caught:
        load_classifier(artifact_copy)
    assert "scikit-learn 0.1.0" in str(caught.value)


def test_refuses_damaged_weights(artifact_copy: Path) -> None:
    (artifact_copy / "classifier" / "weights.npz").write_bytes(b"not a numpy archive")
    with pytest.raises(ModelMismatch, match="napomni classifier train"):
        load_classifier(artifact_copy)


def test_missing_artifact_says_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="napomni classifier train"):
        load_classifier(tmp_path)


def test_check_command_exit_codes(artifact_copy: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["classifier", "check"], env={"NAPOMNI_MODELS_DIR": str(artifact_copy)})
    assert ok.exit_code == 0, ok.output
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = runner.invoke(cli, ["classifier", "check"], env={"NAPOMNI_MODELS_DIR": str(empty)})
    assert missing.exit_code != 0
    assert "napomni classifier train" in missing.output
