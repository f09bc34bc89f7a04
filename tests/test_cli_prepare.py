"""`labram prepare` through labram_hf.cli.main, on crops of the REAL sample recordings."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

import labram_hf.cli as cli  # noqa: E402
from labram_hf.commands import COMMANDS  # noqa: E402
from labram_hf.data._testing import export_crop  # noqa: E402


@pytest.fixture(autouse=True)
def prepare_registered(monkeypatch):
    """Use the real CLI; until "prepare" is listed in labram_hf.commands.COMMANDS, register it for the test only."""
    if "prepare" not in COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", ["prepare"])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    export_crop("absence", root / "rec" / "absence.edf", 880, 920,
                annotations=[(0, 18.8, "asleep"), (18.8, 21.2, "awake")])  # fmt: skip
    export_crop("spasms", root / "rec" / "spasms.edf", 1280, 1320)
    export_crop("absence", root / "low" / "headset.edf", 300, 320, resample=128)
    return root


def test_prepare_directory(inputs, tmp_path, capsys):
    out = tmp_path / "ds"
    code = cli.main(["prepare", str(inputs / "rec"), "--output", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "wrote 8 windows" in text and "2 file(s)" in text
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 8 and ds.features["input_values"].shape == (None, 2000)
    report = json.loads((out / "build_report.json").read_text())
    assert report["settings"]["notch"] == 50.0 and report["settings"]["h_freq"] == 75.0


def test_prepare_annotations_stride_notch(inputs, tmp_path, capsys):
    out = tmp_path / "sleep"
    code = cli.main([
        "prepare", str(inputs / "rec" / "absence.edf"), "--output", str(out), "--window-seconds", "4",
        "--stride-seconds", "2", "--labels", "annotations", "--label-map", '{"asleep": "sleep", "awake": "wake"}',
        "--straddle", "drop", "--notch", "60", "-q",
    ])  # fmt: skip
    assert code == 0
    ds = datasets.load_from_disk(str(out))
    assert ds.features["label"].names == ["sleep", "wake"]
    assert "labels sleep:" in capsys.readouterr().out
    starts = dict(zip(ds["start"], ds["label"]))
    assert starts[14.0] == 0 and 16.0 not in starts and starts[20.0] == 1


def test_prepare_csv_labels_and_num_proc(inputs, tmp_path):
    table = tmp_path / "labels.csv"
    with open(table, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerows([["path", "label"], ["absence.edf", "absence"], ["spasms.edf", "spasms"]])
    out = tmp_path / "ds"
    code = cli.main(["prepare", str(inputs / "rec"), "-o", str(out), "--labels", f"csv:{table}", "--num-proc", "2",
                     "-q"])  # fmt: skip
    assert code == 0
    ds = datasets.load_from_disk(str(out))
    assert ds.features["label"].names == ["absence", "spasms"] and ds["label"] == [0] * 4 + [1] * 4


def test_prepare_low_rate_error_then_lowpass(inputs, tmp_path, capsys):
    out = tmp_path / "bci"
    code = cli.main(["prepare", str(inputs / "low"), "--output", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert "labram prepare: error:" in err and "headset.edf" in err and "128 Hz" in err
    assert "hint:" in err and "--lowpass " in err
    assert "Traceback" not in err and not out.exists()
    code = cli.main(["prepare", str(inputs / "low"), "--output", str(out), "--lowpass", "45", "-q"])
    assert code == 0
    assert len(datasets.load_from_disk(str(out))) == 2


def test_prepare_user_errors(inputs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["prepare", str(empty), "--output", str(tmp_path / "o")]) == 2
    assert "no EEG files found" in capsys.readouterr().err
    assert cli.main(["prepare", str(inputs / "rec"), "-o", str(tmp_path / "o"), "--labels", "annotations"]) == 2
    assert "--label-map" in capsys.readouterr().err
    assert cli.main(["prepare", str(inputs / "rec"), "-o", str(tmp_path / "o"), "--labels", "bogus"]) == 2
    assert cli.main(["prepare", str(inputs / "rec"), "-o", str(tmp_path / "o"), "--window-seconds", "2.5"]) == 2
    assert "whole number" in capsys.readouterr().err


def test_prepare_skip_and_lenient(inputs, tmp_path, capsys):
    src = tmp_path / "mixed"
    src.mkdir()
    (src / "absence.edf").write_bytes((inputs / "rec" / "absence.edf").read_bytes())
    (src / "broken.edf").write_bytes(b"0" * 400)
    export_crop("absence", src / "odd.edf", 300, 320, rename={"EEG Fp1": "EEG Foo1"})
    out = tmp_path / "ds"
    assert cli.main(["prepare", str(src), "-o", str(out), "-q"]) == 2
    assert "broken.edf" in capsys.readouterr().err and not out.exists()
    assert cli.main(["prepare", str(src), "-o", str(out), "--on-error", "skip", "-q"]) == 0
    captured = capsys.readouterr()
    assert "2 file(s) skipped" in captured.out
    rows = {r["file"].rsplit("/", 1)[-1]: r["reason"] for r in csv.DictReader(open(out / "skipped_files.csv"))}
    assert set(rows) == {"broken.edf", "odd.edf"} and "EEG Foo1" in rows["odd.edf"]
    out2 = tmp_path / "ds2"
    assert cli.main(["prepare", str(src / "odd.edf"), "-o", str(out2), "--lenient-channels", "-q"]) == 0
    assert "warning:" in capsys.readouterr().err
    assert np.asarray(datasets.load_from_disk(str(out2))[0]["input_values"]).shape == (20, 2000)
