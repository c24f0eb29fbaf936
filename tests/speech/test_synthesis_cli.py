from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from napomni.cli import cli
from speech.audio import TELEPHONY, Audio, read_wav
from speech.synthesis import PromptLibrary, Synthesizer


class CountingTts:
    """A real TTS adapter that records what it was asked to say (silence, 0.1 s per word)."""

    voice = "counting"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def render(self, text: str) -> Audio:
        self.asked.append(text)
        return Audio(TELEPHONY, b"\x10\x00" * 800 * len(text.split()))


def _library(tmp_path: Path) -> PromptLibrary:
    folder = tmp_path / "prompts"
    (folder / "digits").mkdir(parents=True)
    tone = b"\x00\x20" * 1600
    from speech.audio import write_wav

    write_wav(folder / "greeting.wav", Audio(TELEPHONY, tone))
    write_wav(folder / "digits" / "3.wav", Audio(TELEPHONY, tone))
    (folder / "prompts.txt").write_text(
        "greeting: Здравствуйте, это управляющая компания.\ndigits/3: три\n", encoding="utf-8"
    )
    return PromptLibrary.load(folder)


def test_recorded_phrase_is_preferred(tmp_path: Path) -> None:
    tts = CountingTts()
    synthesizer = Synthesizer(tts=tts, library=_library(tmp_path))
    pcm = synthesizer.synthesize("здравствуйте это управляющая компания")
    assert tts.asked == []
    assert pcm == b"\x00\x20" * 1600


def test_numbers_from_fragments_rest_from_tts_and_cached(tmp_path: Path) -> None:
    tts = CountingTts()
    synthesizer = Synthesizer(tts=tts, library=_library(tmp_path), cache_dir=tmp_path / "cache")
    first = synthesizer.synthesize("Долг 3 месяца", dt.date(2026, 11, 23))
    assert tts.asked == ["Долг", "месяца"]  # «три» came from the recorded fragment
    again = synthesizer.synthesize("Долг 3 месяца", dt.date(2026, 11, 23))
    assert again == first
    assert tts.asked == ["Долг", "месяца"]  # second time from the disk cache
    assert len(list((tmp_path / "cache").rglob("*.wav"))) == 1


@pytest.mark.slow
def test_say_command_writes_8khz_wav(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    env = {**os.environ, "NAPOMNI_DATA_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(
        cli, ["say", "Ваш долг 12480,50 ₽ до 20.11", "-o", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    audio = read_wav(out)
    assert audio.format == TELEPHONY
    assert audio.duration_s > 3


def test_missing_model_says_how_to_get_one(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    from speech.audio import silence, write_wav

    write_wav(wav, silence(0.1))
    env = {**os.environ, "NAPOMNI_VOSK_MODEL": str(tmp_path / "none")}
    result = CliRunner().invoke(cli, ["transcribe", str(wav)], env=env)
    assert result.exit_code != 0
    assert "napomni models fetch" in result.output


def test_models_fetch_with_bad_mirror_fails_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not the model")
    env = {**os.environ, "NAPOMNI_MODELS_DIR": str(tmp_path / "models")}
    result = CliRunner().invoke(cli, ["models", "fetch", "--url", bad.as_uri()], env=env)
    assert result.exit_code != 0
    assert "контрольная сумма" in result.output
    assert list((tmp_path / "models").iterdir()) == []
