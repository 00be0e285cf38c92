"""How much the scores move with the edit generator's seed (`ndid eval seeds`): the same
photos made into a dataset with several seeds (random crop offsets, colour factors, turn
directions, noise and, with edits_per_photo, which edits), each scanned and scored as
`ndid eval make-dataset` + `ndid eval score` do, and every measure given as mean ± spread.

The spread is the sample standard deviation across seeds (0 with one seed), shown with the
lowest and highest value: with a handful of seeds the range says as much as the deviation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.evaluation.dataset import make_eval_dataset
from ndid_desktop.engine.evaluation.group_scores import Score
from ndid_desktop.engine.evaluation.summary import score_dataset
from ndid_desktop.engine.progress import ProgressCallback, null_progress

TIERS = ("easy", "medium", "hard")
SPREAD_MEANING = "sample standard deviation across seeds; min and max beside it"


@dataclass(frozen=True)
class Spread:
    mean: float
    std: float  # sample standard deviation (n - 1); 0.0 for a single value
    low: float
    high: float
    count: int  # seeds that measured it (a tier no edit of a seed fell in is not measured)

    def text(self) -> str:
        return f"{self.mean:.4f} ± {self.std:.4f}"


def spread(values: Sequence[float]) -> Spread:
    """Mean, sample standard deviation, min and max of ``values`` (at least one)."""
    if not values:
        raise ValueError("a spread needs at least one value")
    n = len(values)
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return Spread(mean, math.sqrt(var), min(values), max(values), n)


@dataclass(frozen=True)
class SeedResult:
    """One seed's scores: what the aggregate is computed from, and what its JSON keeps."""

    seed: int
    precision: float
    recall: float
    keeper_accuracy: float
    by_tier: dict[str, float] = field(default_factory=dict)  # tier -> recall
    by_edit: dict[str, float] = field(default_factory=dict)  # edit -> recall
    tier_of: dict[str, str] = field(default_factory=dict)  # edit -> tier

    @staticmethod
    def of(seed: int, score: Score) -> SeedResult:
        return SeedResult(
            seed,
            score.precision,
            score.recall,
            score.keeper_accuracy,
            {t: got / total for t, (got, total) in score.by_tier.items() if total},
            {e.edit: e.recall for e in score.by_edit},
            {e.edit: e.tier for e in score.by_edit},
        )


@dataclass(frozen=True)
class SeedStability:
    seeds: tuple[int, ...]
    precision: Spread
    recall: Spread
    keeper_accuracy: Spread
    by_tier: dict[str, Spread]
    by_edit: dict[str, Spread]
    tier_of: dict[str, str]
    results: tuple[SeedResult, ...]  # per seed, in the order run


def stability(results: Sequence[SeedResult]) -> SeedStability:
    """Every measure of ``results`` (one per seed) as a Spread."""
    if not results:
        raise ValueError("no seeds were scored")
    tier_of: dict[str, str] = {}
    for r in results:
        tier_of.update(r.tier_of)
    return SeedStability(
        seeds=tuple(r.seed for r in results),
        precision=spread([r.precision for r in results]),
        recall=spread([r.recall for r in results]),
        keeper_accuracy=spread([r.keeper_accuracy for r in results]),
        by_tier=_spreads(results, lambda r: r.by_tier, _tier_order),
        by_edit=_spreads(results, lambda r: r.by_edit, lambda e: (_tier_order(tier_of[e]), e)),
        tier_of=tier_of,
        results=tuple(results),
    )


def _tier_order(tier: str) -> tuple[int, str]:
    return (TIERS.index(tier) if tier in TIERS else len(TIERS), tier)


def _spreads(
    results: Iterable[SeedResult],
    values: Callable[[SeedResult], dict[str, float]],
    order: Callable[[str], Any],
) -> dict[str, Spread]:
    collected: dict[str, list[float]] = {}
    for r in results:
        for key, value in values(r).items():
            collected.setdefault(key, []).append(value)
    return {key: spread(collected[key]) for key in sorted(collected, key=order)}


@dataclass(frozen=True)
class SeedRequest:
    """What `ndid eval seeds` makes: the make-dataset options, once per seed."""

    photos: Path
    out: Path  # each seed's dataset goes to out/seed-<seed>/
    seeds: tuple[int, ...]
    split: str = "test"
    max_photos: int | None = None
    edits_per_photo: int | None = None
    distractors: int = 0
    tier: str | None = None


def seed_folder(out: Path, seed: int) -> Path:
    return out / f"seed-{seed}"


