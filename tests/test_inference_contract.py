"""Inference uses the model's saved preprocessing contract; overrides are explicit and warned; loading is strict;
non-finite outputs and bad arguments are one-line errors (exit 2) that write nothing.

A tiny classifier is saved with a non-default extractor (notch 60 Hz, 4-s windows, lenient channels) and run on a
real recording (a 13-s crop of the absence sample in which one electrode carries a name LaBraM does not know).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

import labram_hf
from labram_hf.cli import main as run_cli
from labram_hf.data._testing import EEGHDF_KNOWN, export_crop
from labram_hf.inference import InferenceError, load_for_inference, with_overrides
from labram_hf.io import read_raw

LABELS = {0: "awake", 1: "asleep", 2: "seizure"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contract")
    edf = export_crop("absence", tmp / "rec.edf", 1000.0, 1013.0, picks=EEGHDF_KNOWN, rename={"EEG Pz": "EEG XYZ"})
    torch.manual_seed(0)
    config = labram_hf.LaBraMConfig(num_hidden_layers=1, num_labels=3, id2label=LABELS,
                                    label2id={v: k for k, v in LABELS.items()}, classifier_init_scale=10.0)  # fmt: skip
    model = labram_hf.LaBraMForSequenceClassification(config).eval()
    model_dir = tmp / "classifier"
    model.save_pretrained(model_dir)
    fe = labram_hf.LaBraMFeatureExtractor(notch_freq=60.0, window_seconds=4.0, channel_policy="lenient")
    fe.save_pretrained(model_dir)
    bare_dir = tmp / "bare"  # the same weights, no preprocessor_config.json
    model.save_pretrained(bare_dir)
    return tmp, edf, model, model_dir, fe, bare_dir


def by_hand(model, fe, edf, window_seconds):
    """Softmax of the model on the extractor's windows of `edf`, computed directly."""
    with pytest.warns(UserWarning, match="XYZ"):
        pre = fe.preprocess_one(read_raw(edf), source=str(edf))
    win = int(window_seconds * 200)
    starts = range(0, pre.values.shape[1] - win + 1, win)
    values = torch.from_numpy(np.stack([pre.values[:, s : s + win] for s in starts]))  # [windows, C, win]
    ids = torch.tensor(pre.channel_ids).repeat(len(values), 1)  # [windows, C]
    with torch.no_grad():
        return model(values, ids).logits.softmax(-1).numpy()


