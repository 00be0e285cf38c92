"""Candidate pairs from keypoint votes: heavy crops, screenshots and print-scans that the
hashes and the embedding do not propose are found by the descriptors they share."""

import random
from pathlib import Path

import numpy as np
import pytest

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.evaluation.attacks import EDITS_BY_NAME, apply_edit
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.features.extract import compute_features
from ndid_desktop.engine.features.model_sets import model_set
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.match import vote_index
from ndid_desktop.engine.match.candidates import candidate_pairs
from ndid_desktop.engine.match.keypoint_votes import voted_pairs
from ndid_desktop.engine.match.verify import VERIFIERS

from .conftest import dev_photos

HARD = ("screenshot", "print-scan", "crop-40", "rotate-25")


def test_votes_propose_hard_copies_and_little_else(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    builds: list[int] = []
    build = vote_index.build_index
    monkeypatch.setattr(vote_index, "build_index", lambda d: builds.append(len(d)) or build(d))

    photos = dev_photos(10, offset=40)
    library = tmp_path / "library"
    library.mkdir()
    with Image.open(photos[0]) as opened:
        source = opened.convert("RGB")
    source.save(library / "original.jpg", quality=95)
    for name in HARD:
        data = apply_edit(EDITS_BY_NAME[name], source, random.Random(name))
        suffix = ".png" if data.startswith(b"\x89PNG") else ".jpg"
        (library / f"{name}{suffix}").write_bytes(data)
    for k, other in enumerate(photos[1:]):
        (library / f"other-{k}.jpg").write_bytes(other.read_bytes())
    config = ScanConfig(cache_path=tmp_path / "c.sqlite")
    models = model_set("standard")
    verifier = VERIFIERS[models.verifier] if models.verifier else None
    with FeatureCache(config.cache_path) as cache:
        found = discover([Root(library)], config)
        features = compute_features(found.files, config, cache, models.embedding,
                                    encoder=encoder, verifier=verifier)  # fmt: skip
        reps = np.arange(len(features.entries), dtype=np.int64)
        votes = voted_pairs(features, reps, cache, verifier, config)
        off = voted_pairs(features, reps, cache, verifier, ScanConfig(keypoint_votes=False))
        both = candidate_pairs(features, reps, config, votes.pairs)
    with FeatureCache(config.cache_path) as cache:  # a re-scan: the votes come from the cache
        again = voted_pairs(features, reps, cache, verifier, config)
    assert builds == [len(features.entries)]
    assert again.pairs.tolist() == votes.pairs.tolist()
    assert again.votes.tolist() == votes.votes.tolist()
    names = [Path(e.path).stem for e in features.entries]
    picture = {"original", *HARD}
    voted = {frozenset((names[a], names[b])) for a, b in votes.pairs.tolist()}
    # Every hard copy is voted to the original or to another copy of it.
    for name in HARD:
        assert any(name in pair and pair <= picture for pair in voted), name
    # Look-alikes are voted too (they are checked, not kept), but with fewer votes: each hard
    # copy's most-voted partner is a file of its own picture.
    pairs_and_votes = zip(votes.pairs.tolist(), votes.votes.tolist(), strict=True)
    count = {frozenset((names[a], names[b])): int(n) for (a, b), n in pairs_and_votes}
    for name in HARD:
        best = max((pair for pair in count if name in pair), key=lambda pair: count[pair])
        assert best <= picture, (name, best, count[best])
    assert len(off.pairs) == 0
    assert {tuple(p) for p in votes.pairs.tolist()} <= {tuple(p) for p in both.tolist()}