class SeedFolderInUseError(ValueError):
    """A seed's folder already holds files: a dataset made over them would be scanned with
    them, and files its manifest does not name cannot be scored."""


# (seed, what is starting: "making" or "scoring"): the CLI says it between the progress bars.
SeedNote = Callable[[int, str], None]


def run_seeds(
    request: SeedRequest,
    config: ScanConfig,
    progress: ProgressCallback = null_progress,
    note: SeedNote = lambda seed, step: None,
) -> SeedStability:
    """Make and score the dataset once per seed (the make-dataset and score code paths), and
    aggregate. Raises dataset.TooFewPhotosError as make-dataset does, and
    SeedFolderInUseError, before any work, when a seed's folder is not empty."""
    for seed in request.seeds:
        folder = seed_folder(request.out, seed)
        if folder.exists() and any(folder.iterdir()):
            raise SeedFolderInUseError(f"{folder} is not empty: give a new or empty folder")
    results = []
    for seed in request.seeds:
        folder = seed_folder(request.out, seed)
        note(seed, "making")
        make_eval_dataset(
            request.photos, folder, request.split, request.max_photos,
            request.edits_per_photo, request.distractors, seed, request.tier,
        )  # fmt: skip
        note(seed, "scoring")
        results.append(SeedResult.of(seed, score_dataset(folder, config, progress).score))
    return stability(results)


def _spread_json(s: Spread) -> dict[str, float | int]:
    return {"mean": s.mean, "std": s.std, "min": s.low, "max": s.high, "seeds": s.count}


def stability_json(s: SeedStability) -> dict[str, Any]:
    """The aggregate and every seed's own numbers (from which read_stability rebuilds it)."""
    return {
        "seeds": list(s.seeds),
        "spread": SPREAD_MEANING,
        "precision": _spread_json(s.precision),
        "recall": _spread_json(s.recall),
        "keeper_accuracy": _spread_json(s.keeper_accuracy),
        "recall_by_tier": {t: _spread_json(v) for t, v in s.by_tier.items()},
        "recall_by_edit": {e: _spread_json(v) for e, v in s.by_edit.items()},
        "per_seed": [
            {
                "seed": r.seed,
                "precision": r.precision,
                "recall": r.recall,
                "keeper_accuracy": r.keeper_accuracy,
                "recall_by_tier": r.by_tier,
                "recall_by_edit": r.by_edit,
                "tier_of": r.tier_of,
            }
            for r in s.results
        ],
    }


def read_stability(data: dict[str, Any]) -> SeedStability:
    """The SeedStability a stability_json() wrote, recomputed from its per-seed numbers."""
    return stability(
        [
            SeedResult(
                int(r["seed"]),
                float(r["precision"]),
                float(r["recall"]),
                float(r["keeper_accuracy"]),
                {k: float(v) for k, v in r["recall_by_tier"].items()},
                {k: float(v) for k, v in r["recall_by_edit"].items()},
                dict(r["tier_of"]),
            )
            for r in data["per_seed"]
        ]
    )


def format_stability(s: SeedStability) -> str:
    """Markdown: the aggregate, recall by tier and by edit, and each seed's own line."""
    seeds = ", ".join(str(seed) for seed in s.seeds)
    lines = [
        f"## Stability over {len(s.seeds)} generator seeds ({seeds})",
        "",
        f"mean ± {SPREAD_MEANING}",
        "",
        "| measure | mean ± sd | min–max | seeds |",
        "|---|---|---|---|",
        _row("pairwise precision", s.precision),
        _row("pairwise recall", s.recall),
        _row("keeper accuracy", s.keeper_accuracy),
    ]
    lines += [_row(f"recall, {tier} tier", v) for tier, v in s.by_tier.items()]
    lines += ["", "| edit | tier | recall mean ± sd | min–max | seeds |", "|---|---|---|---|---|"]
    lines += [_row(f"{e} | {s.tier_of[e]}", v) for e, v in s.by_edit.items()]
    tiers = list(s.by_tier)
    lines += [
        "",
        "| seed | precision | recall | keeper | " + " | ".join(tiers) + " |",
        "|---|---|---|---|" + "---|" * len(tiers),
    ]
    for r in s.results:
        cells = [f"{r.by_tier[t]:.4f}" if t in r.by_tier else "–" for t in tiers]
        lines.append(
            f"| {r.seed} | {r.precision:.4f} | {r.recall:.4f} | {r.keeper_accuracy:.4f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _row(label: str, s: Spread) -> str:
    return f"| {label} | {s.text()} | {s.low:.4f}–{s.high:.4f} | {s.count} |"
