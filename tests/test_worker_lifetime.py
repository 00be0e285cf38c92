"""A killed scan leaves no worker processes behind (worker_lifetime.py).

Each test runs a scan (or a bare pool) in a child process, waits until its workers are up,
kills it with SIGKILL — no Python cleanup runs — and watches /proc for the workers to go.
Without worker_lifetime they stay for good: blocked on a job queue whose other end they hold
themselves (measured: still there after 60 s).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import textured

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

REPO = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 90  # spawning and importing on a loaded two-core machine
GONE_WITHIN_SECONDS = 5.0

# Freezes the scan in its progress callback once the decode workers have returned a chunk:
# the pool is then certainly alive, with work queued.
SCAN_AND_FREEZE = """
import sys, time
from pathlib import Path
from ndid_desktop.engine import Root, ScanConfig, scan

def progress(event):
    if event.stage == "features" and event.done > 0:
        print("ready", flush=True)
        time.sleep(600)

scan([Root(Path(sys.argv[1]))], ScanConfig(model_set="fast", workers=2), progress)
"""

# A bare pool whose only guard is the portable watcher thread (no prctl).
POOL_WITH_WATCHER_ONLY = """
import concurrent.futures as cf, multiprocessing, os, time
from ndid_desktop.engine.worker_lifetime import watch_parent

pool = cf.ProcessPoolExecutor(
    1, mp_context=multiprocessing.get_context("spawn"),
    initializer=watch_parent, initargs=(os.getpid(),),
)
pool.submit(time.sleep, 0).result()
print("ready", flush=True)
time.sleep(600)
"""


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and _stat_fields(int(name))[1:2] == [str(pid)]:
            found.append(int(name))
    return found


def _stat_fields(pid: int) -> list[str]:
    """State, parent pid, ... of /proc/PID/stat; [] once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces


def _alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] not in ("Z", "X")  # a zombie has exited already


def _is_pool_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _wait_until_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    readable, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
    assert readable, "the child never got its workers going"
    assert proc.stdout.readline().strip() == "ready"


def _seconds_until_gone(pids: list[int], limit: float) -> float:
    start = time.monotonic()
    while any(_alive(p) for p in pids) and time.monotonic() - start < limit:
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture
def kill_leftovers() -> Iterator[list[int]]:
    """Processes a failed test would leave running; killed afterwards either way."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _run_then_kill(args: list[str], leftovers: list[int]) -> tuple[list[int], list[int]]:
    """Starts ``args`` and kills it once ready: its pool workers, and the children (workers or
    not) still alive after the grace period."""
    with subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True) as proc:
        try:
            _wait_until_ready(proc)
            children = _children(proc.pid)
            leftovers.extend(children)
            workers = [p for p in children if _is_pool_worker(p)]
        finally:
            proc.kill()
    _seconds_until_gone(children, GONE_WITHIN_SECONDS)
    return workers, [p for p in children if _alive(p)]


def test_a_killed_scan_takes_its_decode_workers_with_it(
    tmp_path: Path, kill_leftovers: list[int]
) -> None:
    for i in range(30):  # above MIN_FILES_FOR_WORKERS: the pool is used
        textured(i).save(tmp_path / f"{i:02d}.jpg", "JPEG")
    script = [sys.executable, "-c", SCAN_AND_FREEZE, str(tmp_path)]
    workers, alive = _run_then_kill(script, kill_leftovers)
    assert len(workers) == 2
    # The resource tracker is a child too: it goes once no worker holds its pipe open.
    assert alive == []


def test_the_watcher_thread_alone_ends_an_orphaned_worker(kill_leftovers: list[int]) -> None:
    script = [sys.executable, "-c", POOL_WITH_WATCHER_ONLY]
    workers, alive = _run_then_kill(script, kill_leftovers)
    assert len(workers) == 1
    assert alive == []


def test_a_worker_whose_parent_is_already_gone_exits_at_once() -> None:
    # Any pid but the real parent's stands for "the parent died before this worker started".
    script = (
        "import os, time\n"
        "from ndid_desktop.engine.worker_lifetime import watch_parent\n"
        "watch_parent(os.getppid() + 1)\n"
        "time.sleep(30)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=60)
    assert done.returncode != 0
