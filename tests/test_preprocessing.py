"""LaBraM preprocessing (labram_hf.preprocessing) on the real sample recordings."""

from __future__ import annotations

import warnings

import mne
import numpy as np
import pytest

from labram_hf.channels import TUH_CHANNELS, channel_ids
from labram_hf.preprocessing import (
    PreprocessedEEG,
    filter_and_resample,
    preprocess,
    preprocess_file,
    preprocess_raw,
    to_model_units,
)
from tests.data_fixtures import (  # noqa: F401
    EEGHDF_EEG,
    absence_eeg_30s,
    absence_raw,
    sample_paths,
    tuh_eeg_20s,
    tuh_raw,
)

TUH_EDF_NAMES = [f"EEG {c}-REF" for c in TUH_CHANNELS]

# Equivalence with the original mne chain, in model units (uV / 100): 1e-5 = 1e-3 uV. The float32 FFT path deviates by
# about 2e-7 x the centred peak (~5e-4 uV on these recordings); the float64 path only by the final float32 rounding.
TOL_MODEL_UNITS = 1e-5


def _reference(raw: mne.io.BaseRaw, notch=50.0, l_freq=0.1, h_freq=75.0) -> np.ndarray:
    """The original LaBraM pipeline (make_TUAB.py + engine), written independently with Raw methods."""
    raw = raw.copy().load_data()
    raw.filter(l_freq=l_freq, h_freq=h_freq, verbose="error")
    if notch is not None:
        raw.notch_filter(notch, verbose="error")
    if raw.info["sfreq"] != 200:
        raw.resample(200, verbose="error")
    return raw.get_data(units="uV").astype(np.float32) / 100


def test_matches_mne_pipeline_tuh_256hz(tuh_eeg_20s):  # noqa: F811
    out = preprocess_raw(tuh_eeg_20s, channels=TUH_CHANNELS)
    ref = _reference(tuh_eeg_20s.copy().pick(TUH_EDF_NAMES))
    assert out.values.dtype == np.float32 and out.sfreq == 200.0
    assert out.values.shape == (23, 4000) == ref.shape  # 20 s at 200 Hz
    assert np.abs(out.values - ref).max() < TOL_MODEL_UNITS
    assert out.channel_ids == channel_ids(TUH_CHANNELS)
    assert out.channel_names == TUH_EDF_NAMES
    assert 0.05 < np.median(np.abs(out.values)) < 5  # model units: tens of uV / 100


def test_matches_mne_pipeline_eeghdf_200hz(absence_eeg_30s):  # noqa: F811
    out = preprocess_raw(absence_eeg_30s)
    ref = _reference(absence_eeg_30s)
    assert out.values.shape == (23, 6000)
    assert np.abs(out.values - ref).max() < TOL_MODEL_UNITS
    assert out.vocabulary_names[:3] == ["FP1", "FP2", "F3"]


@pytest.mark.parametrize("notch", [60.0, None])
def test_notch_options(tuh_eeg_20s, notch):  # noqa: F811
    out = preprocess_raw(tuh_eeg_20s, channels=TUH_CHANNELS, notch=notch)
    ref = _reference(tuh_eeg_20s.copy().pick(TUH_EDF_NAMES), notch=notch)
    assert np.abs(out.values - ref).max() < TOL_MODEL_UNITS
    if notch is None:
        with_60 = preprocess_raw(tuh_eeg_20s, channels=TUH_CHANNELS, notch=60.0).values
        freqs = np.fft.rfftfreq(out.n_times, 1 / 200)
        band = np.abs(freqs - 60.0) < 0.2  # the notch (width 0.3 Hz) removes mains
        p_off = (np.abs(np.fft.rfft(out.values, axis=1))[:, band] ** 2).sum()
        p_on = (np.abs(np.fft.rfft(with_60, axis=1))[:, band] ** 2).sum()
        assert p_on < 0.1 * p_off  # TUH (US) mains at 60 Hz is removed by the 60 Hz notch


@pytest.mark.parametrize("precision", ["auto", "float32", "float64"])
def test_fast_path_matches_mne_tuh_256hz_full(tuh_raw, precision):  # noqa: F811
    """The whole 300-s recording: long enough for the single-pass FIR (band-pass * notch kernel, edges recomputed
    pass by pass) and the vectorised FFT resampling; compared with the independent Raw-method pipeline."""
    raw = tuh_raw.copy().pick(TUH_EDF_NAMES)
    out = preprocess_raw(raw, precision=precision)
    ref = _reference(raw)
    assert out.values.shape == ref.shape == (23, 60000) and out.values.dtype == np.float32
    diff = np.abs(out.values - ref)
    tol = TOL_MODEL_UNITS if precision != "float64" else 1e-6  # float64: one float32 ulp of values up to ~30
    assert diff.max() < tol
    # the first and last 3.3 s (where the two mne passes pad differently) are as close as the middle
    assert max(diff[:, :700].max(), diff[:, -700:].max()) < tol


