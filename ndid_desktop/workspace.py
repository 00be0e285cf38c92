"""The data folder's layout and the one way to build a ScanConfig from it, for the CLI and GUI.

Where each of NDID's own files lives under the data folder is written here and nowhere else;
the CLI and the GUI both take their paths from a :class:`DataFolder` and their ScanConfig from
:func:`scan_config`, so a scan, a compare and a trash action started from either agree on the
cache, calibration, models, verdicts, journal and scan records they use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ndid_desktop.engine.config import DEFAULT_EXTENSIONS, ScanConfig
from ndid_desktop.paths import bundled_models_dir, data_dir


@dataclass(frozen=True)
class DataFolder:
    """NDID's own files, all under ``base`` (the user data folder, or --data-dir)."""

    base: Path
    bundled_models: Path | None = None  # weights shipped inside a packaged build, if any

    @classmethod
    def at(cls, override: Path | None = None) -> DataFolder:
        """The user's data folder (``override`` replaces it), with this build's bundled models."""
        return cls(data_dir(override), bundled_models_dir())

    @property
    def cache(self) -> Path:
        """The feature cache (may be deleted at any time)."""
        return self.base / "features.sqlite"

    @property
    def calibration_dir(self) -> Path:
        """The user's own calibrations, from `ndid calibrate --auto`."""
        return self.base / "calibration"

    @property
    def models_dir(self) -> Path:
        """Downloaded weights and exported ONNX files (the GUI's settings may name another)."""
        return self.base / "models"

    @property
    def verdicts(self) -> Path:
        """The user's "not duplicates" pairs."""
        return self.base / "verdicts.json"

    @property
    def journal(self) -> Path:
        """The write-ahead journal of every action on photos."""
        return self.base / "journal.jsonl"

    @property
    def scan_records(self) -> Path:
        """Each scan's own record, that trash actions are checked against."""
        return self.base / "scans"

    @property
    def settings(self) -> Path:
        """The desktop app's settings (an INI file)."""
        return self.base / "settings.ini"


@dataclass(frozen=True)
class ScanOptions:
    """What the user chose for a scan (CLI flags, GUI settings); everything else a ScanConfig
    holds comes from the data folder or the engine's defaults."""

    model_set: str = "standard"
    threshold: float | None = None  # None: the calibration's own
    calibration: Path | None = None  # a calibration file; None: the user's own, else bundled
    extensions: frozenset[str] = DEFAULT_EXTENSIONS
    models_dir: Path | None = None  # None: the data folder's
    allow_download: bool = False
    use_cache: bool = True
    workers: int = 0  # decode processes; 0 = one per core
    skip_hidden: bool = True


def scan_config(folder: DataFolder, options: ScanOptions | None = None) -> ScanConfig:
    """The ScanConfig for ``options`` (the defaults if None) over ``folder``. The engine's
    model store for it is ``engine.features.model_sets.model_store(config)``."""
    options = options or ScanOptions()
    models = options.models_dir if options.models_dir is not None else folder.models_dir
    return ScanConfig(
        model_set=options.model_set,
        threshold=options.threshold,
        extensions=options.extensions,
        skip_hidden=options.skip_hidden,
        workers=options.workers,
        cache_path=folder.cache if options.use_cache else None,
        calibration_path=options.calibration,
        calibration_dir=folder.calibration_dir,
        models_dir=models,
        bundled_models_dir=folder.bundled_models,
        allow_download=options.allow_download,
        verdicts_path=folder.verdicts,
        scan_records_dir=folder.scan_records,
    )


def evaluation_config(folder: DataFolder, options: ScanOptions | None = None) -> ScanConfig:
    """The ScanConfig for scoring a labelled dataset: the user's models and calibration, but
    none of their own files — their "not duplicates" verdicts would change the score, and a
    dataset's scan is nothing to trash — and no shared cache (the dataset has its own)."""
    options = replace(options or ScanOptions(), use_cache=False)
    config = scan_config(folder, options)
    return replace(config, verdicts_path=None, scan_records_dir=None)
