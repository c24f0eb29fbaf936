"""Personal data files are the service user's alone (issue 14, item 5): whatever the umask."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

NAPOMNI = Path(sys.executable).with_name("napomni")

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def _run(data_dir: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAPOMNI_")}
    env["NAPOMNI_DATA_DIR"] = str(data_dir)
    subprocess.run(
        [str(NAPOMNI), *args], env=env, umask=0o022, check=True, capture_output=True, timeout=120
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_data_dir_and_database_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _run(data_dir, "db", "upgrade")
    assert oct(_mode(data_dir)) == oct(0o700)
    files = [p for p in data_dir.iterdir() if p.name.startswith("napomni.db")]
    assert files
    for path in files:
        assert oct(_mode(path)) == oct(0o600), path.name


def test_an_open_data_dir_and_database_are_closed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    database = data_dir / "napomni.db"
    database.touch()
    database.chmod(0o644)
    _run(data_dir, "db", "upgrade")
    assert oct(_mode(data_dir)) == oct(0o700)
    assert oct(_mode(database)) == oct(0o600)


def test_audio_written_by_napomni_is_private(tmp_path: Path) -> None:
    # A call's recording is written by the worker process the same way: the process's umask
    # (077, set first thing by `napomni`) makes the file 0600 and its directories 0700.
    if shutil.which("festival") is None and shutil.which("espeak-ng") is None:
        pytest.skip("нет синтезатора речи (festival, espeak-ng)")
    data_dir = tmp_path / "data"
    recording = data_dir / "recordings" / "2026" / "call.wav"
    _run(data_dir, "say", "Проверка записи", "-o", str(recording))
    assert oct(_mode(recording)) == oct(0o600)
    for directory in (data_dir, data_dir / "recordings", recording.parent):
        assert oct(_mode(directory)) == oct(0o700), directory.name
