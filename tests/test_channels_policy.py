"""The channel policy (strict / lenient / aliases), the bipolar rule, and recordings sampled at 100-150 Hz."""

from __future__ import annotations

import warnings

import mne
import numpy as np
import pytest

from labram_hf.channels import (
    CHANNEL_POLICIES,
    LABRAM_CHANNELS,
    REFERENCE_SUFFIXES,
    ChannelPolicyError,
    channel_id,
    check_channel_policy,
    is_eeg_name,
    resolve_channel,
)
from labram_hf.errors import LaBraMError
from labram_hf.feature_extraction_labram import CHANNEL_POLICIES as FE_POLICIES
from labram_hf.feature_extraction_labram import LaBraMFeatureExtractor
from labram_hf.io import read_raw
from labram_hf.preprocessing import ChannelSelection, preprocess, preprocess_raw, select_channels
from tests.data_fixtures import absence_eeg_30s  # noqa: F401

ROW = {name: i for i, name in enumerate(LABRAM_CHANNELS)}


def _ids(names, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return select_channels(names, **kwargs)[1]


# ---------------------------------------------------------------------------------------------------------------
# the named cases of the bipolar rule
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, row",
    [("EEG FP1-REF", "FP1"), ("Fp1-LE", "FP1"), ("Fp1.", "FP1"), ("C3-A2", "C3"), ("EEG Cz-LE", "CZ"),
     ("FP1-F7", "FP1-F7"), ("F7-T7", "F7-T7"), ("EEG T8-P8", "T8-P8")],
)  # fmt: skip
def test_exact_names_and_reference_labels_in_every_name_policy(name, row):
    for policy in ("strict", "lenient", "aliases"):
        assert _ids([name], channel_policy=policy) == [ROW[row]]
    assert resolve_channel(name).how == "exact"


def test_fpz_cz_is_a_bipolar_derivation_not_fpz():
    # the old code stripped "-CZ" as a reference label and silently fed the difference signal into the FPZ row
    assert "CZ" not in REFERENCE_SUFFIXES
    assert channel_id("Fpz-Cz") is None
    for name, anode in (("EEG Fpz-Cz", "FPZ"), ("Pz-Oz", "PZ")):
        for policy in ("strict", "lenient", "aliases"):
            with pytest.raises(ChannelPolicyError, match=r"bipolar derivation.*difference of two scalp electrodes") as err:
                select_channels([name, "C3"], channel_policy=policy)
            assert "bipolar='anode'" in err.value.hint and "--bipolar anode" in err.value.hint
        assert _ids([name, "C3"], bipolar="anode") == [ROW[anode], ROW["C3"]]
        with pytest.warns(UserWarning, match=rf"bipolar='drop'.*{name}"):
            sel = select_channels([name, "C3"], bipolar="drop")
        assert sel.ids == [ROW["C3"]] and sel.dropped == [name]


def test_old_name_spellings_of_bipolar_rows_map_to_the_same_rows():
    # "F7-T3" is the vocabulary row F7-T7 written with the old name of T7; "T3-T5" is T7-P7, "T5-O1" is P7-O1
    spellings = {"F7-T3": "F7-T7", "T3-T5": "T7-P7", "T5-O1": "P7-O1", "F8-T4": "F8-T8", "T4-T6": "T8-P8",
                 "T6-O2": "P8-O2", "EEG T3-P7": "T7-P7"}  # fmt: skip
    for name, row in spellings.items():
        with pytest.warns(UserWarning, match=rf"{name!r} mapped to the vocabulary row {row} \(old 10-20 name"):
            assert select_channels([name], channel_policy="aliases").ids == [ROW[row]]
        # strict: an error that names the fix; never the anode rule (that would give F7, not the F7-T7 row)
        with pytest.raises(ChannelPolicyError, match=rf"unknown EEG channel.*{name}.*channel_policy='aliases'"):
            select_channels([name], channel_policy="strict", bipolar="anode")
    # the vocabulary's own spelling and the old spelling are one row: together they are a duplicate
    with pytest.raises(ChannelPolicyError, match=r"'F7-T7' and 'F7-T3' are the same electrode \(F7-T7\)"):
        _ids(["F7-T7", "F7-T3"], channel_policy="aliases")


def test_vocabulary_names_keep_their_own_rows_in_every_policy():
    names = ["T3", "T7", "T5", "P7", "A1", "M1"]
    expected = [ROW[n] for n in names]
    for policy in CHANNEL_POLICIES:
        assert _ids(names, channel_policy=policy) == expected, policy


