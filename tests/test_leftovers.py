"""The end-of-run check finds a process the tests started by the marker in its environment,
also once it is orphaned, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from tests.leftovers import MARKER_ENV, still_running


def test_a_process_carrying_the_runs_marker_is_found_and_another_is_not() -> None:
    marker = f"probe-{uuid.uuid4().hex}"
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    marked = subprocess.Popen(
        sleeper, env={**os.environ, MARKER_ENV: marker}, start_new_session=True
    )
    other = subprocess.Popen(
        sleeper, env={**os.environ, MARKER_ENV: marker + "-other"}, start_new_session=True
    )
    try:
        found = still_running(marker)
        assert list(found) == [marked.pid]
        assert "time.sleep(60)" in found[marked.pid]
    finally:
        for process in (marked, other):
            process.kill()
            process.wait()
    assert still_running(marker) == {}
