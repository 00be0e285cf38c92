"""Which pairs get the second look (the keypoint check, the gate encoder): the pairs in the
ambiguous band that are among the ``per_image`` likeliest band pairs of either of their two
pictures.

Each picture nominates at most ``per_image`` pairs, so the expensive stage costs at most
``per_image`` checks per picture in the library: linear, even where one picture is in many
look-alike pairs (a burst, a collage tile, a logo, a flat sky). Nominating from either side
keeps a copy's pair with its original when the original is such a hub: the pair is among the
copy's own best. A pair nominated by neither is still decided, by the cheap stage
("unverified").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.match.cheap import CheapScores, pair_key
from ndid_desktop.engine.match.decision import StagedDecision


@dataclass(frozen=True)
class Selection:
    rows: NDArray[np.int64]  # rows of the CheapScores that get the second look
    in_band: int  # pairs in the band, selected or not
    over_bound: int  # band pairs no picture nominated: left to the cheap stage


def select_second_look(
    scores: CheapScores,
    decision: StagedDecision,
    per_image: int,
    always: frozenset[tuple[int, int]] = frozenset(),
) -> Selection:
    """``always``: pairs (a < b) checked whenever they are in the band, over the budget: the
    keypoint votes' pairs, at most a few per picture, whose global signals are low by nature."""
    band = np.array([decision.in_band(p) for p in scores.cheap.tolist()], dtype=bool)
    rows = np.nonzero(band)[0]
    by_picture: dict[int, list[int]] = defaultdict(list)
    for row in rows.tolist():
        a, b = scores.pairs[row].tolist()
        by_picture[a].append(row)
        by_picture[b].append(row)
    chosen = (
        {r for r in rows.tolist() if pair_key(*scores.pairs[r].tolist()) in always}
        if always
        else set()
    )
    for picture_rows in by_picture.values():
        best = sorted(picture_rows, key=lambda r: (-scores.cheap[r], r))[:per_image]
        chosen.update(best)
    return Selection(np.array(sorted(chosen), dtype=np.int64), len(rows), len(rows) - len(chosen))
