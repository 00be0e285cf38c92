"""Plain-language explanations of pair decisions: the short phrases a card, a report and
`ndid compare` use for how a copy differs from its original ("cropped to 80% of the picture",
"turned 90° left", "greyscale copy", "PNG conversion of the JPEG", "smaller: 50%").

Each phrase is said only when the evidence behind it holds: crop, frame and overlap words only
when the keypoint check found the pair's geometry; turn and mirror words only when the hashes
line up in that orientation (a homography can absorb a turn, so inliers alone do not confirm
one); nothing at all for two pictures that nothing ties together."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ndid_desktop.engine.groups.derivation import GREY
from ndid_desktop.engine.match.signals import TRUSTED_INLIERS
from ndid_desktop.engine.types import ImageInfo, PairSignals

# A copy that covers less than this share of the original is described as a crop of it.
CROP_COVERAGE = 0.92
# Coverage from this up is the whole picture (the homography's corners wander by a few %).
WHOLE = 0.95
# Texture outside the shared part below this (relative to inside) is a flat surround
# (verify.py's measurements: borders, paper, rotation corners 0.0-0.09; app windows to 0.49).
FLAT = 0.5
# A geometry counts as found when at least this share of the matches agree on it (and at
# least TRUSTED_INLIERS of them): look-alikes reach 6-18 inliers at ratios from 0.3.
CLEAN_RATIO = 0.5
# pHash + dHash + wHash (192 bits) at most this in one orientation: the two line up as one
# picture there. Copies measured here: 0-8 for turned, mirrored and resized copies; unrelated
# photos 47 and more; a nearly symmetric photo cropped 15 bits at 180°, which must not read
# as "turned 180°".
ALIGNED_BITS = 12
# A scale within this of 1 (in log) is the same size.
SAME_SIZE = 0.025
# An aspect ratio change (log) beyond this is described.
ASPECT_CHANGE = 0.03
# A recompression is described when the copy's JPEG quality is this much lower.
QUALITY_DROP = 5
# A whole, unturned, same-size copy whose content still differs this much was edited in
# place (measured on the standard set: recompressions, conversions and EXIF turns keep a
# cosine of 0.97-1.0 and a pHash within 2 bits; text, logos and filters fall below).
EDITED_PHASH = 6
EDITED_COSINE = 0.97

# How the copy looks, by hashes.ORIENTATIONS index (the transform that maps the copy back).
TURNS = (
    "",
    "mirrored",
    "flipped upside down",
    "turned 180°",
    "turned 90° right",
    "turned 90° left",
    "turned 90° and mirrored",
    "turned 90° and mirrored",
)


@dataclass(frozen=True)
class Evidence:
    """What ties the pair together, which decides the words that may describe it."""

    geometry: bool  # the keypoint check found one clean geometry with overlap both ways
    checked: bool  # the keypoint check ran (and so may have refuted the pair)
    aligned: bool  # the hashes line up in the measured orientation
    matched: bool  # the decision says they are the same picture

    @property
    def related(self) -> bool:
        return self.geometry or self.aligned or self.matched

    @property
    def same_frame(self) -> bool:
        """The pixel counts compare like for like (a crop or border would mislead them)."""
        return self.geometry or (self.aligned and not self.checked)


def evidence_of(signals: PairSignals, matched: bool = False) -> Evidence:
    s = signals
    geometry = (
        (s.inliers or 0) >= TRUSTED_INLIERS
        and (s.inlier_ratio or 0.0) >= CLEAN_RATIO
        and (s.coverage_ab or 0.0) > 0.0
        and (s.coverage_ba or 0.0) > 0.0
    )
    aligned = s.phash + s.dhash + s.whash <= ALIGNED_BITS
    return Evidence(geometry, s.inliers is not None, aligned, matched)


def describe_edit(
    signals: PairSignals, original: ImageInfo, copy: ImageInfo, matched: bool = False
) -> list[str]:
    """What seems to have been done to ``copy`` (signals seen from ``original``), as short
    phrases; empty when nothing ties the two together. ``matched``: the decision accepted the
    pair as one picture, which allows the file facts (format, compression, colour) even
    without geometry."""
    ev = evidence_of(signals, matched)
    if not ev.related:
        return []
    notes = _turn(signals, ev)
    framing = _framing(signals) if ev.geometry else []
    notes += framing
    notes += _size(signals, original, copy, ev)
    if (
        ev.same_frame
        and signals.aspect_log_ratio > ASPECT_CHANGE
        and not framing  # a crop or a border explains the new shape
    ):
        notes.append("aspect ratio changed")
    notes += _file_facts(original, copy)
    if not notes and _edited_in_place(signals, ev):
        notes.append("edited in place: a watermark, text or a filter")
    return notes


def _turn(s: PairSignals, ev: Evidence) -> list[str]:
    # A check that ran and found nothing refutes the orientation the hashes suggested.
    if not s.orientation or not ev.aligned or (ev.checked and not ev.geometry):
        return []
    return [TURNS[s.orientation]]


def _framing(s: PairSignals) -> list[str]:
    """Crop, border or wider view, from the geometry's coverage both ways."""
    ab, ba = s.coverage_ab or 0.0, s.coverage_ba or 0.0
    if ab < CROP_COVERAGE:
        return [f"cropped to {ab:.0%} of the picture"]
    if ba >= CROP_COVERAGE or ab < WHOLE:
        return []
    # What the copy adds around the picture: flat (a border, page, window) or more picture.
    if (s.detail_ba if s.detail_ba is not None else 0.0) < FLAT:
        return ["shown inside a border, page or window"]
    return [f"shows more of the picture (the other file is {ba:.0%} of it)"]


