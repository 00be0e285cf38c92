"""Stage 7: which file of a group is the original, which files it holds, and why.

The keeper is the file that best explains all the others: for every ordered pair the direction
model (derivation.py) gives P(i made j), and the keeper maximises sum_j log P(i made j) — the
likeliest root of the group's tournament. A file in a reference folder is always the keeper.

A file is proposed for the trash only when the keeper holds it: all of its picture (whatever it
shows beyond the keeper is flat — a border, an app window, paper) at comparable or better
resolution. Otherwise (a collage that contains the photo, a sharper crop of a smaller full
view, another cut of one wallpaper) it is "overlapping": kept too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ndid_desktop.engine.groups.derivation import Candidate, DirectionModel, Geometry, GeometryFn

# The keeper holds a file when it spends at least this share of the file's pixels on the
# content they share (a copy upscaled by up to ~1.4x in each direction is still held), and
# the file's real picture outside the keeper is at most this share of it.
COMPARABLE_RESOLUTION = 0.5
PICTURE_OUTSIDE = 0.1
# A feature speaks in the reason when its part of the keeper's score is at least this.
SPEAKS = 0.25
# ... and a pair counts as one of its instances ("3 other files are crops of it") from this.
COUNTS = 0.1
MAX_CLAUSES = 3


@dataclass(frozen=True)
class KeeperChoice:
    keeper: Candidate
    reason: str
    overlapping: frozenset[int]  # members the keeper does not hold: kept too


def choose_keeper(
    members: Sequence[Candidate], geometry: GeometryFn, model: DirectionModel
) -> Candidate:
    """The original of ``members``."""
    references = [c for c in members if c.entry.reference]
    if references:
        return min(references, key=lambda c: c.entry.path)
    scores = {c.index: root_score(c, members, geometry, model) for c in members}
    return min(members, key=lambda c: (-round(scores[c.index], 9), c.entry.path))


def root_score(
    c: Candidate, members: Sequence[Candidate], geometry: GeometryFn, model: DirectionModel
) -> float:
    """log P(c made every other member), the pairs taken as independent."""
    return sum(
        _log_sigmoid(model.logit(c, o, geometry(c.index, o.index)))
        for o in members
        if o.index != c.index
    )


def _log_sigmoid(z: float) -> float:
    return -math.log1p(math.exp(-z)) if z > -30 else z


def holds(keeper: Candidate, other: Candidate, g: Geometry | None) -> bool:
    """Whether ``keeper`` has all of ``other``'s picture at comparable or better resolution
    (``g`` seen from the keeper). Unmeasured overlap (no keypoint check): the cheap stage only
    accepts such pairs as near-identical pictures, so the pixel counts decide. A check that ran
    and found no geometry holds nothing."""
    if g is None:
        return keeper.info.pixels >= COMPARABLE_RESOLUTION * other.info.pixels
    if g.b_covered <= 0.0:
        return False  # checked, and nothing of it was found in the keeper
    picture_outside = (1.0 - g.b_covered) * min(g.b_detail_outside, 1.0)
    if picture_outside > PICTURE_OUTSIDE:
        return False
    kept = keeper.info.pixels * g.a_covered
    return kept >= COMPARABLE_RESOLUTION * other.info.pixels * g.b_covered


def decide_keeper(
    members: Sequence[Candidate], geometry: GeometryFn, model: DirectionModel
) -> KeeperChoice:
    keeper = choose_keeper(members, geometry, model)
    return keeper_choice(keeper, members, geometry, model)


def keeper_choice(
    keeper: Candidate, group: Sequence[Candidate], geometry: GeometryFn, model: DirectionModel
) -> KeeperChoice:
    """What keeping ``keeper`` means for ``group`` (the members it ends with)."""
    others = [c for c in group if c.index != keeper.index]
    overlapping = frozenset(
        c.index
        for c in others
        if not c.entry.reference and not holds(keeper, c, geometry(keeper.index, c.index))
    )
    reason = keeper_reason(keeper, others, geometry, model, len(overlapping))
    return KeeperChoice(keeper, reason, overlapping)


def keeper_reason(
    keeper: Candidate,
    others: Sequence[Candidate],
    geometry: GeometryFn,
    model: DirectionModel,
    overlapping: int = 0,
) -> str:
    """Why ``keeper`` is kept over ``others``, in the words of the signals that decided it."""
    if keeper.entry.reference:
        return "kept: it is in a reference folder, which is never cleaned"
    parts = {name: 0.0 for name in model.features}
    agree = {name: 0 for name in model.features}
    for o in others:
        for name, value in model.contributions(keeper, o, geometry(keeper.index, o.index)).items():
            parts[name] += value
            agree[name] += value >= COUNTS
    speaking = sorted((n for n in parts if parts[n] >= SPEAKS), key=lambda n: -parts[n])
    clauses = [_clause(n, keeper, others, agree[n]) for n in speaking[:MAX_CLAUSES]]
    text = "; ".join(clauses) if clauses else TIE
    if overlapping:
        text += (
            f"; {_files(overlapping)} overlapping it (neither holds all of the other) "
            f"{'are' if overlapping > 1 else 'is'} kept too"
        )
    return "kept: " + text


TIE = "the files tie on every sign of which came first (ties broken by path)"


def _files(n: int, word: str = "other file") -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _be(n: int) -> str:
    return "are" if n != 1 else "is"


def _clause(name: str, k: Candidate, others: Sequence[Candidate], n: int) -> str:
    info = k.info
    every = n == len(others)
    phrases: dict[str, Callable[[], str]] = {
        "shared_pixels": lambda: (
            f"it has the most pixels of the picture ({info.width}x{info.height})"
            if every
            else f"it has more pixels of the picture than {_files(n)} ({info.width}x{info.height})"
        ),
        "crop": lambda: f"{_files(n)} {_be(n)} {'crops' if n != 1 else 'a crop'} of it",
        "frame": lambda: (
            f"{_files(n)} {'show' if n != 1 else 'shows'} it inside a border, screen or page"
        ),
        "jpeg_quality": lambda: f"it is less compressed (JPEG quality {info.jpeg_quality})",
        "lossless": lambda: f"it is a lossless {info.format} that never was a JPEG",
        "converted": lambda: (
            f"{_files(n)} {_be(n)} "
            f"{'lossless conversions' if n != 1 else 'a lossless conversion'} of a compressed "
            "file (JPEG blocks in its pixels)"
        ),
        "reencoded": lambda: (
            f"{_files(n)} {_be(n)} re-encoded by an app (WebP, GIF, or a HEIF "
            "without the camera's EXIF)"
        ),
        "colour": lambda: f"it is in colour; {_files(n)} {_be(n)} greyscale",
        "camera": lambda: f"it has the camera's EXIF ({info.camera})",
        "taken_at": lambda: f"it keeps its EXIF date ({info.taken_at})",
        "editor": lambda: f"{_files(n)} {'were' if n != 1 else 'was'} saved by an editing app",
        "exif": lambda: f"its EXIF is intact; {_files(n)} lost {'theirs' if n != 1 else 'its'}",
        "older": lambda: "it is the oldest file" if every else f"it is older than {_files(n)}",
        "aspect": lambda: f"it has a camera's aspect ratio; {_files(n)} look cropped or stretched",
        "tool_turned": lambda: (
            f"{_files(n)} {'were' if n != 1 else 'was'} turned by a tool (EXIF orientation)"
        ),
        "camera_turned": lambda: "it is stored as the camera wrote it (EXIF orientation)",
    }
    return phrases[name]()