def run(argv, capsys):
    code = run_cli(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def fails(argv, capsys, *needles):
    code, err = run(argv, capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip() and "warning:" not in line]
    assert len(lines) == 2 and lines[1].startswith("hint:"), lines
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def probs_of(path):
    table = pd.read_csv(path)
    return table, table[[f"prob_{name}" for name in LABELS.values()]].to_numpy()


def test_predict_uses_the_saved_contract(setup, tmp_path, capsys):
    _, edf, model, model_dir, fe, _ = setup
    out = tmp_path / "pred.csv"
    code, err = run(["predict", str(edf), "--model", str(model_dir), "-o", str(out)], capsys)
    assert code == 0, err
    assert "overrides" not in err and "assumed" not in err
    assert "dropping EEG channel(s) unknown to LaBraM: ['EEG XYZ']" in err  # lenient, as saved
    table, probs = probs_of(out)
    assert table["start"].tolist() == [0, 4, 8] and table["end"].tolist() == [4, 8, 12]  # 4-s windows, as saved
    expected = by_hand(model, fe, edf, 4.0)  # notch 60 Hz, as saved
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    default_50hz = by_hand(model, labram_hf.LaBraMFeatureExtractor(channel_policy="lenient"), edf, 4.0)
    assert np.abs(default_50hz - expected).max() > 1e-3  # the saved notch made a difference


def test_overrides_warn_and_apply(setup, tmp_path, capsys):
    _, edf, model, model_dir, fe, _ = setup
    out = tmp_path / "pred.csv"
    code, err = run(["predict", str(edf), "--model", str(model_dir), "-o", str(out), "--notch", "50",
                     "--window-seconds", "2"], capsys)  # fmt: skip
    assert code == 0, err
    assert "--notch 50 overrides the model's notch 60 Hz (what it was trained with)" in err
    assert "--window-seconds 2 overrides the model's window length 4 s (what it was trained with)" in err
    table, probs = probs_of(out)
    assert table["start"].tolist() == [0, 2, 4, 6, 8, 10]
    overridden = labram_hf.LaBraMFeatureExtractor(notch_freq=50.0, channel_policy="lenient")
    np.testing.assert_allclose(probs, by_hand(model, overridden, edf, 2.0), atol=1e-5)
    # an override equal to the saved value is no contradiction
    code, err = run(["predict", str(edf), "--model", str(model_dir), "-o", str(out), "--overwrite", "--notch", "60",
                     "--window-seconds", "4", "--lenient-channels", "-q"], capsys)  # fmt: skip
    assert code == 0 and "overrides" not in err
    # the strict policy refuses the unknown electrode: warned, then an error naming it
    err = fails(["predict", str(edf), "--model", str(model_dir), "-o", str(tmp_path / "x.csv"),
                 "--channel-policy", "strict"], capsys, "EEG XYZ")  # fmt: skip
    assert "--channel-policy strict overrides the model's channel policy lenient" in err
    assert not (tmp_path / "x.csv").exists()


def test_with_overrides_reports_contradictions(setup):
    _, _, _, _, fe, _ = setup
    from labram_hf.inference import OFF

    new, changed = with_overrides(fe, notch_freq=OFF, h_freq=75.0, window_seconds=8, channels=["Fp1", "Fp2"])
    assert new.notch_freq is None and new.window_seconds == 8.0 and new.stride_seconds is None
    assert changed == {"notch_freq": (60.0, None), "window_seconds": (4.0, 8.0), "channels": (None, ["Fp1", "Fp2"])}
    assert fe.notch_freq == 60.0  # the saved extractor is untouched
    same, changed = with_overrides(fe, notch_freq=60, window_seconds=4.0, channel_policy="lenient")
    assert changed == {} and same.to_dict() == fe.to_dict()
    _, changed = with_overrides(fe, bipolar="anode", stride_seconds=2)
    assert changed == {"bipolar": (None, "anode"), "stride_seconds": (4.0, 2.0)}


def test_model_without_saved_preprocessing(setup, tmp_path, capsys):
    _, edf, model, _, _, bare_dir = setup
    out = tmp_path / "pred.csv"
    code, err = run(["predict", str(edf), "--model", str(bare_dir), "-o", str(out), "--lenient-channels"], capsys)
    assert code == 0, err
    assert "has no preprocessor_config.json: the original LaBraM preprocessing is assumed" in err
    assert "overrides" not in err  # nothing known to contradict
    table, probs = probs_of(out)
    assert table["start"].tolist() == [0]  # 10-s default window in a 13-s recording
    np.testing.assert_allclose(probs, by_hand(model, labram_hf.LaBraMFeatureExtractor(channel_policy="lenient"),
                                              edf, 10.0), atol=1e-5)  # fmt: skip


def _rewrite_weights(src, dst, edit):
    shutil.copytree(src, dst)
    state = load_file(dst / "model.safetensors")
    save_file(edit(state), dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_strict_loading(setup, tmp_path, capsys):
    tmp, edf, model, model_dir, _, _ = setup
    f = str(edf)
    holed = _rewrite_weights(model_dir, tmp_path / "holed",
                             lambda sd: {k: v for k, v in sd.items() if ".layer.0.mlp." not in k})  # fmt: skip
    for argv in (["predict", f, "--model", str(holed), "-o", str(tmp_path / "p.csv")],
                 ["embed", f, "--model", str(holed), "-o", str(tmp_path / "e.parquet")],
                 ["export-onnx", str(holed), str(tmp_path / "m.onnx")]):  # fmt: skip
        err = fails(argv, capsys, "lacks 4 weight(s)", "encoder.layer.0.mlp.fc1.weight")
        assert "would be random" in err
    assert not any(p.name.endswith((".csv", ".parquet", ".onnx")) for p in tmp_path.iterdir())
    with pytest.raises(InferenceError, match="encoder.layer.0.mlp.fc2.bias"):
        load_for_inference(holed, task="embed")
    capsys.readouterr()  # transformers' own load report of that call

    extra = _rewrite_weights(model_dir, tmp_path / "extra",
                             lambda sd: {**sd, "labram.encoder.layer.1.mlp.fc1.bias": torch.zeros(800)})  # fmt: skip
    fails(["predict", f, "--model", str(extra), "-o", str(tmp_path / "p.csv")], capsys,
          "labram.encoder.layer.1.mlp.fc1.bias", "config.json")  # fmt: skip

    truncated = tmp_path / "truncated"
    shutil.copytree(model_dir, truncated)
    data = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    for task, out in (("predict", "p.csv"), ("embed", "e.parquet")):
        fails([task, f, "--model", str(truncated), "-o", str(tmp_path / out)], capsys,
              "cannot load the weights", "damaged")  # fmt: skip

    # deliberate head changes: a pre-training checkpoint embeds (fresh pooling norm, warned), cannot predict
    mem = labram_hf.LaBraMForMaskedEEGModeling(labram_hf.LaBraMConfig(num_hidden_layers=1))
    mem.save_pretrained(tmp_path / "mem")
    capsys.readouterr()
    code, err = run(["embed", f, "--model", str(tmp_path / "mem"), "-o", str(tmp_path / "e.parquet"),
                     "--lenient-channels"], capsys)  # fmt: skip
    assert code == 0 and "no trained pooling LayerNorm" in err
    fails(["predict", f, "--model", str(tmp_path / "mem"), "-o", str(tmp_path / "p.csv")], capsys,
          "no trained classification head")  # fmt: skip


def test_non_finite_outputs_are_errors(setup, tmp_path, capsys):
    _, edf, _, model_dir, _, _ = setup
    nan_head = _rewrite_weights(model_dir, tmp_path / "nan_head",
                                lambda sd: {**sd, "classifier.weight": torch.full_like(sd["classifier.weight"],
                                                                                       float("nan"))})  # fmt: skip
    out = tmp_path / "pred.csv"
    err = fails(["predict", str(edf), "--model", str(nan_head), "-o", str(out)], capsys, "not finite")
    assert "no output was written" in err
    inf_norm = _rewrite_weights(model_dir, tmp_path / "inf_norm",
                                lambda sd: {**sd, "labram.pooler.layernorm.bias": torch.full_like(
                                    sd["labram.pooler.layernorm.bias"], float("inf"))})  # fmt: skip
    fails(["embed", str(edf), "--model", str(inf_norm), "-o", str(tmp_path / "e.parquet")], capsys, "not finite")
    leftovers = [p.name for p in tmp_path.iterdir() if p.is_file()]
    assert leftovers == [], leftovers  # no output, no partial file


def test_user_errors_exit_2(setup, tmp_path, capsys):
    _, edf, _, model_dir, _, _ = setup
    base = ["embed", str(edf), "--model", str(model_dir), "-o", str(tmp_path / "e.parquet")]
    for value in ("inf", "nan", "-1", "0"):
        fails([*base, "--window-seconds", value], capsys, "--window-seconds must be a positive, finite number")
        fails([*base, "--stride-seconds", value], capsys, "--stride-seconds must be a positive, finite number")
    fails([*base, "--window-seconds", "1e-9"], capsys, "whole number")
    fails([*base, "--stride-seconds", "1e-9"], capsys, "whole number of samples")
    fails([*base, "--notch", "abc"], capsys, "--notch must be 50, 60 or off")
    for value in ("nan", "inf", "-60"):
        fails([*base, "--notch", value], capsys, "--notch must be a positive, finite frequency or off")
    fails([*base, "--highpass", "80"], capsys, "high-pass edge 80 Hz must be below the low-pass edge 75 Hz")
    fails([*base, "--highpass", "30", "--lowpass", "20"], capsys, "--highpass 30 must be below --lowpass 20")
    fails([*base, "--batch-size", "0"], capsys, "--batch-size")
    if not torch.cuda.is_available():
        fails([*base, "--device", "cuda"], capsys, "CUDA is not available", "--device cpu")
    fails([*base, "--device", "warp9"], capsys, "unknown device")
    # the output is checked first: a model that does not exist is not even looked at
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    err = fails(["embed", str(edf), "--model", str(tmp_path / "no-model"), "-o", str(blocker / "e.parquet")],
                capsys, "which is a file")  # fmt: skip
    assert "no-model" not in err
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        fails([*base[:4], "-o", str(locked / "e.parquet")], capsys, "permission denied")


def test_json_of_overridden_run_is_not_saved(setup, tmp_path, capsys):
    """Overrides change this run only: the model directory's preprocessor_config.json is left as it was."""
    _, edf, _, model_dir, _, _ = setup
    before = (model_dir / "preprocessor_config.json").read_text()
    code, _ = run(["embed", str(edf), "--model", str(model_dir), "-o", str(tmp_path / "e.parquet"),
                   "--notch", "off", "-q"], capsys)  # fmt: skip
    assert code == 0
    assert (model_dir / "preprocessor_config.json").read_text() == before
    assert json.loads(before)["notch_freq"] == 60.0