def test_aliases_policy_warns_naming_each_choice():
    names = ["T7", "LM", "Fp1", "I1"]
    with pytest.warns(UserWarning) as record:
        sel = select_channels(names, channel_policy="aliases", source="rec.edf")
    assert sel.ids == [ROW["T7"], ROW["M1"], ROW["FP1"], ROW["O9"]]
    text = " ".join(str(w.message) for w in record)
    assert text.startswith("rec.edf: channel_policy='aliases': ")
    assert "'LM' mapped to the vocabulary row M1 (alias: left mastoid)" in text
    assert "'I1' mapped to the vocabulary row O9 (alias: 10-5 name of the O9 position)" in text
    assert ("'T7' mapped to the vocabulary row T7; the vocabulary also has the old-name row T3 for the same "
            "electrode (the row TUH recordings and the TUAB/TUEV fine-tuning use)") in text  # fmt: skip
    assert "'Fp1'" not in text  # no choice was made for it
    # strict accepts exact names only, and says which policy accepts the aliases
    with pytest.raises(ChannelPolicyError, match=r"\['LM', 'I1'\].*'LM' -> M1, 'I1' -> O9 are aliases") as err:
        select_channels(names, channel_policy="strict")
    assert "'lenient'" in err.value.hint and "'nearest'" in err.value.hint
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # strict and lenient stay silent about T7
        assert select_channels(["T7", "Fp1"]).ids == [ROW["T7"], ROW["FP1"]]


def test_i1_alias_follows_mne_positions():
    # I1 used to be an alias of CB1; mne's 10-20 and 10-05 montages put O9 and I1 at the same position
    pos20 = mne.channels.make_standard_montage("colin27_1020").get_positions()["ch_pos"]
    pos05 = mne.channels.make_standard_montage("colin27_1005").get_positions()["ch_pos"]
    assert np.allclose(pos20["O9"], pos05["I1"]) and np.allclose(pos20["O10"], pos05["I2"])
    assert channel_id("I1") == ROW["O9"] and channel_id("I2") == ROW["O10"]


def test_lenient_drops_unknown_and_strict_keyword_is_the_old_spelling():
    names = ["Fp1", "EEG Foo1", "Cz"]
    with pytest.raises(ChannelPolicyError, match=r"unknown EEG channel name\(s\) \['EEG Foo1'\]"):
        select_channels(names)
    with pytest.warns(UserWarning, match=r"dropping EEG channel\(s\) unknown to LaBraM: \['EEG Foo1'\]"):
        old = select_channels(names, strict=False)
    with pytest.warns(UserWarning):
        new = select_channels(names, channel_policy="lenient")
    assert tuple(old) == tuple(new) == ([0, 2], [ROW["FP1"], ROW["CZ"]], ["EEG Foo1"])
    assert isinstance(new, ChannelSelection) and new.matrix is None and new.names == ["Fp1", "Cz"]
    assert check_channel_policy(None, True) == "strict" and check_channel_policy(None, False) == "lenient"
    with pytest.raises(ChannelPolicyError, match="contradicts channel_policy='aliases'"):
        select_channels(names, strict=False, channel_policy="aliases")
    with pytest.raises(ChannelPolicyError, match="unknown channel_policy 'fuzzy'"):
        select_channels(names, channel_policy="fuzzy")
    with pytest.raises(ChannelPolicyError, match="unknown bipolar mode 'cathode'"):
        select_channels(names, bipolar="cathode")
    with pytest.raises(ChannelPolicyError, match="montage=/positions= are only used by channel_policy 'nearest'"):
        select_channels(names, montage="biosemi64")


def test_is_eeg_name():
    assert is_eeg_name("Fpz-Cz") and is_eeg_name("EEG T3-T5") and is_eeg_name("LM") and is_eeg_name("Fp1")
    assert not is_eeg_name("ECG") and not is_eeg_name("E17")


def test_feature_extractor_channel_policy_roundtrip(tmp_path):
    assert FE_POLICIES == CHANNEL_POLICIES
    fe = LaBraMFeatureExtractor(channel_policy="nearest", montage="GSN-HydroCel-129", bipolar="anode")
    fe.save_pretrained(tmp_path)
    back = LaBraMFeatureExtractor.from_pretrained(tmp_path)
    assert (back.channel_policy, back.montage, back.bipolar) == ("nearest", "GSN-HydroCel-129", "anode")
    assert LaBraMFeatureExtractor(strict_channels=False).channel_policy == "lenient"
    with pytest.raises(LaBraMError, match="channel_policy must be one of"):
        LaBraMFeatureExtractor(channel_policy="fuzzy")
    with pytest.raises(LaBraMError, match="bipolar must be"):
        LaBraMFeatureExtractor(bipolar="both")


def test_feature_extractor_applies_the_bipolar_rule(absence_eeg_30s):  # noqa: F811
    raw = absence_eeg_30s.copy().pick(["EEG Fz", "EEG Pz", "EEG C3"])
    raw.rename_channels({"EEG Fz": "EEG Fpz-Cz", "EEG Pz": "EEG Pz-Oz"})
    with pytest.raises(ChannelPolicyError, match="bipolar derivation"):
        LaBraMFeatureExtractor()(raw, truncation=True)
    with pytest.warns(UserWarning, match=r"bipolar='anode'.*'EEG Fpz-Cz' -> FPZ, 'EEG Pz-Oz' -> PZ"):
        batch = LaBraMFeatureExtractor(bipolar="anode")(raw, truncation=True, return_tensors="np")
    assert batch["channel_ids"][0].tolist() == [ROW["FPZ"], ROW["PZ"], ROW["C3"]]
    named = absence_eeg_30s.copy().pick(["EEG Fz", "EEG Pz", "EEG C3"])
    same = LaBraMFeatureExtractor()(named, truncation=True, return_tensors="np")
    np.testing.assert_array_equal(batch["input_values"], same["input_values"])  # same signals, other rows