@pytest.mark.parametrize(("notch", "l_freq", "h_freq"), [(None, 0.1, 75.0), (60.0, 0.1, 75.0), (50.0, None, 75.0),
                                                          (50.0, 0.5, None), ((50.0, 80.0), 0.1, 75.0)])
def test_fast_path_options_absence_200hz(absence_raw, notch, l_freq, h_freq):  # noqa: F811
    """200 Hz (no resampling), 90 s: every filter combination of the fast path against mne's Raw methods."""
    raw = absence_raw.pick(EEGHDF_EEG).crop(1000.0, 1090.0, include_tmax=False)
    out = preprocess_raw(raw, notch=notch, l_freq=l_freq, h_freq=h_freq)
    ref = raw.copy().load_data()
    if l_freq is not None or h_freq is not None:
        ref.filter(l_freq=l_freq, h_freq=h_freq, verbose="error")
    if notch is not None:
        ref.notch_filter(notch, verbose="error")
    assert np.abs(out.values - ref.get_data(units="uV").astype(np.float32) / 100).max() < TOL_MODEL_UNITS


@pytest.mark.parametrize("n_samples", [7921, 7922])  # band-pass (6601) + notch (1321) kernels at 200 Hz
def test_threshold_length_and_dc_offset(absence_raw, n_samples):  # noqa: F811
    """Just below the two kernels' length mne's own functions run, from it on the single-pass FIR; a 20 mV DC offset
    on one channel does not cost float32 accuracy (the FFTs see the centred signal)."""
    names = EEGHDF_EEG[:8]
    data = absence_raw.get_data(picks=names, start=200_000, stop=200_000 + n_samples) * 1e6
    data[2] += 20_000.0
    out = preprocess(data, 200.0, names, unit="uV")
    ref = _reference(mne.io.RawArray(data * 1e-6, mne.create_info(names, 200.0, "eeg"), verbose="error"))
    assert np.abs(out.values - ref).max() < TOL_MODEL_UNITS


def test_filter_and_resample_float64_equals_mne_functions(tuh_raw):  # noqa: F811
    data = tuh_raw.get_data(picks=list(range(4)), start=0, stop=256 * 90) * 1e6  # uV, with DC offsets
    ref = mne.filter.notch_filter(mne.filter.filter_data(data, 256.0, 0.1, 75.0, verbose="error"), 256.0, 50.0,
                                  verbose="error")  # fmt: skip
    ref = mne.filter.resample(ref, up=200.0, down=256.0, npad="auto", verbose="error")
    out = filter_and_resample(data, 256.0)
    assert out.dtype == np.float64 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    out32 = filter_and_resample(data, 256.0, precision="float32")
    assert out32.dtype == np.float32 and np.abs(out32 - ref).max() < 1e-3  # uV
    with pytest.raises(ValueError, match="precision"):
        filter_and_resample(data, 256.0, precision="float16")


def test_array_api_and_units(absence_eeg_30s):  # noqa: F811
    raw = absence_eeg_30s
    ref = preprocess_raw(raw)
    data_uv = raw.get_data() * 1e6
    out = preprocess(data_uv, 200.0, raw.ch_names, unit="uV", source="my.npy")
    np.testing.assert_allclose(out.values, ref.values, atol=1e-5)
    assert out.source == "my.npy"
    assert isinstance(out, PreprocessedEEG)
    np.testing.assert_array_equal(to_model_units(np.array([123.4])), np.float32(123.4) / np.float32(100))


def test_preprocess_file_reads_only_selected(sample_paths):  # noqa: F811
    out = preprocess_file(sample_paths["tuh"], channels=TUH_CHANNELS)
    assert out.values.shape == (23, 60000) and out.source.endswith("tuh_00000115_s07_a00.edf")
    assert "EEG EKG1-REF" in out.dropped_channels


def test_windows_and_patches(absence_eeg_30s):  # noqa: F811
    out = preprocess_raw(absence_eeg_30s.copy().crop(0, 10.5, include_tmax=False))
    assert out.n_patches() == 10 and out.crop_to_patches().shape == (23, 2000)
    assert out.crop_to_patches(max_patches=4).shape == (23, 800)
    wins = list(out.windows(4.0))
    assert [s for s, _ in wins] == [0.0, 4.0] and wins[0][1].shape == (23, 800)
    assert len(list(out.windows(4.0, stride_seconds=2.0))) == 4


