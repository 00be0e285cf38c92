"""The keypoint-vote index kept in the feature cache (match/vote_index.py): a re-scan of the same
pictures builds and queries nothing; added, removed and changed pictures give the votes a fresh
computation gives. Pictures are synthetic ORB descriptor sets: few enough that every inverted
list is probed, so a fresh index and an updated one must agree exactly."""

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ndid_desktop.engine.features.cache import CachedImage, FeatureCache
from ndid_desktop.engine.features.local import Keypoints, LocalFeatures
from ndid_desktop.engine.match import vote_index
from ndid_desktop.engine.match.keypoint_votes import Votes, vote_pairs
from ndid_desktop.engine.types import FileEntry

KEY = "orb@test"
COUNT = 300  # descriptors a picture


def _descriptors(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (COUNT, 32), dtype=np.uint8)


def _copy_of(base: np.ndarray, seed: int, share: float = 0.6) -> np.ndarray:
    """The first ``share`` of ``base``'s descriptors with a few bits flipped (well within
    MAX_DISTANCE), the rest new: an edited copy's keypoints."""
    rng = np.random.default_rng(seed)
    kept = int(len(base) * share)
    bits = np.unpackbits(base[:kept], axis=1)
    flips = rng.integers(0, 256, (kept, 6))
    for row, columns in enumerate(flips):
        bits[row, columns] ^= 1
    fresh = rng.integers(0, 256, (len(base) - kept, 32), dtype=np.uint8)
    return np.concatenate([np.packbits(bits, axis=1), fresh])


def _blob(descriptors: np.ndarray) -> bytes:
    points = np.zeros((len(descriptors), 2), np.float32)
    none = Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    texture = np.zeros((4, 4), bool)
    return LocalFeatures(4, 4, Keypoints(points, descriptors), none, texture).to_bytes()


def _library(n: int) -> dict[str, np.ndarray]:
    """Pictures p0..p{n-1}: every third one an edited copy of the one before it."""
    pictures: dict[str, np.ndarray] = {}
    for i in range(n):
        name = f"p{i:02d}"
        pictures[name] = _copy_of(pictures[f"p{i - 1:02d}"], i) if i % 3 == 2 else _descriptors(i)
    return pictures


def _entry(name: str, mtime: int = 1) -> FileEntry:
    return FileEntry(f"/lib/{name}.jpg", "/lib", False, 1000, mtime)


def _put(cache: FeatureCache, entries: list[FileEntry], pictures: dict[str, np.ndarray]) -> None:
    images = [(e, CachedImage(None, None, None, f"fp-{Path(e.path).stem}")) for e in entries]
    local = [(e.path, _blob(pictures[Path(e.path).stem])) for e in entries]
    cache.store(images, local=local, extractor=KEY)


def _votes(cache: FeatureCache, entries: list[FileEntry]) -> set[tuple[str, str, int]]:
    fingerprints = [f"fp-{Path(e.path).stem}" for e in entries]
    found = vote_pairs(entries, fingerprints, range(len(entries)), cache, KEY)
    return _named(found, entries)


def _named(votes: Votes, entries: list[FileEntry]) -> set[tuple[str, str, int]]:
    names = [Path(e.path).stem for e in entries]
    rows = zip(votes.pairs.tolist(), votes.votes.tolist(), strict=True)
    return {(*sorted((names[a], names[b])), n) for (a, b), n in rows}  # type: ignore[misc]


