"""Each matching stage on its own: small inputs, no encoder, no decoding."""

from dataclasses import replace

import numpy as np
import pytest

from ndid_desktop.engine.groups.completion import complete_for_grouping
from ndid_desktop.engine.groups.derivation import Candidate
from ndid_desktop.engine.groups.identical import (
    BYTES,
    PIXELS,
    collapse_identical,
    keep_apart,
)
from ndid_desktop.engine.match.cheap import CheapScores
from ndid_desktop.engine.match.decision import (
    CHEAP,
    UNVERIFIED,
    USER,
    VERIFIED,
    LogisticStage,
    StagedDecision,
)
from ndid_desktop.engine.match.decisions import (
    DecidedPair,
    Decisions,
    SecondLook,
    decide_pairs,
    scored_rows,
    with_verification,
)
from ndid_desktop.engine.match.selection import select_second_look
from ndid_desktop.engine.match.verify import Verification
from ndid_desktop.engine.types import FileEntry, ImageInfo, PairSignals

# cheap: p = sigmoid(10 * (cosine - 0.5)); verified: p = sigmoid(log_inliers - 3)
CHEAP_STAGE = LogisticStage(("cosine",), (10.0,), -5.0, (0.0,), (1.0,))
VERIFIED_STAGE = LogisticStage(("cosine", "log_inliers"), (0.0, 1.0), -3.0, (0.0, 0.0), (1.0, 1.0))
DECISION = StagedDecision(CHEAP_STAGE, VERIFIED_STAGE, threshold=0.9, band=(0.1, 0.95))


def signals(cosine: float, **more: object) -> PairSignals:
    base = PairSignals(phash=10, dhash=10, whash=10, orientation=0, cosine=cosine,
                       aspect_log_ratio=0.0, area_log_ratio=0.0)  # fmt: skip
    return replace(base, **more)  # type: ignore[arg-type]


def test_staged_decision_clear_pairs_are_decided_by_the_cheap_stage() -> None:
    high, low = DECISION.decide(signals(0.99)), DECISION.decide(signals(0.1))
    assert (high.stage, low.stage) == (CHEAP, CHEAP)
    assert high.probability == pytest.approx(1 / (1 + np.exp(-4.9)))
    assert DECISION.accepts(high) and not DECISION.accepts(low)


def test_staged_decision_band_pairs_read_the_verification() -> None:
    checked = DECISION.decide(signals(0.6, inliers=200, inlier_ratio=0.5))
    assert checked.stage == VERIFIED and checked.gated
    assert checked.probability == pytest.approx(1 / (1 + np.exp(-(np.log1p(200) - 3))))
    assert checked.cheap_probability == pytest.approx(1 / (1 + np.exp(-1.0)))


def test_staged_decision_one_rule_for_a_missing_second_look() -> None:
    missing = DECISION.decide(signals(0.6))  # in the band, never verified
    assert missing.stage == UNVERIFIED and missing.gated
    assert missing.probability == missing.cheap_probability


def test_staged_decision_user_verdict_wins_and_overrides_apply() -> None:
    assert DECISION.decide(signals(0.99), user_says_different=True).probability == 0.0
    assert DECISION.decide(signals(0.99), user_says_different=True).stage == USER
    from ndid_desktop.engine.match.decision import Calibration

    calibration = Calibration("standard", "e", CHEAP_STAGE, VERIFIED_STAGE, 0.9, (0.1, 0.95))
    loose = StagedDecision.of(calibration, threshold=0.5, band_low=0.2)
    assert loose.threshold == 0.5 and loose.band == (0.2, 0.95)


def _scores(pairs: list[tuple[int, int]], cheap: list[float]) -> CheapScores:
    arr = np.array(pairs, dtype=np.int64)
    return CheapScores(arr, tuple(signals(0.6) for _ in pairs), np.array(cheap))


