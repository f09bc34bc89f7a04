"""`labram embed` / `labram predict` on real EEG (crops of the sample recordings): per-window embeddings in
Parquet equal the model's pooler_output on the feature extractor's windows; predictions carry softmax
probabilities and id2label names; user mistakes are one line plus a hint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

import labram_hf
from labram_hf.cli import main as run_cli
from labram_hf.data._testing import export_crop
from labram_hf.io import read_raw

LABELS = {0: "awake", 1: "asleep", 2: "seizure"}




@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inference")
    files = {
        "absence": export_crop("absence", tmp / "absence.edf", 1000.0, 1025.0),  # 25 s, 200 Hz, 21 channels
        "tuh": export_crop("tuh", tmp / "tuh.edf", 60.0, 72.0),  # 12 s, 256 Hz, TUH names
        "short": export_crop("absence", tmp / "short.edf", 1000.0, 6 + 1000.0),  # 6 s
    }
    torch.manual_seed(0)
    config = labram_hf.LaBraMConfig(num_hidden_layers=2, num_labels=3, id2label=LABELS,
                                    label2id={v: k for k, v in LABELS.items()}, classifier_init_scale=50.0)  # fmt: skip
    model = labram_hf.LaBraMForSequenceClassification(config).eval()
    model_dir = tmp / "classifier"
    model.save_pretrained(model_dir)
    fe = labram_hf.LaBraMFeatureExtractor(notch_freq=60.0)
    fe.save_pretrained(model_dir)
    backbone_dir = tmp / "backbone"
    model.labram.save_pretrained(backbone_dir)
    return tmp, files, model, model_dir, fe, backbone_dir


def test_embed(setup, tmp_path, capsys):
    _, files, model, model_dir, fe, _ = setup
    out = tmp_path / "emb.parquet"
    argv = ["embed", str(files["absence"]), str(files["tuh"]), "--model", str(model_dir), "--output", str(out)]
    assert run_cli(argv) == 0
    assert "wrote 3 embeddings of size 200" in capsys.readouterr().out
    table = pd.read_parquet(out)
    assert list(table.columns) == ["source", "start", "end", "embedding"]
    assert table["source"].tolist() == [str(files["absence"])] * 2 + [str(files["tuh"])]
    assert table["start"].tolist() == [0.0, 10.0, 0.0] and table["end"].tolist() == [10.0, 20.0, 10.0]
    assert pq.read_schema(out).metadata[b"labram"]
    # the same numbers as the model on the saved feature extractor's preprocessing (notch 60 Hz)
    pre = fe.preprocess_one(read_raw(files["absence"]), source=str(files["absence"]))
    values = torch.from_numpy(np.stack([pre.values[:, 0:2000], pre.values[:, 2000:4000]]))
    ids = torch.tensor(pre.channel_ids).repeat(2, 1)
    with torch.no_grad():
        expected = model.labram(values, ids).pooler_output.numpy()
    got = np.stack(table["embedding"].to_numpy()[:2])
    assert got.dtype == np.float32 and got.shape == (2, 200)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # a default (50 Hz) extractor gives different numbers: the saved one was used
    default = labram_hf.LaBraMFeatureExtractor().preprocess_one(read_raw(files["absence"]))
    assert not np.allclose(default.values[:, :2000], pre.values[:, :2000])


def test_predict(setup, tmp_path, capsys):
    _, files, model, model_dir, fe, _ = setup
    out = tmp_path / "pred.csv"
    argv = ["predict", str(files["absence"]), str(files["short"]), "--model", str(model_dir), "--output", str(out),
            "--window-seconds", "5", "--stride-seconds", "2.5", "--batch-size", "3"]  # fmt: skip
    assert run_cli(argv) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["source", "start", "end", "label", "label_id", "score",
                                   "prob_awake", "prob_asleep", "prob_seizure"]  # fmt: skip
    n_absence = int((25 - 5) / 2.5) + 1
    assert (table["source"] == str(files["absence"])).sum() == n_absence
    assert (table["source"] == str(files["short"])).sum() == 1
    probs = table[["prob_awake", "prob_asleep", "prob_seizure"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert table["label"].tolist() == [LABELS[i] for i in probs.argmax(axis=1)]
    np.testing.assert_allclose(table["score"], probs.max(axis=1), atol=1e-5)
    # first window by hand
    pre = fe.preprocess_one(read_raw(files["absence"]))
    with torch.no_grad():
        logits = model(torch.from_numpy(pre.values[None, :, :1000].copy()), torch.tensor([pre.channel_ids])).logits
    np.testing.assert_allclose(probs[0], logits.softmax(-1)[0].numpy(), atol=1e-5)
    assert "wrote 10 window predictions" in capsys.readouterr().out


def test_short_file_is_skipped(setup, tmp_path, capsys):
    _, files, _, model_dir, _, _ = setup
    out = tmp_path / "e.parquet"
    assert run_cli(["embed", str(files["short"]), str(files["tuh"]), "--model", str(model_dir), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "short.edf: shorter than one window, skipped" in err
    assert len(pd.read_parquet(out)) == 1


def _fails(argv, capsys, *needles):
    assert run_cli(argv) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.err + captured.out
    assert len(lines) == 2 and lines[1].startswith("hint:"), lines
    for needle in needles:
        assert needle in captured.err, (needle, captured.err)


def test_errors(setup, tmp_path, capsys):
    tmp, files, _, model_dir, _, backbone_dir = setup
    f, m = str(files["absence"]), str(model_dir)
    _fails(["embed", f, "--model", m, "-o", str(tmp_path / "a.parquet"), "--window-seconds", "20"], capsys,
           "longer than the model accepts")  # fmt: skip
    _fails(["embed", f, "--model", m, "-o", str(tmp_path / "a.parquet"), "--window-seconds", "2.5"], capsys,
           "whole number")  # fmt: skip
    _fails(["embed", f, "--model", m, "-o", str(tmp_path / "a.parquet"), "--window-seconds", "30"], capsys)
    _fails(["embed", str(tmp_path / "nope.edf"), "--model", m, "-o", str(tmp_path / "a.parquet")], capsys,
           "no such file")  # fmt: skip
    _fails(["embed", f, "--model", str(tmp_path), "-o", str(tmp_path / "a.parquet")], capsys, "no config.json")
    _fails(["predict", f, "--model", str(backbone_dir), "-o", str(tmp_path / "p.csv")], capsys,
           "no trained classification head", "labram embed")  # fmt: skip
    _fails(["embed", str(files["short"]), "--model", m, "-o", str(tmp_path / "a.parquet")], capsys,
           "no 10-s window fits")  # fmt: skip
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"0" * 300)
    _fails(["embed", str(bad), "--model", m, "-o", str(tmp_path / "a.parquet")], capsys, "bad.edf")
    existing = tmp_path / "exists.csv"
    existing.write_text("x")
    _fails(["predict", f, "--model", m, "-o", str(existing)], capsys, "--overwrite")
    tokenizer_dir = tmp / "tok"
    labram_hf.LaBraMTokenizerModel(labram_hf.LaBraMTokenizerConfig(num_hidden_layers=1,
                                   decoder_num_hidden_layers=1, n_code=16)).save_pretrained(tokenizer_dir)  # fmt: skip
    capsys.readouterr()  # drop save_pretrained's progress bar
    _fails(["embed", f, "--model", str(tokenizer_dir), "-o", str(tmp_path / "a.parquet")], capsys, "not a LaBraM")


def test_help(capsys):
    for name in ("embed", "predict"):
        with pytest.raises(SystemExit) as exc:
            run_cli([name, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        for flag in ("--model", "--output", "--window-seconds", "--stride-seconds", "--batch-size", "--device"):
            assert flag in text
