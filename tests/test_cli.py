import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ndid_desktop.cli.main import main

from .conftest import dev_photos, textured


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "ndid 0." in capsys.readouterr().out
    assert main([]) == 2
    assert "same picture" in capsys.readouterr().out


def test_missing_folder_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--data-dir", str(tmp_path / "d"), "scan", str(tmp_path / "nope")])
    assert code == 2
    assert "folder not found" in capsys.readouterr().err


def test_scan_writes_json_and_csv_reports(tmp_path: Path) -> None:
    from PIL import Image

    lib = tmp_path / "lib"
    lib.mkdir()
    first, second = (Image.open(p).convert("RGB") for p in dev_photos(2, offset=40))
    first.save(lib / "a.jpg", quality=95)
    first.resize((first.width // 2, first.height // 2)).save(lib / "a-small.jpg", quality=80)
    second.save(lib / "other.jpg")
    (lib / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "ndid_desktop.cli.main", "--data-dir", str(tmp_path / "data"),
         "scan", str(lib), "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert [len(g["members"]) for g in report["groups"]] == [2]
    group = report["groups"][0]
    assert group["keep"] == str(lib / "a.jpg")
    assert group["members"][1]["path"] == str(lib / "a-small.jpg")
    assert 0.5 < group["members"][1]["probability"] <= 1.0
    assert "smaller: 50%" in group["members"][1]["reason"]
    assert report["skipped"][0]["path"] == str(lib / "broken.jpg")
    assert report["stats"]["images_used"] == 3
    csv_lines = (tmp_path / "r.csv").read_text().splitlines()
    assert csv_lines[0].startswith("group,role,path")
    assert len(csv_lines) == 3
    assert "Reading photos" in result.stderr  # progress goes to stderr


def test_compare_explains_the_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    img = Image.open(dev_photos(1, offset=50)[0]).convert("RGB")
    img.save(tmp_path / "a.jpg")
    img.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "b.jpg")
    code = main(["--data-dir", str(tmp_path / "d"), "compare", str(tmp_path / "a.jpg"),
                 str(tmp_path / "b.jpg")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("SAME PICTURE")
    assert "turned 90°" in out
    assert "pHash" in out and "embedding cosine" in out


def test_compare_of_an_unreadable_file_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    textured(3).save(tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_text("nope")
    code = main(["--data-dir", str(tmp_path / "d"), "compare", str(tmp_path / "a.jpg"),
                 str(tmp_path / "b.jpg")])  # fmt: skip
    assert code == 1
    assert "not an image" in capsys.readouterr().err


def test_calibrate_and_eval_report_without_their_extra_say_which_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hint = "install the 'calibrate' extra: pip install 'ndid-desktop[calibrate]'"
    data = ["--data-dir", str(tmp_path / "d")]
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as in the default install
    code = main([*data, "calibrate", "--photos", str(tmp_path), "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 1 and "scikit-learn" in err and hint in err and "Traceback" not in err
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = main([*data, "eval", "report", str(tmp_path), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and "matplotlib" in err and hint in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()  # said before any work


def test_models_lists_the_shipped_encoder_and_the_extra_torch_models_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["--data-dir", str(tmp_path), "models"]) == 0
    out = capsys.readouterr().out
    assert "ships with NDID" in out and "efficientnet-lite0-v1.onnx" in out
    assert "needs:   torch, which is not installed: install the 'thorough' extra" in out


def test_output_cut_short_by_a_pipe_is_not_an_error(tmp_path: Path) -> None:
    """`ndid models | head -1`: no traceback when the reader stops early."""
    command = (
        f"{sys.executable} -m ndid_desktop.cli.main --data-dir {tmp_path / 'd'} models | head -c 1"
    )
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
