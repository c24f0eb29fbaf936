"""Recognition in worker processes: the same words as in-process, failures reported, no orphans."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from speech.audio import TELEPHONY, Audio, silence
from speech.errors import AudioFormatError, RecognitionError
from speech.recognition import transcribe_streaming
from speech.vosk_engine import VoskEngine
from speech.workers import EngineRecipe, RecognitionWorkers
from tests.processes import running

from .conftest import SHARED_WHISPER


@pytest.fixture(scope="module")
def vosk_workers(korean_model_path: Path) -> RecognitionWorkers:
    workers = RecognitionWorkers.start(EngineRecipe("vosk", korean_model_path), processes=2)
    yield workers  # type: ignore[misc]
    workers.close()


def test_workers_hear_what_the_engine_hears(
    vosk_workers: RecognitionWorkers, vosk_engine: VoskEngine, korean_speech: Audio
) -> None:
    clip = Audio(TELEPHONY, silence(0.3).pcm + korean_speech.pcm + silence(1.0).pcm)
    here = transcribe_streaming(vosk_engine, clip)
    with ThreadPoolExecutor(4) as pool:
        there = list(pool.map(lambda _: transcribe_streaming(vosk_workers, clip), range(4)))
    assert vosk_workers.name == "vosk"
    assert here.text
    # Vosk's streaming output varies from run to run even in one process (seen with the
    # Korean model): the words are compared by where they are, not spelled out.
    for transcript in there:
        assert transcript.text
        assert abs(transcript.words[0].start_s - here.words[0].start_s) <= 0.3
        assert abs(transcript.words[-1].end_s - here.words[-1].end_s) <= 0.3


def test_streams_are_spread_over_the_workers_and_released(vosk_workers: RecognitionWorkers) -> None:
    streams = [vosk_workers.open_stream() for _ in range(4)]
    loads = sorted(w.streams for w in vosk_workers._workers)
    assert loads[-1] - loads[0] <= 1  # least busy first
    del streams
    vosk_workers.open_stream().flush()  # the next request tells the workers
    assert sum(w.streams for w in vosk_workers._workers) == 1


def test_a_bad_chunk_is_the_callers_error_not_the_workers(vosk_workers: RecognitionWorkers) -> None:
    stream = vosk_workers.open_stream()
    with pytest.raises(RecognitionError, match="AudioFormatError"):
        stream.accept(bytes(318))
    assert stream.accept(bytes(320)) == []  # the worker serves on
    assert issubclass(AudioFormatError, Exception)


def test_a_dead_worker_fails_its_streams_and_is_replaced(korean_model_path: Path) -> None:
    with RecognitionWorkers.start(EngineRecipe("vosk", korean_model_path), processes=1) as workers:
        stream = workers.open_stream()
        os.kill(workers.processes[0], 9)
        time.sleep(0.5)
        with pytest.raises(RecognitionError):
            stream.accept(bytes(320))
        workers.open_stream().accept(bytes(320))  # a new worker took its place


def test_a_model_that_does_not_load_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RecognitionError, match="не модель"):
        RecognitionWorkers.start(EngineRecipe("whisper", tmp_path), processes=1)


def test_whisper_in_a_worker(korean_speech: Audio) -> None:
    if not SHARED_WHISPER.is_dir():
        pytest.skip(f"нет модели {SHARED_WHISPER}")
    with RecognitionWorkers.start(EngineRecipe("whisper", SHARED_WHISPER), processes=1) as workers:
        clip = Audio(TELEPHONY, silence(0.3).pcm + korean_speech.pcm + silence(1.0).pcm)
        assert workers.name == "whisper"
        assert transcribe_streaming(workers, clip).text


_OWNER = """
import sys, time
from pathlib import Path
from speech.workers import EngineRecipe, RecognitionWorkers
if __name__ == "__main__":
    workers = RecognitionWorkers.start(EngineRecipe("vosk", Path(sys.argv[1])), processes=2)
    print(*workers.processes, flush=True)
    time.sleep(120)
"""


def test_workers_die_with_their_owner(korean_model_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(_OWNER)
    owner = subprocess.Popen(
        [sys.executable, str(script), str(korean_model_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert owner.stdout is not None
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2
        owner.kill()
        owner.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(p) for p in pids):
            time.sleep(0.1)
        assert not any(_running(p) for p in pids)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()


def _running(pid: int) -> bool:
    return any(found == pid for found, _ in running())
