"""Finding speech models on disk and fetching the Vosk model from its official site.

Resolution order for each engine: an explicit directory (the operator's setting), then each
directory of the search path (the project's ``models/``, then the shared models). A missing
model is an error that says exactly how to get one. The library's own download
(``vosk.Model(lang=...)``) is never used: it fails noisily offline and checks nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from speech.errors import ModelFetchError, ModelNotFound

__all__ = [
    "VOSK_SMALL_RU",
    "WHISPER_BASE",
    "ModelSource",
    "fetch_model",
    "is_vosk_model",
    "is_whisper_model",
    "resolve_vosk_model",
    "resolve_whisper_model",
]


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where a model archive comes from and how to know it is the right one."""

    name: str
    url: str
    sha256: str
    size_note: str


VOSK_SMALL_RU = ModelSource(
    name="vosk-model-small-ru-0.22",
    url="https://alphacephei.com/vosk/models/vosk-model-small-ru-0.22.zip",
    sha256="961d5ff98a17f4aa6de69864d0aa71fa5bac682301d2b5d17a3f24c5c99a46d4",
    size_note="около 45 МБ",
)

WHISPER_BASE = "whisper-base-ct2"

_VOSK_HELP = (
    "Скачайте русскую модель командой `napomni models fetch` "
    f"({VOSK_SMALL_RU.name}, {VOSK_SMALL_RU.size_note}, с проверкой sha256) "
    "или укажите каталог распакованной модели в NAPOMNI_VOSK_MODEL."
)
_WHISPER_HELP = (
    f"Положите модель faster-whisper (CTranslate2) в models/{WHISPER_BASE}/ "
    "(нужны model.bin, config.json, tokenizer.json, vocabulary.txt; например, конвертация "
    "Systran/faster-whisper-base) или укажите её каталог в NAPOMNI_WHISPER_MODEL."
)


def is_vosk_model(path: Path) -> bool:
    """True when ``path`` looks like an unpacked Vosk model (acoustic model and config)."""
    return (path / "am" / "final.mdl").is_file() and (path / "conf").is_dir()


def is_whisper_model(path: Path) -> bool:
    """True when ``path`` looks like a CTranslate2 Whisper model."""
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def _searched(search: Sequence[Path]) -> str:
    return ", ".join(str(p) for p in search) or "—"


def resolve_vosk_model(explicit: Path | None, search: Sequence[Path]) -> Path:
    """The Vosk model directory to load, or :class:`ModelNotFound` saying how to get one."""
    if explicit is not None:
        if is_vosk_model(explicit):
            return explicit
        raise ModelNotFound(f"Каталог модели Vosk {explicit} не содержит модели. {_VOSK_HELP}")
    for folder in search:
        candidates = [folder / VOSK_SMALL_RU.name, *sorted(folder.glob("vosk-model*ru*"))]
        for candidate in candidates:
            if is_vosk_model(candidate):
                return candidate
    raise ModelNotFound(f"Модель Vosk не найдена (искали в: {_searched(search)}). {_VOSK_HELP}")


def resolve_whisper_model(explicit: Path | None, search: Sequence[Path]) -> Path:
    """The Whisper (CTranslate2) model directory, or :class:`ModelNotFound` saying how to get one."""
    if explicit is not None:
        if is_whisper_model(explicit):
            return explicit
        raise ModelNotFound(
            f"Каталог модели Whisper {explicit} не содержит модели. {_WHISPER_HELP}"
        )
    for folder in search:
        for candidate in [folder / WHISPER_BASE, *sorted(folder.glob("whisper-*"))]:
            if is_whisper_model(candidate):
                return candidate
    raise ModelNotFound(
        f"Модель Whisper не найдена (искали в: {_searched(search)}). {_WHISPER_HELP}"
    )


def _download(url: str, into: Path, timeout_s: float) -> str:
    """Stream ``url`` into a file, returning the sha256 of what was received."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, into.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as err:
        raise ModelFetchError(f"не удалось скачать {url}: {err}") from err
    return digest.hexdigest()


def _top_folder(archive: zipfile.ZipFile) -> str:
    tops: set[str] = set()
    for member in archive.namelist():
        parts = PurePosixPath(member).parts
        if not parts or member.startswith("/") or ".." in parts:
            raise ModelFetchError(f"в архиве недопустимый путь {member!r}")
        tops.add(parts[0])
    if len(tops) != 1:
        raise ModelFetchError(f"в архиве ожидается один каталог модели, найдено: {sorted(tops)}")
    return tops.pop()


def fetch_model(source: ModelSource, models_dir: Path, *, timeout_s: float = 60.0) -> Path:
    """Download ``source``, check its sha256, unpack it into ``models_dir`` and return its folder.

    Nothing is left half-done: the archive and the unpacked tree live in a temporary folder
    inside ``models_dir`` until the checks pass, then the model folder is renamed into place.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / source.name
    if is_vosk_model(target):
        return target
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".fetch-") as work:
        archive_path = Path(work) / "model.zip"
        actual = _download(source.url, archive_path, timeout_s)
        if actual != source.sha256:
            raise ModelFetchError(
                f"контрольная сумма {source.name} не совпала: ожидалась {source.sha256}, "
                f"получена {actual}; архив удалён"
            )
        try:
            with zipfile.ZipFile(archive_path) as archive:
                top = _top_folder(archive)
                archive.extractall(Path(work) / "unpacked")
        except zipfile.BadZipFile as err:
            raise ModelFetchError(f"{source.name}: повреждённый zip ({err})") from err
        unpacked = Path(work) / "unpacked" / top
        if not is_vosk_model(unpacked):
            raise ModelFetchError(f"{source.name}: в архиве нет модели Vosk (am/final.mdl, conf/)")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    return target