def test_selection_each_picture_nominates_its_likeliest_band_pairs() -> None:
    # Picture 0 is in six band pairs (a hub); with a bound of 2 it nominates its two likeliest,
    # and each other picture nominates its one pair: a copy keeps its pair with the hub.
    pairs = [(0, i) for i in range(1, 7)] + [(7, 8)]
    cheap = [0.2, 0.9, 0.3, 0.8, 0.5, 0.6, 0.5]
    chosen = select_second_look(_scores(pairs, cheap), DECISION, per_image=2)
    assert [pairs[r] for r in chosen.rows.tolist()] == pairs
    assert (chosen.in_band, chosen.over_bound) == (7, 0)


def test_selection_costs_at_most_the_bound_per_picture() -> None:
    # A clique of 6 look-alikes: 15 band pairs, each picture nominating 2 -> at most 12 checks.
    pairs = [(a, b) for a in range(6) for b in range(a + 1, 6)]
    cheap = [0.2 + 0.05 * i for i in range(len(pairs))]
    chosen = select_second_look(_scores(pairs, cheap), DECISION, per_image=2)
    assert 0 < len(chosen.rows) <= 2 * 6
    assert chosen.over_bound == len(pairs) - len(chosen.rows) > 0
    for picture in range(6):  # its own two likeliest pairs are among the chosen
        own = sorted((r for r, p in enumerate(pairs) if picture in p), key=lambda r: -cheap[r])
        assert set(own[:2]) <= set(chosen.rows.tolist())


def test_selection_leaves_out_pairs_outside_the_band() -> None:
    scores = _scores([(0, 1), (0, 2), (1, 2)], [0.05, 0.99, 0.5])
    assert select_second_look(scores, DECISION, per_image=5).rows.tolist() == [2]


def test_decide_pairs_keeps_accepted_and_gated_pairs_only() -> None:
    scores = CheapScores(
        np.array([(0, 1), (0, 2), (1, 2)], dtype=np.int64),
        (signals(0.99), signals(0.1), signals(0.6)),
        np.zeros(3),
    )
    look = SecondLook({(1, 2): Verification(300, 0.6, 0.5, 1.0)}, {})
    decided = decide_pairs(scored_rows(scores), look, DECISION, lambda a, b: False)
    assert sorted(decided.pairs) == [(0, 1), (1, 2)]
    assert decided.pairs[(1, 2)].decision.stage == VERIFIED
    assert decided.probability(0, 2) == 0.0 and decided.probability(2, 0) == 0.0
    assert decided.accepted() == [(0, 1), (1, 2)]
    # Geometry read from b's side is the mirror of a's.
    assert decided.geometry(1, 2).a_covered == 0.5  # type: ignore[union-attr]
    assert decided.geometry(2, 1).a_covered == 1.0  # type: ignore[union-attr]


def _cand(i: int, mtime: int = 0, reference: bool = False) -> Candidate:
    entry = FileEntry(f"/p/{i}.jpg", "/p", reference, 1000, mtime)
    return Candidate(i, entry, ImageInfo(4000, 3000, "JPEG", 90))


def test_identical_files_collapse_to_the_oldest_or_the_reference() -> None:
    people = [_cand(0, mtime=5), _cand(1, mtime=1), _cand(2, mtime=3, reference=True),
              _cand(3), _cand(4, mtime=9), _cand(5)]  # fmt: skip
    fingerprints = ["f", "f", "g", "g", "", "h"]
    pixels = ["p", "", "", "", "p", ""]  # 4 has the same pixels as 0 (EXIF stripped)
    collapsed = collapse_identical(people, fingerprints, pixels)
    by_index = {c.index: (c.representative, c.kind) for c in collapsed.copies}
    # 0 and 1 are byte-identical (1 is older); 4 has 0's pixels, so it joins 1 as well.
    assert by_index == {0: (1, BYTES), 3: (2, BYTES), 4: (1, PIXELS)}
    assert collapsed.representatives.tolist() == [1, 2, 5]


def test_identical_files_the_user_kept_apart_are_paired_again() -> None:
    people = [_cand(0, mtime=1), _cand(1, mtime=2)]
    collapsed = collapse_identical(people, ["f", "f"], ["", ""])
    apart = keep_apart(collapsed, lambda a, b: {a, b} == {0, 1})
    assert apart.copies == () and apart.representatives.tolist() == [0, 1]