def _fresh(entries: list[FileEntry], pictures: dict[str, np.ndarray]) -> set[tuple[str, str, int]]:
    """What a scan with an empty cache finds."""
    with FeatureCache(None) as cache:
        _put(cache, entries, pictures)
        return _votes(cache, entries)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many pictures each index build took (vote_index.build_index), in order."""
    calls: list[int] = []
    real = vote_index.build_index

    def counted(descriptors: dict[int, np.ndarray]) -> Any:
        calls.append(len(descriptors))
        return real(descriptors)

    monkeypatch.setattr(vote_index, "build_index", counted)
    return calls


def test_a_rescan_of_the_same_pictures_builds_and_reads_nothing(
    tmp_path: Path, builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pictures = _library(12)
    entries = [_entry(name) for name in pictures]
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        _put(cache, entries, pictures)
        first = _votes(cache, entries)
    assert builds == [12]
    # Each copy is voted to its original, with most of the kept descriptors' votes.
    assert {(a, b) for a, b, _ in first} == {(f"p{i - 1:02d}", f"p{i:02d}") for i in (2, 5, 8, 11)}
    assert all(n >= 40 for *_, n in first)

    def no_local(*args: object) -> dict[str, bytes]:
        raise AssertionError("an unchanged re-scan read local features")

    monkeypatch.setattr(FeatureCache, "lookup_local", no_local)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        again = _votes(cache, entries)
        # The order the scan lists them in does not matter: pictures are kept by identity.
        turned = _named(
            vote_pairs(entries[::-1], [f"fp-{Path(e.path).stem}" for e in entries[::-1]],
                       range(len(entries)), cache, KEY),
            entries[::-1],
        )  # fmt: skip
    assert builds == [12]
    assert again == first == turned


def test_added_pictures_are_queried_into_the_kept_index_and_vote_as_a_fresh_one(
    tmp_path: Path, builds: list[int]
) -> None:
    pictures = _library(12)
    pictures["late-copy"] = _copy_of(pictures["p03"], 99)  # a copy of an old picture
    pictures["late-original"] = _descriptors(100)
    pictures["late-copy-of-late"] = _copy_of(pictures["late-original"], 101)
    # A small crop of an old picture: each of its 40 keypoints finds p06 from the crop only
    # where p06 indexed that keypoint (every other one), but all 40 are found from p06's side,
    # which only the old picture's look at the new descriptors sees.
    pictures["late-crop"] = _noisy(pictures["p06"][:40], 4, 102)
    pictures["empty"] = np.zeros((0, 32), np.uint8)  # local features without keypoints
    entries = [_entry(name) for name in pictures]
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        _put(cache, entries, pictures)
        _votes(cache, entries[:12])
        grown = _votes(cache, entries)
        again = _votes(cache, entries)
    assert builds == [12]  # trained once, on the first twelve
    assert grown == again == _fresh(entries, pictures)
    assert {("late-copy", "p03"), ("late-copy-of-late", "late-original")} <= {
        (a, b) for a, b, _ in grown
    }
    assert ("late-crop", "p06", 40) in grown


def test_removed_and_changed_pictures_leave_the_votes_of_a_fresh_computation(
    tmp_path: Path, builds: list[int]
) -> None:
    pictures = _library(12)
    entries = [_entry(name) for name in pictures]
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        _put(cache, entries, pictures)
        before = _votes(cache, entries)
        # p05 (a copy of p04) is deleted; p08 (a copy of p07) is overwritten by another photo.
        changed = {**pictures, "p08": _descriptors(200)}
        now = [e for e in entries if "p05" not in e.path]
        now = [_entry("p08", mtime=2) if "p08" in e.path else e for e in now]
        _put(cache, [e for e in now if "p08" in e.path], changed)
        after = _votes(cache, now)
    assert {("p04", "p05"), ("p07", "p08")} <= {(a, b) for a, b, _ in before}
    assert builds == [12]
    assert after == _fresh(now, changed)
    assert not {("p04", "p05"), ("p07", "p08")} & {(a, b) for a, b, _ in after}


def test_a_new_fingerprint_or_other_settings_are_not_taken_for_the_cached_state(
    tmp_path: Path, builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pictures = _library(9)
    entries = [_entry(name) for name in pictures]
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        _put(cache, entries, pictures)
        first = _votes(cache, entries)
        # Same path, size and mtime but other bytes (a restored backup): another picture.
        fingerprints = [f"fp-{Path(e.path).stem}" for e in entries]
        fingerprints[0] = "fp-restored"
        restored = vote_pairs(entries, fingerprints, range(len(entries)), cache, KEY)
        state = cache.lookup_vote_state(vote_index.settings_key(KEY))
        monkeypatch.setattr(vote_index, "PROBES", 4)
        monkeypatch.setattr(vote_index, "SETTINGS", vote_index.SETTINGS.replace("P8", "P4"))
        other = _votes(cache, entries)
    assert builds == [9, 9]  # one in-place update for the new fingerprint, one fresh build
    assert state is not None and len(state.members) == 9
    identities = [identity for identity, _ in state.members.values()]
    assert sum(i.endswith(b"fp-restored") for i in identities) == 1
    assert not any(i.endswith(b"fp-p00") for i in identities)
    assert _named(restored, entries) == first == other


def test_too_much_growth_trains_a_new_index(tmp_path: Path, builds: list[int]) -> None:
    pictures = _library(16)
    entries = [_entry(name) for name in pictures]
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        _put(cache, entries, pictures)
        _votes(cache, entries[:4])
        _votes(cache, entries[:8])  # twice the trained size: updated in place
        grown = _votes(cache, entries)  # four times: built afresh
    assert builds == [4, 16]
    assert grown == _fresh(entries, pictures)


def test_pictures_without_local_features_take_no_part(tmp_path: Path, builds: list[int]) -> None:
    pictures = _library(6)
    entries = [_entry(name) for name in pictures]
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        _put(cache, entries[:5], pictures)
        extra = replace(_entry("p05"), size=5)  # in the scan, never given local features
        found = _votes(cache, [*entries[:5], extra])
        again = _votes(cache, [*entries[:5], extra])
    assert builds == [5]
    assert found == again == _fresh(entries[:5], pictures)


def _noisy(descriptors: np.ndarray, bits: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    unpacked = np.unpackbits(descriptors, axis=1)
    for row in unpacked:
        row[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked, axis=1)


def test_a_removed_picture_that_hid_another_is_looked_past(
    tmp_path: Path, builds: list[int]
) -> None:
    # For z's first 64 descriptors the three nearest indexed ones are z's own and a's two
    # near copies; b's copies come fourth. Once a is gone, z's queries must find b: a hole
    # left where a was would cost z its votes for b.
    z = _descriptors(1)
    near = np.stack([_noisy(z[:64], 2, 2), _noisy(z[:64], 2, 3)], axis=1).reshape(128, 32)
    pictures = {"z": z, "a": near, "b": _noisy(z[:64], 8, 4)}
    pictures.update({f"other{i}": _descriptors(10 + i) for i in range(6)})
    entries = [_entry(name) for name in pictures]
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        _put(cache, entries, pictures)
        before = _votes(cache, entries)
        now = [e for e in entries if not e.path.endswith("/a.jpg")]
        after = _votes(cache, now)
    assert builds == [9]
    fresh = _fresh(now, pictures)
    assert after == fresh
    assert {(a, b) for a, b, _ in before} == {("a", "b"), ("a", "z"), ("b", "z")}
    # b is voted by all 64 of z's queries that have a copy in b (not only the 32 of them that
    # find z's own descriptor nearest, as the hole would leave).
    assert {(a, b, n) for a, b, n in after} == {("b", "z", 64)}