def _size(s: PairSignals, original: ImageInfo, copy: ImageInfo, ev: Evidence) -> list[str]:
    if not ev.same_frame:
        return []
    # Compare the parts both files show: a crop is no downscale and a border no enlargement.
    shown = original.pixels * (s.coverage_ab if ev.geometry and s.coverage_ab else 1.0)
    content = copy.pixels * (s.coverage_ba if ev.geometry and s.coverage_ba else 1.0)
    scale = math.sqrt(content / max(shown, 1.0))
    if abs(math.log(max(scale, 1e-9))) <= SAME_SIZE:
        return []
    if scale < 1:
        return [f"smaller: {scale:.0%}"]
    return [f"larger: {scale:.0%}" if scale < 2 else f"larger: {scale:.1f}x"]


def _file_facts(original: ImageInfo, copy: ImageInfo) -> list[str]:
    notes = []
    if (
        original.chroma is not None
        and copy.chroma is not None
        and copy.chroma < GREY
        and original.chroma > copy.chroma + GREY
    ):
        notes.append("greyscale copy")
    if copy.format != original.format:
        notes.append(f"{copy.format} conversion of the {original.format}")
    elif (
        copy.jpeg_quality is not None
        and original.jpeg_quality is not None
        and copy.jpeg_quality + QUALITY_DROP < original.jpeg_quality
    ):
        notes.append(f"recompressed (JPEG quality {copy.jpeg_quality})")
    return notes


def _edited_in_place(s: PairSignals, ev: Evidence) -> bool:
    if s.orientation or not ev.same_frame:
        return False
    if ev.geometry and min(s.coverage_ab or 0.0, s.coverage_ba or 0.0) < WHOLE:
        return False
    low_cosine = s.cosine is not None and s.cosine < EDITED_COSINE
    return low_cosine or s.phash >= EDITED_PHASH


def signed_shares(contributions: dict[str, float]) -> dict[str, int]:
    """Each contribution's share of the total absolute contribution, in whole percent that
    sum to 100 (the largest remainders round up), signed like the contribution."""
    total = sum(abs(v) for v in contributions.values())
    if total <= 0.0:
        return {name: 0 for name in contributions}
    exact = {name: 100.0 * abs(v) / total for name, v in contributions.items()}
    shares = {name: int(x) for name, x in exact.items()}
    by_remainder = sorted(exact, key=lambda n: (-(exact[n] - shares[n]), n))
    for name in by_remainder[: 100 - sum(shares.values())]:
        shares[name] += 1
    return {n: share if contributions[n] >= 0 else -share for n, share in shares.items()}


