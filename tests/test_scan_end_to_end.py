"""The whole pipeline on real development photos with edited copies and distractors.

The floors below are what the shipped calibration reaches on this set (measured, then set a
little under the measurement so that noise in JPEG encoders does not flip the test); see the
README's accuracy section for the full held-apart evaluation.
"""

from pathlib import Path

import pytest

from ndid_desktop.engine import Root, ScanConfig, scan
from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.evaluation.group_scores import score_report
from ndid_desktop.engine.features.encoders import Encoder
from ndid_desktop.engine.types import ScanReport

PRECISION_FLOOR = 0.99  # measured 1.0
RECALL_FLOOR = 0.77  # measured 0.799 (all pairs, copy-copy included)
EASY_RECALL_FLOOR = 0.95  # measured 24 of 24
KEEPER_FLOOR = 1.0  # measured 6 of 6 (the direction model; 3 of 6 with the old fixed order)
GROUPS_PER_PICTURE_CEILING = 1.05  # measured 1.0: no picture split over two groups


@pytest.fixture(scope="module")
def scanned(
    tiny_library: tuple[Path, list[ManifestRow]], encoder: Encoder, tmp_path_factory
) -> ScanReport:
    root, _ = tiny_library
    cache = tmp_path_factory.mktemp("cache") / "c.sqlite"
    return scan([Root(root)], ScanConfig(cache_path=cache), encoder=encoder)


def test_precision_recall_and_keepers(
    scanned: ScanReport, tiny_library: tuple[Path, list[ManifestRow]]
) -> None:
    root, rows = tiny_library
    score = score_report(scanned, rows, str(root))
    assert score.precision >= PRECISION_FLOOR
    assert score.recall >= RECALL_FLOOR
    got, total = score.by_tier["easy"]
    assert got / total >= EASY_RECALL_FLOOR
    assert score.keeper_accuracy >= KEEPER_FLOOR
    assert score.groups_per_picture <= GROUPS_PER_PICTURE_CEILING
    assert score.false_groups == 0


def test_report_explains_every_member(scanned: ScanReport) -> None:
    assert scanned.groups
    for group in scanned.groups:
        assert group.keep == group.members[0].path
        assert group.reason.startswith("kept:")
        for member in group.duplicates:
            assert member.reason.startswith("same picture")
            assert 0.0 <= member.probability <= 1.0
            assert member.probability >= scanned.stats.threshold


def test_distractors_stay_alone(scanned: ScanReport) -> None:
    grouped = {m.path for g in scanned.groups for m in g.members}
    assert not any("/distractors/" in p for p in grouped)


def test_rescan_uses_the_cache_and_gives_the_same_groups(
    tiny_library: tuple[Path, list[ManifestRow]], encoder: Encoder, tmp_path: Path
) -> None:
    root, _ = tiny_library
    config = ScanConfig(cache_path=tmp_path / "c.sqlite")
    first = scan([Root(root)], config, encoder=encoder)
    second = scan([Root(root)], config, encoder=encoder)
    assert second.stats.decoded == 0 and second.stats.verified_pairs == 0
    assert [g.members for g in first.groups] == [g.members for g in second.groups]


