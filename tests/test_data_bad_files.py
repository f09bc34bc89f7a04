"""Bad data is an error (issue 8): truncated recordings, values that overflow float32, impossible window lengths.
Files are crops of the REAL sample recordings exported to EDF with mne/edfio, then damaged."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

import labram_hf.cli as cli  # noqa: E402
from labram_hf.data import DatasetBuildError, build_dataset  # noqa: E402
from labram_hf.data._testing import export_crop  # noqa: E402
from labram_hf.io import EEGReadError, edf_size_problem, read_raw  # noqa: E402
from labram_hf.preprocessing import preprocess  # noqa: E402


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """40 s of the absence recording as EDF+ (40 one-second data records)."""
    return export_crop("absence", tmp_path_factory.mktemp("whole") / "whole.edf", 300, 340)


@pytest.fixture(scope="module")
def half(whole, tmp_path_factory):
    """The same file cut in half, as an interrupted copy would leave it."""
    path = tmp_path_factory.mktemp("half") / "half.edf"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_truncated_edf_is_an_error_unless_allowed(whole, half, tmp_path):
    assert edf_size_problem(whole) is None
    assert len(build_dataset(whole, None, progress=False)) == 4
    with pytest.raises(DatasetBuildError, match=r"half\.edf: truncated: the header declares 40 data records .*19 "
                                                r"complete record") as info:  # fmt: skip
        build_dataset(half, None, progress=False)
    assert "--allow-truncated" in info.value.hint
    with pytest.warns(UserWarning, match=r"half\.edf: truncated.*allow_truncated"):
        ds = build_dataset(half, None, allow_truncated=True, progress=False)
    assert len(ds) == 1  # the 19 s that are there
    # the reader itself, and a file with more records than its header says
    with pytest.raises(EEGReadError, match=r"half\.edf: truncated"):
        read_raw(half, preload=False)
    longer = tmp_path / "longer.edf"
    head = bytearray(whole.read_bytes())
    head[236:244] = b"30      "  # header says 30 records, the file holds 40
    longer.write_bytes(bytes(head))
    with pytest.raises(EEGReadError, match=r"longer\.edf: inconsistent header: it declares 30 data records but the "
                                           r"file holds 40"):  # fmt: skip
        read_raw(longer, preload=False)


def test_truncated_edf_cli(half, tmp_path, capsys):
    out = tmp_path / "ds"
    assert cli.main(["prepare", str(half), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "half.edf: truncated" in err and "hint:" in err and "--allow-truncated" in err and not out.exists()
    assert cli.main(["prepare", str(half), "-o", str(out), "-q", "--allow-truncated"]) == 0
    assert "warning:" in capsys.readouterr().err and len(datasets.load_from_disk(str(out))) == 1


def _set_physical_range(path: Path, label: str, lo: bytes, hi: bytes) -> None:
    """Rewrite one signal's physical minimum/maximum in an EDF header (8-byte ASCII fields)."""
    data = bytearray(path.read_bytes())
    ns = int(data[252:256])
    labels = [data[256 + 16 * i : 272 + 16 * i].decode().strip() for i in range(ns)]
    i = labels.index(label)
    base = 256 + ns * (16 + 80 + 8)  # after labels, transducers and physical dimensions
    data[base + 8 * i : base + 8 * i + 8] = lo.ljust(8)
    data[base + 8 * ns + 8 * i : base + 8 * ns + 8 * i + 8] = hi.ljust(8)
    path.write_bytes(bytes(data))


def test_values_beyond_float32_are_an_error(tmp_path):
    f = export_crop("absence", tmp_path / "huge_range.edf", 300, 320)
    _set_physical_range(f, "EEG C3", b"-1e300", b"1e300")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow notes on the way
        warnings.simplefilter("ignore", UserWarning)  # the implausible-amplitude warning
        with pytest.raises(DatasetBuildError, match=r"huge_range\.edf: channel\(s\) \['EEG C3'\] are not finite "
                                                    r"after .*float32"):  # fmt: skip
            build_dataset(f, None, progress=False)
        # the same check for arrays: finite float64 microvolts that overflow float32 model units
        data = np.random.default_rng(0).standard_normal((2, 4000)) * 1e45  # finite in float64, not in float32
        with pytest.raises(ValueError, match=r"rec: channel\(s\) \['Fz', 'Cz'\] are not finite"):
            preprocess(data, 200.0, ["Fz", "Cz"], unit="uV", source="rec")


@pytest.mark.parametrize(
    "flag, value",
    [("--window-seconds", "inf"), ("--window-seconds", "nan"), ("--window-seconds", "1e-9"),
     ("--window-seconds", "-4"), ("--window-seconds", "0"), ("--stride-seconds", "inf"), ("--stride-seconds", "nan"),
     ("--stride-seconds", "1e-9"), ("--stride-seconds", "-1"), ("--stride-seconds", "0.0001")],
)  # fmt: skip
def test_impossible_window_or_stride(whole, tmp_path, capsys, flag, value):
    out = tmp_path / "ds"
    assert cli.main(["prepare", str(whole), "-o", str(out), "-q", flag, value]) == 2
    err = capsys.readouterr().err
    name = flag.strip("-").replace("-", "_")
    assert f"labram prepare: error: {name}" in err and "Traceback" not in err and "hint:" in err
    assert not out.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-50"])
def test_impossible_notch(whole, tmp_path, capsys, value):
    """A NaN or infinite notch is a flag error (it used to reach the filter and blame the recording)."""
    out = tmp_path / "ds"
    assert cli.main(["prepare", str(whole), "-o", str(out), "-q", "--notch", value]) == 2
    err = capsys.readouterr().err
    assert f"labram prepare: error: --notch must be a positive, finite frequency or off, got '{value}'" in err
    assert "hint: e.g. --notch 60, or --notch off" in err and not out.exists()
