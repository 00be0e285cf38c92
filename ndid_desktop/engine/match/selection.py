"""Which pairs get the second look (the keypoint check, the gate encoder): the pairs in the
ambiguous band, at most ``per_image`` for any one picture.

The bound keeps the expensive stage linear in the library: a picture in many look-alike pairs
(a burst, a collage tile, a logo) would otherwise be checked against every one of them. The
pairs with the higher cheap probability go first: they are the likelier duplicates, and a
pair left over is still decided, by the cheap stage ("unverified").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ndid_desktop.engine.match.cheap import CheapScores
from ndid_desktop.engine.match.decision import StagedDecision


@dataclass(frozen=True)
class Selection:
    rows: NDArray[np.int64]  # rows of the CheapScores that get the second look
    in_band: int  # pairs in the band, selected or not
    over_bound: int  # band pairs left to the cheap stage by the per-image bound


def select_second_look(
    scores: CheapScores,
    decision: StagedDecision,
    per_image: int,
    already: Counter[int] | None = None,
) -> Selection:
    """``already`` counts checks each picture had in an earlier round of the same scan."""
    band = np.array([decision.in_band(p) for p in scores.cheap.tolist()], dtype=bool)
    rows = np.nonzero(band)[0]
    order = rows[np.argsort(-scores.cheap[rows], kind="stable")]
    counts: Counter[int] = already if already is not None else Counter()
    chosen: list[int] = []
    for row in order.tolist():
        a, b = scores.pairs[row].tolist()
        if counts[a] >= per_image or counts[b] >= per_image:
            continue
        counts[a] += 1
        counts[b] += 1
        chosen.append(row)
    return Selection(np.array(sorted(chosen), dtype=np.int64), len(rows), len(rows) - len(chosen))
