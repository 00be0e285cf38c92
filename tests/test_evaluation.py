"""The scorer on hand-computed cases, the attack generator's determinism and labels, fitting
and the staged decision on synthetic pairs, and the `ndid eval` commands end to end."""

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ndid_desktop.engine.evaluation.attacks import (
    EDITS,
    EDITS_BY_NAME,
    ManifestRow,
    make_dataset,
    split_of,
)
from ndid_desktop.engine.evaluation.calibrate import fit_calibration
from ndid_desktop.engine.evaluation.calibration_run import (
    AUTO_EDITS_PER_PHOTO,
    EDITS_PER_PHOTO,
    CalibrationRequest,
    keep_previous,
    missing_for_calibration,
)
from ndid_desktop.engine.evaluation.dataset import (
    TooFewPhotosError,
    distinct_sample,
    photos_in,
    split_distractors,
)
from ndid_desktop.engine.evaluation.fitting_look import FittingLook
from ndid_desktop.engine.evaluation.group_scores import score_report
from ndid_desktop.engine.evaluation.labelled import LabelledPairs
from ndid_desktop.engine.evaluation.pair_metrics import staged_probabilities
from ndid_desktop.engine.evaluation.summary import CHEAP_STAGE, STAGED, summarise_pairs
from ndid_desktop.engine.features.extract import FeatureSet
from ndid_desktop.engine.match.decision import load_calibration
from ndid_desktop.engine.types import (
    Group,
    ImageInfo,
    Member,
    PairSignals,
    ScanReport,
    ScanStats,
)

INFO = ImageInfo(10, 10, "JPEG")
ROWS = [
    ManifestRow("a/original.jpg", "a", "original", "", ""),
    ManifestRow("a/resize.jpg", "a", "copy", "resize-50", "easy"),
    ManifestRow("a/crop.jpg", "a", "copy", "crop-40", "hard"),
    ManifestRow("b/original.jpg", "b", "original", "", ""),
    ManifestRow("b/flip.jpg", "b", "copy", "flip", "medium"),
    ManifestRow("d/x.jpg", "distractor:x", "distractor", "", ""),
]


def _report(*groups: tuple[str, ...]) -> ScanReport:
    """A report whose groups list paths under /r; the first path of each is the keeper."""
    stats = ScanStats(0, 0, 0, 0, 0, 0, 0, 0, 0, len(groups), "fast", None, 0.5, (0.1, 0.9), {})

    def member(p: str) -> Member:
        return Member(os.path.join("/r", p), 1.0, "", False, 1, INFO)

    return ScanReport(
        groups=tuple(
            Group(os.path.join("/r", g[0]), "kept", tuple(member(p) for p in g)) for g in groups
        ),
        skipped=(),
        stats=stats,
    )


def test_perfect_report() -> None:
    score = score_report(
        _report(("a/original.jpg", "a/resize.jpg", "a/crop.jpg"), ("b/original.jpg", "b/flip.jpg")),
        ROWS, "/r",
    )  # fmt: skip
    assert (score.true_pairs, score.predicted_pairs, score.correct_pairs) == (4, 4, 4)
    assert score.precision == score.recall == score.keeper_accuracy == 1.0
    assert score.false_groups == 0


def test_missed_crop_wrong_keeper_and_a_false_group() -> None:
    # Group 1 misses the crop and keeps the resized copy; group 2 pulls in the distractor.
    score = score_report(
        _report(("a/resize.jpg", "a/original.jpg"), ("b/original.jpg", "b/flip.jpg", "d/x.jpg")),
        ROWS, "/r",
    )  # fmt: skip
    # predicted pairs: a: 1; b: 3 (orig-flip, orig-x, flip-x) -> 4, of which 2 are true
    assert (score.predicted_pairs, score.correct_pairs, score.true_pairs) == (4, 2, 4)
    assert score.precision == 0.5 and score.recall == 0.5
    assert score.keeper_correct == 1 and score.false_groups == 1
    recall = {e.edit: e.recall for e in score.by_edit}
    assert recall == {"crop-40": 0.0, "flip": 1.0, "resize-50": 1.0}
    assert score.by_tier["hard"] == (0, 1)


