"""The review state (engine/actions/review.py) on its own, without Qt: keepers, splits, "not
duplicates", files and groups kept out of the trash, and the choices the trash plan takes."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ndid_desktop.engine.actions import GroupChoice, Review, plan_trash
from ndid_desktop.engine.actions.review import SPLIT_REASON
from ndid_desktop.engine.types import Group, ImageInfo, Member

from .trash_fixtures import photo, scanned


def _member(
    path: str,
    pixels: tuple[int, int] = (640, 480),
    size: int = 1000,
    mtime_ns: int = 0,
    probability: float = 0.9,
    reference: bool = False,
) -> Member:
    info = ImageInfo(width=pixels[0], height=pixels[1], format="JPEG")
    return Member(path, probability, "", reference, size, info, mtime_ns=mtime_ns)


def _group(*members: Member) -> Group:
    return Group(members[0].path, "kept: the scan's choice", members)


@pytest.fixture
def review() -> Review:
    """Two groups: /a (4 files, the suggested keeper small but first) and /x (2 files)."""
    first = _group(
        _member("/lib/a.jpg", (640, 480), 3000, mtime_ns=30, probability=1.0),
        _member("/lib/a-big.jpg", (4000, 3000), 9000, mtime_ns=20, probability=0.95),
        _member("/old/a-old.jpg", (800, 600), 2000, mtime_ns=10, probability=0.7),
        _member("/lib/a-small.jpg", (320, 240), 500, mtime_ns=40, probability=0.99),
    )
    second = _group(
        _member("/lib/x.jpg", size=100, probability=1.0), _member("/lib/x2.jpg", size=50)
    )
    return Review.from_groups([first, second])


def _paths(choice: GroupChoice) -> tuple[str, ...]:
    return choice.members


def test_a_fresh_review_selects_every_group_and_keeps_the_suggestion(review: Review) -> None:
    assert [g.keep for g in review.groups] == ["/lib/a.jpg", "/lib/x.jpg"]
    assert all(g.selected for g in review.groups)
    assert review.trash_choices() == [
        GroupChoice(("/lib/a.jpg", "/lib/a-big.jpg", "/old/a-old.jpg", "/lib/a-small.jpg"),
                    "/lib/a.jpg"),
        GroupChoice(("/lib/x.jpg", "/lib/x2.jpg"), "/lib/x.jpg"),
    ]  # fmt: skip
    assert review[0].savings == 9000 + 2000 + 500
    assert review[0].weakest == 0.7


def test_choosing_a_keeper_returns_a_new_review_and_refuses_strangers(review: Review) -> None:
    chosen = review.choose_keeper(0, "/lib/a-big.jpg")
    assert chosen[0].keep == "/lib/a-big.jpg" and review[0].keep == "/lib/a.jpg"
    assert chosen.trash_choices()[0].keep == "/lib/a-big.jpg"
    assert chosen[0].savings == 3000 + 2000 + 500
    with pytest.raises(ValueError, match="not a member"):
        review.choose_keeper(0, "/lib/x.jpg")


def test_next_keeper_wraps_round_and_keep_by_rule_goes_back(review: Review) -> None:
    moved = review.next_keeper(1)
    assert moved[1].keep == "/lib/x2.jpg"
    assert moved.next_keeper(1)[1].keep == "/lib/x.jpg"
    assert moved.keep_by_rule(1)[1].keep == "/lib/x.jpg"
    both = moved.choose_keeper(0, "/old/a-old.jpg").keep_suggested()
    assert [g.keep for g in both.groups] == ["/lib/a.jpg", "/lib/x.jpg"]


def test_keeper_rules_and_reference_files_stay_kept(review: Review) -> None:
    assert review.apply_rule("resolution")[0].keep == "/lib/a-big.jpg"
    assert review.apply_rule("oldest")[0].keep == "/old/a-old.jpg"
    assert review.apply_rule("folder", "/old/")[0].keep == "/old/a-old.jpg"
    # No member in the folder: the keeper stays as it was.
    assert review.apply_rule("folder", "/elsewhere")[0].keep == "/lib/a.jpg"
    with_reference = Review.from_groups(
        [_group(_member("/lib/b.jpg", (4000, 3000)), _member("/refs/b.jpg", reference=True))]
    )
    for rule in ("resolution", "oldest", "folder"):
        assert with_reference.apply_rule(rule, "/lib")[0].keep == "/refs/b.jpg"


def test_excluded_groups_and_files_are_left_out_of_the_choices(review: Review) -> None:
    without_first = review.exclude_group(0)
    assert [c.keep for c in without_first.trash_choices()] == ["/lib/x.jpg"]
    assert without_first.include_group(0).trash_choices() == review.trash_choices()

    spared = review.exclude_file(0, "/old/a-old.jpg")
    assert _paths(spared.trash_choices()[0]) == ("/lib/a.jpg", "/lib/a-big.jpg", "/lib/a-small.jpg")
    assert spared[0].savings == 9000 + 500
    assert spared.include_file(0, "/old/a-old.jpg").trash_choices() == review.trash_choices()
    # The keeper always stays in its choice: the plan must know which file remains.
    kept = review.exclude_file(0, "/lib/a.jpg")
    assert "/lib/a.jpg" in _paths(kept.trash_choices()[0])
    with pytest.raises(ValueError, match="not a member"):
        review.exclude_file(0, "/lib/x.jpg")


def test_split_puts_the_parts_in_place_and_drops_a_part_of_one(review: Review) -> None:
    moved = {"/lib/a-big.jpg", "/lib/a-small.jpg"}
    staying, moving = review[0].parts(moved)
    assert staying == ("/lib/a.jpg", "/old/a-old.jpg")
    assert moving == ("/lib/a-big.jpg", "/lib/a-small.jpg")
    split = review.split(0, moved)
    assert len(split) == 3
    assert [set(g.paths) for g in split.groups[:2]] == [set(staying), moved]
    # A hand-made group keeps its highest resolution, listed first, and says why.
    assert split[0].keep == "/old/a-old.jpg" and split[1].keep == "/lib/a-big.jpg"
    assert split[1].group.keep == split[1].paths[0] == "/lib/a-big.jpg"
    assert split[1].group.reason == SPLIT_REASON
    assert split[2] == review[1]
    # Moving one file out of a pair leaves two single files: no group at all.
    assert len(review.split(1, {"/lib/x2.jpg"})) == 1


def test_a_split_keeps_a_reference_file_and_what_was_excluded(review: Review) -> None:
    group = _group(
        _member("/lib/c.jpg"),
        _member("/lib/c2.jpg", (4000, 3000)),
        _member("/refs/c.jpg", reference=True),
        _member("/lib/d.jpg"),
        _member("/lib/d2.jpg"),
    )
    base = Review.from_groups([group]).exclude_file(0, "/lib/d2.jpg")
    split = base.split(0, {"/lib/d.jpg", "/lib/d2.jpg"})
    assert split[0].keep == "/refs/c.jpg"
    assert split[1].excluded == frozenset({"/lib/d2.jpg"}) and not split[0].excluded


def test_not_duplicates_and_trashed_groups_leave_the_list(review: Review) -> None:
    assert review.not_duplicates([0]).groups == (review[1],)
    assert review.emptied_by({"/lib/x2.jpg"}) == [1]
    assert review.emptied_by({"/lib/a-big.jpg"}) == []  # two of its files are still there
    assert review.exclude_group(1).emptied_by({"/lib/x2.jpg"}) == []  # not ticked: not acted on
    assert review.remove(review.emptied_by({"/lib/x2.jpg"})).groups == (review[0],)


def test_sorting_and_finding_rows(review: Review) -> None:
    assert [g.keep for g in review.sorted_by("savings").groups] == ["/lib/a.jpg", "/lib/x.jpg"]
    assert [g.keep for g in review.sorted_by("probability").groups] == ["/lib/a.jpg", "/lib/x.jpg"]
    by_folder = review.choose_keeper(0, "/old/a-old.jpg").sorted_by("folder")
    assert [g.keep for g in by_folder.groups] == ["/lib/x.jpg", "/old/a-old.jpg"]
    assert review.rows_with("/lib/x2.jpg") == [1] and review.rows_with("/nowhere.jpg") == []


def test_a_reports_choices_come_back_exactly_as_they_came() -> None:
    """`ndid trash` goes through a Review too; it must hand the plan what the report says,
    even what the plan will refuse (a keeper that is no member, a path written twice)."""
    choices = [
        GroupChoice(("/a.jpg", "/b.jpg"), "/b.jpg", frozenset({"/a.jpg"})),
        GroupChoice(("/c.jpg", "/c.jpg", "/d.jpg"), "/elsewhere.jpg"),
    ]
    review = Review.from_choices(choices)
    assert review.trash_choices() == choices
    assert review[0].protected == frozenset({"/a.jpg"})


def test_the_plan_takes_the_reviews_choices(tmp_path: Path) -> None:
    """Through the real plan: an excluded file is neither trashed nor listed as refused, a
    protected one is refused as a reference, another keeper is honoured."""
    lib = tmp_path / "lib"
    a, b, c, d = (photo(lib, f"{n}.jpg", n.encode() * 8) for n in "abcd")
    s = scanned(tmp_path / "records", [[a, b, c, d]], [lib])
    review = Review.from_report(s.report).choose_keeper(0, str(b)).exclude_file(0, str(c))
    plan = plan_trash(review.trash_choices(), s.record)
    assert [p.file.path for p in plan.trash] == [str(a), str(d)]
    assert {p.keeper.path for p in plan.trash} == {str(b)} and not plan.refused
    protected = Review.from_choices(
        [GroupChoice(tuple(str(p) for p in (a, b, c, d)), str(a), frozenset({str(d)}))]
    )
    plan = plan_trash(protected.trash_choices(), s.record)
    assert [p.file.path for p in plan.trash] == [str(b), str(c)]
    assert [(r.path, r.reason) for r in plan.refused] == [(str(d), "it is in a reference folder")]


def test_the_review_needs_no_qt() -> None:
    code = "import sys, ndid_desktop.engine.actions.review; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_overlapping_files_start_kept_and_the_suggested_keeper_stays_if_one_is_chosen() -> None:
    # /c/photo is kept; /c/collage overlaps it (neither holds the other); /c/small is held.
    photo = _member("/c/photo.jpg", probability=1.0)
    collage = replace(_member("/c/collage.jpg", size=5000), overlapping=True)
    small = _member("/c/small.jpg", (320, 240), 400)
    review = Review.from_groups([_group(photo, collage, small)])
    assert _paths(review.trash_choices()[0]) == ("/c/photo.jpg", "/c/small.jpg")
    assert review[0].savings == 400
    # Keeping the collage instead: the photo it does not hold stays too; only /c/small goes.
    chosen = review.choose_keeper(0, "/c/collage.jpg")
    choice = chosen.trash_choices()[0]
    assert choice.keep == "/c/collage.jpg"
    assert set(_paths(choice)) == {"/c/collage.jpg", "/c/small.jpg"}
    assert chosen[0].savings == 400


def test_an_overlapping_file_is_never_planned_for_the_trash(tmp_path: Path) -> None:
    """Through the real plan: a file the keeper only overlaps is refused with its own reason,
    even when the user took it back into the trash, and from a report's choice alike."""
    lib = tmp_path / "lib"
    a, b, c = (photo(lib, f"{n}.jpg", n.encode() * 8) for n in "abc")
    s = scanned(tmp_path / "records", [[a, b, c]], [lib])
    group = s.report.groups[0]
    overlapping = tuple(replace(m, overlapping=m.path == str(b)) for m in group.members)
    review = Review.from_groups([replace(group, members=overlapping)])
    taken_back = review.include_file(0, str(b))
    assert str(b) in taken_back.trash_choices()[0].members  # the user asked for it to go
    reason = "it overlaps the file kept (neither holds all of the other), so both are kept"
    for choices in (taken_back.trash_choices(), [GroupChoice(
            (str(a), str(b), str(c)), str(a), overlapping=frozenset({str(b)}))]):  # fmt: skip
        plan = plan_trash(Review.from_choices(choices).trash_choices(), s.record)
        assert [p.file.path for p in plan.trash] == [str(c)]
        assert [(r.path, r.reason) for r in plan.refused] == [(str(b), reason)]
