"""Every prepared dataset records how it was made (issue 8): the saved LaBraMFeatureExtractor reproduces its windows.
Inputs are crops of the REAL sample recordings."""

from __future__ import annotations

import json

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

import labram_hf.cli as cli  # noqa: E402
from labram_hf.data import build_dataset, load_dataset_contract  # noqa: E402
from labram_hf.data._testing import export_crop  # noqa: E402
from labram_hf.feature_extraction_labram import LaBraMFeatureExtractor  # noqa: E402
from labram_hf.io import read_raw  # noqa: E402
from labram_hf.preprocessing import window_starts  # noqa: E402


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    """20 s with one channel unknown to LaBraM ("EEG Foo1"): needs the lenient channel policy."""
    return export_crop("absence", tmp_path_factory.mktemp("odd") / "odd.edf", 300, 320, rename={"EEG Fp1": "EEG Foo1"})


def test_prepared_dataset_extractor_reproduces_windows(odd, tmp_path):
    out = tmp_path / "ds"
    code = cli.main(["prepare", str(odd), "-o", str(out), "--notch", "60", "--window-seconds", "4",
                     "--stride-seconds", "3", "--lenient-channels", "-q"])  # fmt: skip
    assert code == 0
    ds = datasets.load_from_disk(str(out)).with_format("numpy")
    fe = LaBraMFeatureExtractor.from_pretrained(str(out))
    assert (fe.notch_freq, fe.window_seconds, fe.stride_seconds, fe.channel_policy) == (60.0, 4.0, 3.0, "lenient")
    assert (fe.l_freq, fe.h_freq, fe.sampling_rate, fe.patch_size, fe.channels) == (0.1, 75.0, 200, 200, None)
    fe2, schema = load_dataset_contract(str(out))
    assert fe2.to_dict() == fe.to_dict() and schema.kind == "none"
    # the extractor applied to the same recording gives the dataset's windows
    with pytest.warns(UserWarning, match="EEG Foo1"):
        pre = fe.preprocess_one(read_raw(odd), source=str(odd))
    assert "EEG Foo1" in pre.dropped_channels
    windows = list(pre.windows(fe.window_seconds, fe.stride_seconds))
    assert len(windows) == len(ds) == 6 and [w[0] for w in windows] == list(ds["start"])
    for (start, values), row in zip(windows, ds):
        np.testing.assert_allclose(row["input_values"], values, rtol=0, atol=1e-6)
        assert row["channel_ids"].tolist() == pre.channel_ids
    # the default (strict) extractor would refuse this recording, as the strict build does
    assert cli.main(["prepare", str(odd), "-o", str(tmp_path / "strict"), "-q"]) == 2


def test_channel_policy_flag_and_label_schema_saved(odd, tmp_path, capsys):
    table = tmp_path / "labels.csv"
    table.write_text(f"path,label\n{odd},wake\n")
    out = tmp_path / "ds"
    assert cli.main(["prepare", str(odd), "-o", str(out), "--channel-policy", "lenient", "--labels", f"csv:{table}",
                     "--class-names", "wake,sleep", "-q"]) == 0  # fmt: skip
    fe, schema = load_dataset_contract(datasets.load_from_disk(str(out)))
    assert fe.channel_policy == "lenient" and schema.names == ("wake", "sleep")
    assert json.loads((out / "build_report.json").read_text())["settings"]["channel_policy"] == "lenient"
    assert cli.main(["prepare", str(odd), "-o", str(tmp_path / "x"), "--channel-policy", "loose", "-q"]) == 2
    assert "--channel-policy must be one of strict, lenient" in capsys.readouterr().err


def test_builder_windows_start_at_window_starts(odd):
    """The builder's window positions are those of labram_hf.preprocessing.window_starts."""
    with pytest.warns(UserWarning, match="EEG Foo1"):
        ds = build_dataset(odd, None, window_seconds=3, stride_seconds=2.5, strict_channels=False, progress=False)
    n = 20 * 200
    assert [round(s * 200) for s in ds["start"]] == window_starts(n, 600, 500).tolist() == list(range(0, 3401, 500))
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6] and window_starts(3, 4).size == 0
    with pytest.raises(ValueError):
        window_starts(10, 0)