def test_unknown_files_in_a_report_are_an_error() -> None:
    with pytest.raises(ValueError, match="does not know"):
        score_report(_report(("a/original.jpg", "zzz.jpg")), ROWS, "/r")


def test_generator_is_deterministic_and_labels_every_file(tmp_path: Path) -> None:
    from .conftest import dev_photos

    sources = dev_photos(2)
    edits = [EDITS_BY_NAME[n] for n in ("crop-60-off", "noise", "print-scan", "jpeg-q30")]

    def digest(folder: Path) -> dict[str, str]:
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"
        }

    rows = make_dataset(sources, tmp_path / "one", edits=edits, seed=3, max_side=320)
    make_dataset(sources, tmp_path / "two", edits=edits, seed=3, max_side=320)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")
    assert {r.file for r in rows} == set(digest(tmp_path / "one"))
    assert sum(r.role == "original" for r in rows) == 2
    assert {r.edit for r in rows if r.role == "copy"} == {e.name for e in edits}


def test_every_edit_has_a_tier_and_splits_are_stable() -> None:
    assert {e.tier for e in EDITS} == {"easy", "medium", "hard"}
    assert len({e.name for e in EDITS}) == len(EDITS)
    assert split_of("0843f1dfa6b61194") == split_of("0843f1dfa6b61194")


def _signals(rng: np.random.Generator, same: bool) -> PairSignals:
    """Cheap signals of a synthetic candidate pair: duplicates are closer, with overlap."""
    bits = int(rng.integers(0, 14) if same else rng.integers(6, 30))
    cosine = float(np.clip(rng.normal(0.93 if same else 0.85, 0.05), 0.0, 0.999))
    return PairSignals(bits, bits, bits, 0, cosine, 0.0, float(rng.uniform(0.0, 1.0)))


def _labelled(count: int, seed: int) -> LabelledPairs:
    rng = np.random.default_rng(seed)
    labels = rng.uniform(size=count) < 0.4
    nothing = FeatureSet(
        entries=(), infos=(), hashes=np.zeros((0, 3, 8, 8), np.uint8), embeddings=None,
        skipped=(), decoded=0, from_cache=0,
    )  # fmt: skip
    pairs = np.array([(2 * i, 2 * i + 1) for i in range(count)], dtype=np.int64)
    return LabelledPairs(nothing, pairs, labels, [_signals(rng, bool(y)) for y in labels])


class _Look:
    """A stand-in second look: keypoints agree on duplicates, and it records what it was asked."""

    def __init__(self, data: LabelledPairs, gate_cosine: bool) -> None:
        self.data = data
        self.asked: list[list[int]] = []
        self.look = FittingLook(self.measure, gate_cosine)

    def measure(self, indices: Sequence[int]) -> list[PairSignals]:
        self.asked.append(list(indices))
        out = []
        for i in indices:
            same = bool(self.data.labels[i])
            s = replace(self.data.signals[i], inliers=60 if same else 3,
                        inlier_ratio=0.95 if same else 0.2, coverage_ab=0.9 if same else 0.1,
                        coverage_ba=0.9 if same else 0.1)  # fmt: skip
            out.append(
                replace(s, gate_cosine=0.95 if same else 0.7) if self.look.gate_cosine else s
            )
        return out


def test_fitting_looks_again_only_at_band_pairs_and_reads_the_gate_cosine_when_measured() -> None:
    data = _labelled(400, seed=5)
    for gate_cosine in (False, True):
        look = _Look(data, gate_cosine)
        fitted = fit_calibration(data, "standard", "lite0", "test", look.look)
        # The band, then (when the final threshold is above it) the pairs up to the threshold:
        # nothing outside the band it ends with.
        assert 1 <= len(look.asked) <= 2
        low, high = fitted.gate
        cheap = np.array([fitted.cheap.probability(s) for s in data.signals])
        band = np.nonzero((cheap >= low) & (cheap < high))[0].tolist()
        asked = sorted(i for batch in look.asked for i in batch)
        assert asked == band and fitted.metrics["gated"] == len(band) > 0
        assert fitted.threshold <= high
        assert fitted.verified is not None
        assert ("gate_cosine_gap" in fitted.verified.features) == gate_cosine
        assert fitted.metrics["train_precision"] >= 0.99