def test_reference_folder_file_is_kept(tmp_path: Path, encoder: Encoder) -> None:
    from PIL import Image

    from .conftest import dev_photos

    photo = Image.open(dev_photos(1, offset=30)[0]).convert("RGB")
    (tmp_path / "refs").mkdir()
    (tmp_path / "lib").mkdir()
    photo.resize((photo.width // 2, photo.height // 2)).save(tmp_path / "refs" / "small.jpg")
    photo.save(tmp_path / "lib" / "big.jpg", quality=95)
    report = scan(
        [Root(tmp_path / "lib"), Root(tmp_path / "refs", reference=True)],
        ScanConfig(),
        encoder=encoder,
    )
    assert len(report.groups) == 1
    assert report.groups[0].keep.endswith("small.jpg")
    assert report.groups[0].members[0].reference


def test_bad_files_are_skipped_with_reasons_and_the_scan_goes_on(
    tmp_path: Path, encoder: Encoder
) -> None:
    from .conftest import textured

    textured(1).save(tmp_path / "good.jpg")
    textured(1).save(tmp_path / "good-copy.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not a picture")
    report = scan([Root(tmp_path)], ScanConfig(), encoder=encoder)
    assert {Path(s.path).name for s in report.skipped} == {"empty.jpg", "text.png"}
    assert len(report.groups) == 1 and len(report.groups[0].members) == 2


def test_scan_never_modifies_a_photo(tmp_path: Path, encoder: Encoder) -> None:
    import hashlib

    from .conftest import textured

    for i in range(3):
        textured(i).save(tmp_path / f"p{i}.jpg")
    textured(0).save(tmp_path / "copy.png")

    def state() -> dict[str, tuple[str, int]]:
        return {
            p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in tmp_path.iterdir()
        }

    before = state()
    report = scan([Root(tmp_path)], ScanConfig(), encoder=encoder)
    assert report.groups  # the scan did real work on these files
    assert state() == before


def test_not_duplicates_verdict_is_honoured_by_the_next_scan(
    tmp_path: Path, encoder: Encoder
) -> None:
    from PIL import Image

    from ndid_desktop.engine.actions.verdicts import Verdicts

    from .conftest import dev_photos

    photo = Image.open(dev_photos(1, offset=31)[0]).convert("RGB")
    photo.save(tmp_path / "a.jpg", quality=95)
    photo.resize((photo.width // 2, photo.height // 2)).save(tmp_path / "b.jpg")
    config = ScanConfig(verdicts_path=tmp_path / "data" / "verdicts.json")
    assert len(scan([Root(tmp_path)], config, encoder=encoder).groups) == 1
    Verdicts(config.verdicts_path).mark_not_duplicates(
        [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    )
    assert scan([Root(tmp_path)], config, encoder=encoder).groups == ()


def test_compare_gives_the_probability_the_scan_reported(
    scanned: ScanReport, encoder: Encoder
) -> None:
    """One owner of the staged decision: compare and the scan agree on every grouped pair.
    The standard set checks every pair (calibrate.choose_gate), so the keypoint check decided
    them all."""
    from ndid_desktop.engine.compare import compare

    pairs = [
        (m.signals.get("through", g.keep), m)
        for g in scanned.groups
        for m in g.duplicates
        if "identical" not in m.signals
    ]
    assert pairs and all(m.signals.get("gated") for _, m in pairs)
    for keep, member in pairs:
        c = compare(keep, member.path, ScanConfig(), encoder=encoder)
        assert round(c.probability, 4) == member.probability, member.path
        assert c.gated == member.signals["gated"]


def test_identical_files_join_without_being_paired(tmp_path: Path, encoder: Encoder) -> None:
    import shutil

    from PIL import Image

    from .conftest import dev_photos

    source = dev_photos(1, offset=40)[0]
    shutil.copy(source, tmp_path / "a.jpg")
    shutil.copy(source, tmp_path / "b.jpg")  # byte-identical
    data = source.read_bytes()
    comment = b"edited by a photo manager"  # a new JPEG comment: other bytes, same pixels
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    (tmp_path / "c.jpg").write_bytes(data[:2] + segment + data[2:])
    with Image.open(source) as im:  # a converted copy: a pair to score like any other
        im.convert("RGB").resize((im.width // 2, im.height // 2)).save(tmp_path / "d.png")
    report = scan([Root(tmp_path)], ScanConfig(), encoder=encoder)
    assert len(report.groups) == 1
    members = {Path(m.path).name: m for m in report.groups[0].members}
    assert set(members) == {"a.jpg", "b.jpg", "c.jpg", "d.png"}
    kinds = {Path(m.path).name: m.signals.get("identical") for m in report.groups[0].duplicates}
    keeper = Path(report.groups[0].keep).name
    assert sorted(k for k in kinds.values() if k) == ["identical file", "identical pixels"]
    assert all(members[n].probability == 1.0 for n, k in kinds.items() if k)
    assert report.stats.identical_files == 2
    assert report.stats.candidate_pairs == 1  # the three JPEGs are one picture to pair: one pair
    assert keeper in {"a.jpg", "b.jpg", "c.jpg"}


def test_a_scan_runs_on_any_executor(tmp_path: Path, encoder: Encoder) -> None:
    """The feature and verification stages take an executor factory: in this process here,
    as a distributed backend would run them, with the same result as the default pool."""
    from PIL import Image

    from ndid_desktop.engine.executors import in_process

    from .conftest import dev_photos

    for i, source in enumerate(dev_photos(30, offset=60)):  # enough for the worker pool
        with Image.open(source) as im:
            im.convert("RGB").save(tmp_path / f"{i:02d}.jpg", quality=90)
            if i < 3:  # three of them with a cropped copy, left to the keypoint check
                w, h = im.size
                crop = im.convert("RGB").crop((w // 10, h // 10, w - w // 10, h - h // 10))
                crop.save(tmp_path / f"{i:02d}-crop.jpg", quality=90)
    here = scan([Root(tmp_path)], ScanConfig(), encoder=encoder, executor=in_process)
    pooled = scan([Root(tmp_path)], ScanConfig(), encoder=encoder)
    assert [g.members for g in here.groups] == [g.members for g in pooled.groups]
    assert {Path(g.keep).name for g in here.groups} >= {"00.jpg", "01.jpg", "02.jpg"}


def test_every_copy_says_how_it_differs(
    scanned: ScanReport, tiny_library: tuple[Path, list[ManifestRow]]
) -> None:
    """The words the cards show come from the engine, per member, against the file matched."""
    root, rows = tiny_library
    edit_of = {str(root / r.file): r.edit for r in rows}
    described = {
        edit_of.get(m.path, ""): m.signals["edits"]
        for g in scanned.groups
        for m in g.duplicates
        if "identical" not in m.signals
    }
    assert described and all(isinstance(words, list) for words in described.values())
    resized = [w for e, words in described.items() if e.startswith("resize") for w in words]
    assert any(w.startswith("smaller") for w in resized), described
