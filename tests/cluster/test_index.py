"""The persistent index: build, incremental add, query through the scan's staged decision,
stats, the FAISS choice, and the CLI (JSON out, exit 2 without the extra)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ndid_desktop.cli.main import main
from ndid_desktop.cluster import ann, jobs
from ndid_desktop.cluster.store import IndexProblem, IndexStore
from ndid_desktop.engine.config import Root
from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.executors import in_process
from ndid_desktop.engine.pipeline import scan
from tests.cluster.conftest import config_in

HERE = jobs.Where(executor=in_process)


def _split(root: Path, rows: list[ManifestRow]) -> tuple[list[Path], list[Path], list[Path]]:
    originals = [root / r.file for r in rows if r.role == "original"]
    copies = [root / r.file for r in rows if r.role == "copy"]
    distractors = [root / r.file for r in rows if r.role == "distractor"]
    return originals, copies, distractors


def _folder_of(paths: list[Path], target: Path) -> Path:
    target.mkdir(parents=True)
    for p in paths:
        shutil.copy2(p, target / f"{p.parent.name}-{p.name}")
    return target


def test_added_files_are_found_by_queries_with_the_scans_probabilities(
    photo_set: tuple[Path, list[ManifestRow]], tmp_path: Path
) -> None:
    root, rows = photo_set
    originals, copies, distractors = _split(root, rows)
    first = _folder_of(originals[:3], tmp_path / "first")
    later = _folder_of(originals[3:] + distractors, tmp_path / "later")
    config = config_in(tmp_path / "data", use_cache=False)
    index = tmp_path / "index"
    store = jobs.build(index, [str(first)], config, HERE)
    assert len(store.rows) == 3
    added = jobs.add(index, [str(first), str(later)], config, HERE)
    assert added.added == len(originals) - 3 + len(distractors)  # first/ is not read again
    assert jobs.add(index, [str(later)], config, HERE).added == 0

    store = IndexStore.open(index)  # from disk: shards, FAISS file and manifest
    assert len(store.rows) == len(originals) + len(distractors)
    assert store.stats()["shards"] == 2
    results = jobs.Querier(store, config)([str(p) for p in copies + distractors[:2]])
    by_query = {r.query: r for r in results}
    names = {p.parent: f"{p.parent.name}-{p.name}" for p in originals}
    for copy in copies:  # every match is the copy's own picture
        matched = [Path(m.path).name for m in by_query[str(copy)].matches]
        assert all(n.startswith(copy.parent.name) for n in matched), (copy, matched)
    for distractor in distractors[:2]:  # the same file is indexed: identical, nothing else
        assert [m.stage for m in by_query[str(distractor)].matches] == ["identical file"]

    # The scan's staged decision: a copy the scan groups directly with its original is
    # matched to it, with the scan's probability; a pair the scan does not accept (it may
    # join the group through a sibling) is not accepted either.
    report = scan([Root(root)], config, executor=in_process)
    direct = 0
    for group in report.groups:
        keeper = Path(group.keep)
        assert keeper.name == "original.jpg"
        for member in group.members[1:]:
            answer = by_query[member.path]
            mine = [m for m in answer.matches if m.path.endswith(names[keeper.parent])]
            if "through" in member.signals:
                continue
            assert mine, (member.path, member.reason)
            assert mine[0].probability == pytest.approx(member.probability, abs=1e-3)
            direct += 1
    assert direct >= len(copies) // 2


def test_a_query_without_a_usable_image_reports_why(
    tmp_path: Path, photo_set: tuple[Path, list[ManifestRow]]
) -> None:
    root, rows = photo_set
    originals, _, _ = _split(root, rows)
    config = config_in(tmp_path / "data", use_cache=False)
    store = jobs.build(
        tmp_path / "index", [str(_folder_of(originals[:2], tmp_path / "a"))], config, HERE
    )
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    missing = tmp_path / "gone.jpg"
    results = jobs.Querier(store, config)([str(bad), str(missing)])
    assert results[0].error and "not an image" in results[0].error
    assert results[1].error and "cannot read" in results[1].error
    with pytest.raises(IndexProblem, match="already holds an index"):
        jobs.build(tmp_path / "index", [str(tmp_path / "a")], config, HERE)


def test_large_collections_get_ivf_with_nprobe_chosen_by_measured_recall() -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(size=(6000, 64)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    index, settings = ann.build(base, k=10, min_cosine=0.6, exact_max=1000)
    assert settings.kind == ann.IVF and settings.nlist == ann.lists_for(6000)
    assert settings.measured_recall is not None and settings.measured_recall >= ann.RECALL_TARGET
    copies = base[:200] + rng.normal(0, 0.2 / 8, (200, 64)).astype(np.float32)
    copies /= np.linalg.norm(copies, axis=1, keepdims=True)
    _, ids = index.search(copies, 1)
    assert (ids[:, 0] == np.arange(200)).mean() >= 0.99
    assert ann.needs_rebuild(settings, 6000 * ann.RETRAIN_GROWTH + 1)
    assert not ann.needs_rebuild(settings, 7000)
    small, flat = ann.build(base[:500], k=10, min_cosine=0.6, exact_max=1000)
    assert flat.kind == "flat" and small.ntotal == 500


def test_cli_builds_queries_and_reports_json(
    tmp_path: Path, photo_set: tuple[Path, list[ManifestRow]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, rows = photo_set
    originals, copies, _ = _split(root, rows)
    lib = _folder_of(originals[:2], tmp_path / "lib")
    data, index = str(tmp_path / "data"), str(tmp_path / "index")
    assert main(["--data-dir", data, "index", "build", index, str(lib)]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["rows"] == 2 and built["model_set"] == "standard"
    copy = next(c for c in copies if c.parent == originals[0].parent and c.stem == "resize-50")
    assert main(["--data-dir", data, "index", "query", index, str(copy)]) == 0
    answer = json.loads(capsys.readouterr().out)["results"][0]
    assert answer["matches"][0]["path"].endswith("original.jpg")
    assert (
        answer["matches"][0]["probability"] >= 0.9
        and "same picture" in answer["matches"][0]["reason"]
    )
    assert main(["index", "stats", str(tmp_path / "nothing")]) == 1
    assert "no index" in capsys.readouterr().err


def test_cli_without_the_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ndid_desktop.cluster import extra

    real = extra.importlib.util.find_spec
    monkeypatch.setattr(
        extra.importlib.util,
        "find_spec",
        lambda n, *a: None if n in ("pyarrow", "fastapi") else real(n, *a),
    )
    assert main(["index", "stats", str(tmp_path)]) == 2
    assert "pip install 'ndid-desktop[cluster]'" in capsys.readouterr().err
    assert main(["serve", "--index", str(tmp_path)]) == 2
    assert "fastapi" in capsys.readouterr().err
