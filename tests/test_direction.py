"""The direction model: fitted on pairs whose origin is known, stored as JSON, refused when
malformed; and, end to end, the keeper of a lifelike library (camera EXIF, file dates, app-made
copies, byte-identical backups) is its camera original."""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from ndid_desktop.engine import Root, ScanConfig, scan
from ndid_desktop.engine.evaluation.direction_fit import (
    DirectionPair,
    direction_accuracy,
    fit_direction,
)
from ndid_desktop.engine.evaluation.group_scores import score_report
from ndid_desktop.engine.evaluation.lifelike import make_lifelike_library
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.groups.derivation import (
    FEATURE_NAMES,
    Candidate,
    DirectionModelError,
    Geometry,
    load_direction_model,
)
from ndid_desktop.engine.types import FileEntry, ImageInfo

from .conftest import dev_photos

INFO = ImageInfo(width=2000, height=1500, format="JPEG", jpeg_quality=90, chroma=30.0)


def _cand(i: int, mtime: int = 0, **info: object) -> Candidate:
    entry = FileEntry(f"/p/{i}.jpg", "/p", False, 1000, mtime)
    return Candidate(i, entry, replace(INFO, **info))  # type: ignore[arg-type]


def _pairs() -> list[DirectionPair]:
    """Originals made copies by resizing, by cropping and by stripping the camera's EXIF."""
    crop = Geometry(a_covered=0.6, b_covered=1.0, a_detail_outside=1.0, b_detail_outside=1.0)
    pairs = []
    for k in range(20):
        o = _cand(2 * k, camera="Canon", has_exif=True, mtime=k)
        pairs.append(
            DirectionPair(o, _cand(2 * k + 1, width=1000, height=750), None, "resize", "easy")
        )
        pairs.append(
            DirectionPair(o, _cand(2 * k + 1, width=1550, height=1160), crop, "crop", "medium")
        )
    return pairs


def test_the_fit_learns_the_direction_and_is_antisymmetric() -> None:
    model = fit_direction(_pairs(), "test pairs")
    weights = dict(zip(model.features, model.coef, strict=True))
    assert weights["shared_pixels"] > 0 and weights["crop"] > 0 and weights["camera"] > 0
    accuracy = direction_accuracy(model, _pairs())
    assert accuracy.overall == 1.0 and set(accuracy.by_edit) == {"resize", "crop"}
    p = _pairs()[0]
    forward = model.probability(p.source, p.copy, p.geometry)
    assert forward > 0.5
    assert model.probability(p.copy, p.source, None) == pytest.approx(1.0 - forward)


def test_a_model_survives_its_json_and_bad_files_are_refused(tmp_path: Path) -> None:
    model = fit_direction(_pairs(), "test pairs")
    model.save(tmp_path / "direction.json")
    again = load_direction_model(tmp_path / "direction.json")
    assert again.features == model.features and again.coef == pytest.approx(model.coef)
    assert load_direction_model(user_dir=tmp_path).coef == pytest.approx(model.coef)  # own first
    for text, message in [
        ("{not json", "not valid JSON"),
        ('{"format": 99}', "unsupported"),
        ('{"format": 1, "features": ["nonsense"], "coef": [1.0]}', "unknown features"),
        ('{"format": 1, "features": ["crop"], "coef": [1.0, 2.0]}', "differ in length"),
        ('{"format": 1, "features": ["crop"]}', "malformed"),
    ]:
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(DirectionModelError, match=message):
            load_direction_model(tmp_path / "bad.json")


def test_the_bundled_model_says_what_fitted_it() -> None:
    bundled = load_direction_model()
    assert bundled.source.startswith("ndid calibrate --photos") and bundled.metrics["pairs"] > 1000
    assert bundled.metrics["train_accuracy"] > 0.9
    assert set(bundled.features) <= set(FEATURE_NAMES)


def test_the_keeper_of_a_lifelike_library_is_the_camera_original(
    tmp_path: Path, encoder: Encoder
) -> None:
    root = tmp_path / "library"
    rows = make_lifelike_library(dev_photos(5, offset=20), root, seed=3)
    report = scan([Root(root)], ScanConfig(cache_path=tmp_path / "c.sqlite"), encoder=encoder)
    score = score_report(report, rows, str(root))
    with_original = score.keeper_total - score.without_original
    assert with_original >= 5 and score.keeper_correct == with_original, score.kept_instead
    assert score.groups_per_picture <= 1.05
    originals = {str(root / r.file) for r in rows if r.role == "original"}
    for group in report.groups:
        if group.keep in originals:
            assert group.reason.startswith("kept: ")
            assert all(not m.overlapping for m in group.members if "Backup" in m.path)


def test_a_picture_and_its_identical_copy_cover_each_other_fully(
    tmp_path: Path, encoder: Encoder
) -> None:
    from ndid_desktop.engine.compare import compare

    photo = dev_photos(1, offset=30)[0]
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(photo.read_bytes())
    os.utime(copy, (2_000_000_000, 2_000_000_000))
    c = compare(str(photo), str(copy), ScanConfig(), encoder=encoder)
    assert (c.signals.coverage_ab, c.signals.coverage_ba) == (1.0, 1.0)
    assert c.edits == ["identical file"] and c.stage == "identical file"
    assert c.original == "A"  # the same bytes: the older file is the original
