"""Choosing the photos a labelled dataset is made from, and making one (`ndid eval
make-dataset`; `ndid calibrate` makes its own the same way)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.evaluation.attacks import EDITS, ManifestRow, make_dataset, split_of
from ndid_desktop.engine.features.hashes import compute_hashes, hamming
from ndid_desktop.engine.files.decode import DecodeError, decode
from ndid_desktop.engine.files.discover import discover

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic"})
# Two photos whose upright pHashes are at most this many bits apart may be the same picture: a
# sample of "distinct" photos keeps only one of them.
SAME_PICTURE_BITS = 8


class TooFewPhotosError(ValueError):
    """There are not enough photos for what was asked."""

    def __init__(self, found: int, needed: int) -> None:
        super().__init__(f"found {found} photos, need at least {needed}")
        self.found = found
        self.needed = needed


def photos_in(folder: Path, split: str = "all", limit: int | None = None) -> list[Path]:
    """The photos directly in ``folder`` (by name), of one fixed split ('train', 'test') or
    'all', at most ``limit`` of them."""
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_EXTENSIONS)
    if split != "all":
        photos = [p for p in photos if split_of(p.stem) == split]
    return photos[:limit] if limit else photos


def distinct_sample(folder: Path, limit: int) -> list[Path]:
    """A deterministic sample of distinct photos from a user's folder: near-identical photos
    (which a library may already hold) are dropped, or they would be labelled 'different'."""
    files = discover([Root(folder)], ScanConfig()).files
    # Ordered by a hash of the path: a spread over the folder, the same on every run.
    ranked = sorted(files, key=lambda f: hashlib.sha256(f.path.encode(errors="replace")).digest())
    chosen: list[Path] = []
    kept: list[NDArray[np.uint8]] = []
    for entry in ranked:
        if len(chosen) >= limit:
            break
        try:
            h = compute_hashes(decode(entry.path).image)[0, 0]
        except DecodeError:
            continue
        if any(int(hamming(h, other)) <= SAME_PICTURE_BITS for other in kept):
            continue
        kept.append(h)
        chosen.append(Path(entry.path))
    return chosen


@dataclass(frozen=True)
class MadeDataset:
    rows: tuple[ManifestRow, ...]
    sources: int  # photos that got edited copies
    distractors: int  # untouched photos beside them


def make_eval_dataset(
    photos: Path,
    out: Path,
    split: str = "test",
    max_photos: int | None = None,
    edits_per_photo: int | None = None,
    distractors: int = 0,
    seed: int = 0,
    tier: str | None = None,
) -> MadeDataset:
    """Originals, edited copies and ``distractors`` untouched photos under ``out``, with a
    manifest; only the edits of ``tier`` when given (e.g. groups of easy edits alone, whose
    keeper has no excuse). Raises TooFewPhotosError when the chosen photos leave none to
    edit."""
    chosen = photos_in(photos, split, max_photos)
    sources, others = split_distractors(chosen, distractors)
    edits = [e for e in EDITS if tier is None or e.tier == tier]
    rows = make_dataset(
        sources, out, edits, edits_per_photo=edits_per_photo, distractors=others, seed=seed
    )
    return MadeDataset(tuple(rows), len(sources), len(others))


def split_distractors(photos: Sequence[Path], distractors: int) -> tuple[list[Path], list[Path]]:
    """(photos to edit, distractors): the last ``distractors`` photos stay untouched."""
    if distractors >= len(photos):
        raise TooFewPhotosError(len(photos), distractors + 1)
    # Distractors come from the same split: they must be as unseen as the edited photos.
    split_at = len(photos) - distractors
    return list(photos[:split_at]), list(photos[split_at:])
