"""The words a report, a card and `ndid compare` use for how a copy differs from its original,
said only where the evidence supports them."""

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from ndid_desktop.engine.compare import compare
from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.groups.explain import describe_edit, reasons_against, signed_shares
from ndid_desktop.engine.types import ImageInfo, PairSignals

from .conftest import dev_photos, textured

ORIGINAL = ImageInfo(2000, 1500, "JPEG", jpeg_quality=95, chroma=30.0)
# Words that claim a geometry or an orientation: never without the evidence for them.
GEOMETRY_WORDS = ("cropped", "border", "shows more", "mirrored", "turned", "flipped")


def _signals(**kw: object) -> PairSignals:
    base = dict(phash=4, dhash=4, whash=4, orientation=0, cosine=0.95, aspect_log_ratio=0.0,
                area_log_ratio=0.0)  # fmt: skip
    return PairSignals(**{**base, **kw})  # type: ignore[arg-type]


def _geometric(words: list[str]) -> list[str]:
    return [w for w in words if any(g in w for g in GEOMETRY_WORDS)]


def test_a_check_that_found_no_geometry_is_not_described_as_a_crop() -> None:
    s = _signals(inliers=0, inlier_ratio=0.0, coverage_ab=0.0, coverage_ba=0.0)
    assert not _geometric(describe_edit(s, ORIGINAL, ORIGINAL, matched=True))


def test_crops_frames_wider_views_and_greyscale_copies_are_told_apart() -> None:
    cropped = ImageInfo(1549, 1162, "JPEG", jpeg_quality=95, chroma=30.0)  # 60% of the area
    crop = _signals(inliers=200, inlier_ratio=0.9, coverage_ab=0.6, coverage_ba=1.0)
    assert describe_edit(crop, ORIGINAL, cropped) == ["cropped to 60% of the picture"]
    framed = ImageInfo(2582, 1936, "JPEG", jpeg_quality=95, chroma=30.0)  # the same content
    frame = _signals(inliers=200, inlier_ratio=0.9, coverage_ab=1.0, coverage_ba=0.6,
                     detail_ba=0.02)  # fmt: skip
    assert describe_edit(frame, ORIGINAL, framed) == ["shown inside a border, page or window"]
    wider = _signals(inliers=200, inlier_ratio=0.9, coverage_ab=1.0, coverage_ba=0.6,
                     detail_ba=0.9)  # fmt: skip
    notes = describe_edit(wider, ORIGINAL, framed)
    assert notes == ["shows more of the picture (the other file is 60% of it)"]
    grey = ImageInfo(2000, 1500, "JPEG", jpeg_quality=95, chroma=0.4)
    assert describe_edit(_signals(), ORIGINAL, grey) == ["greyscale copy"]
    muted = ImageInfo(2000, 1500, "JPEG", jpeg_quality=95, chroma=5.0)  # a muted colour photo
    assert describe_edit(_signals(), muted, grey) == ["greyscale copy"]


def test_unrelated_pictures_get_no_words_at_all() -> None:
    """Hashes far apart in their 'best' orientation, a handful of chance inliers, not matched:
    nothing ties them, so no crop, turn, size or format is claimed."""
    s = _signals(phash=26, dhash=27, whash=22, orientation=6, cosine=0.14, inliers=6,
                 inlier_ratio=0.75, coverage_ab=0.0, coverage_ba=0.0,
                 aspect_log_ratio=0.4)  # fmt: skip
    other = ImageInfo(546, 546, "PNG", chroma=20.0)
    assert describe_edit(s, ORIGINAL, other) == []


def test_a_turn_is_named_only_when_the_hashes_line_up_in_it() -> None:
    half = ImageInfo(750, 1000, "JPEG", jpeg_quality=95, chroma=30.0)
    turned = _signals(phash=0, dhash=1, whash=0, orientation=5, inliers=500, inlier_ratio=1.0,
                      coverage_ab=1.0, coverage_ba=1.0)  # fmt: skip
    assert describe_edit(turned, ORIGINAL, half) == ["turned 90° left", "smaller: 50%"]
    # A homography absorbs a turn: inliers found with the hashes 41 bits apart in the
    # orientation they picked confirm the pair, not the turn.
    crop = _signals(phash=16, dhash=15, whash=10, orientation=3, inliers=56, inlier_ratio=0.98,
                    coverage_ab=0.6, coverage_ba=1.0)  # fmt: skip
    cropped = ImageInfo(1549, 1162, "JPEG", jpeg_quality=95, chroma=30.0)
    assert describe_edit(crop, ORIGINAL, cropped) == ["cropped to 60% of the picture"]
    # Without a keypoint check (a pair the cheap stage decided), the hashes alone name it.
    mirrored = _signals(phash=2, dhash=1, whash=0, orientation=1)
    assert describe_edit(mirrored, ORIGINAL, ORIGINAL) == ["mirrored"]


