"""Reading EEG files (labram_hf.io) on exports of the real sample recordings."""

from __future__ import annotations

import h5py
import mne
import numpy as np
import pytest

from labram_hf.io import EEGReadError, guess_channel_type, read_eeghdf, read_raw
from tests.data_fixtures import EEGHDF_EEG, absence_eeg_30s, absence_raw, sample_paths, tuh_raw  # noqa: F401


def test_eeghdf_reader_matches_manual_rescale(sample_paths, absence_raw):  # noqa: F811
    raw = absence_raw
    assert raw.info["sfreq"] == 200.0  # stored as 200.00000000000003
    assert raw.n_times == 362200 and len(raw.ch_names) == 36
    with h5py.File(sample_paths["absence"], "r") as f:
        rec = f["record-0"]
        dig = rec["signals"][[0, 33], :1000].astype(np.float64)
        dmin, dmax = rec["signal_digital_mins"][[0, 33]], rec["signal_digital_maxs"][[0, 33]]
        pmin, pmax = rec["signal_physical_mins"][[0, 33]], rec["signal_physical_maxs"][[0, 33]]
    phys = (dig - dmin[:, None]) * ((pmax - pmin) / (dmax - dmin))[:, None] + pmin[:, None]
    np.testing.assert_allclose(raw.get_data(picks=[0], stop=1000)[0], phys[0] * 1e-6, rtol=0, atol=1e-12)  # uV
    np.testing.assert_allclose(raw.get_data(picks=[33], stop=1000)[0], phys[1] * 1e-3, rtol=0, atol=1e-12)  # mV
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    assert all(types[c] == "eeg" for c in EEGHDF_EEG)
    assert types["ECG X1"] == "ecg" and types["X2"] == "misc" and types["E"] == "misc"
    assert types["Events/Markers"] == "stim" and types["EEG Mark1"] == "misc"
    assert raw.info["meas_date"].year == 2000
    # plausible scalp EEG amplitude
    std_uv = raw.get_data(picks=EEGHDF_EEG[:19], start=200_000, stop=202_000).std(axis=1) * 1e6
    assert 1 < np.median(std_uv) < 500


def test_tuh_edf_types(tuh_raw):  # noqa: F811
    types = dict(zip(tuh_raw.ch_names, tuh_raw.get_channel_types()))
    assert tuh_raw.info["sfreq"] == 256.0 and len(types) == 33
    assert types["EEG FP1-REF"] == "eeg" and types["EEG EKG1-REF"] == "ecg"
    assert types["IBI"] == types["BURSTS"] == types["SUPPR"] == "misc"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("EEG Fp1", "eeg"), ("Cz", "eeg"), ("ECG X1", "ecg"), ("EOG left", "eog"), ("EMG chin", "emg"),
     ("Resp", "resp"), ("X3", "misc"), ("Events/Markers", "stim"), ("EEG Pg1", "eeg")],
)  # fmt: skip
def test_guess_channel_type(name, expected):
    assert guess_channel_type(name) == expected


def _assert_same(raw_a, raw_b, atol):
    assert raw_b.ch_names == raw_a.ch_names
    assert raw_b.info["sfreq"] == raw_a.info["sfreq"]
    a, b = raw_a.get_data(), raw_b.get_data()
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=0, atol=atol)


@pytest.mark.parametrize(("fmt", "suffix", "atol"), [
    ("edf", ".edf", 0.05e-6),          # 16 bit over the data range (~+-1 mV): ~0.03 uV resolution
    ("brainvision", ".vhdr", 0.1e-6),  # pybv stores 0.1 uV resolution int16 / float32
    ("eeglab", ".set", 1e-9),          # float32
])  # fmt: skip
def test_export_roundtrip_mne(tmp_path, absence_eeg_30s, fmt, suffix, atol):  # noqa: F811
    raw = absence_eeg_30s.copy().load_data()
    raw.set_annotations(mne.Annotations([1.0, 5.5], [0.0, 2.0], ["eyes open", "eyes closed"]))
    path = tmp_path / f"rec{suffix}"
    mne.export.export_raw(path, raw, fmt=fmt, overwrite=True, verbose="error")
    back = read_raw(path)
    _assert_same(raw, back, atol)
    assert set(back.get_channel_types()) == {"eeg"}
    # BrainVision stores them as "Comment/<text>"
    assert {"eyes open", "eyes closed"} <= {d.split("/")[-1] for d in back.annotations.description}


