"""How much each signal of the keeper's direction model carries: fit on labelled training
datasets with one signal left out at a time, and measure on held-apart ones.

    python benchmarks/direction_ablation.py --train /tmp/dir-train /tmp/ll-train \
        --test /tmp/eval-test /tmp/lifelike-test

Datasets are folders written by `ndid eval make-dataset` (with --lifelike or without); their
features come from each dataset's own cache (`ndid eval score` fills it), so after a score this
takes seconds. Prints accuracy on each test set for the full model and for every ablation.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, nargs="+", required=True)
    parser.add_argument("--test", type=Path, nargs="+", required=True)
    args = parser.parse_args()

    from ndid_desktop.engine.config import ScanConfig
    from ndid_desktop.engine.evaluation.attacks import read_manifest
    from ndid_desktop.engine.evaluation.direction_fit import (
        DirectionPair,
        direction_accuracy,
        direction_pairs,
        fit_direction,
    )
    from ndid_desktop.engine.evaluation.summary import dataset_cache
    from ndid_desktop.engine.features.cache import FeatureCache
    from ndid_desktop.engine.groups.derivation import FEATURE_NAMES

    def pairs_of(folder: Path) -> list[DirectionPair]:
        with FeatureCache(dataset_cache(folder)) as cache:
            return direction_pairs(folder, read_manifest(folder), ScanConfig(), cache)

    train = [p for folder in args.train for p in pairs_of(folder)]
    tests = {folder.name: pairs_of(folder) for folder in args.test}
    print(f"{len(train)} training pairs; " + ", ".join(f"{n}: {len(p)}" for n, p in tests.items()))
    print("| left out | " + " | ".join(tests) + " |")
    print("|---|" + "---|" * len(tests))
    for left_out in (None, *FEATURE_NAMES):
        kept = tuple(f for f in FEATURE_NAMES if f != left_out)
        model = fit_direction(train, "ablation", kept)
        cells = [f"{direction_accuracy(model, p).overall:.3f}" for p in tests.values()]
        print(f"| {left_out or '(nothing: the full model)'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
