"""`labram prepare` with the channel options of `labram channels` (issue 10 §2): --channel-policy nearest/interpolate,
--montage, --bipolar; --dry-run mapping tables that write nothing; the channels.png topomap of a real build.
Recordings are REAL EEG (crops of the sample recordings; the BioSemi file tiles 19 real channels over 64 amplifier
labels, as in tests/test_montage.py)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import mne
import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

import labram_hf.cli as cli  # noqa: E402
from labram_hf.channels import LABRAM_CHANNELS  # noqa: E402
from labram_hf.data import load_dataset_contract  # noqa: E402
from labram_hf.data._testing import export_crop, sample_raw  # noqa: E402
from labram_hf.feature_extraction_labram import LaBraMFeatureExtractor  # noqa: E402
from labram_hf.io import read_raw  # noqa: E402

ROW = {name: i for i, name in enumerate(LABRAM_CHANNELS)}
OLD = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}  # position-only channels map to the old-name rows
TEN_TWENTY = "Fp1 Fp2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 Fz Cz Pz".split()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """``bio/cap64.bdf``: 64 BioSemi amplifier labels A1..B32 (no names LaBraM knows), 12 s of real EEG;
    ``std/std.edf``: 20 s with the 21 10-20 names of the sample recording."""
    root = tmp_path_factory.mktemp("montage")
    raw = sample_raw("absence").copy().crop(1000.0, 1012.0, include_tmax=False)
    src = raw.get_data(picks=[f"EEG {c}" for c in TEN_TWENTY])
    data = src[np.arange(64) % len(src)] + 2e-6 * np.random.default_rng(1).standard_normal((64, src.shape[1]))
    labels = [f"{bank}{k}" for bank in "AB" for k in range(1, 33)]
    bdf = mne.io.RawArray(data, mne.create_info(labels, raw.info["sfreq"], "eeg"), verbose="error")
    (root / "bio").mkdir()
    mne.export.export_raw(root / "bio" / "cap64.bdf", bdf, fmt="bdf", overwrite=True, verbose="error")
    export_crop("absence", root / "std" / "std.edf", 300, 320)
    return root


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_nearest_with_a_montage_builds_records_and_draws(recordings, tmp_path, capsys):
    bdf = recordings / "bio" / "cap64.bdf"
    out = tmp_path / "bio"
    # strict cannot know what B7 is: the hint names the position-based policies
    assert cli.main(["prepare", str(bdf), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "unknown EEG channel" in err and "hint:" in err and not out.exists()

    code = cli.main(["prepare", str(bdf), "-o", str(out), "--channel-policy", "nearest", "--montage", "biosemi64",
                     "--window-seconds", "4", "-q"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert f"channel mapping drawn in {out / 'channels.png'}" in printed
    ds = datasets.load_from_disk(str(out)).with_format("numpy")
    cap = mne.channels.make_standard_montage("biosemi64").ch_names  # Fp1, AF7, ... in A1..B32 order
    expected = [ROW[OLD.get(n.upper(), n.upper())] for n in cap]
    assert len(ds) == 3 and ds[0]["channel_ids"].tolist() == expected
    # the contract records the channel options, and its extractor reproduces the rows from the file
    fe, _ = load_dataset_contract(str(out))
    assert (fe.channel_policy, fe.montage, fe.bipolar) == ("nearest", "biosemi64", None)
    report = json.loads((out / "build_report.json").read_text())
    assert (report["settings"]["channel_policy"], report["settings"]["montage"]) == ("nearest", "biosemi64")
    with pytest.warns(UserWarning, match="mapped by position"):
        pre = LaBraMFeatureExtractor.from_pretrained(str(out)).preprocess_one(read_raw(bdf), source=str(bdf))
    assert pre.channel_ids == expected
    np.testing.assert_allclose(ds[1]["input_values"], pre.values[:, 800:1600], rtol=0, atol=1e-6)
    # the topomap of the mapped electrodes
    png = out / "channels.png"
    width, height = _png_size(png)
    assert 500 < width < 3000 and 500 < height < 3000 and png.stat().st_size > 20_000
    assert report["channel_plots"] == [{"channels": 64, "files": 1, "example": str(bdf), "image": "channels.png"}]


def test_one_image_per_distinct_montage_and_no_plot_flag(recordings, tmp_path):
    out = tmp_path / "both"
    assert cli.main(["prepare", str(recordings / "bio"), str(recordings / "std"), "-o", str(out), "--channel-policy",
                     "nearest", "--montage", "biosemi64", "--window-seconds", "4", "-q"]) == 0  # fmt: skip
    plots = json.loads((out / "build_report.json").read_text())["channel_plots"]
    assert [(p["image"], p["channels"]) for p in plots] == [("channels-1.png", 64), ("channels-2.png", 21)]
    assert all(_png_size(out / p["image"])[0] > 500 for p in plots) and not (out / "channels.png").exists()
    ds = datasets.load_from_disk(str(out))
    assert sorted({len(ids) for ids in ds["channel_ids"]}) == [21, 64]
    bare = tmp_path / "bare"
    assert cli.main(["prepare", str(recordings / "std"), "-o", str(bare), "--no-channel-plot", "-q"]) == 0
    assert not list(bare.glob("*.png"))


def test_dry_run_prints_every_mapping_and_writes_nothing(recordings, tmp_path, capsys):
    before = _tree(tmp_path), _tree(recordings)
    out = tmp_path / "never"
    code = cli.main(["prepare", str(recordings / "bio"), str(recordings / "std"), "--output", str(out),
                     "--channel-policy", "nearest", "--montage", "biosemi64", "--window-seconds", "4",
                     "--dry-run"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "dry run, nothing is written" in text and "2 distinct channel set(s)" in text
    assert "[1] 1 file(s): cap64.bdf" in text and "[2] 1 file(s): std.edf" in text
    lines = [line.split() for line in text.splitlines()]
    assert ["A1", "FP1", "nearest"] == lines[[i for i, w in enumerate(lines) if w[:1] == ["A1"]][0]][:3]
    assert ["EEG", "Fp1", "FP1", "exact"] in lines
    assert "64 model channel(s) (64 nearest)" in text and "21 model channel(s) (21 exact)" in text
    assert "windows of 4 s" in text
    # nothing at all was written: no output, no lock file, no work directory, nothing beside the inputs
    assert not out.exists() and (_tree(tmp_path), _tree(recordings)) == before
    # the preview also says when a build would fail, and which window --max-tokens picks
    assert cli.main(["prepare", str(recordings / "bio"), "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "would fail:" in captured.out and "unknown EEG channel" in captured.err
    assert cli.main(["prepare", str(recordings / "bio"), "--channel-policy", "nearest", "--montage", "biosemi64",
                     "--max-tokens", "256", "--dry-run"]) == 0  # fmt: skip
    assert "--max-tokens 256: 64 channels per window -> 4-s windows (256 tokens)" in capsys.readouterr().out
    assert (_tree(tmp_path), _tree(recordings)) == before


def test_channel_option_errors(recordings, tmp_path, capsys):
    std = str(recordings / "std" / "std.edf")
    out = str(tmp_path / "x")
    assert cli.main(["prepare", std, "-o", out, "--montage", "biosemi64", "-q"]) == 2
    assert "--channel-policy nearest" in capsys.readouterr().err
    assert cli.main(["prepare", std, "-o", out, "--channel-policy", "nearest", "--montage", "biosemi65", "-q"]) == 2
    assert "unknown montage 'biosemi65'" in capsys.readouterr().err
    assert cli.main(["prepare", std, "-o", out, "--bipolar", "cathode", "-q"]) == 2
    assert "--bipolar must be anode or drop" in capsys.readouterr().err
    assert cli.main(["prepare", std, "-q"]) == 2
    assert "--output DIR is required" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
