"""The feature cache: a re-scan decodes nothing; a changed file is read again; errors that a
user can fix are not remembered; cancelling keeps what was done; older caches are upgraded in
place; pixel digests and local features are extracted with the rest."""

import concurrent.futures as cf
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.executors import in_process
from ndid_desktop.engine.features import extract as features_module
from ndid_desktop.engine.features.cache import CachedImage, FeatureCache, VoteRow, VoteWrite
from ndid_desktop.engine.features.encoders import LITE0, Encoder
from ndid_desktop.engine.features.extract import FeatureSet, compute_features
from ndid_desktop.engine.features.local import LocalFeatures
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.files.fingerprint import fingerprint_file
from ndid_desktop.engine.match.verify import ORB_HOMOGRAPHY, OrbHomography
from ndid_desktop.engine.progress import CancelToken, ProgressEvent, ScanCancelled
from ndid_desktop.engine.report import from_json, to_json
from ndid_desktop.engine.types import FileEntry, Group, ImageInfo, Member, ScanReport, ScanStats

from .conftest import textured


def _library(folder: Path, n: int) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        textured(i).save(folder / f"p{i:02d}.jpg", "JPEG")
    (folder / "broken.jpg").write_bytes(b"not a picture")


def _features(folder: Path, cache: FeatureCache, encoder: Encoder, **kw: Any) -> FeatureSet:
    config = ScanConfig(workers=1)
    found = discover([Root(folder)], config)
    return compute_features(found.files, config, cache, LITE0, encoder=encoder, **kw)


def test_rescan_of_unchanged_folder_decodes_nothing(tmp_path: Path, encoder: Encoder) -> None:
    _library(tmp_path / "lib", 5)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        first = _features(tmp_path / "lib", cache, encoder)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        second = _features(tmp_path / "lib", cache, encoder)
    assert first.decoded == 6 and len(first.entries) == 5
    assert second.decoded == 0 and second.from_cache == 6
    assert [s.path for s in second.skipped] == [s.path for s in first.skipped]
    assert first.embeddings is not None and second.embeddings is not None
    assert np.array_equal(second.embeddings, first.embeddings)
    assert np.array_equal(second.hashes, first.hashes)