def test_without_a_second_look_nothing_is_gated() -> None:
    fitted = fit_calibration(_labelled(200, seed=6), "standard", "lite0", "test", None)
    assert fitted.verified is None and fitted.gate[0] == fitted.gate[1] == fitted.threshold
    assert fitted.metrics["gated"] == 0


def test_staged_probabilities_and_the_pair_summary() -> None:
    data = _labelled(300, seed=7)
    fitted = fit_calibration(data, "standard", "lite0", "test", _Look(data, False).look)
    look = _Look(data, False)
    cheap, final, gated = staged_probabilities(data.signals, fitted, look.look)
    assert look.asked == [np.nonzero(gated)[0].tolist()]
    assert np.array_equal(final[~gated], cheap[~gated])
    assert fitted.verified is not None
    band_signals = look.measure(np.nonzero(gated)[0].tolist())
    assert np.allclose(final[gated], [fitted.verified.probability(s) for s in band_signals])
    fast = load_calibration("fast", None)
    summary = summarise_pairs(data.signals, data.labels, (cheap, final, gated), fast)
    assert (summary.pairs, summary.positives) == (300, int(data.labels.sum()))
    assert summary.gated_share == pytest.approx(gated.mean())
    assert [row.stage for row in summary.ablation] == [c.name for c in summary.curves]
    assert summary.curve(STAGED).name == STAGED and summary.brier_final <= summary.brier_cheap
    assert sum(n for _, _, n in summary.reliability_final) == 300
    # The report's own numbers: staged is the best stage on these pairs, as on real ones.
    recall = {row.stage: row.recall for row in summary.ablation}
    assert recall[STAGED] >= recall[CHEAP_STAGE]
    # No second look to be had: the band's pairs stay gated but unverified, and the one rule
    # for a missing second look (match/decision.py) gives them the cheap probability.
    cheap2, final2, gated2 = staged_probabilities(data.signals, fitted, None)
    assert np.array_equal(final2, cheap2) and np.array_equal(gated2, gated)
    # The fast set has no verified stage: nothing is ever gated.
    fast_cheap, fast_final, fast_gated = staged_probabilities(data.signals, fast, None)
    assert np.array_equal(fast_final, fast_cheap) and not fast_gated.any()


def test_dataset_photos_splits_and_distractors(tmp_path: Path) -> None:
    for name in ("b.jpg", "a.PNG", "c.webp", "notes.txt", "d.gif"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in photos_in(tmp_path)] == ["a.PNG", "b.jpg", "c.webp"]
    assert [p.name for p in photos_in(tmp_path, limit=2)] == ["a.PNG", "b.jpg"]
    assert all(split_of(p.stem) == "test" for p in photos_in(tmp_path, "test"))
    photos = photos_in(tmp_path)
    assert split_distractors(photos, 1) == (photos[:2], photos[2:])
    with pytest.raises(TooFewPhotosError) as raised:
        split_distractors(photos, 3)
    assert (raised.value.found, raised.value.needed) == (3, 4)


def test_distinct_sample_drops_near_identical_photos(tmp_path: Path) -> None:
    from .conftest import textured

    for seed in range(4):
        textured(seed).save(tmp_path / f"p{seed}.jpg", quality=95)
    textured(0).save(tmp_path / "p0-again.png")  # the same picture, another file
    chosen = distinct_sample(tmp_path, 10)
    assert len(chosen) == 4 and distinct_sample(tmp_path, 10) == chosen
    assert {p.name for p in chosen} >= {"p1.jpg", "p2.jpg", "p3.jpg"}
    assert len(distinct_sample(tmp_path, 2)) == 2


