"""Russian answer WAVs for the simulated debtors: espeak-ng ``-v ru``, then sox to 8 kHz s16 mono.

Files are cached by text and voice, so a bench or a demo synthesizes each answer once.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from dialer.sandbox.errors import SandboxError

__all__ = ["say_to_wav"]

_TIMEOUT_S = 60


def say_to_wav(text: str, cache_dir: Path, *, voice: str = "ru", speed_wpm: int = 150) -> Path:
    """An 8 kHz s16 mono WAV of ``text`` spoken by espeak-ng (made once, then cached)."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SandboxError(f"{tool} не установлен (apt-get install espeak-ng sox)")
    key = hashlib.sha256(f"{voice}|{speed_wpm}|{text}".encode()).hexdigest()[:16]
    target = cache_dir / f"{voice}-{key}.wav"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    raw = cache_dir / f"{voice}-{key}.raw.wav"
    partial = cache_dir / f"{voice}-{key}.part.wav"
    try:
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-w", str(raw), text],
            check=True,
            capture_output=True,
            timeout=_TIMEOUT_S,
        )
        subprocess.run(
            [
                "sox",
                str(raw),
                "-r",
                "8000",
                "-b",
                "16",
                "-c",
                "1",
                "-e",
                "signed-integer",
                str(partial),
            ],
            check=True,
            capture_output=True,
            timeout=_TIMEOUT_S,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        raise SandboxError(f"синтез ответа должника не удался: {err}") from err
    finally:
        raw.unlink(missing_ok=True)
    partial.replace(target)
    return target