def test_changed_file_is_read_again(tmp_path: Path, encoder: Encoder) -> None:
    _library(tmp_path / "lib", 3)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        _features(tmp_path / "lib", cache, encoder)
        textured(99).save(tmp_path / "lib" / "p01.jpg", "JPEG")
        st = os.stat(tmp_path / "lib" / "p01.jpg")
        os.utime(tmp_path / "lib" / "p01.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        again = _features(tmp_path / "lib", cache, encoder)
    assert again.decoded == 1


def test_cancel_keeps_finished_batches_and_resume_reads_the_rest(
    tmp_path: Path, encoder: Encoder
) -> None:
    _library(tmp_path / "lib", 20)
    token = CancelToken()

    def cancel_midway(event: ProgressEvent) -> None:
        if event.stage == "features" and event.done >= 12:
            token.cancel()

    with FeatureCache(tmp_path / "c.sqlite") as cache:
        with pytest.raises(ScanCancelled):
            _features(tmp_path / "lib", cache, encoder, progress=cancel_midway, cancel=token)
        resumed = _features(tmp_path / "lib", cache, encoder)
    # Cancelled once 12 of the 21 files were read (broken.jpg first, then 11 photos; checked
    # before each file): all 12 are kept, even the 3 of a batch that was not full yet, and the
    # resumed scan reads only the other 9.
    assert (resumed.from_cache, resumed.decoded) == (12, 9)
    assert len(resumed.entries) == 20


def test_workers_give_the_same_features_as_in_process(tmp_path: Path, encoder: Encoder) -> None:
    _library(tmp_path / "lib", 30)  # above the size where worker processes start
    with FeatureCache(None) as cache:
        pooled = _features(tmp_path / "lib", cache, encoder)
    with FeatureCache(None) as cache:
        config = ScanConfig(workers=1)
        found = discover([Root(tmp_path / "lib")], config)
        inline = [
            features_module.extract(e.path, LITE0, config.max_decode_bytes) for e in found.files
        ]
    usable = [r for r in inline if r.error is None]
    assert len(pooled.entries) == len(usable) == 30
    assert all((r.hashes == h).all() for r, h in zip(usable, pooled.hashes, strict=True))


def test_schema_change_drops_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with FeatureCache(path) as cache:
        cache._db.execute("INSERT INTO files VALUES (x'00', 1, 1, NULL, NULL, 'x', NULL, NULL)")
        cache._db.commit()
        cache._db.execute("UPDATE meta SET value='0' WHERE key='schema'")
        cache._db.commit()
    with FeatureCache(path) as cache:
        assert cache.count() == 0


def test_two_encoders_keep_their_vectors_apart(tmp_path: Path) -> None:
    from ndid_desktop.engine.features.cache import CachedImage
    from ndid_desktop.engine.types import FileEntry, ImageInfo

    entry = FileEntry("/x/a.jpg", "/x", False, 10, 20)
    image = CachedImage(ImageInfo(4, 3, "JPEG"), np.zeros((3, 8, 8), np.uint8), None)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        cache.store([(entry, image)], [("/x/a.jpg", np.ones(4, np.float32))], "one@1")
        cache.store([(entry, image)], [("/x/a.jpg", np.zeros(2, np.float32))], "two@1")
        assert len(cache.lookup_embeddings(["/x/a.jpg"], "one@1")["/x/a.jpg"]) == 4
        assert len(cache.lookup_embeddings(["/x/a.jpg"], "two@1")["/x/a.jpg"]) == 2
        changed = FileEntry("/x/a.jpg", "/x", False, 11, 20)
        cache.store([(changed, image)])
        assert cache.lookup_embeddings(["/x/a.jpg"], "one@1") == {}


def test_fingerprints_are_recorded_at_scan_time_and_read_back(
    tmp_path: Path, encoder: Encoder
) -> None:
    _library(tmp_path / "lib", 3)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        first = _features(tmp_path / "lib", cache, encoder)
    expected = tuple(fingerprint_file(e.path) for e in first.entries)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        second = _features(tmp_path / "lib", cache, encoder)
    assert second.decoded == 0
    assert first.fingerprints == second.fingerprints == expected
    assert len(set(expected)) == 3 and all(f.startswith("xxh3-128:") for f in expected)


def test_cache_of_schema_5_keeps_its_rows_and_reads_each_picture_once_more(
    tmp_path: Path, encoder: Encoder
) -> None:
    _library(tmp_path / "lib", 3)
    path = tmp_path / "c.sqlite"
    with FeatureCache(path) as cache:
        first = _features(tmp_path / "lib", cache, encoder)
    _downgrade_to_schema_6(path)
    _downgrade_to_schema_5(path)
    with FeatureCache(path) as cache:
        assert cache.warnings == [] and cache.count() == 4  # upgraded in place, not dropped
        upgraded = _features(tmp_path / "lib", cache, encoder)
        again = _features(tmp_path / "lib", cache, encoder)
        stored = cache.lookup_images(upgraded.entries)
    # Rows without a pixel digest are extracted again once; the broken file stays remembered.
    assert (upgraded.decoded, upgraded.from_cache) == (3, 1)
    assert (again.decoded, again.from_cache) == (0, 4)
    assert upgraded.fingerprints == again.fingerprints == first.fingerprints
    assert [stored[e.path].fingerprint for e in upgraded.entries] == list(first.fingerprints)
    assert again.pixel_digests == first.pixel_digests


def test_cache_of_schema_6_keeps_its_vectors_and_gains_digests_and_local_features(
    tmp_path: Path, encoder: Encoder
) -> None:
    _library(tmp_path / "lib", 3)
    path = tmp_path / "c.sqlite"
    with FeatureCache(path) as cache:
        first = _features(tmp_path / "lib", cache, encoder)
    _downgrade_to_schema_6(path)
    with FeatureCache(path) as cache:
        assert cache.warnings == [] and cache.count() == 4
        assert len(cache.lookup_embeddings([e.path for e in first.entries], LITE0.cache_key)) == 3
        upgraded = _features(tmp_path / "lib", cache, encoder, verifier=ORB_HOMOGRAPHY)
        again = _features(tmp_path / "lib", cache, encoder, verifier=ORB_HOMOGRAPHY)
        local = cache.lookup_local(upgraded.entries, ORB_HOMOGRAPHY.features_key)
    assert (upgraded.decoded, again.decoded) == (3, 0)
    assert upgraded.pixel_digests == first.pixel_digests and all(first.pixel_digests)
    assert set(local) == {e.path for e in upgraded.entries}


def _downgrade_to_schema_6(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("ALTER TABLE files DROP COLUMN pixel_digest")
        db.execute("DROP TABLE local_features")
        db.execute("DROP TABLE verifications")
        db.execute(
            "CREATE TABLE verifications (a BLOB NOT NULL, b BLOB NOT NULL,"
            " orientation INTEGER NOT NULL, verifier INTEGER NOT NULL, result TEXT NOT NULL,"
            " PRIMARY KEY (a, b, orientation, verifier))"
        )
        db.execute("INSERT INTO verifications VALUES (x'01', x'02', 0, 3, '[1]')")
        db.execute("UPDATE meta SET value='6' WHERE key='schema'")


def _downgrade_to_schema_5(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("ALTER TABLE files DROP COLUMN fingerprint")
        db.execute("UPDATE meta SET value='5' WHERE key='schema'")


def test_pixel_digests_are_equal_for_equal_pixels_whatever_the_bytes(
    tmp_path: Path, encoder: Encoder
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    picture = textured(5)
    picture.save(lib / "a.png")
    picture.save(lib / "b.png", pnginfo=_png_comment("a copy with other metadata"))
    textured(6).save(lib / "c.png")
    picture.resize((319, 240)).save(lib / "d.png")
    with FeatureCache(None) as cache:
        found = _features(lib, cache, encoder)
    digest = {Path(e.path).name: d for e, d in zip(found.entries, found.pixel_digests, strict=True)}
    prints = {Path(e.path).name: f for e, f in zip(found.entries, found.fingerprints, strict=True)}
    assert digest["a.png"] == digest["b.png"] and prints["a.png"] != prints["b.png"]
    assert len({digest["a.png"], digest["c.png"], digest["d.png"]}) == 3
    assert all(d.startswith("xxh3-128:") for d in digest.values())


def _png_comment(text: str) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", text)
    return info


def test_local_features_are_cached_with_the_verifier_only(tmp_path: Path, encoder: Encoder) -> None:
    _library(tmp_path / "lib", 4)
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        plain = _features(tmp_path / "lib", cache, encoder)
        assert cache.lookup_local(plain.entries, ORB_HOMOGRAPHY.features_key) == {}
        checked = _features(tmp_path / "lib", cache, encoder, verifier=ORB_HOMOGRAPHY)
        again = _features(tmp_path / "lib", cache, encoder, verifier=ORB_HOMOGRAPHY)
        local = cache.lookup_local(checked.entries, ORB_HOMOGRAPHY.features_key)
        assert cache.lookup_local(checked.entries, "another@1") == {}
        # A changed file's local features go with its old row.
        entry = checked.entries[0]
        changed = type(entry)(entry.path, entry.root, False, entry.size, entry.mtime_ns + 1)
        cache.store([(changed, cache.lookup_images([entry])[entry.path])])
        assert entry.path not in cache.lookup_local([changed], ORB_HOMOGRAPHY.features_key)
    # Pictures first read without a verifier are read once more for their local features.
    assert (plain.decoded, checked.decoded, again.decoded) == (5, 4, 0)
    assert set(local) == {e.path for e in checked.entries}
    assert all(len(LocalFeatures.from_bytes(b).upright) > 0 for b in local.values())
    assert checked.pixel_digests == plain.pixel_digests


def _pool_features(folder: Path, cache: FeatureCache, executor: Any) -> Any:
    config = ScanConfig(workers=2, model_set="fast")
    found = discover([Root(folder)], config)
    return compute_features(found.files, config, cache, None, executor=executor)


def test_the_pool_path_runs_on_any_executor(tmp_path: Path) -> None:
    _library(tmp_path / "lib", 30)  # above the size where the pool path starts
    with FeatureCache(None) as cache:
        inline = _pool_features(tmp_path / "lib", cache, in_process)
    assert inline.decoded == 31 and len(inline.entries) == 30
    assert [s.path for s in inline.skipped] == [str(tmp_path / "lib" / "broken.jpg")]


class _NoWaitThreads(cf.ThreadPoolExecutor):
    """Threads whose shutdown does not wait, so a test sees when a cancel was noticed."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=cancel_futures)


def test_a_cancel_is_noticed_while_the_workers_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _library(tmp_path / "lib", 30)
    release = threading.Event()
    real = features_module.extract_chunk

    def slow_chunk(paths: Sequence[str], *args: Any) -> Any:
        release.wait(10.0)
        return real(paths, *args)

    monkeypatch.setattr(features_module, "extract_chunk", slow_chunk)
    token = CancelToken()
    config = ScanConfig(workers=2, model_set="fast")
    found = discover([Root(tmp_path / "lib")], config)
    threading.Timer(0.2, token.cancel).start()
    started = time.monotonic()
    try:
        with FeatureCache(None) as cache, pytest.raises(ScanCancelled):
            compute_features(found.files, config, cache, None, cancel=token,
                             executor=lambda n: _NoWaitThreads(n))  # fmt: skip
        assert time.monotonic() - started < 2.0  # the chunks would take 10 s
    finally:
        release.set()


def test_a_broken_executor_costs_the_file_that_broke_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _library(tmp_path / "lib", 30)
    poison = str(tmp_path / "lib" / "p07.jpg")
    real = features_module.extract_chunk
    pools: list[int] = []

    def crashing_chunk(paths: Sequence[str], *args: Any) -> Any:
        if poison in paths:
            raise cf.BrokenExecutor("a worker died")  # what a pool reports after a crash
        return real(paths, *args)

    def threads(workers: int) -> cf.Executor:
        pools.append(workers)
        return cf.ThreadPoolExecutor(workers)

    monkeypatch.setattr(features_module, "extract_chunk", crashing_chunk)
    with FeatureCache(None) as cache:
        found = _pool_features(tmp_path / "lib", cache, threads)
    reasons = {Path(s.path).name: s.error for s in found.skipped}
    assert reasons == {
        "broken.jpg": reasons["broken.jpg"],
        "p07.jpg": "the image decoder crashed on it",
    }
    assert len(found.entries) == 29 and len(pools) >= 2  # a fresh executor after each break


def test_report_carries_fingerprints_and_reads_reports_without_them() -> None:
    member = Member(
        "/p/a.jpg", 1.0, "", False, 10, ImageInfo(4, 3, "JPEG"), fingerprint="xxh3-128:ab"
    )
    report = ScanReport(
        groups=(Group(keep="/p/a.jpg", reason="", members=(member, member)),),
        skipped=(),
        stats=ScanStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 1, "fast", None, 0.5, (0.1, 0.9), {}),
    )
    data = json.loads(json.dumps(to_json(report)))
    assert from_json(data).groups[0].members[0].fingerprint == "xxh3-128:ab"
    for m in data["groups"][0]["members"]:
        del m["fingerprint"]
    assert from_json(data).groups[0].members[0].fingerprint == ""


@dataclass(frozen=True)
class _DeadlyExtractor(OrbHomography):
    """Kills its worker process on a 300x200 picture, as a codec crash would."""

    def local_features(self, image: Image.Image) -> bytes:
        if image.size == (300, 200):
            os._exit(3)
        return super().local_features(image)


def test_a_worker_that_dies_costs_the_file_that_killed_it(tmp_path: Path) -> None:
    _library(tmp_path / "lib", 30)
    textured(77, size=(300, 200)).save(tmp_path / "lib" / "p00-deadly.jpg")
    config = ScanConfig(workers=2, model_set="fast")
    found = discover([Root(tmp_path / "lib")], config)
    with FeatureCache(None) as cache:
        got = compute_features(found.files, config, cache, None, verifier=_DeadlyExtractor())
    reasons = {Path(s.path).name: s.error for s in got.skipped}
    assert reasons["p00-deadly.jpg"] == "the image decoder crashed on it"
    assert set(reasons) == {"p00-deadly.jpg", "broken.jpg"} and len(got.entries) == 30


def test_cache_of_schema_8_keeps_every_row_and_gains_the_vote_index(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    entry = FileEntry("/lib/a.jpg", "/lib", False, 10, 1)
    other = FileEntry("/lib/b.jpg", "/lib", False, 20, 1)
    image = CachedImage(None, None, None, "fp-a", "digest-a")
    with FeatureCache(path) as cache:
        cache.store([(entry, image), (other, image)], local=[(entry.path, b"orb")], extractor="k")
        cache.store_verification(entry, other, 0, (1.0, 2.0), "v@1")
        row = VoteRow(0, b"a", b"neighbours", b"probes")
        cache.store_vote_state("s", VoteWrite(1, 1, (0,), (row,), b"index", rebuilt=True))
        assert cache.lookup_vote_state("s") is not None
    with closing(sqlite3.connect(path)) as db, db:  # what schema 8 had
        for table in ("vote_state", "vote_index", "vote_members"):
            db.execute(f"DROP TABLE {table}")
        db.execute("UPDATE meta SET value='8' WHERE key='schema'")
    with FeatureCache(path) as cache:
        assert cache.warnings == [] and cache.count() == 2
        assert cache.lookup_images([entry])[entry.path] == image
        assert cache.lookup_local([entry], "k") == {entry.path: b"orb"}
        assert cache.lookup_verification(entry, other, 0, "v@1") == (1.0, 2.0)
        assert cache.lookup_vote_state("s") is None  # built by the next scan's votes
        cache.store_vote_state("s", VoteWrite(1, 1, (0,), (row,), b"index", rebuilt=True))
        state = cache.lookup_vote_state("s")
        stored = cache.lookup_vote_index("s", [0])
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("9",)
    assert state is not None and state.members == {0: (b"a", b"neighbours")}
    assert stored == (b"index", {0: b"probes"})


def test_the_vote_state_reads_back_only_its_live_members(tmp_path: Path) -> None:
    rows = tuple(VoteRow(m, bytes([m]), b"n%d" % m, b"p") for m in range(3))
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        cache.store_vote_state("s", VoteWrite(3, 3, (0, 1, 2), rows, b"index", rebuilt=True))
        # Member 1 leaves, member 3 comes; the index is unchanged (None).
        new = VoteRow(3, b"d", b"n3", b"p")
        cache.store_vote_state("s", VoteWrite(3, 4, (0, 2, 3), (new,), None, False, base=3))
        state = cache.lookup_vote_state("s")
        assert cache.lookup_vote_state("other settings") is None
        stored = cache.lookup_vote_index("s", [0, 1, 3])
    assert state is not None and (state.trained, state.next_member) == (3, 4)
    assert state.members == {0: (b"\0", b"n0"), 2: (b"\2", b"n2"), 3: (b"d", b"n3")}
    assert stored == (b"index", {0: b"p", 3: b"p"})


def test_an_update_of_a_vote_state_another_scan_changed_drops_it(tmp_path: Path) -> None:
    rows = tuple(VoteRow(m, bytes([m]), b"n", b"p") for m in range(2))
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        cache.store_vote_state("s", VoteWrite(2, 2, (0, 1), rows, b"index", rebuilt=True))
        # Two scans read the state at next_member 2 and each added a member numbered 2.
        mine = VoteRow(2, b"mine", b"n", b"p")
        theirs = VoteRow(2, b"theirs", b"n", b"p")
        cache.store_vote_state("s", VoteWrite(2, 3, (0, 1, 2), (mine,), None, False, base=2))
        updated = cache.lookup_vote_state("s")
        cache.store_vote_state("s", VoteWrite(2, 3, (0, 1, 2), (theirs,), None, False, base=2))
        assert cache.lookup_vote_state("s") is None
        assert cache.lookup_vote_index("s", [0]) is None
    assert updated is not None and updated.members[2] == (b"mine", b"n")