def test_fif_roundtrip(tmp_path, absence_eeg_30s):  # noqa: F811
    path = tmp_path / "rec_raw.fif"
    absence_eeg_30s.save(path, verbose="error")
    back = read_raw(path)
    _assert_same(absence_eeg_30s, back, 1e-10)  # FIF stores float32 by default
    lazy = read_raw(path, preload=False)
    assert not lazy.preload
    np.testing.assert_array_equal(lazy.get_data(picks=[3]), back.get_data(picks=[3]))


def test_bdf_roundtrip_edfio(tmp_path, absence_eeg_30s):  # noqa: F811
    import edfio

    raw = absence_eeg_30s
    data_uv = raw.get_data() * 1e6
    signals = [edfio.BdfSignal(x, raw.info["sfreq"], label=name, physical_dimension="uV",
                               physical_range=(-3200.0, 3200.0)) for name, x in zip(raw.ch_names, data_uv)]  # fmt: skip
    path = tmp_path / "rec.bdf"
    edfio.Bdf(signals).write(path)
    back = read_raw(path)
    _assert_same(raw, back, 0.001e-6)  # 24 bit over +-3.2 mV: 0.0004 uV resolution


def test_tuh_edf_lazy_read(sample_paths):  # noqa: F811
    raw = read_raw(sample_paths["tuh"], preload=False)
    assert not raw.preload
    full = read_raw(sample_paths["tuh"])
    np.testing.assert_array_equal(raw.get_data(picks=[0, 5], stop=5000), full.get_data(picks=[0, 5], stop=5000))


# --------------------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(EEGReadError, match="nope.edf: file not found"):
        read_raw(tmp_path / "nope.edf")


def test_unsupported_format(tmp_path):
    path = tmp_path / "rec.xyz"
    path.write_bytes(b"hello")
    with pytest.raises(EEGReadError, match=r"rec\.xyz: unsupported"):
        read_raw(path)
    assert issubclass(EEGReadError, ValueError)


def test_garbage_edf(tmp_path):
    path = tmp_path / "garbage.edf"
    path.write_bytes(b"this is not an EDF header" * 20)
    with pytest.raises(EEGReadError, match="garbage.edf"):
        read_raw(path)


def test_truncated_edf(tmp_path, sample_paths):  # noqa: F811
    src = sample_paths["tuh"].read_bytes()
    header = tmp_path / "header_only.edf"
    header.write_bytes(src[:2000])  # the header is cut in the middle of the signal fields
    with pytest.raises(EEGReadError, match="header_only.edf"):
        read_raw(header)


def test_truncated_eeghdf(tmp_path, sample_paths):  # noqa: F811
    path = tmp_path / "cut.eeg.h5"
    path.write_bytes(sample_paths["absence"].read_bytes()[:300_000])
    with pytest.raises(EEGReadError, match=r"cut\.eeg\.h5: cannot read eeghdf"):
        read_raw(path)


def test_hdf5_without_record(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(EEGReadError, match="no 'record-0'"):
        read_eeghdf(path)


def test_eeghdf_annotations_roundtrip_times(absence_raw):  # noqa: F811
    ann = absence_raw.annotations
    onsets = ann.onset - absence_raw.first_time
    sz = onsets[ann.description == "SZ START"]
    np.testing.assert_allclose(sz, [1380.512, 1416.897, 1476.933], atol=1e-3)
    assert (ann.duration == 0).all()
