"""The data folder's layout and the one ScanConfig builder the CLI and the GUI share."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

from ndid_desktop import paths
from ndid_desktop.engine.config import DEFAULT_EXTENSIONS, ScanConfig
from ndid_desktop.engine.features.model_sets import model_store
from ndid_desktop.workspace import DataFolder, ScanOptions, scan_config

PACKAGE = Path(__file__).resolve().parents[1] / "ndid_desktop"


def test_every_path_lives_under_the_base(tmp_path: Path) -> None:
    folder = DataFolder(tmp_path)
    assert folder.cache == tmp_path / "features.sqlite"
    assert folder.calibration_dir == tmp_path / "calibration"
    assert folder.models_dir == tmp_path / "models"
    assert folder.verdicts == tmp_path / "verdicts.json"
    assert folder.journal == tmp_path / "journal.jsonl"
    assert folder.scan_records == tmp_path / "scans"
    assert folder.settings == tmp_path / "settings.ini"
    assert folder.bundled_models is None


def test_the_override_and_a_packaged_builds_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DataFolder.at(tmp_path) == DataFolder(tmp_path, None)
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path / "app"), raising=False)
    assert DataFolder.at(tmp_path).bundled_models == tmp_path / "app" / "models"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert DataFolder.at().base == paths.data_dir()


def test_a_config_from_defaults_takes_every_path_from_the_folder(tmp_path: Path) -> None:
    folder = DataFolder(tmp_path, tmp_path / "bundled")
    config = scan_config(folder)
    assert config == ScanConfig(
        cache_path=folder.cache,
        calibration_dir=folder.calibration_dir,
        models_dir=folder.models_dir,
        bundled_models_dir=tmp_path / "bundled",
        verdicts_path=folder.verdicts,
        scan_records_dir=folder.scan_records,
    )


def test_options_reach_the_config(tmp_path: Path) -> None:
    options = ScanOptions(
        model_set="fast",
        threshold=0.9,
        calibration=tmp_path / "mine.json",
        extensions=frozenset({".jpg"}),
        models_dir=tmp_path / "elsewhere",
        allow_download=True,
        use_cache=False,
        workers=3,
        skip_hidden=False,
    )
    config = scan_config(DataFolder(tmp_path), options)
    assert (config.model_set, config.threshold, config.calibration_path) == (
        "fast",
        0.9,
        tmp_path / "mine.json",
    )
    assert config.extensions == frozenset({".jpg"}) and config.models_dir == tmp_path / "elsewhere"
    assert config.allow_download and config.cache_path is None
    assert config.workers == 3 and not config.skip_hidden
    assert scan_config(DataFolder(tmp_path)).extensions == DEFAULT_EXTENSIONS


def test_every_option_is_a_scan_config_field_or_a_folder_choice() -> None:
    """A new option must say where it goes: nothing the user chooses is silently dropped."""
    config_fields = {f.name for f in fields(ScanConfig)}
    renamed = {"calibration": "calibration_path", "use_cache": "cache_path"}
    for option in fields(ScanOptions):
        assert renamed.get(option.name, option.name) in config_fields, option.name


def test_the_model_store_follows_the_config(tmp_path: Path) -> None:
    folder = DataFolder(tmp_path, tmp_path / "bundled")
    store = model_store(scan_config(folder, ScanOptions(allow_download=True)))
    assert store.user_dir == folder.models_dir and store.bundled_dir == tmp_path / "bundled"
    assert store.allow_download


def test_the_cli_builds_its_configs_through_the_workspace(tmp_path: Path) -> None:
    from ndid_desktop.cli.main import _options, build_parser

    data = ["--data-dir", str(tmp_path)]
    parser = build_parser()
    compare = parser.parse_args([*data, "compare", "a", "b", "--models", "fast"])
    folder = DataFolder.at(tmp_path)
    expected = scan_config(folder, ScanOptions(model_set="fast", use_cache=False))
    assert scan_config(folder, _options(compare)) == expected  # a compare reads no cache
    scan = parser.parse_args([*data, "scan", "lib", "--threshold", "0.8", "--download"])
    config = scan_config(folder, _options(scan))
    assert config.threshold == 0.8 and config.allow_download
    assert (
        config.verdicts_path == folder.verdicts and config.scan_records_dir == folder.scan_records
    )


def _names_built_outside(name: str, allowed: set[str]) -> list[str]:
    """Source files outside the engine that call ``name(...)`` themselves."""
    found = []
    for source in PACKAGE.rglob("*.py"):
        relative = source.relative_to(PACKAGE).as_posix()
        if relative.startswith("engine/") or relative in allowed:
            continue
        tree = ast.parse(source.read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        if any(getattr(c.func, "id", getattr(c.func, "attr", None)) == name for c in calls):
            found.append(relative)
    return found


def test_the_cli_and_gui_build_scan_configs_only_through_the_workspace() -> None:
    assert _names_built_outside("ScanConfig", {"workspace.py"}) == []


def test_no_ui_or_main_cli_module_builds_a_model_store_itself() -> None:
    assert _names_built_outside("ModelStore", set()) == []


def test_an_evaluation_reads_none_of_the_users_own_files(tmp_path: Path) -> None:
    from ndid_desktop.workspace import evaluation_config

    config = evaluation_config(DataFolder(tmp_path), ScanOptions(threshold=0.7))
    assert config.threshold == 0.7 and config.models_dir == tmp_path / "models"
    assert config.verdicts_path is None and config.scan_records_dir is None
    assert config.cache_path is None
