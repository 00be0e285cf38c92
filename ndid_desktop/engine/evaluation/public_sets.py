"""Public benchmarks read as labelled datasets: an INRIA Copydays tree or a UKBench folder
becomes the same manifest rows (attacks.ManifestRow) a generated dataset's manifest.json holds,
so `ndid eval score` scans and scores them unchanged, in one command, without writing a
manifest into someone's copy of the benchmark.

Copydays (Jegou, Douze, Schmid; INRIA), as its archives unpack::

    original/200000.jpg ...        157 originals, one per block
    strong/200001.jpg ...          strong attacks (print-scan, paint, blur, crop+rotate, ...)
    crops/<percent>/200000.jpg     <percent> of the picture's surface cropped away
    jpegqual/<quality>/200000.jpg  recompressed at JPEG quality <quality>

Every name is six digits: the first four are the block, and each block is one original
picture, so every file of a block is a copy of that block's original (the rule the Copydays
evaluation applies to `strong`, whose names differ from their original's in the last two).

UKBench (Nister, Stewenius): ``ukbench00000.jpg`` ... in one folder (or its ``full/``),
groups of four consecutive numbers showing one object. They are four *views* of an object,
not copies of one photo: not near-duplicates in NDID's sense; scored for comparison only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ndid_desktop.engine.config import Root, ScanConfig
from ndid_desktop.engine.evaluation.attacks import EASY, HARD, MEDIUM, ManifestRow, read_manifest
from ndid_desktop.engine.files.discover import discover

AUTO, MANIFEST, COPYDAYS, UKBENCH = "auto", "manifest", "copydays", "ukbench"
LAYOUTS = (AUTO, MANIFEST, COPYDAYS, UKBENCH)
# The tier of UKBench's views: not one of the edit tiers, whose recall they would distort.
VIEWS = "views"
UKBENCH_VIEW = "ukbench-view"
UKBENCH_GROUP = 4  # consecutive images per object

_COPYDAYS_NAME = re.compile(r"\d{6}")
_UKBENCH_NAME = re.compile(r"ukbench(\d{5})", re.IGNORECASE)
# The folders each part of a Copydays tree may be unpacked as (the archives' names or short).
_ORIGINAL_DIRS = ("original", "copydays_original")
_STRONG_DIRS = ("strong", "copydays_strong")
_COPYDAYS_PARTS = "original/, strong/, crops/<percent>/, jpegqual/<quality>/"


class LayoutError(ValueError):
    """A folder is not the layout it was read as (or, for 'auto', any layout NDID reads)."""


@dataclass(frozen=True)
class LabelledFolder:
    root: Path  # the folder to scan; every row's file is relative to it
    rows: tuple[ManifestRow, ...]
    layout: str  # manifest | copydays | ukbench
    note: str = ""  # what a reader of the score must know about this layout


def labelled_folder(folder: Path, layout: str = AUTO) -> LabelledFolder:
    """The labelled files of ``folder`` read as ``layout``; 'auto' takes a manifest.json when
    there is one, else whichever public layout the folder has. Raises LayoutError."""
    if not folder.is_dir():
        raise LayoutError(f"folder not found: {folder}")
    if layout == AUTO:
        layout = _detect(folder)
    if layout == MANIFEST:
        if not (folder / "manifest.json").is_file():
            raise LayoutError(f"no manifest.json in {folder} (ndid eval make-dataset makes one)")
        return LabelledFolder(folder, tuple(read_manifest(folder)), MANIFEST)
    if layout == COPYDAYS:
        return read_copydays(folder)
    if layout == UKBENCH:
        return read_ukbench(folder)
    raise LayoutError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")


def _detect(folder: Path) -> str:
    if (folder / "manifest.json").is_file():
        return MANIFEST
    if any((folder / name).is_dir() for name in _ORIGINAL_DIRS):
        return COPYDAYS
    if _ukbench_folder(folder) is not None:
        return UKBENCH
    raise LayoutError(
        f"{folder} is not a labelled dataset: it has no manifest.json (ndid eval make-dataset), "
        f"no Copydays tree ({_COPYDAYS_PARTS}) and no UKBench images (ukbench00000.jpg, ...)"
    )


def _photos(root: Path) -> list[Path]:
    """The files a scan of ``root`` reads, as paths relative to it."""
    found = discover([Root(root)], ScanConfig()).files
    return sorted(Path(f.path).relative_to(root) for f in found)


def _first_dir(root: Path, names: Sequence[str]) -> str | None:
    return next((name for name in names if (root / name).is_dir()), None)


def read_copydays(root: Path) -> LabelledFolder:
    """A Copydays tree: originals, then each copy labelled with its part (copydays-strong,
    copydays-crop-<percent>, copydays-jpeg-<quality>) and the block's original as its group."""
    original_dir = _first_dir(root, _ORIGINAL_DIRS)
    if original_dir is None:
        raise LayoutError(
            f"{root} is not a Copydays tree: no original/ folder (expected {_COPYDAYS_PARTS})"
        )
    strong_dir = _first_dir(root, _STRONG_DIRS)
    originals: dict[str, ManifestRow] = {}
    copies: list[tuple[str, Path, str, str]] = []  # (block, file, edit, tier)
    for file in _photos(root):
        block = _copydays_block(file)
        part = file.parts[0]
        if part == original_dir and len(file.parts) == 2:
            if block in originals:
                raise LayoutError(
                    f"block {block} has two originals ({originals[block].file}, "
                    f"{file.as_posix()}): the first four digits of a Copydays name are its block, "
                    "one original picture each"
                )
            originals[block] = ManifestRow(file.as_posix(), block, "original", "", "")
        else:
            edit, tier = _copydays_edit(file, strong_dir)
            copies.append((block, file, edit, tier))
    if not originals:
        raise LayoutError(f"{root} is not a Copydays tree: no images in {original_dir}/")
    rows = list(originals.values())
    for block, file, edit, tier in copies:
        if block not in originals:
            raise LayoutError(
                f"{file.as_posix()} is a copy in block {block}, which has no image in "
                f"{original_dir}/"
            )
        rows.append(ManifestRow(file.as_posix(), block, "copy", edit, tier))
    return LabelledFolder(root, tuple(rows), COPYDAYS)


