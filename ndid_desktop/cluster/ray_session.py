"""Joining Ray: ``ray.init()`` with no address starts a local instance on this machine; an
address (``ray://head:10001`` or ``auto``) joins a cluster. The workers must have NDID with the
'cluster' extra installed (the shipped ONNX model comes with the package)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ndid_desktop.cluster.extra import require


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """A Ray session for the block; one that was already running is left running."""
    require("ray", "pyarrow")
    import ray

    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address is None and num_cpus is not None:
        kwargs["num_cpus"] = num_cpus
    ray.init(address=address, **kwargs)
    try:
        yield ray
    finally:
        ray.shutdown()
