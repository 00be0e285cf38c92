"""Worker processes end when the scan that started them ends, however it ends.

A spawned worker holds copies of both ends of its pool's pipes, so when the scan is killed
(``kill -9``, a crash, the GUI closed from the task manager) nothing ever tells the worker: it
blocks on the job queue for good, holding its decoder and encoder memory. Every process pool
the engine creates therefore runs ``die_with_parent`` as its initializer.

On Linux the kernel does it: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. The death signal fires when
the *thread* that created the child exits, not the process. In Python 3.11 a spawn-context
``ProcessPoolExecutor`` starts its workers inside ``submit()`` (``_adjust_process_count``), that
is in the thread that submits; its manager thread starts replacements only for workers retired
by ``max_tasks_per_child``, which the engine never sets. Every engine pool is created, fed and
shut down within one call on the scan's own thread (the CLI's main thread, the GUI's scan
QThread, which ends only after ``scan()`` returned), so that thread outlives its workers and
the signal fires only when the scan really is gone. A pool fed from a thread that may exit
before the pool is shut down would need ``watch_parent`` alone.

Elsewhere (and as a second line on Linux) a daemon thread in the worker watches the parent:
its sentinel from multiprocessing (a process handle on Windows, a pipe on POSIX) and
``os.getppid()``, which changes when an orphan is re-parented on POSIX.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_SECONDS = 0.5  # how often the watcher looks at getppid(); the sentinel wakes it at once
_EXIT_CODE = 70  # EX_SOFTWARE (sysexits.h): an orphan's exit stands out from a worker's crash


def die_with_parent() -> None:
    """Process-pool initializer: make this worker exit when the process that spawned it does.

    Never raises: an initializer that fails breaks the whole pool, which is worse than a
    worker that might outlive a killed scan."""
    parent_pid = _parent_pid()
    if sys.platform.startswith("linux"):
        _ask_kernel_for_death_signal()
    watch_parent(parent_pid)


def watch_parent(parent_pid: int) -> None:
    """The portable half: exit now if ``parent_pid`` is already gone, else start a daemon
    thread that exits this process as soon as it goes."""
    if os.getppid() != parent_pid:
        os._exit(_EXIT_CODE)  # the parent died before this worker was ready
    watcher = threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="die-with-parent", daemon=True
    )
    # No thread to spare: the worker runs unwatched rather than breaking the pool.
    with contextlib.suppress(RuntimeError):
        watcher.start()


def _parent_pid() -> int:
    import multiprocessing

    parent = multiprocessing.parent_process()
    # multiprocessing records who spawned us; getppid() alone would miss a parent that died
    # (and had us re-parented) before this initializer ran.
    if parent is not None and parent.pid is not None:
        return parent.pid
    return os.getppid()


def _ask_kernel_for_death_signal() -> None:
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # an unusual libc: the watcher thread still covers it


def _watch_parent(parent_pid: int) -> None:
    from multiprocessing import connection, parent_process

    parent = parent_process()
    sentinel = parent.sentinel if parent is not None else None
    while True:
        if sentinel is not None:
            gone = bool(connection.wait([sentinel], timeout=POLL_SECONDS))
        else:
            gone = False
            threading.Event().wait(POLL_SECONDS)
        if gone or os.getppid() != parent_pid:
            os._exit(_EXIT_CODE)  # no cleanup: the parent that would read our results is gone
