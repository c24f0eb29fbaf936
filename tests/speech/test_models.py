from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from speech.errors import ModelFetchError, ModelNotFound
from speech.models import (
    ModelSource,
    fetch_model,
    is_vosk_model,
    resolve_vosk_model,
    resolve_whisper_model,
)


def _fake_model(root: Path) -> Path:
    (root / "am").mkdir(parents=True)
    (root / "am" / "final.mdl").write_bytes(b"model")
    (root / "conf").mkdir()
    (root / "conf" / "mfcc.conf").write_text("--sample-frequency=16000\n")
    return root


def _zip(tmp: Path, top: str = "vosk-model-small-ru-0.22") -> tuple[Path, str]:
    model = _fake_model(tmp / "src" / top)
    archive = tmp / "model.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for f in model.rglob("*"):
            out.write(f, f.relative_to(tmp / "src").as_posix())
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    served = tmp_path / "www"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(served), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_fetch_checks_sha256_and_unpacks_over_http(
    tmp_path: Path, http_dir: tuple[Path, str]
) -> None:
    served, base = http_dir
    archive, sha = _zip(tmp_path)
    archive.replace(served / "m.zip")
    source = ModelSource("vosk-model-small-ru-0.22", f"{base}/m.zip", sha, "tiny")
    target = fetch_model(source, tmp_path / "models")
    assert is_vosk_model(target)
    assert resolve_vosk_model(None, [tmp_path / "models"]) == target
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["vosk-model-small-ru-0.22"]


def test_fetch_refuses_a_wrong_checksum_and_leaves_nothing(tmp_path: Path) -> None:
    archive, _ = _zip(tmp_path)
    source = ModelSource("vosk-model-small-ru-0.22", archive.as_uri(), "0" * 64, "tiny")
    with pytest.raises(ModelFetchError, match="контрольная сумма"):
        fetch_model(source, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_fetch_refuses_path_traversal(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("../evil.txt", "x")
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ModelFetchError, match="недопустимый путь"):
        fetch_model(ModelSource("m", archive.as_uri(), sha, "tiny"), tmp_path / "models")
    assert not (tmp_path / "evil.txt").exists()


def test_unreachable_url_is_a_fetch_error(tmp_path: Path) -> None:
    source = ModelSource("m", (tmp_path / "missing.zip").as_uri(), "0" * 64, "tiny")
    with pytest.raises(ModelFetchError, match="не удалось скачать"):
        fetch_model(source, tmp_path / "models")


def test_resolution_order_and_missing_model_message(tmp_path: Path) -> None:
    first, second = tmp_path / "models", tmp_path / "shared"
    in_second = _fake_model(second / "vosk-model-small-ru-0.22")
    assert resolve_vosk_model(None, [first, second]) == in_second
    explicit = _fake_model(tmp_path / "mine")
    assert resolve_vosk_model(explicit, [first, second]) == explicit
    with pytest.raises(ModelNotFound, match="napomni models fetch"):
        resolve_vosk_model(None, [first])
    with pytest.raises(ModelNotFound, match="NAPOMNI_WHISPER_MODEL"):
        resolve_whisper_model(None, [first, second])
