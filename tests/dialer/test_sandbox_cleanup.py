"""Nothing the sandbox starts outlives its owner: stopped, Ctrl-C'd, SIGTERM'd or killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialer.sandbox.kamailio import Kamailio, KamailioOptions
from tests.e2e.sip_bench import require_sip_tools
from tests.processes import running

pytestmark = pytest.mark.sip


def _group_alive(group: int) -> bool:
    """Whether a live (not zombie) process is left in ``group``."""
    return any(int(fields[2]) == group for _, fields in running())


def _gone_within(group: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _group_alive(group):
            return True
        time.sleep(0.1)
    return not _group_alive(group)


def test_a_stopped_kamailio_leaves_no_process(tmp_path: Path) -> None:
    require_sip_tools()
    kamailio = Kamailio(tmp_path / "k", KamailioOptions())
    kamailio.start()
    process = kamailio._process
    assert process is not None
    group = os.getpgid(process.pid)
    assert group != os.getpgrp()  # its own group: stopped by group, never by name
    kamailio.stop()
    assert _gone_within(group, 5), "Kamailio's workers outlived it"


_OWNER = """
import sys, time
from pathlib import Path
from dialer.sandbox.kamailio import Kamailio, KamailioOptions
k = Kamailio(Path(sys.argv[1]), KamailioOptions())
k.start()
print(k._process.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_kamailio_dies_with_the_process_that_started_it(tmp_path: Path, how: int) -> None:
    require_sip_tools()
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(tmp_path / "k")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        group = os.getpgid(pid)
        owner.send_signal(how)
        owner.wait(10)
        assert _gone_within(group, 10), f"Kamailio left running after the owner got {how}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
