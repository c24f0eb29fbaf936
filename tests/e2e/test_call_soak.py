"""The soak run, short: ``napomni bench calls`` with a core kept busy, every call carried through.

The full run (8 calls × 25 rounds = 200 answered calls) is ``napomni bench calls --levels 8
--rounds 25 --busy-core``; its figures are in the README. Here two rounds of two calls go
through the same command: real SIP on loopback, recognition in worker processes, a busy-loop
process on one core. The command fails when any call is not answered, has no outcome or
failed, and nothing it started may outlive it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.sip_bench import require_sip_tools
from tests.leftovers import still_running

pytestmark = [pytest.mark.sip, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_with_a_busy_core_carries_every_call(tmp_path: Path) -> None:
    require_sip_tools()
    env = {**os.environ, "NAPOMNI_DATA_DIR": str(tmp_path / "var")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "napomni",
            "bench",
            "calls",
            "--engine",
            "whisper",
            "--levels",
            "2",
            "--rounds",
            "2",
            "--busy-core",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = done.stdout + done.stderr[-3000:]
    assert done.returncode == 0, report
    assert "2 звонк. × 2: 4 звонков, без итога или со сбоем 0" in done.stdout, report
    assert "процесс(ах) распознавания" in done.stdout, report  # speech in worker processes
    left = still_running(str(tmp_path / "var"), variable="NAPOMNI_DATA_DIR")
    assert left == {}, f"the bench left processes running: {left}"
