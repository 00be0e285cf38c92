"""The feature cache: a re-scan decodes nothing; a changed file is read again; errors that a
user can fix are not remembered; cancelling keeps what was done."""

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import LITE0, Encoder
from ndid_desktop.engine.features.extract import compute_features
from ndid_desktop.engine.files.discover import discover
from ndid_desktop.engine.files.fingerprint import fingerprint_file
from ndid_desktop.engine.progress import CancelToken, ProgressEvent, ScanCancelled
from ndid_desktop.engine.report import from_json, to_json
from ndid_desktop.engine.types import Group, ImageInfo, Member, ScanReport, ScanStats

from .conftest import textured


def _library(folder: Path, n: int) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        textured(i).save(folder / f"p{i:02d}.jpg", "JPEG")
    (folder / "broken.jpg").write_bytes(b"not a picture")


def _features(folder: Path, cache: FeatureCache, encoder: Encoder, **kw: object):
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
    assert (second.embeddings == first.embeddings).all()
    assert (second.hashes == first.hashes).all()


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
        from ndid_desktop.engine.features import extract as features_module

        inline = [
            features_module.extract(e.path, LITE0, config.max_decode_bytes) for e in found.files
        ]
    usable = [r for r in inline if r.error is None]
    assert len(pooled.entries) == len(usable) == 30
    assert all((r.hashes == h).all() for r, h in zip(usable, pooled.hashes, strict=True))


def test_schema_change_drops_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with FeatureCache(path) as cache:
        cache._db.execute("INSERT INTO files VALUES (x'00', 1, 1, NULL, NULL, 'x', NULL)")
        cache._db.commit()
        cache._db.execute("UPDATE meta SET value='0' WHERE key='schema'")
        cache._db.commit()
    with FeatureCache(path) as cache:
        assert cache.count() == 0


def test_two_encoders_keep_their_vectors_apart(tmp_path: Path) -> None:
    import numpy as np

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


def test_cache_of_schema_5_keeps_its_features_and_gains_fingerprints(
    tmp_path: Path, encoder: Encoder
) -> None:
    _library(tmp_path / "lib", 3)
    path = tmp_path / "c.sqlite"
    with FeatureCache(path) as cache:
        first = _features(tmp_path / "lib", cache, encoder)
    _downgrade_to_schema_5(path)
    with FeatureCache(path) as cache:
        upgraded = _features(tmp_path / "lib", cache, encoder)
    with FeatureCache(path) as cache:
        stored = cache.lookup_images(upgraded.entries)
    assert upgraded.decoded == 0 and upgraded.from_cache == 4
    assert upgraded.fingerprints == first.fingerprints
    assert [stored[e.path].fingerprint for e in upgraded.entries] == list(first.fingerprints)


def _downgrade_to_schema_5(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("ALTER TABLE files DROP COLUMN fingerprint")
        db.execute("UPDATE meta SET value='5' WHERE key='schema'")


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