def test_completion_lists_missing_pairs_and_accepted_pairs_without_geometry() -> None:
    # 0~1 and 0~2 accepted (cheaply, no overlap measured); 1-2 never scored; 3-4 rejected.
    accepted = {
        (0, 1): DecidedPair(0, 1, signals(0.99), DECISION.decide(signals(0.99))),
        (0, 2): DecidedPair(0, 2, signals(0.99, coverage_ab=1.0, coverage_ba=0.5),
                            DECISION.decide(signals(0.99))),
    }  # fmt: skip
    decisions = Decisions(accepted, DECISION.threshold)
    done = complete_for_grouping(5, decisions, scored={(0, 1), (0, 2), (3, 4)})
    assert done.new_pairs == ((1, 2),)
    assert done.needs_geometry == ((0, 1),)


def test_decide_pairs_reports_progress_and_stops_when_cancelled() -> None:
    from ndid_desktop.engine.progress import CancelToken, ProgressEvent, ScanCancelled

    scores = CheapScores(np.array([(0, 1)], dtype=np.int64), (signals(0.99),), np.zeros(1))
    events: list[ProgressEvent] = []
    decide_pairs(scored_rows(scores), SecondLook({}, {}), DECISION, lambda a, b: False,
                 events.append)  # fmt: skip
    assert [(e.stage, e.total) for e in events] == [("decide", 1)]
    token = CancelToken()
    token.cancel()
    with pytest.raises(ScanCancelled):
        decide_pairs(scored_rows(scores), SecondLook({}, {}), DECISION, lambda a, b: False,
                     cancel=token)  # fmt: skip


def test_selection_always_checks_voted_band_pairs_over_the_budget() -> None:
    # The clique again: the votes' pair (0, 5) has the lowest cheap probability of picture 0
    # and of 5, so no picture would nominate it; it is checked all the same.
    pairs = [(a, b) for a in range(6) for b in range(a + 1, 6)]
    cheap = [0.9 - 0.05 * i for i in range(len(pairs))]
    cheap[pairs.index((0, 5))] = 0.11
    plain = select_second_look(_scores(pairs, cheap), DECISION, per_image=1)
    voted = select_second_look(_scores(pairs, cheap), DECISION, per_image=1,
                               always=frozenset({(0, 5)}))  # fmt: skip
    row = pairs.index((0, 5))
    assert row not in plain.rows.tolist() and row in voted.rows.tolist()
    outside = select_second_look(_scores([(0, 1)], [0.99]), DECISION, 1, frozenset({(0, 1)}))
    assert outside.rows.tolist() == []  # accepted outright: nothing to check


def test_a_check_with_too_few_keypoints_to_try_is_no_evidence() -> None:
    from ndid_desktop.engine.match.verify import NO_MATCH, TOO_FEW_KEYPOINTS

    base = signals(0.6)
    assert with_verification(base, TOO_FEW_KEYPOINTS) == base
    assert DECISION.decide(with_verification(base, TOO_FEW_KEYPOINTS)).stage == UNVERIFIED
    assert with_verification(base, NO_MATCH).inliers == 0  # tried, found nothing: evidence
    again = Verification.from_tuple(TOO_FEW_KEYPOINTS.as_tuple())
    assert again == TOO_FEW_KEYPOINTS and not again.measurable


def test_pictures_that_only_share_a_region_are_never_accepted() -> None:
    # Clean geometry on a shared tile (two collages): the verified stage alone would accept it.
    tile = signals(0.6, inliers=400, inlier_ratio=0.99, coverage_ab=0.3, coverage_ba=0.25)
    crop = signals(0.6, inliers=400, inlier_ratio=0.99, coverage_ab=0.3, coverage_ba=1.0)
    assert DECISION.decide(crop).probability > DECISION.threshold
    shared = DECISION.decide(tile)
    assert shared.stage == VERIFIED and shared.probability < 0.5 and not DECISION.accepts(shared)
