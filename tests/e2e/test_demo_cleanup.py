"""``napomni demo`` stopped in the middle of its calls leaves nothing running.

The demo is interrupted while its debtors' phones ring or talk — by SIGTERM (a supervisor,
``kill``) and by Ctrl-C (SIGINT to the terminal's whole process group) — and everything it
started must end with it: Kamailio, the debtors, the telephony process, the recognition workers,
Festival. Processes are found by a marker in their environment, which every child inherits, even
once orphaned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.sip_bench import require_sip_tools
from tests.leftovers import GRACE_S, still_running, still_running_after

pytestmark = [pytest.mark.sip, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROBE = "NAPOMNI_DEMO_PROBE"
# ``napomni demo`` as a terminal's shell starts it: SIGINT at its default. A run started in the
# background of a script (``nohup make test &``, some CI) inherits SIGINT ignored, and Python
# keeps it ignored — right for a background job, but then Ctrl-C could not be tested.
DEMO = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv = ['napomni', 'demo', '--accounts', '20']; "
    "runpy.run_module('napomni', run_name='__main__')"
)


def _wait_for_calls(probe: str, demo: subprocess.Popen[str], timeout_s: float) -> None:
    """Until the debtors' process and the robot's telephony process both run."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert demo.poll() is None, "the demo ended before its calls"
        commands = list(still_running(probe, variable=PROBE).values())
        if any("dialer.sandbox.debtor" in c for c in commands) and any(
            "dialer.telephony.process" in c for c in commands
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"no calls within {timeout_s} s")


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_an_interrupted_demo_leaves_nothing_running(tmp_path: Path, how: str) -> None:
    require_sip_tools()
    probe = uuid.uuid4().hex
    env = {**os.environ, "NAPOMNI_DATA_DIR": str(tmp_path / "var"), PROBE: probe}
    demo = subprocess.Popen(
        [sys.executable, "-c", DEMO],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group, as a terminal gives a command
    )
    try:
        _wait_for_calls(probe, demo, timeout_s=240)
        time.sleep(3.0)  # the first INVITEs are out, phones ring or talk
        if how == "sigterm":
            demo.send_signal(signal.SIGTERM)
        else:
            os.killpg(demo.pid, signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGKILL)
        output, _ = demo.communicate()
        raise AssertionError(f"the demo did not stop within 60 s\n{output[-3000:]}") from None
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.communicate()
    left = still_running_after(GRACE_S, probe, variable=PROBE)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == {}, f"left running: {left}\n{output[-3000:]}"
    assert demo.returncode != 0, output[-3000:]