# ---------------------------------------------------------------------------------------------------------------
# sampling rates between 100 and 150 Hz (and below)
# ---------------------------------------------------------------------------------------------------------------
def _resampled_edf(raw, sfreq, path):
    low = raw.copy().pick([f"EEG {c}" for c in "Fp1 Fp2 F3 F4 C3 C4 P3 P4 O1 O2 Fz Cz Pz".split()])
    low.resample(sfreq, verbose="error")
    mne.export.export_raw(path, low, fmt="edf", overwrite=True, verbose="error")
    return read_raw(path)


def test_100_hz_recording(absence_eeg_30s, tmp_path):  # noqa: F811
    raw = _resampled_edf(absence_eeg_30s, 100.0, tmp_path / "rec100.edf")
    assert raw.info["sfreq"] == 100.0
    with pytest.raises(LaBraMError, match=r"rec100\.edf: sampling rate 100 Hz is too low for a 75 Hz low-pass: the "
                       r"100 Hz recording's Nyquist frequency is 50 Hz: pass --lowpass 45 --notch off "
                       r"\(h_freq=45, notch=None\)"):  # fmt: skip
        preprocess_raw(raw)
    with pytest.raises(LaBraMError, match=r"notch frequency \[50.0\] Hz is not below the Nyquist frequency 50 Hz.*"
                       r"--notch off \(notch=None\)"):  # fmt: skip
        preprocess_raw(raw, h_freq=45)
    out = preprocess_raw(raw, h_freq=45, notch=None)
    assert out.sfreq == 200.0 and out.n_times == 2 * raw.n_times
    # the same as mne's own chain on the same file
    ref = raw.copy().load_data().filter(0.1, 45.0, verbose="error").resample(200.0, verbose="error")
    expected = ref.get_data(units="uV").astype(np.float32) / np.float32(100.0)
    np.testing.assert_allclose(out.values, expected, atol=1e-5)
    # the feature extractor, with the values the error message asked for
    fe = LaBraMFeatureExtractor(h_freq=45, notch_freq=None)
    batch = fe(raw, truncation=True, return_tensors="np")
    np.testing.assert_array_equal(batch["input_values"][0], out.values[:, : 16 * 200])
    with pytest.raises(LaBraMError, match="--lowpass 45"):
        LaBraMFeatureExtractor()(raw, truncation=True)


def test_128_hz_and_below_100_hz(absence_eeg_30s, tmp_path):  # noqa: F811
    raw = _resampled_edf(absence_eeg_30s, 128.0, tmp_path / "rec128.edf")
    with pytest.raises(LaBraMError, match=r"Nyquist frequency is 64 Hz: pass --lowpass 57 \(h_freq=57\)$"):
        preprocess_raw(raw)
    assert preprocess_raw(raw, h_freq=57).sfreq == 200.0
    slow = _resampled_edf(absence_eeg_30s, 64.0, tmp_path / "rec64.edf")
    with pytest.raises(LaBraMError, match=r"rec64\.edf: sampling rate 64 Hz is below 100 Hz, the lowest rate") as err:
        preprocess_raw(slow, h_freq=30, notch=None)
    assert "100 Hz or more" in err.value.hint
    with pytest.raises(LaBraMError, match="below 100 Hz"):
        preprocess(np.zeros((2, 1000)), 99.0, ["C3", "C4"], h_freq=40, notch=None)


def test_unprefixed_bipolar_names_in_an_edf_are_eeg(absence_eeg_30s, tmp_path):  # noqa: F811
    # an EDF whose names carry no "EEG " prefix: "Fpz-Cz" must be typed EEG (and then refused), not ignored as misc
    raw = absence_eeg_30s.copy().pick(["EEG Fz", "EEG Pz", "EEG C3"])
    raw.rename_channels({"EEG Fz": "Fpz-Cz", "EEG Pz": "Pz-Oz", "EEG C3": "C3"})
    path = tmp_path / "plain.edf"
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    back = read_raw(path)
    assert back.get_channel_types() == ["eeg", "eeg", "eeg"]
    with pytest.raises(ChannelPolicyError, match=r"plain\.edf: bipolar derivation\(s\) 'Fpz-Cz' \(FPZ - CZ\)"):
        preprocess_raw(back)
    # the feature extractor's old spelling strict= still overrides its policy for one call
    fe = LaBraMFeatureExtractor(channel_policy="lenient", bipolar="drop")
    with pytest.warns(UserWarning, match="bipolar='drop'"):
        pre = fe.preprocess_one(back, strict=True)
    assert pre.channel_ids == [ROW["C3"]]
