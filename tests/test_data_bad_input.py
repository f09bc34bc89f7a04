"""Bad input: every problem gives a clear error (or warning) naming the file. Files are crops of REAL recordings."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

from labram_hf.data import DatasetBuildError, build_dataset  # noqa: E402
from labram_hf.data._testing import export_crop, sample_raw, write_edf_signals  # noqa: E402


def build(path, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("window_seconds", 5)
    return build_dataset(path, None, **kw)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return export_crop("absence", tmp_path_factory.mktemp("good") / "good.edf", 300, 315)


def test_unreadable_file(tmp_path):
    bad = tmp_path / "garbage.edf"
    bad.write_bytes(b"this is not an EDF file at all" * 20)
    with pytest.raises(DatasetBuildError, match=re.escape(str(bad))):
        build(bad)


def test_truncated_file(good, tmp_path):
    cut = tmp_path / "truncated.edf"
    cut.write_bytes(good.read_bytes()[:1000])  # header only partly there
    with pytest.raises(DatasetBuildError, match=r"truncated\.edf"):
        build(cut)


def test_no_eeg_channel(tmp_path):
    raw = sample_raw("absence")
    picks = ["EEG Fp1", "EEG C3", "EEG O1"]
    data = raw.copy().crop(300, 306, include_tmax=False).pick(picks).load_data().get_data()
    f = write_edf_signals(tmp_path / "noeeg.edf", data, 200, ["Chan 1", "Chan 2", "Chan 3"])
    with pytest.raises(DatasetBuildError, match=r"noeeg\.edf: no EEG channel recognised"):
        build(f)


def test_unknown_channels_strict_and_lenient(tmp_path):
    f = export_crop("absence", tmp_path / "odd.edf", 300, 310, rename={"EEG Fp1": "EEG Foo1", "EEG O2": "EEG Bar2"})
    with pytest.raises(DatasetBuildError, match=r"odd\.edf: unknown EEG channel.*EEG Foo1.*EEG Bar2"):
        build(f)
    with pytest.warns(UserWarning, match=r"odd\.edf.*EEG Foo1.*EEG Bar2"):
        ds = build(f, strict_channels=False)
    assert np.asarray(ds[0]["input_values"]).shape == (19, 1000)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_inf(tmp_path, value):
    def poison(raw):
        raw._data[3, 500:520] = value

    f = export_crop("absence", tmp_path / "poisoned_raw.fif", 300, 310, modify=poison)
    with pytest.raises(DatasetBuildError, match=r"poisoned_raw\.fif: .*NaN/Inf.*EEG F4"):
        build(f)


def test_flat_channel(tmp_path):
    def flatten(raw):
        raw._data[2] = 0.0

    f = export_crop("absence", tmp_path / "flat.edf", 300, 310, modify=flatten)
    with pytest.raises(DatasetBuildError, match=r"flat\.edf: flat channel.*EEG F3"):
        build(f)


def test_shorter_than_one_window(tmp_path):
    f = export_crop("absence", tmp_path / "short.edf", 300, 303)
    with pytest.raises(DatasetBuildError, match=r"short\.edf: recording too short.*5-s window"):
        build(f)


def test_sampling_rate_too_low_for_lowpass(tmp_path):
    f = export_crop("absence", tmp_path / "headset128.edf", 300, 310, resample=128)
    with pytest.raises(DatasetBuildError, match=r"headset128\.edf: sampling rate 128 Hz is too low.*--lowpass"):
        build(f)
    ds = build(f, h_freq=45)
    assert np.asarray(ds[0]["input_values"]).shape == (21, 1000)


def test_duplicate_channel_names(tmp_path):
    raw = sample_raw("absence")
    data = raw.copy().crop(300, 306, include_tmax=False).pick(["EEG Fp1", "EEG Fp2", "EEG C3"]).load_data()
    f = write_edf_signals(tmp_path / "dups.edf", data.get_data(), 200, ["EEG Fp1", "EEG Fp1", "EEG C3"])
    with pytest.raises(DatasetBuildError, match=r"dups\.edf: duplicate channel names \['EEG Fp1'\]"):
        build(f)
    # two spellings of one electrode
    f2 = write_edf_signals(tmp_path / "same.edf", data.get_data(), 200, ["EEG Fp1", "FP1-REF", "EEG C3"])
    with pytest.raises(DatasetBuildError, match=r"same\.edf: channels .* are the same electrode"):
        build(f2)


def test_wrong_unit_suspected(tmp_path):
    def microvolts_as_volts(raw):
        raw._data *= 1e6  # values in uV stored where volts are expected

    f = export_crop("absence", tmp_path / "units_raw.fif", 300, 310, modify=microvolts_as_volts)
    with pytest.warns(UserWarning, match=r"units_raw\.fif.*wrong unit suspected"):
        build(f)


def test_empty_input_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.txt").write_text("no EEG here")
    with pytest.raises(DatasetBuildError, match=r"empty: no EEG files found"):
        build(tmp_path / "empty")
    with pytest.raises(DatasetBuildError, match="no such file"):
        build(tmp_path / "missing")
    with pytest.raises(DatasetBuildError, match="matches no file"):
        build(str(tmp_path / "empty" / "*.edf"))


def test_mixed_sampling_rates_resampled_and_said(good, tmp_path):
    other = export_crop("absence", tmp_path / "rate250.edf", 400, 415, resample=250)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = build([good, other])
    msgs = [str(w.message) for w in caught]
    assert any("mixed sampling rates" in m and "200 Hz: 1 file(s) (good.edf)" in m and "250 Hz: 1 file(s)"
               in m and "resampled to 200 Hz" in m for m in msgs), msgs  # fmt: skip
    assert len(ds) == 6 and {np.asarray(r).shape for r in ds["input_values"]} == {(21, 1000)}
