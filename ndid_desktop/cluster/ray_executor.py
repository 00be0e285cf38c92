"""The engine's executor seam (engine/executors.py) on Ray: each submitted call is a Ray task,
its ObjectRef handed back as a concurrent.futures.Future. The keypoint-check stage runs on it
unchanged; it ships each chunk's local features with the chunk, so workers need no cache."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any


class RayExecutor(cf.Executor):
    """Runs each call as a Ray task with one CPU (ray.init must have run)."""

    def __init__(self, workers: int) -> None:
        del workers  # Ray schedules by the cluster's CPUs, not by a pool size
        import ray

        self._ray = ray
        self._remote: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(num_cpus=1)(fn)
        future: cf.Future[Any] = remote.remote(*args, **kwargs).future()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._remote.clear()


def ray_executor(workers: int) -> cf.Executor:
    return RayExecutor(workers)
