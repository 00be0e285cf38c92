"""Where stage work runs: an executor factory, handed to the stages that fan out.

The feature and verification stages take a factory rather than building process pools
themselves, so a test can run them in this process and a distributed backend (Ray, Dask) can
take their work later without touching them: anything that is a
``concurrent.futures.Executor`` will do.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable
from typing import Any

from ndid_desktop.engine.worker_lifetime import die_with_parent

# workers -> an executor that runs at most that many tasks at once
ExecutorFactory = Callable[[int], cf.Executor]


def process_pool(workers: int) -> cf.Executor:
    """One process per worker. Spawned, not forked: a parent holding thread pools (BLAS, Qt)
    must not be forked; each worker exits when the process that started it dies."""
    context = multiprocessing.get_context("spawn")
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=die_with_parent
    )


class InProcessExecutor(cf.Executor):
    """Runs each task at once, in the caller's thread: for tests, and for machines where
    starting processes is not allowed."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future, as a pool would
            future.set_exception(exc)
        return future


def in_process(workers: int) -> cf.Executor:
    del workers  # one task at a time
    return InProcessExecutor()
