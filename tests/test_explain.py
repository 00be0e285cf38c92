"""The words a report and `ndid compare` use for how a copy differs from its original."""

from ndid_desktop.engine.groups.explain import describe_edit
from ndid_desktop.engine.types import ImageInfo, PairSignals

ORIGINAL = ImageInfo(2000, 1500, "JPEG", jpeg_quality=95, chroma=30.0)


def _signals(**kw: object) -> PairSignals:
    base = dict(phash=4, dhash=4, whash=4, orientation=0, cosine=0.95, aspect_log_ratio=0.0,
                area_log_ratio=0.0)  # fmt: skip
    return PairSignals(**{**base, **kw})  # type: ignore[arg-type]


def test_a_check_that_found_no_geometry_is_not_described_as_a_crop() -> None:
    s = _signals(inliers=0, inlier_ratio=0.0, coverage_ab=0.0, coverage_ba=0.0)
    assert not any("cropped" in n or "border" in n for n in describe_edit(s, ORIGINAL, ORIGINAL))


def test_crops_frames_wider_views_and_greyscale_copies_are_told_apart() -> None:
    crop = _signals(inliers=200, inlier_ratio=0.9, coverage_ab=0.6, coverage_ba=1.0)
    assert "cropped to about 60% of the picture" in describe_edit(crop, ORIGINAL, ORIGINAL)
    frame = _signals(inliers=200, inlier_ratio=0.9, coverage_ab=1.0, coverage_ba=0.6,
                     detail_ba=0.02)  # fmt: skip
    assert "shown inside a border, page or window" in describe_edit(frame, ORIGINAL, ORIGINAL)
    wider = _signals(inliers=200, inlier_ratio=0.9, coverage_ab=1.0, coverage_ba=0.6,
                     detail_ba=0.9)  # fmt: skip
    notes = describe_edit(wider, ORIGINAL, ORIGINAL)
    assert any(n.startswith("shows more of the picture") for n in notes)
    grey = ImageInfo(2000, 1500, "JPEG", jpeg_quality=90, chroma=0.4)
    assert "greyscale" in describe_edit(_signals(), ORIGINAL, grey)
