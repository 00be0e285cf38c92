import json
from pathlib import Path

import pytest

from ndid_desktop.engine.features.encoders import LITE0
from ndid_desktop.engine.match.decision import CalibrationError, load_calibration
from ndid_desktop.engine.types import PairSignals


def _signals(phash: int, cosine: float) -> PairSignals:
    return PairSignals(phash=phash, dhash=phash, whash=phash, orientation=0, cosine=cosine,
                       aspect_log_ratio=0.0, area_log_ratio=0.0)  # fmt: skip


def test_bundled_calibrations_load_for_their_model_sets() -> None:
    standard = load_calibration("standard", LITE0.cache_key)
    fast = load_calibration("fast", None)
    assert standard.verified is not None
    assert 0.5 <= standard.threshold < 1.0 and 0.5 <= fast.threshold < 1.0
    low, high = standard.gate
    assert 0.0 <= low <= standard.threshold <= high <= 1.0 + 1e-6


def test_probability_rises_as_the_signals_agree() -> None:
    cheap = load_calibration("standard", LITE0.cache_key).cheap
    near = cheap.probability(_signals(0, 0.99))
    far = cheap.probability(_signals(32, 0.3))
    # The cheap stage only accepts outright; every pair below that gets the keypoint check,
    # so an unrelated pair need not score near 0 here.
    assert near > 0.99 and far < 0.05 and near > far


def test_calibration_for_another_model_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="fitted for model set 'fast'"):
        load_calibration("standard", LITE0.cache_key, _copy_of("fast", tmp_path))


def test_malformed_calibration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": 1, "model_set": "fast"}')
    with pytest.raises(CalibrationError, match="malformed"):
        load_calibration("fast", None, path)


def _copy_of(model_set: str, tmp_path: Path) -> Path:
    from importlib import resources

    text = (
        resources.files("ndid_desktop.resources")
        .joinpath(f"calibration-{model_set}.json")
        .read_text()
    )
    path = tmp_path / "c.json"
    path.write_text(json.dumps(json.loads(text)))
    return path
