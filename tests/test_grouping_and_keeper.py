"""Grouping never chains unrelated pictures; the keeper rule (the tournament over the
direction model, what the keeper holds, the reason), table-tested; the bundled direction
model on the cases a library holds."""

import math
from dataclasses import replace

import pytest

from ndid_desktop.engine.groups.derivation import (
    NOT_FOUND,
    Candidate,
    DirectionModel,
    Geometry,
    load_direction_model,
)
from ndid_desktop.engine.groups.grouping import build_groups, components
from ndid_desktop.engine.groups.keeper import choose_keeper, decide_keeper, holds, root_score
from ndid_desktop.engine.types import FileEntry, ImageInfo

BASE_INFO = ImageInfo(width=4000, height=3000, format="JPEG", jpeg_quality=92, chroma=30.0)
BUNDLED = load_direction_model()


def model(**weights: float) -> DirectionModel:
    """A direction model that reads only the named features, with these weights."""
    return DirectionModel(tuple(weights), tuple(weights.values()))


PIXELS = model(shared_pixels=1.0)


def cand(i: int, path: str | None = None, reference: bool = False, mtime: int = 0,
         size: int = 1000, **info: object) -> Candidate:  # fmt: skip
    entry = FileEntry(path or f"/p/{i}.jpg", "/p", reference, size, mtime)
    return Candidate(i, entry, replace(BASE_INFO, **info))  # type: ignore[arg-type]


def no_geometry(a: int, b: int) -> Geometry | None:
    return None


def test_chain_a_b_c_does_not_merge_a_and_c() -> None:
    # A~B and B~C, but A and C are different pictures (a burst, or two crops of one scene).
    people = [cand(0, width=4000), cand(1, width=3000), cand(2, width=2000)]
    probability = {(0, 1): 0.99, (1, 2): 0.99, (0, 2): 0.01}

    def p(a: int, b: int) -> float:
        return probability[(min(a, b), max(a, b))]

    groups = build_groups(people, [(0, 1), (1, 2)], p, 0.9, no_geometry, PIXELS)
    assert components(3, [(0, 1), (1, 2)]) == [[0, 1, 2]]
    assert [(g.keeper, g.members) for g in groups] == [(0, (1,))]


def test_every_member_matches_the_keeper() -> None:
    people = [cand(i, width=4000 - i) for i in range(4)]
    good = {(0, 1), (0, 2), (0, 3), (1, 2)}

    def p(a: int, b: int) -> float:
        return 0.99 if (min(a, b), max(a, b)) in good else 0.0

    groups = build_groups(people, sorted(good), p, 0.9, no_geometry, PIXELS)
    assert [(g.keeper, sorted(g.members)) for g in groups] == [(0, [1, 2, 3])]


def test_reference_file_is_kept_and_never_a_member() -> None:
    people = [cand(0, width=4000), cand(1, width=1000, reference=True)]
    groups = build_groups(people, [(0, 1)], lambda a, b: 0.99, 0.9, no_geometry, PIXELS)
    assert groups[0].keeper == 1 and groups[0].members == (0,)
    assert "reference" in groups[0].reason


def _geometry(table: dict[tuple[int, int], Geometry]):
    def lookup(a: int, b: int) -> Geometry | None:
        if (a, b) in table:
            return table[(a, b)]
        g = table.get((b, a))
        return g.flipped() if g is not None else None

    return lookup


CROP = Geometry(a_covered=0.5, b_covered=1.0, a_detail_outside=0.9, b_detail_outside=1.0)
FRAME = Geometry(a_covered=1.0, b_covered=0.6, a_detail_outside=1.0, b_detail_outside=0.0)
WIDER = Geometry(a_covered=1.0, b_covered=0.6, a_detail_outside=1.0, b_detail_outside=0.8)
SAME = Geometry(1.0, 1.0, 1.0, 1.0)


def test_every_feature_flips_sign_when_the_files_swap() -> None:
    from ndid_desktop.engine.groups.derivation import direction_features

    a = cand(0, camera="Canon", taken_at="2020:01:01", has_exif=True, orientation=6, mtime=1)
    b = cand(1, width=2000, format="PNG", jpeg_quality=None, jpeg_grid=1.4, chroma=1.0,
             software="Snapseed", mtime=10**12)  # fmt: skip
    for g in (None, CROP, FRAME, WIDER):
        forward = direction_features(a, b, g)
        back = direction_features(b, a, g.flipped() if g else None)
        assert (forward != 0).sum() >= 8
        assert forward.tolist() == pytest.approx((-back).tolist())