def test_calibration_request_defaults_source_and_versioning(tmp_path: Path) -> None:
    auto = CalibrationRequest(photos=tmp_path / "My Photos", out=tmp_path / "c.json", auto=True)
    assert (auto.edits, auto.photo_split) == (AUTO_EDITS_PER_PHOTO, "all")
    assert (
        auto.source == "ndid calibrate --photos My Photos --split all --edits-per-photo 8 --seed 1"
    )
    dev = CalibrationRequest(photos=tmp_path, out=tmp_path / "c.json", split="test", seed=3)
    assert (dev.edits, dev.photo_split) == (EDITS_PER_PHOTO, "test")
    assert replace(dev, edits_per_photo=2).edits == 2
    assert keep_previous(tmp_path / "c.json") is None
    (tmp_path / "c.json").write_text("{}")
    kept = keep_previous(tmp_path / "c.json")
    assert kept is not None and kept.read_text() == "{}" and not (tmp_path / "c.json").exists()
    assert kept.name.startswith("c.") and kept.suffix == ".json"


def test_calibration_says_what_it_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    missing = missing_for_calibration("standard")
    assert missing is not None and missing.model is None and "scikit-learn" in missing.problem


def test_eval_commands_make_score_and_report_a_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from ndid_desktop.cli.main import main

    from .conftest import dev_photos

    photos = tmp_path / "photos"
    photos.mkdir()
    for source in dev_photos(4, offset=120):
        with Image.open(source) as img:
            img.thumbnail((320, 320))
            img.save(photos / source.name)
    data, ds = ["--data-dir", str(tmp_path / "data")], tmp_path / "ds"
    make = [*data, "eval", "make-dataset", str(photos), str(ds), "--split", "all"]
    assert main([*make, "--distractors", "4"]) == 2
    assert "only 4 photos; fewer distractors please" in capsys.readouterr().err
    assert main([*make, "--edits-per-photo", "2", "--distractors", "1"]) == 0
    assert capsys.readouterr().out == f"wrote 10 files from 3 photos to {ds}\n"
    assert main([*data, "eval", "score", str(ds), "--markdown", str(tmp_path / "s.md")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pairwise precision ") and "\nscan: 10 images, " in out
    assert (tmp_path / "s.md").read_text() == out
    assert main([*data, "eval", "report", str(ds), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Evaluation of ds\n") and f"| {STAGED} | " in out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert list(report) == ["pairs", "positives", "gated_share", "brier_cheap", "brier_final",
                            "reliability_final", "ablation", "direction", "candidate_sources",
                            "not_measured", "why_not_measured", "scan"]  # fmt: skip
    assert 0.0 <= report["direction"]["accuracy"] <= 1.0 and report["direction"]["by_edit"]
    assert (
        "groups_per_picture" in report["scan"] and "kept_instead_of_the_original" in report["scan"]
    )
    assert [row["stage"] for row in report["ablation"]][-1] == STAGED
    assert (tmp_path / "r" / "report.md").read_text() == out
    pngs = {p.name for p in (tmp_path / "r").glob("*.png")}
    assert pngs == {"precision_recall.png", "f1_threshold.png", "reliability.png",
                    "recall_by_edit.png", "direction_by_edit.png"}  # fmt: skip


def test_the_band_has_no_low_edge_unless_a_gate_encoder_must_be_paid_for() -> None:
    from ndid_desktop.engine.evaluation.calibrate import choose_gate

    rng = np.random.default_rng(3)
    labels = rng.uniform(size=500) < 0.4
    cheap = np.where(labels, rng.uniform(0.05, 1.0, 500), rng.uniform(0.0, 0.97, 500))
    low, high = choose_gate(cheap, labels, 0.95, gate_encoder=False)
    assert low == 0.0 and high >= 0.95  # a low global signal never rejects a pair unchecked
    low, _ = choose_gate(cheap, labels, 0.95, gate_encoder=True)
    assert 0.05 <= low < 0.2  # CLIP only where the cheap signals leave it open