def _copydays_block(file: Path) -> str:
    if not _COPYDAYS_NAME.fullmatch(file.stem):
        raise LayoutError(
            f"{file.as_posix()} does not fit the Copydays layout: its names are six digits "
            "(e.g. 200000.jpg; the first four are the block)"
        )
    return file.stem[:4]


def _copydays_edit(file: Path, strong_dir: str | None) -> tuple[str, str]:
    """(edit name, tier) of a copy from where it lies in the tree."""
    parts = file.parts
    if len(parts) == 2 and parts[0] == strong_dir:
        return "copydays-strong", HARD
    if len(parts) == 3 and parts[1].isdigit():
        amount = int(parts[1])
        if parts[0] == "crops":
            # Tiers as the generator's: crop-80 (a fifth cut away) is medium, crop-40 hard.
            return f"copydays-crop-{amount}", MEDIUM if amount <= 30 else HARD
        if parts[0] == "jpegqual":
            # As the generator's: quality 30 easy, 10 medium.
            tier = EASY if amount >= 30 else MEDIUM if amount >= 10 else HARD
            return f"copydays-jpeg-{amount}", tier
    raise LayoutError(
        f"{file.as_posix()} does not fit the Copydays layout (expected {_COPYDAYS_PARTS})"
    )


def _ukbench_folder(folder: Path) -> Path | None:
    """``folder`` or its ``full/`` when it holds UKBench images (the archive unpacks so)."""
    for candidate in (folder, folder / "full"):
        if candidate.is_dir() and any(
            _UKBENCH_NAME.fullmatch(p.stem) for p in candidate.iterdir() if p.is_file()
        ):
            return candidate
    return None


def read_ukbench(folder: Path) -> LabelledFolder:
    """UKBench: each group of four consecutive numbers is one object; its lowest-numbered
    image stands as the 'original' the others are scored against (none of them is one)."""
    root = _ukbench_folder(folder)
    if root is None:
        raise LayoutError(
            f"{folder} is not a UKBench folder: no ukbench%05d.jpg images "
            f"(ukbench00000.jpg, ...) in it or in {folder / 'full'}"
        )
    groups: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for file in _photos(root):
        match = _UKBENCH_NAME.fullmatch(file.stem)
        if match is None or len(file.parts) != 1:
            raise LayoutError(
                f"{file.as_posix()} in {root} does not fit the UKBench layout "
                "(only ukbench%05d.jpg files, four consecutive numbers per object)"
            )
        number = int(match.group(1))
        groups[number // UKBENCH_GROUP].append((number, file.as_posix()))
    rows: list[ManifestRow] = []
    for group, members in sorted(groups.items()):
        name = f"ukbench:{group:04d}"
        first, *others = sorted(members)
        rows.append(ManifestRow(first[1], name, "original", "", ""))
        rows += [ManifestRow(file, name, "copy", UKBENCH_VIEW, VIEWS) for _, file in others]
    note = (
        "UKBench groups are four views of one object (moved, turned, relit), not copies of "
        "one photo: NDID is not built to group them, and its 'keeper' here is arbitrary"
    )
    return LabelledFolder(root, tuple(rows), UKBENCH, note)