def test_the_keeper_is_the_likeliest_root_of_the_tournament() -> None:
    # 0 made 1 and 2 (more pixels than both); 1 is bigger than 2, but 0 beats it outright.
    members = [cand(0, width=4000), cand(1, width=3000), cand(2, width=1000)]
    assert choose_keeper(members, no_geometry, PIXELS).index == 0
    # The score is log P(it made every other member): here log sigmoid of each log-ratio.
    expected = sum(-math.log1p(math.exp(-math.log(4000 / w))) for w in (3000, 1000))
    assert root_score(members[0], members, no_geometry, PIXELS) == pytest.approx(expected, 1e-3)


def test_uncropped_original_beats_a_bigger_crop_and_says_so() -> None:
    members = [cand(0, width=2000), cand(1, width=5000)]
    choice = decide_keeper(members, _geometry({(0, 1): CROP}), model(crop=8.0, shared_pixels=1.0))
    assert choice.keeper.index == 0
    assert "1 other file is a crop of it" in choice.reason


def test_picture_beats_its_framed_copy() -> None:
    members = [cand(0, width=2000), cand(1, width=3000)]
    choice = decide_keeper(members, _geometry({(0, 1): FRAME}), model(frame=8.0))
    assert choice.keeper.index == 0 and "border, screen or page" in choice.reason
    assert choice.overlapping == frozenset()  # the frame adds nothing but flat surround


def test_a_real_wider_view_is_not_mistaken_for_a_frame() -> None:
    members = [cand(0, width=2000), cand(1, width=3000)]
    keeper = choose_keeper(members, _geometry({(0, 1): WIDER}), model(frame=8.0, crop=8.0))
    assert keeper.index == 1


def test_reference_file_is_always_the_keeper() -> None:
    members = [cand(0, width=8000), cand(1, width=100, reference=True)]
    assert choose_keeper(members, no_geometry, PIXELS).index == 1


@pytest.mark.parametrize(
    ("keeper", "other", "g", "held"),
    [
        (cand(0), cand(1, width=1000), SAME, True),  # a smaller copy
        (cand(0), cand(1, width=2800, height=2100), CROP, True),  # a crop at the same scale
        (cand(0, width=2000), cand(1), FRAME, True),  # framed: only flat surround added
        (cand(0), cand(1), WIDER, False),  # the other shows real picture the keeper lacks
        # The crop has more pixels of its part than the keeper spends on it (sharper).
        (cand(0, width=1000), cand(1, width=4000), CROP, False),
        (cand(0, width=1000), cand(1, width=4000), None, False),  # unmeasured: pixels decide
        (cand(0), cand(1, width=3000), None, True),
        (cand(0), cand(1, width=3000), NOT_FOUND, False),  # checked: no geometry found
    ],
)
def test_the_keeper_holds_a_file_only_with_all_its_picture(
    keeper: Candidate, other: Candidate, g: Geometry | None, held: bool
) -> None:
    assert holds(keeper, other, g) is held


def test_a_collage_and_its_photo_are_both_kept() -> None:
    # 1 is a collage: 0 fills a quarter of it, downscaled; the rest is other photos.
    photo, collage = cand(0, width=2000, height=1500), cand(1, width=2000, height=1500)
    g = Geometry(a_covered=1.0, b_covered=0.25, a_detail_outside=1.0, b_detail_outside=1.0)
    for m in (PIXELS, BUNDLED):
        choice = decide_keeper([photo, collage], _geometry({(0, 1): g}), m)
        other = 1 - choice.keeper.index
        assert choice.overlapping == frozenset({other})
        assert "overlapping" in choice.reason and "kept too" in choice.reason


def test_the_reason_counts_only_the_files_the_group_keeps() -> None:
    # 1 matches 0 and 2; 0 (the largest) becomes the keeper, and 2 does not match 0, so it
    # leaves the group. 2 is a crop of 0 by its geometry: the reason must not count it.
    people = [cand(0, width=4000), cand(1, width=3000), cand(2, width=2000)]
    probability = {(0, 1): 0.99, (1, 2): 0.99, (0, 2): 0.2}

    def p(a: int, b: int) -> float:
        return probability[(min(a, b), max(a, b))]

    def geometry(a: int, b: int) -> Geometry | None:
        return {(0, 2): CROP, (2, 0): CROP.flipped()}.get((a, b))

    (group,) = build_groups(people, [(0, 1), (1, 2)], p, 0.9, geometry, model(
        shared_pixels=1.0, crop=1.0))  # fmt: skip
    assert (group.keeper, group.members) == (0, (1,))
    assert "crop" not in group.reason
    assert group.reason == "kept: it has the most pixels of the picture (4000x3000)"


# --- the bundled model, on what a library holds -------------------------------------------
def _bundled_keeps(original: Candidate, copy: Candidate, g: Geometry | None = SAME) -> bool:
    return (
        BUNDLED.logit(original, copy, g) > 0
        and BUNDLED.logit(copy, original, g and g.flipped()) < 0
    )


CAMERA = dict(camera="Apple iPhone 13", taken_at="2023:05:01 10:00:00", has_exif=True)


