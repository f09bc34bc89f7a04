"""LaBraMFeatureExtractor on the real sample recordings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor, BatchFeature

from labram_hf.channels import TUH_CHANNELS, channel_ids
from labram_hf.feature_extraction_labram import LaBraMFeatureExtractor, register_feature_extractor
from labram_hf.preprocessing import preprocess_raw
from tests.data_fixtures import absence_eeg_30s, tuh_eeg_20s  # noqa: F401


@pytest.fixture
def absence_8s(absence_eeg_30s):  # noqa: F811
    return absence_eeg_30s.copy().crop(0, 8.0, include_tmax=False)


def test_single_raw(absence_8s):
    fe = LaBraMFeatureExtractor()
    out = fe(absence_8s)
    assert isinstance(out, BatchFeature)
    assert out["input_values"].shape == (1, 23, 1600) and out["input_values"].dtype == torch.float32
    assert out["channel_ids"].dtype == torch.int64
    assert out["channel_ids"][0].tolist() == channel_ids(absence_8s.ch_names)
    assert "channel_mask" not in out
    ref = preprocess_raw(absence_8s).values[:, :1600]
    np.testing.assert_array_equal(out["input_values"][0].numpy(), ref)


def test_array_input_uv_and_options(tuh_eeg_20s):  # noqa: F811
    raw = tuh_eeg_20s.copy().pick([f"EEG {c}-REF" for c in TUH_CHANNELS]).crop(0, 10.0, include_tmax=False)
    fe = LaBraMFeatureExtractor(notch_freq=60.0)
    data_uv = raw.get_data() * 1e6
    out = fe(data_uv, sampling_rate=256, channel_names=raw.ch_names, unit="uV", return_tensors="np")
    assert out["input_values"].shape == (1, 23, 2000) and out["input_values"].dtype == np.float32
    ref = preprocess_raw(raw, notch=60.0).values
    np.testing.assert_allclose(out["input_values"][0], ref, atol=1e-5)
    with pytest.raises(ValueError, match="sampling_rate"):
        fe(data_uv, channel_names=raw.ch_names, unit="uV")
    with pytest.raises(ValueError, match="channel_names"):
        fe(data_uv, sampling_rate=256)


def test_too_long_and_truncation(absence_eeg_30s):  # noqa: F811
    fe = LaBraMFeatureExtractor()
    with pytest.raises(ValueError, match="at most 16.*windows.*truncation=True"):
        fe(absence_eeg_30s)
    out = fe(absence_eeg_30s, truncation=True)
    assert out["input_values"].shape == (1, 23, 16 * 200)


def test_batch_padding_and_mask(absence_8s, tuh_eeg_20s):  # noqa: F811
    few = absence_8s.copy().pick(["EEG Fp1", "EEG Cz", "EEG O2"])
    tuh = tuh_eeg_20s.copy().crop(0, 8.0, include_tmax=False)
    fe = LaBraMFeatureExtractor(channels=None, strict_channels=False)
    with pytest.warns(UserWarning, match="dropping"):
        out = fe([tuh, few, absence_8s])
    x, ids, mask = out["input_values"], out["channel_ids"], out["channel_mask"]
    assert x.shape == (3, 23, 1600) and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [23, 3, 23]
    assert ids[1, :3].tolist() == channel_ids(["FP1", "CZ", "O2"]) and (ids[1, 3:] == 0).all()
    assert (x[1, 3:] == 0).all() and (x[1, :3] != 0).any()
    ref = preprocess_raw(few).values
    np.testing.assert_array_equal(x[1, :3].numpy(), ref)


def test_different_lengths(absence_8s, absence_eeg_30s):  # noqa: F811
    fe = LaBraMFeatureExtractor()
    five = absence_eeg_30s.copy().crop(10, 15.0, include_tmax=False)
    with pytest.raises(ValueError, match="different lengths"):
        fe([absence_8s, five])
    out = fe([absence_8s, five], truncation=True)
    assert out["input_values"].shape == (2, 23, 1000)


def test_do_preprocess_false(absence_8s):
    fe = LaBraMFeatureExtractor(do_preprocess=False)
    values = preprocess_raw(absence_8s).values
    out = fe(values, channel_names=absence_8s.ch_names)
    np.testing.assert_array_equal(out["input_values"][0].numpy(), values)
    stacked = fe(np.stack([values, values]), channel_names=absence_8s.ch_names)  # [B, C, T] array
    assert stacked["input_values"].shape == (2, 23, 1600)


def test_low_rate_headset(absence_8s):
    raw128 = absence_8s.copy().resample(128, verbose="error")
    with pytest.raises(ValueError, match="low-pass"):
        LaBraMFeatureExtractor()(raw128)
    out = LaBraMFeatureExtractor(h_freq=45.0)(raw128)
    assert out["input_values"].shape == (1, 23, 1600)


def test_save_load_roundtrip(tmp_path):
    fe = LaBraMFeatureExtractor(notch_freq=None, h_freq=45.0, strict_channels=False, channels=list(TUH_CHANNELS),
                                max_time_patches=8, unit="uV")  # fmt: skip
    fe.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert cfg["feature_extractor_type"] == "LaBraMFeatureExtractor" and cfg["notch_freq"] is None
    back = LaBraMFeatureExtractor.from_pretrained(tmp_path)
    assert back.to_dict() == fe.to_dict()
    assert back.channels == list(TUH_CHANNELS) and back.h_freq == 45.0 and back.max_time_patches == 8


def test_auto_feature_extractor(tmp_path, absence_8s):
    register_feature_extractor()
    register_feature_extractor()  # idempotent
    fe = LaBraMFeatureExtractor(notch_freq=60.0)
    fe.save_pretrained(tmp_path)
    auto = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(auto) is LaBraMFeatureExtractor and auto.to_dict() == fe.to_dict()
    np.testing.assert_array_equal(auto(absence_8s)["input_values"], fe(absence_8s)["input_values"])


def test_contract_fields_saved_and_validated(tmp_path):
    """window_seconds / stride_seconds / channel_policy are saved fields; impossible values are refused."""
    from labram_hf.errors import LaBraMError

    fe = LaBraMFeatureExtractor(window_seconds=4, stride_seconds=2, channel_policy="lenient")
    fe.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert (saved["window_seconds"], saved["stride_seconds"], saved["channel_policy"]) == (4.0, 2.0, "lenient")
    assert "strict_channels" not in saved
    back = LaBraMFeatureExtractor.from_pretrained(tmp_path)
    assert (back.window_seconds, back.stride_seconds, back.strict_channels) == (4.0, 2.0, False)
    for bad in (float("inf"), float("nan"), 0, -4, "ten"):
        with pytest.raises(LaBraMError, match="window_seconds"):
            LaBraMFeatureExtractor(window_seconds=bad)
        with pytest.raises(LaBraMError, match="stride_seconds"):
            LaBraMFeatureExtractor(stride_seconds=bad)
    with pytest.raises(LaBraMError, match="channel_policy"):
        LaBraMFeatureExtractor(channel_policy="sometimes")
