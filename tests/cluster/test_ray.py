"""The Ray path on a local Ray instance (2 CPUs): a scan whose extraction is a Ray Data job and
whose keypoint checks are Ray tasks gives the local scan's groups and keepers; an index built
on Ray holds the local build's features and answers queries after incremental adds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ndid_desktop.cluster import jobs
from ndid_desktop.cluster.ray_executor import RayExecutor
from ndid_desktop.cluster.ray_scan import scan_on_ray
from ndid_desktop.engine.config import Root
from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.executors import in_process
from ndid_desktop.engine.pipeline import scan
from ndid_desktop.engine.types import ScanReport
from tests.cluster.conftest import config_in

ON_RAY = jobs.Where(on_ray=True)
# Ray Data warns about its own deprecated settings when it copies its context.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")


def _groups(report: ScanReport) -> list[tuple[str, tuple[tuple[str, float], ...]]]:
    return sorted(
        (g.keep, tuple(sorted((m.path, round(m.probability, 3)) for m in g.members)))
        for g in report.groups
    )


def test_a_scan_on_ray_gives_the_local_scans_groups_and_keepers(
    local_ray: Any, photo_set: tuple[Path, list[ManifestRow]], tmp_path: Path
) -> None:
    root, _ = photo_set
    local = scan([Root(root)], config_in(tmp_path / "local"), executor=in_process)
    submitted: list[str] = []

    class Counting(RayExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            submitted.append(fn.__name__)
            return super().submit(fn, *args, **kwargs)

    on_ray = scan_on_ray([Root(root)], config_in(tmp_path / "ray"), executor=Counting)
    assert len(local.groups) >= 4
    assert _groups(on_ray) == _groups(local)
    assert [g.reason for g in sorted(on_ray.groups, key=lambda g: g.keep)] == [
        g.reason for g in sorted(local.groups, key=lambda g: g.keep)
    ]
    # Everything came from the Ray job's shards: the scan itself decoded nothing.
    assert on_ray.stats.decoded == 0 and on_ray.stats.from_cache == local.stats.images_used
    assert on_ray.stats.verified_pairs == local.stats.verified_pairs > 0
    assert submitted and set(submitted) == {"check_chunk"}  # the keypoint checks ran on Ray


def test_an_index_built_on_ray_holds_the_local_features_and_answers_after_adds(
    local_ray: Any, photo_set: tuple[Path, list[ManifestRow]], tmp_path: Path
) -> None:
    root, rows = photo_set
    groups = sorted({r.group for r in rows if r.role == "original"})
    first, later = tmp_path / "first", tmp_path / "later"
    shutil.copytree(root / groups[0], first / groups[0])
    for g in groups[1:3]:
        shutil.copytree(root / g, later / g)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    shutil.copy(tmp_path / "broken.jpg", later / "broken.jpg")
    config = config_in(tmp_path / "data", use_cache=False)
    index = tmp_path / "index"
    built = jobs.build(index, [str(first)], config, ON_RAY)
    here = jobs.build(tmp_path / "here", [str(first)], config, jobs.Where(executor=in_process))
    order = np.argsort([e.path for e in built.rows.entries])
    ref = np.argsort([e.path for e in here.rows.entries])
    assert [built.rows.entries[i].path for i in order] == [here.rows.entries[i].path for i in ref]
    assert np.array_equal(built.rows.hashes[order], here.rows.hashes[ref])
    assert built.rows.embeddings is not None and here.rows.embeddings is not None
    assert np.allclose(built.rows.embeddings[order], here.rows.embeddings[ref], atol=1e-5)
    assert [built.rows.fingerprints[i] for i in order] == [here.rows.fingerprints[i] for i in ref]

    # A file URI goes through the same job (pyarrow's filesystem layer, fetched by the worker).
    added = jobs.add(index, [f"file://{later}"], config, ON_RAY)
    assert added.added == 2 * 9 and [Path(s.path).name for s in added.skipped] == ["broken.jpg"]
    querier = jobs.Querier(jobs.IndexStore.open(index), config)
    copy = root / groups[2] / "resize-50.jpg"
    answer = querier([str(copy)])[0]
    assert any(
        m.path.endswith(f"{groups[2]}/resize-50.jpg") and m.stage == "identical file"
        for m in answer.matches
    )
    assert any(
        m.path.endswith(f"{groups[2]}/original.jpg") and m.probability >= 0.9
        for m in answer.matches
    )
    assert all(groups[2] in m.path for m in answer.matches)
