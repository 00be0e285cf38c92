"""The whole `ndid calibrate` job: choose distinct photos, make edited copies of them, find and
label the candidate pairs as a scan would, fit the decision model, and save it (versioned, when
it is the user's own)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ndid_desktop.engine.config import ScanConfig
from ndid_desktop.engine.evaluation.attacks import make_dataset, read_manifest
from ndid_desktop.engine.evaluation.calibrate import fit_calibration
from ndid_desktop.engine.evaluation.dataset import TooFewPhotosError, distinct_sample, photos_in
from ndid_desktop.engine.evaluation.direction_fit import direction_pairs, fit_direction
from ndid_desktop.engine.evaluation.fitting_look import second_look_for_fitting
from ndid_desktop.engine.evaluation.labelled import labelled_pairs
from ndid_desktop.engine.evaluation.lifelike import make_lifelike_library
from ndid_desktop.engine.extras import CALIBRATE, lacking
from ndid_desktop.engine.features.cache import FeatureCache
from ndid_desktop.engine.features.encoders import missing_libraries
from ndid_desktop.engine.features.model_sets import model_set
from ndid_desktop.engine.groups.derivation import DIRECTION_FILE, DirectionModel
from ndid_desktop.engine.match.decision import Calibration
from ndid_desktop.engine.progress import ProgressCallback, ProgressEvent, null_progress

# A user's library (--auto) is sampled and gets fewer edits per photo than the developers'
# folder of distinct photos: it is larger, and the run should take minutes, not an hour.
AUTO_EDITS_PER_PHOTO = 8
AUTO_MAX_PHOTOS = 120
EDITS_PER_PHOTO = 12
# Fewer photos than this give too few look-alike pairs to fit anything.
MIN_PHOTOS = 5
# The progress stage reported (done 0, total = photos) before the edited copies are made.
MAKING_COPIES = "edits"


@dataclass(frozen=True)
class MissingForCalibration:
    """A library calibration needs that is not installed."""

    problem: str  # what is missing and the extra that brings it (see extras.lacking)
    model: str | None  # the model that needs it; None: the fitting itself (scikit-learn)


def missing_for_calibration(model_set_name: str) -> MissingForCalibration | None:
    """What calibrating ``model_set_name`` lacks here: scikit-learn fits the model (scans only
    read its JSON); the thorough set's models also need torch."""
    problem = lacking(["sklearn"], CALIBRATE)
    if problem is not None:
        return MissingForCalibration(problem, None)
    for spec in model_set(model_set_name).encoders:
        missing = missing_libraries(spec) if spec.weights_file is not None else None
        if missing is not None:
            return MissingForCalibration(missing, spec.name)
    return None


@dataclass(frozen=True)
class CalibrationRequest:
    photos: Path  # distinct photos (developers), or the user's library with ``auto``
    out: Path  # the calibration file to write
    auto: bool = False  # a user's library: sampled for distinct photos, every split, versioned
    model_set: str = "standard"
    split: str = "train"  # which fixed split of ``photos`` (ignored with ``auto``)
    edits_per_photo: int | None = None  # None: AUTO_EDITS_PER_PHOTO or EDITS_PER_PHOTO
    max_photos: int | None = None  # None: AUTO_MAX_PHOTOS with ``auto``, else every photo
    seed: int = 1
    workdir: Path | None = None  # keeps the dataset and its cache; None: a temporary folder
    models_dir: Path | None = None

    @property
    def edits(self) -> int:
        default = AUTO_EDITS_PER_PHOTO if self.auto else EDITS_PER_PHOTO
        return self.edits_per_photo or default

    @property
    def photo_split(self) -> str:
        return "all" if self.auto else self.split

    @property
    def source(self) -> str:
        """Where the fitting pairs came from, as the calibration file records it."""
        return (
            f"ndid calibrate --photos {self.photos.name} --split {self.photo_split} "
            f"--edits-per-photo {self.edits} --seed {self.seed}"
        )


