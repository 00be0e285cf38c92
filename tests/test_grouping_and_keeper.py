"""Grouping never chains unrelated pictures; the keeper rule, table-tested."""

from dataclasses import replace

import pytest

from ndid_desktop.engine.groups.grouping import build_groups, components
from ndid_desktop.engine.groups.keeper import Candidate, Geometry, choose_keeper
from ndid_desktop.engine.types import FileEntry, ImageInfo

BASE_INFO = ImageInfo(width=4000, height=3000, format="JPEG", jpeg_quality=92)


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

    groups = build_groups(people, [(0, 1), (1, 2)], p, 0.9, no_geometry)
    assert components(3, [(0, 1), (1, 2)]) == [[0, 1, 2]]
    assert [(g.keeper, g.members) for g in groups] == [(0, (1,))]


def test_every_member_matches_the_keeper() -> None:
    people = [cand(i, width=4000 - i) for i in range(4)]
    good = {(0, 1), (0, 2), (0, 3), (1, 2)}

    def p(a: int, b: int) -> float:
        return 0.99 if (min(a, b), max(a, b)) in good else 0.0

    groups = build_groups(people, sorted(good), p, 0.9, no_geometry)
    assert [(g.keeper, sorted(g.members)) for g in groups] == [(0, [1, 2, 3])]


def test_reference_file_is_kept_and_never_a_member() -> None:
    people = [cand(0, width=4000), cand(1, width=1000, reference=True)]
    groups = build_groups(people, [(0, 1)], lambda a, b: 0.99, 0.9, no_geometry)
    assert groups[0].keeper == 1 and groups[0].members == (0,)
    assert "reference" in groups[0].reason


@pytest.mark.parametrize(
    ("members", "expected", "reason"),
    [
        ([cand(0, width=2000), cand(1, width=4000)], 1, "highest resolution"),
        ([cand(0, jpeg_quality=60), cand(1, jpeg_quality=95)], 1, "least compressed"),
        ([cand(0, mtime=5), cand(1, mtime=9, camera="Canon EOS 80D")], 1, "camera"),
        ([cand(0, mtime=9), cand(1, mtime=5)], 1, "oldest"),
        ([cand(0, format="PNG", jpeg_quality=None, mtime=9), cand(1, mtime=1)], 1, "oldest"),
        ([cand(0, path="/p/b.jpg"), cand(1, path="/p/a.jpg")], 1, "ties broken by path"),
    ],
)
def test_keeper_rule(members: list[Candidate], expected: int, reason: str) -> None:
    keeper, why = choose_keeper(members, no_geometry)
    assert keeper.index == expected
    assert reason in why


def _geometry(table: dict[tuple[int, int], Geometry]):
    def lookup(a: int, b: int) -> Geometry | None:
        if (a, b) in table:
            return table[(a, b)]
        g = table.get((b, a))
        if g is None:
            return None
        return Geometry(g.b_covered, g.a_covered, g.b_detail_outside, g.a_detail_outside)

    return lookup


def test_uncropped_original_beats_a_bigger_crop() -> None:
    # 1 is an upscaled crop of 0: more pixels, but 0 contains it.
    members = [cand(0, width=2000), cand(1, width=5000)]
    crop = Geometry(a_covered=0.5, b_covered=1.0, a_detail_outside=0.9, b_detail_outside=1.0)
    keeper, why = choose_keeper(members, _geometry({(0, 1): crop}))
    assert keeper.index == 0 and "crop" in why


def test_picture_beats_its_framed_copy() -> None:
    # 1 is 0 pasted on a bigger flat canvas (screenshot, border, scanned page).
    members = [cand(0, width=2000), cand(1, width=3000)]
    # Real borders, screenshots and pages measured 0.0 outside the picture.
    frame = Geometry(a_covered=1.0, b_covered=0.6, a_detail_outside=1.0, b_detail_outside=0.0)
    keeper, why = choose_keeper(members, _geometry({(0, 1): frame}))
    assert keeper.index == 0 and "border, screen or page" in why


def test_a_real_wider_view_is_not_mistaken_for_a_frame() -> None:
    members = [cand(0, width=2000), cand(1, width=3000)]
    wider = Geometry(a_covered=1.0, b_covered=0.6, a_detail_outside=1.0, b_detail_outside=0.8)
    keeper, _ = choose_keeper(members, _geometry({(0, 1): wider}))
    assert keeper.index == 1


def test_the_reason_counts_only_the_files_the_group_keeps() -> None:
    # 1 matches 0 and 2; 0 (the largest) becomes the keeper, and 2 does not match 0, so it
    # leaves the group. 2 is a crop of 0 by its geometry: the reason must not count it.
    people = [cand(0, width=4000), cand(1, width=3000), cand(2, width=2000)]
    probability = {(0, 1): 0.99, (1, 2): 0.99, (0, 2): 0.2}

    def p(a: int, b: int) -> float:
        return probability[(min(a, b), max(a, b))]

    def geometry(a: int, b: int) -> Geometry | None:
        if (a, b) == (0, 2):
            return Geometry(a_covered=0.5, b_covered=1.0, a_detail_outside=1.0,
                            b_detail_outside=1.0)  # fmt: skip
        return None

    (group,) = build_groups(people, [(0, 1), (1, 2)], p, 0.9, geometry)
    assert (group.keeper, group.members) == (0, (1,))
    assert "crop" not in group.reason
    assert group.reason == "kept: the highest resolution (4000x3000)"
