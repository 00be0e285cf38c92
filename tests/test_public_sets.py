"""Copydays and UKBench read as labelled datasets, on tiny fake trees with the real names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from ndid_desktop.engine.evaluation.attacks import ManifestRow
from ndid_desktop.engine.evaluation.public_sets import (
    COPYDAYS,
    LAYOUTS,
    MANIFEST,
    UKBENCH,
    UKBENCH_VIEW,
    VIEWS,
    LayoutError,
    labelled_folder,
    read_copydays,
    read_ukbench,
)

from .conftest import dev_photos, textured


def _jpeg(path: Path, image: Image.Image, quality: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=quality)


def _copydays(root: Path, pictures: tuple[Image.Image, Image.Image] | None = None) -> Path:
    """Two blocks (2000, 2001) with every kind of copy the Copydays archives hold, of two
    generated pictures or of ``pictures``."""
    first, second = pictures or (textured(1), textured(2))
    for number, picture in (("200000", first), ("200100", second)):
        w, h = picture.size
        _jpeg(root / "original" / f"{number}.jpg", picture, 95)
        # Half the surface cut away, as crops/50 is.
        _jpeg(
            root / "crops" / "50" / f"{number}.jpg", picture.crop((0, 0, w * 7 // 10, h * 7 // 10))
        )
        _jpeg(root / "jpegqual" / "75" / f"{number}.jpg", picture, 75)
        _jpeg(root / "jpegqual" / "5" / f"{number}.jpg", picture, 5)
    w, h = first.size
    _jpeg(root / "strong" / "200001.jpg", first.rotate(5).resize((w * 2 // 3, h * 2 // 3)))
    _jpeg(root / "strong" / "200002.jpg", first.crop((0, 0, w * 2 // 3, h)))
    _jpeg(root / "strong" / "200101.jpg", second.resize((second.width // 2, second.height // 2)))
    w, h = second.size
    _jpeg(root / "crops" / "10" / "200100.jpg", second.crop((w // 20, h // 20, w, h)))
    return root


def _rows(rows: tuple[ManifestRow, ...]) -> set[tuple[str, str, str, str, str]]:
    return {(r.file, r.group, r.role, r.edit, r.tier) for r in rows}


def test_a_copydays_tree_is_read_into_originals_and_labelled_copies(tmp_path: Path) -> None:
    root = _copydays(tmp_path / "copydays")
    read = labelled_folder(root)  # auto: no manifest.json, an original/ folder
    assert read.layout == COPYDAYS and read.root == root and read.note == ""
    assert _rows(read.rows) == {
        ("original/200000.jpg", "2000", "original", "", ""),
        ("original/200100.jpg", "2001", "original", "", ""),
        ("strong/200001.jpg", "2000", "copy", "copydays-strong", "hard"),
        ("strong/200002.jpg", "2000", "copy", "copydays-strong", "hard"),
        ("strong/200101.jpg", "2001", "copy", "copydays-strong", "hard"),
        ("crops/50/200000.jpg", "2000", "copy", "copydays-crop-50", "hard"),
        ("crops/50/200100.jpg", "2001", "copy", "copydays-crop-50", "hard"),
        ("crops/10/200100.jpg", "2001", "copy", "copydays-crop-10", "medium"),
        ("jpegqual/75/200000.jpg", "2000", "copy", "copydays-jpeg-75", "easy"),
        ("jpegqual/75/200100.jpg", "2001", "copy", "copydays-jpeg-75", "easy"),
        ("jpegqual/5/200000.jpg", "2000", "copy", "copydays-jpeg-5", "hard"),
        ("jpegqual/5/200100.jpg", "2001", "copy", "copydays-jpeg-5", "hard"),
    }
    assert [r.role for r in read.rows[:2]] == ["original", "original"]
    assert len(read.rows) == len({r.file for r in read.rows})


def test_the_archives_folder_names_are_read_too(tmp_path: Path) -> None:
    root = tmp_path / "cd"
    _jpeg(root / "copydays_original" / "201200.jpg", textured(3))
    _jpeg(root / "copydays_strong" / "201201.jpg", textured(3).resize((100, 75)))
    assert _rows(read_copydays(root).rows) == {
        ("copydays_original/201200.jpg", "2012", "original", "", ""),
        ("copydays_strong/201201.jpg", "2012", "copy", "copydays-strong", "hard"),
    }


@pytest.mark.parametrize(
    ("stray", "message"),
    [
        ("strong/209901.jpg", "strong/209901.jpg is a copy in block 2099, which has no image in"),
        (
            "original/holiday.jpg",
            "original/holiday.jpg does not fit the Copydays layout: its names",
        ),
        ("misc/200000.jpg", "misc/200000.jpg does not fit the Copydays layout (expected original/"),
        ("crops/big/200000.jpg", "crops/big/200000.jpg does not fit the Copydays layout"),
        ("original/200050.jpg", "block 2000 has two originals (original/200000.jpg, original/20"),
    ],
)
def test_a_file_outside_the_copydays_layout_is_named(
    tmp_path: Path, stray: str, message: str
) -> None:
    root = tmp_path / "cd"
    _jpeg(root / "original" / "200000.jpg", textured(1))
    _jpeg(root / stray, textured(9))
    with pytest.raises(LayoutError, match=re.escape(message)):
        read_copydays(root)


def test_a_folder_of_no_known_layout_says_which_it_looked_for(tmp_path: Path) -> None:
    _jpeg(tmp_path / "photos" / "IMG_0001.jpg", textured(1))
    with pytest.raises(LayoutError) as caught:
        labelled_folder(tmp_path / "photos")
    text = str(caught.value)
    assert "is not a labelled dataset" in text and "manifest.json" in text
    assert "Copydays tree (original/, strong/, crops/<percent>/, jpegqual/<quality>/)" in text
    assert "UKBench images (ukbench00000.jpg" in text
    with pytest.raises(LayoutError, match="is not a Copydays tree: no original/ folder"):
        labelled_folder(tmp_path / "photos", COPYDAYS)
    with pytest.raises(LayoutError, match=r"is not a UKBench folder: no ukbench%05d\.jpg"):
        labelled_folder(tmp_path / "photos", UKBENCH)
    with pytest.raises(LayoutError, match=r"no manifest\.json in"):
        labelled_folder(tmp_path / "photos", MANIFEST)
    with pytest.raises(LayoutError, match="folder not found"):
        labelled_folder(tmp_path / "nowhere")
    with pytest.raises(LayoutError, match="no images in original/"):
        (tmp_path / "empty" / "original").mkdir(parents=True)
        read_copydays(tmp_path / "empty")


@pytest.mark.parametrize("inside", ["", "full"])
def test_a_ukbench_folder_groups_four_consecutive_images(tmp_path: Path, inside: str) -> None:
    images = tmp_path / "ukbench" / inside
    for n in range(10):  # two whole objects and half of a third
        _jpeg(images / f"ukbench{n:05d}.jpg", textured(n // 4).resize((80 + n, 60)))
    read = labelled_folder(tmp_path / "ukbench")
    assert read.layout == UKBENCH and read.root == images
    assert "four views of one object" in read.note and "not copies of" in read.note
    view = ("copy", UKBENCH_VIEW, VIEWS)
    expected = {
        (f"ukbench{n:05d}.jpg", f"ukbench:{n // 4:04d}", *(("original", "", "") if n % 4 == 0
                                                            else view))
        for n in range(10)
    }  # fmt: skip
    assert _rows(read.rows) == expected


def test_a_ukbench_group_without_its_first_image_is_led_by_its_lowest(tmp_path: Path) -> None:
    for n in (5, 6, 7):
        _jpeg(tmp_path / f"ukbench{n:05d}.jpg", textured(n))
    rows = read_ukbench(tmp_path).rows
    assert [(r.file, r.role) for r in rows] == [
        ("ukbench00005.jpg", "original"), ("ukbench00006.jpg", "copy"),
        ("ukbench00007.jpg", "copy"),
    ]  # fmt: skip


def test_a_stray_file_in_a_ukbench_folder_is_named(tmp_path: Path) -> None:
    _jpeg(tmp_path / "ukbench00000.jpg", textured(1))
    _jpeg(tmp_path / "ukbench00001.jpg", textured(1))
    _jpeg(tmp_path / "sub" / "ukbench00002.jpg", textured(1))
    with pytest.raises(LayoutError, match=r"sub/ukbench00002\.jpg in .* does not fit the UKBench"):
        read_ukbench(tmp_path)


def test_the_cli_spells_the_engines_layouts() -> None:
    from ndid_desktop.cli.calibrate_cmd import EVAL_LAYOUTS

    assert EVAL_LAYOUTS == LAYOUTS


def test_eval_score_scores_a_copydays_tree_in_one_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ndid_desktop.cli.main import main

    pictures = []
    for source in dev_photos(2, offset=40):
        with Image.open(source) as img:
            img.thumbnail((480, 480))
            pictures.append(img.convert("RGB"))
    root = _copydays(tmp_path / "copydays", (pictures[0], pictures[1]))
    data = ["--data-dir", str(tmp_path / "data")]
    md = tmp_path / "s.md"
    assert main([*data, "eval", "score", str(root), "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"copydays layout, 12 files in {root}\npairwise precision ")
    assert "\nscan: 12 images, " in out and md.read_text() == out
    # A recompression at quality 75 is the easiest copy there is: both are found.
    assert "| copydays-jpeg-75 | easy | 1.000 | 2 |" in out
    assert "| copydays-strong | hard | " in out and "| copydays-crop-10 | medium | " in out
    assert main([*data, "eval", "score", str(root), "--layout", "ukbench"]) == 2
    assert "is not a UKBench folder" in capsys.readouterr().err


def test_eval_score_and_report_read_a_ukbench_folder_and_say_what_it_measures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ndid_desktop.cli.main import main

    images = tmp_path / "ukbench" / "full"
    for n, source in enumerate(dev_photos(2, offset=60)):
        with Image.open(source) as img:
            img.thumbnail((400, 400))
            picture = img.convert("RGB")
        w, h = picture.size
        views = (picture, picture.crop((0, 0, w * 4 // 5, h)), picture.rotate(8), picture)
        for k, view in enumerate(views):
            _jpeg(images / f"ukbench{4 * n + k:05d}.jpg", view, 90 - 10 * k)
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "eval", "score", str(tmp_path / "ukbench")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ukbench layout, 8 files in {images}\n")
    assert "| ukbench-view | views | " in out and "\n\nnote: UKBench groups are four views" in out
    assert (
        main([*data, "eval", "report", str(tmp_path / "ukbench"), "--out", str(tmp_path / "r")])
        == 0
    )
    text = capsys.readouterr().out
    assert text.rstrip().endswith("its 'keeper' here is arbitrary.")
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["layout"]["name"] == "ukbench" and report["scan"]["by_tier"]["views"][1] == 6
    assert (tmp_path / "r" / "recall_by_edit.png").is_file()