@pytest.mark.parametrize(
    ("copy", "g"),
    [
        (cand(1, width=2000, height=1500), SAME),  # resized
        (cand(1, width=1000, height=750, jpeg_quality=80), SAME),  # a messenger's copy
        (cand(1, format="PNG", jpeg_quality=None, jpeg_grid=1.5), SAME),  # PNG of the JPEG
        (cand(1, chroma=0.5), SAME),  # greyscale
        (cand(1, jpeg_quality=75), SAME),  # recompressed
        (cand(1, width=2800, height=2100), CROP),  # cropped
        (cand(1, width=6000, height=5000, format="PNG", jpeg_quality=None), FRAME),  # screenshot
        (cand(1, format="WEBP", jpeg_quality=None), SAME),  # web re-encode
    ],
)
def test_the_bundled_model_finds_the_original(copy: Candidate, g: Geometry) -> None:
    assert _bundled_keeps(cand(0), copy, g)


def test_a_preview_is_never_kept_over_the_full_size_picture() -> None:
    wallpaper = cand(0, width=3840, height=2160, jpeg_quality=90)
    preview = cand(1, width=512, height=288, format="PNG", jpeg_quality=None)  # screenshot.png
    assert _bundled_keeps(wallpaper, preview, SAME)


def test_aspect_versions_of_one_design_keep_the_largest_and_both_stay() -> None:
    # A 16:9 cut and a 4:3 cut of one wallpaper: each shows picture the other lacks.
    wide, four_three = cand(0, width=3840, height=2160), cand(1, width=1600, height=1200)
    # The 4:3 cut drops the sides but shows 15% more at the top and bottom.
    g = Geometry(a_covered=0.7, b_covered=0.85, a_detail_outside=1.0, b_detail_outside=1.0)
    choice = decide_keeper([wide, four_three], _geometry({(0, 1): g}), BUNDLED)
    assert choice.keeper.index == 0 and choice.overlapping == frozenset({1})
    # Had it been a plain crop of the wide one (all of it inside), it would be held.
    crop = replace(g, b_covered=1.0)
    assert (
        decide_keeper([wide, four_three], _geometry({(0, 1): crop}), BUNDLED).overlapping == set()
    )


def test_the_bundled_model_reads_camera_exif_and_dates() -> None:
    original = cand(0, mtime=10**18, **CAMERA)
    exported = cand(1, mtime=2 * 10**18, jpeg_quality=95)  # same pixels, EXIF stripped, newer
    assert _bundled_keeps(original, exported)
    edited = cand(1, mtime=2 * 10**18, software="Adobe Lightroom 7.0", **CAMERA)
    assert _bundled_keeps(original, edited)


def _built(n: int, accepted: dict[tuple[int, int], float], widths: dict[int, int]):
    people = [cand(i, width=widths.get(i, 1000)) for i in range(n)]

    def p(a: int, b: int) -> float:
        return accepted.get((min(a, b), max(a, b)), 0.0)

    return build_groups(people, sorted(accepted), p, 0.9, no_geometry, PIXELS)


def test_a_fragment_that_matches_a_group_many_times_joins_it_and_is_kept() -> None:
    # 0 is the original of 1-6; 7 and 8 (hard copies) do not match 0 but match 1, 2 and 3,
    # and each other. They join 0's group, kept (their overlap with 0 was never measured).
    accepted = {(0, m): 0.99 for m in range(1, 7)}
    accepted |= {(7, 1): 0.97, (7, 2): 0.97, (8, 3): 0.96, (7, 8): 0.99}
    (group,) = _built(9, {(min(a, b), max(a, b)): v for (a, b), v in accepted.items()}, {0: 4000})
    assert group.keeper == 0 and set(group.members) == set(range(1, 9))
    assert {7, 8} <= group.overlapping
    assert dict(group.joined)[7] in (1, 2) and dict(group.joined)[8] in (3, 7)


def test_a_fragment_between_two_groups_or_linked_once_stays_apart() -> None:
    # Two pictures, 0 with 1-6 and 10 with 11-16; 20+21 match copies of both as often.
    accepted = {(0, m): 0.99 for m in range(1, 7)} | {(10, m): 0.99 for m in range(11, 17)}
    accepted |= {(1, 20): 0.96, (2, 21): 0.96, (11, 20): 0.96, (12, 21): 0.96, (20, 21): 0.99}
    accepted |= {(3, 30): 0.97, (30, 31): 0.99}  # 30+31: linked once only
    groups = _built(32, accepted, {0: 4000, 10: 4000})
    sets = sorted(sorted((g.keeper, *g.members)) for g in groups)
    assert sets == [[0, 1, 2, 3, 4, 5, 6], [10, 11, 12, 13, 14, 15, 16], [20, 21], [30, 31]]