# What each feature of the decision model measures, in words (match/signals.FEATURES).
FEATURE_LABELS = {
    "phash": "pHash distance",
    "dhash": "dHash distance",
    "whash": "wHash distance",
    "hash_close": "hashes nearly equal",
    "hash_close_small": "hashes, small picture",
    "cosine": "embedding cosine",
    "cosine_gap": "embedding similarity",
    "aspect_log_ratio": "aspect ratio change",
    "area_log_ratio": "size change",
    "rotated": "turned or flipped",
    "log_inliers": "keypoints in agreement",
    "inlier_ratio": "share of matches agreeing",
    "inlier_evidence": "clean geometry",
    "gate_cosine_gap": "CLIP similarity",
    "coverage": "overlap",
}
# Features that measure one thing, for the reasons against a match.
_FAMILY = {
    "phash": "hashes", "dhash": "hashes", "whash": "hashes", "hash_close": "hashes",
    "hash_close_small": "hashes", "cosine": "embedding", "cosine_gap": "embedding",
    "log_inliers": "keypoints", "inlier_ratio": "keypoints", "inlier_evidence": "keypoints",
    "coverage": "keypoints", "aspect_log_ratio": "shape", "area_log_ratio": "size",
    "rotated": "turn", "gate_cosine_gap": "gate",
}  # fmt: skip
# A family speaks among the reasons when it pushed at least this share of all the pushes.
SPEAKS = 0.1
MAX_REASONS = 3


def reasons_against(contributions: dict[str, float], s: PairSignals) -> list[str]:
    """Why a pair is not the same picture: the signal families that pushed hardest toward
    "different", strongest first. A family is a reason only when its own signal is on the
    different side too: a model fitted on correlated features can give near-equal hashes a
    negative term, which is no reason a person could check."""
    push: dict[str, float] = {}
    for name, value in contributions.items():
        family = _FAMILY.get(name, name)
        push[family] = push.get(family, 0.0) + value
    total = sum(abs(v) for v in contributions.values()) or 1.0
    ev = evidence_of(s)
    differs = {
        "hashes": not ev.aligned,
        "embedding": s.cosine is not None,
        "keypoints": s.inliers is not None and not ev.geometry,
        "gate": s.gate_cosine is not None,
        "shape": s.aspect_log_ratio > ASPECT_CHANGE,
        "size": s.area_log_ratio > 2 * SAME_SIZE,
        "turn": s.orientation != 0,
    }
    against = sorted(
        (f for f in push if push[f] < -SPEAKS * total and differs.get(f, False)),
        key=lambda f: push[f],
    )
    return [_reason(f, s) for f in against[:MAX_REASONS]]


def _reason(family: str, s: PairSignals) -> str:
    if family == "hashes":
        return f"the perceptual hashes differ (pHash {s.phash} of 64 bits; about 32 is unrelated)"
    if family == "embedding":
        return f"the embedding sees different content (cosine {s.cosine or 0.0:.2f})"
    if family == "keypoints":
        if (s.inliers or 0) < TRUSTED_INLIERS:
            return (
                f"the keypoint check found no shared geometry ({s.inliers or 0} keypoints "
                f"agree; it takes {TRUSTED_INLIERS} or more)"
            )
        return (
            f"the keypoint check found no clean geometry ({s.inliers} keypoints agree, "
            f"{s.inlier_ratio or 0.0:.0%} of the matches)"
        )
    if family == "gate":
        return f"CLIP sees different content (cosine {s.gate_cosine or 0.0:.2f})"
    if family == "shape":
        return "the pictures have different shapes"
    if family == "size":
        return "the pictures have different sizes"
    return "one would have to be turned or flipped to match the other"


def evidence(signals: PairSignals) -> str:
    parts = [f"pHash {signals.phash}/64 bits apart"]
    if signals.cosine is not None:
        parts.append(f"embedding cosine {signals.cosine:.3f}")
    if signals.inliers is not None:
        parts.append(f"{signals.inliers} keypoints agree geometrically")
    return ", ".join(parts)


def pair_reason(
    signals: PairSignals, probability: float, original: ImageInfo, copy: ImageInfo, gated: bool
) -> str:
    """A grouped member's reason: the scan matched it, so the file facts may be said."""
    edits = describe_edit(signals, original, copy, matched=True)
    head = f"same picture ({probability:.0%})"
    if edits:
        head += ": " + ", ".join(edits)
    checked = "; checked by keypoint geometry" if gated and signals.inliers is not None else ""
    return f"{head} [{evidence(signals)}{checked}]"