def test_a_match_without_geometry_states_only_the_file_facts() -> None:
    s = _signals(phash=20, dhash=20, whash=20, cosine=0.93)  # e.g. decided by the embedding
    png = ImageInfo(1000, 750, "PNG", chroma=30.0)
    assert describe_edit(s, ORIGINAL, png) == []  # not matched: nothing
    assert describe_edit(s, ORIGINAL, png, matched=True) == ["PNG conversion of the JPEG"]


def test_shares_are_percent_of_the_total_push_and_sum_to_100() -> None:
    shares = signed_shares({"cosine_gap": -2.29, "aspect_log_ratio": 0.9, "coverage": -0.46,
                            "hash_close": 0.45, "area_log_ratio": -0.06})  # fmt: skip
    assert sum(abs(v) for v in shares.values()) == 100
    assert shares["cosine_gap"] == -55 and shares["aspect_log_ratio"] == 22
    assert shares["hash_close"] > 0 > shares["coverage"]
    assert signed_shares({"a": 0.0}) == {"a": 0}


def test_reasons_against_are_checked_against_the_signal_itself() -> None:
    """A verified stage can give near-equal hashes a negative term (they are correlated with
    the keypoint features); "the hashes differ" would then be false, so it is not said."""
    grey = _signals(phash=0, dhash=0, whash=0, cosine=0.54, inliers=900, inlier_ratio=1.0,
                    coverage_ab=1.0, coverage_ba=1.0)  # fmt: skip
    assert reasons_against({"hash_close": -3.7, "log_inliers": 4.3, "cosine_gap": -0.2}, grey) == []
    apart = _signals(phash=26, dhash=27, whash=22, cosine=0.14, inliers=6, inlier_ratio=0.75,
                     coverage_ab=0.0, coverage_ba=0.0)  # fmt: skip
    reasons = reasons_against({"cosine_gap": -2.3, "inlier_evidence": -0.6, "coverage": -0.5,
                               "aspect_log_ratio": 0.9}, apart)  # fmt: skip
    assert reasons[0] == "the embedding sees different content (cosine 0.14)"
    assert reasons[1].startswith("the keypoint check found no shared geometry (6 keypoints")


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A small generated colour picture and one copy of it per kind of edit."""
    folder = tmp_path_factory.mktemp("copies")
    img = textured(2, (640, 480))
    original = folder / "original.jpg"
    img.save(original, quality=95)
    w, h = img.size
    marked = img.copy()
    draw = ImageDraw.Draw(marked)
    draw.rectangle((0, h * 3 // 4, w, h * 3 // 4 + 60), fill=(255, 255, 255))
    draw.text((20, h * 3 // 4 + 20), "SAMPLE WATERMARK", fill=(0, 0, 0))
    made = {
        "half.jpg": img.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "crop.jpg": img.crop((32, 24, 32 + 573, 24 + 429)),  # 80% of the area, centred
        "turned.jpg": img.transpose(Image.Transpose.ROTATE_90),  # anticlockwise
        "grey.jpg": img.convert("L").convert("RGB"),
        "converted.png": img,
        "mirrored.jpg": img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "watermarked.jpg": marked,
    }
    paths = {}
    for name, picture in made.items():
        paths[name] = folder / name
        picture.save(paths[name], **({"quality": 95} if name.endswith(".jpg") else {}))
    return original, paths


@pytest.mark.parametrize(
    "name, phrase",
    [
        ("half.jpg", "smaller: 50%"),
        ("crop.jpg", "cropped to 80% of the picture"),
        ("turned.jpg", "turned 90° left"),
        ("grey.jpg", "greyscale copy"),
        ("converted.png", "PNG conversion of the JPEG"),
        ("mirrored.jpg", "mirrored"),
        ("watermarked.jpg", "edited in place: a watermark, text or a filter"),
    ],
)
def test_each_kind_of_copy_is_named_in_its_own_words(
    copies: tuple[Path, dict[str, Path]], encoder: Encoder, name: str, phrase: str
) -> None:
    original, made = copies
    c = compare(str(original), str(made[name]), ScanConfig(), encoder=encoder)
    assert c.duplicate
    assert c.edits == [phrase]  # that phrase and no other (no stray crop, turn or size words)


def test_unrelated_photos_never_get_crop_mirror_or_turn_words(encoder: Encoder) -> None:
    photos = dev_photos(8, offset=60)
    different = 0
    for a, b in zip(photos[::2], photos[1::2], strict=True):
        c = compare(str(a), str(b), ScanConfig(), encoder=encoder)
        assert not _geometric(c.edits), (a.name, b.name, c.edits)
        if not c.duplicate:
            different += 1
            assert c.edits == [] and c.reasons_against, (a.name, b.name)
    assert different >= 3  # the words for "different" were exercised too
