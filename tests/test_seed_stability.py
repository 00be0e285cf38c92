"""Seed stability: mean ± spread of the scores over several generator seeds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ndid_desktop.engine.evaluation.group_scores import EditScore, Score
from ndid_desktop.engine.evaluation.seed_stability import (
    SeedResult,
    Spread,
    format_stability,
    read_stability,
    spread,
    stability,
    stability_json,
)


def test_spread_is_the_mean_and_the_sample_standard_deviation() -> None:
    s = spread([0.9, 0.8, 1.0])
    assert math.isclose(s.mean, 0.9) and math.isclose(s.std, 0.1)  # sqrt(0.02 / 2)
    assert (s.low, s.high, s.count) == (0.8, 1.0, 3)
    two = spread([0.5, 0.75])
    assert math.isclose(two.std, 0.25 / math.sqrt(2))
    assert spread([0.7]) == Spread(0.7, 0.0, 0.7, 0.7, 1)
    with pytest.raises(ValueError):
        spread([])


def _results() -> list[SeedResult]:
    tiers = {"crop-40": "hard", "png": "easy", "flip": "medium"}
    return [
        SeedResult(0, 1.0, 0.90, 1.0, {"easy": 1.0, "hard": 0.5}, {"png": 1.0, "crop-40": 0.5},
                   tiers),
        SeedResult(1, 0.8, 0.70, 0.5, {"easy": 0.9, "medium": 0.6, "hard": 0.7},
                   {"png": 0.9, "flip": 0.6, "crop-40": 0.7}, tiers),
        SeedResult(2, 0.9, 0.80, 0.75, {"easy": 0.8, "hard": 0.9}, {"png": 0.8, "crop-40": 0.9},
                   tiers),
    ]  # fmt: skip


def test_stability_aggregates_each_measure_over_the_seeds_that_measured_it() -> None:
    s = stability(_results())
    assert s.seeds == (0, 1, 2)
    assert math.isclose(s.precision.mean, 0.9) and math.isclose(s.precision.std, 0.1)
    assert math.isclose(s.recall.mean, 0.8) and math.isclose(s.recall.std, 0.1)
    assert math.isclose(s.keeper_accuracy.mean, 0.75) and math.isclose(s.keeper_accuracy.std, 0.25)
    assert list(s.by_tier) == ["easy", "medium", "hard"]  # the tiers' order, not the seeds'
    assert math.isclose(s.by_tier["easy"].mean, 0.9) and math.isclose(s.by_tier["easy"].std, 0.1)
    assert s.by_tier["medium"] == Spread(0.6, 0.0, 0.6, 0.6, 1)  # only seed 1 drew a medium edit
    assert math.isclose(s.by_tier["hard"].mean, 0.7) and math.isclose(s.by_tier["hard"].std, 0.2)
    assert (s.by_tier["hard"].low, s.by_tier["hard"].high) == (0.5, 0.9)
    assert list(s.by_edit) == ["png", "flip", "crop-40"]
    with pytest.raises(ValueError, match="no seeds"):
        stability([])


def test_a_seed_result_reads_its_numbers_from_the_score() -> None:
    score = Score(
        true_pairs=10, predicted_pairs=8, correct_pairs=6, keeper_correct=3, keeper_total=4,
        false_groups=1,
        by_edit=(EditScore("png", "easy", 4, 4), EditScore("crop-40", "hard", 4, 1)),
        by_tier={"easy": (4, 4), "hard": (1, 4)},
    )  # fmt: skip
    r = SeedResult.of(7, score)
    assert (r.seed, r.precision, r.recall, r.keeper_accuracy) == (7, 0.75, 0.6, 0.75)
    assert r.by_tier == {"easy": 1.0, "hard": 0.25}
    assert r.by_edit == {"png": 1.0, "crop-40": 0.25}
    assert r.tier_of == {"png": "easy", "crop-40": "hard"}


def test_the_json_rebuilds_the_same_stability_and_the_markdown_shows_it() -> None:
    s = stability(_results())
    data = json.loads(json.dumps(stability_json(s)))
    assert read_stability(data) == s
    assert data["precision"] == {"mean": s.precision.mean, "std": s.precision.std, "min": 0.8,
                                 "max": 1.0, "seeds": 3}  # fmt: skip
    assert "standard deviation" in data["spread"]
    text = format_stability(s)
    assert text.startswith("## Stability over 3 generator seeds (0, 1, 2)\n")
    assert "| pairwise precision | 0.9000 ± 0.1000 | 0.8000–1.0000 | 3 |" in text
    assert "| recall, medium tier | 0.6000 ± 0.0000 | 0.6000–0.6000 | 1 |" in text
    assert "| crop-40 | hard | 0.7000 ± 0.2000 | 0.5000–0.9000 | 3 |" in text
    assert "| 0 | 1.0000 | 0.9000 | 1.0000 | 1.0000 | – | 0.5000 |" in text


def test_eval_seeds_makes_and_scores_a_dataset_per_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from ndid_desktop.cli.main import main

    from .conftest import dev_photos

    photos = tmp_path / "photos"
    photos.mkdir()
    for source in dev_photos(4, offset=200):
        with Image.open(source) as img:
            img.thumbnail((320, 320))
            img.save(photos / source.name)
    data, out = ["--data-dir", str(tmp_path / "data")], tmp_path / "seeds"
    seeds = [*data, "eval", "seeds", str(photos), str(out), "--split", "all"]
    assert main([*seeds, "--seeds", "0"]) == 2
    assert main([*seeds, "--seeds", "2", "--first-seed", "5", "--edits-per-photo", "3"]) == 0
    captured = capsys.readouterr()
    assert "seed 5: making the dataset..." in captured.err
    assert "seed 6: scoring the dataset..." in captured.err
    assert captured.out.startswith("## Stability over 2 generator seeds (5, 6)\n")
    assert (out / "seeds.md").read_text() == captured.out
    written = json.loads((out / "seeds.json").read_text())
    assert written["seeds"] == [5, 6] and [r["seed"] for r in written["per_seed"]] == [5, 6]
    manifests = [json.loads((out / f"seed-{n}" / "manifest.json").read_text()) for n in (5, 6)]
    assert [m["seed"] for m in manifests] == [5, 6]
    edits = [sorted(r["edit"] for r in m["files"] if r["role"] == "copy") for m in manifests]
    assert len(edits[0]) == len(edits[1]) == 12 and edits[0] != edits[1]  # 3 random edits each
    assert main([*seeds, "--seeds", "1", "--first-seed", "6"]) == 2  # over seed 6's files
    assert f"{out / 'seed-6'} is not empty" in capsys.readouterr().err
    recalls = [r["recall"] for r in written["per_seed"]]
    assert math.isclose(written["recall"]["mean"], sum(recalls) / 2)
    assert math.isclose(written["recall"]["std"], abs(recalls[0] - recalls[1]) / math.sqrt(2))

    report = [*data, "eval", "report", str(out / "seed-5"), "--out", str(tmp_path / "r")]
    (tmp_path / "bad.json").write_text("{}")
    assert main([*report, "--seed-stability", str(tmp_path / "bad.json")]) == 2
    assert "cannot read the seed stability" in capsys.readouterr().err
    assert main([*report, "--seed-stability", str(out / "seeds.json")]) == 0
    text = capsys.readouterr().out
    assert text.endswith(captured.out)  # the seeds' section closes the report
    assert json.loads((tmp_path / "r" / "report.json").read_text())["seed_stability"] == written