# --------------------------------------------------------------------------------------------------------------
# bad input, each built from real data
# --------------------------------------------------------------------------------------------------------------


def test_strict_unknown_channels_raise(tuh_eeg_20s):  # noqa: F811
    with pytest.raises(ValueError, match=r"tuh_00000115_s07_a00\.edf.*'EEG C3P-REF'.*'EEG 32-REF'"):
        preprocess_raw(tuh_eeg_20s)


def test_lenient_unknown_channels_warn(tuh_eeg_20s):  # noqa: F811
    with pytest.warns(UserWarning, match=r"dropping EEG channel.*'EEG SP1-REF'"):
        out = preprocess_raw(tuh_eeg_20s, strict=False)
    assert len(out.channel_ids) == 23 and "EEG SP1-REF" in out.dropped_channels


def test_no_eeg_channel(absence_eeg_30s):  # noqa: F811
    raw = absence_eeg_30s.copy()
    raw.rename_channels({n: f"chan{i}" for i, n in enumerate(raw.ch_names)})
    with pytest.raises(ValueError, match="renamed.edf: no EEG channel recognised"), pytest.warns(UserWarning):
        preprocess_raw(raw, strict=False, source="renamed.edf")


def test_nan_samples(absence_eeg_30s):  # noqa: F811
    data = absence_eeg_30s.get_data()
    data[4, 100:110] = np.nan
    data[7, 50] = np.inf
    with pytest.raises(ValueError, match=r"rec\.edf: 11 NaN/Inf.*\['EEG C3', 'EEG P4'\]"):
        preprocess(data, 200.0, absence_eeg_30s.ch_names, source="rec.edf")


def test_flat_channel(absence_eeg_30s):  # noqa: F811
    raw = absence_eeg_30s.copy()
    raw._data[5] = 0.0
    raw._filenames = ["flat.fif"]
    with pytest.raises(ValueError, match=r"flat\.fif: flat channel.*\['EEG C4'\]"):
        preprocess_raw(raw)


def test_too_short(absence_eeg_30s):  # noqa: F811
    raw = absence_eeg_30s.copy().crop(0, 0.8)
    with pytest.raises(ValueError, match="too short"):
        preprocess_raw(raw, source="short.edf")


def test_low_sampling_rate_needs_lower_lowpass(absence_eeg_30s):  # noqa: F811
    raw128 = absence_eeg_30s.copy().resample(128, verbose="error")
    with pytest.raises(ValueError, match=r"128 Hz is too low for a 75 Hz low-pass.*--lowpass"):
        preprocess_raw(raw128, source="headset.edf")
    out = preprocess_raw(raw128, h_freq=45.0)
    assert out.sfreq == 200.0 and out.values.shape == (23, 6000)
    ref = _reference(raw128, h_freq=45.0)
    assert np.abs(out.values - ref).max() < TOL_MODEL_UNITS


def test_duplicate_channel_names(absence_eeg_30s):  # noqa: F811
    names = list(absence_eeg_30s.ch_names)
    names[1] = names[0]
    with pytest.raises(ValueError, match=r"dup\.edf: duplicate channel names: \['EEG Fp1'\]"):
        preprocess(absence_eeg_30s.get_data(), 200.0, names, source="dup.edf")
    names = list(absence_eeg_30s.ch_names)
    names[1] = "FP1"  # different spelling, same electrode
    with pytest.raises(ValueError, match="same electrode"):
        preprocess(absence_eeg_30s.get_data(), 200.0, names)


@pytest.mark.parametrize(("scale", "unit", "hint"), [(1.0, "uV", "'V'"), (1e6, "V", "'uV'"), (1e3, "V", "'mV'")])
def test_wrong_unit_warns(absence_eeg_30s, scale, unit, hint):  # noqa: F811
    data = absence_eeg_30s.get_data() * scale  # volts (scale 1), uV (1e6) or mV (1e3)
    with pytest.warns(UserWarning, match=rf"wrong unit suspected.*unit={hint}"):
        preprocess(data, 200.0, absence_eeg_30s.ch_names, unit=unit)


def test_correct_unit_does_not_warn(absence_eeg_30s):  # noqa: F811
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        preprocess(absence_eeg_30s.get_data() * 1e6, 200.0, absence_eeg_30s.ch_names, unit="µV")


def test_bad_shapes(absence_eeg_30s):  # noqa: F811
    with pytest.raises(ValueError, match="channel names for"):
        preprocess(absence_eeg_30s.get_data(), 200.0, absence_eeg_30s.ch_names[:-1])
    with pytest.raises(ValueError, match="shape"):
        preprocess(absence_eeg_30s.get_data()[0], 200.0, ["Cz"])