@dataclass(frozen=True)
class CalibrationRun:
    calibration: Calibration
    path: Path  # where it was saved
    photos: int  # distinct photos it was fitted on
    seconds: float
    previous: Path | None  # where the calibration it replaced was kept, if there was one
    # The keeper's direction model, fitted beside it (None: the set has no keypoint check to
    # measure overlap with, and the model fitted with one is kept).
    direction: DirectionModel | None = None

    @property
    def direction_path(self) -> Path:
        return self.path.with_name(DIRECTION_FILE)

    @property
    def pairs(self) -> int:
        return int(self.calibration.metrics["pairs"])

    @property
    def positives(self) -> int:
        return int(self.calibration.metrics["positives"])

    @property
    def gated(self) -> int:
        return int(self.calibration.metrics["gated"])

    @property
    def train_precision(self) -> float:
        return float(self.calibration.metrics["train_precision"])

    @property
    def train_recall(self) -> float:
        return float(self.calibration.metrics["train_recall"])


def choose_sources(request: CalibrationRequest) -> list[Path]:
    """The distinct photos the edited copies are made from."""
    if request.auto:
        return distinct_sample(request.photos, request.max_photos or AUTO_MAX_PHOTOS)
    return photos_in(request.photos, request.split, request.max_photos)


def run_calibration(
    request: CalibrationRequest, progress: ProgressCallback = null_progress
) -> CalibrationRun:
    """Calibrate as ``request`` says and save the result. Raises TooFewPhotosError (before any
    work) and CalibrationError (when the pairs cannot be fitted; nothing is saved then)."""
    sources = choose_sources(request)
    if len(sources) < MIN_PHOTOS:
        raise TooFewPhotosError(len(sources), MIN_PHOTOS)
    with tempfile.TemporaryDirectory(prefix="ndid-calibrate-") as tmp:
        started = time.perf_counter()
        work = request.workdir or Path(tmp)
        calibration = _fit_in(work, sources, request, progress)
        direction = _fit_direction_in(work, sources, request, progress)
        # The user's own calibrations are kept, dated; a developer's --out is theirs to manage.
        previous = keep_previous(request.out) if request.auto else None
        calibration.save(request.out)
        if direction is not None:
            if request.auto:
                keep_previous(request.out.with_name(DIRECTION_FILE))
            direction.save(request.out.with_name(DIRECTION_FILE))
        seconds = time.perf_counter() - started
    return CalibrationRun(calibration, request.out, len(sources), seconds, previous, direction)


def _fit_in(
    work: Path, sources: list[Path], request: CalibrationRequest, progress: ProgressCallback
) -> Calibration:
    """Make (or reuse) the edited dataset under ``work``, and fit on its candidate pairs."""
    dataset = work / "dataset"
    if not (dataset / "manifest.json").exists():  # a kept workdir skips minutes of editing
        progress(ProgressEvent(MAKING_COPIES, 0, len(sources)))
        make_dataset(sources, dataset, edits_per_photo=request.edits, seed=request.seed)
    rows = read_manifest(dataset)
    config = ScanConfig(model_set=request.model_set, models_dir=request.models_dir)
    with FeatureCache(work / "cache.sqlite") as cache:
        data = labelled_pairs(dataset, rows, config, cache, progress)
        second_look = second_look_for_fitting(data, config, cache, progress)
        signature = model_set(request.model_set).signature
        return fit_calibration(data, request.model_set, signature, request.source, second_look)


def _fit_direction_in(
    work: Path, sources: list[Path], request: CalibrationRequest, progress: ProgressCallback
) -> DirectionModel | None:
    """The direction model, on every (original, copy) pair of the edited dataset and of a
    lifelike library made from the same photos (camera EXIF, file dates, app-made copies):
    the edits teach what pixels and geometry say, the library what metadata says."""
    if model_set(request.model_set).verifier is None:
        return None
    lifelike = work / "lifelike"
    if not (lifelike / "manifest.json").exists():
        make_lifelike_library(sources, lifelike, seed=request.seed)
    config = ScanConfig(model_set=request.model_set, models_dir=request.models_dir)
    pairs = []
    with FeatureCache(work / "cache.sqlite") as cache:
        for dataset in (work / "dataset", lifelike):
            pairs += direction_pairs(dataset, read_manifest(dataset), config, cache, progress)
    source = f"{request.source} (edited copies and a lifelike library of the same photos)"
    return fit_direction(pairs, source)


def keep_previous(path: Path) -> Path | None:
    """Calibrations are versioned: the one at ``path`` is kept beside it, named by the time it
    was written. Returns where it went; None when there was none."""
    if not path.is_file():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
    kept = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
    path.rename(kept)
    return kept
