"""Recording-level predictions (`labram predict --aggregate`, `predict_files(aggregate=...)`) and windows longer than
the model's 16 patches (`--interpolate-pos-encoding`), on real recordings.

The classifier is tiny and random, except its head: fitted (least squares on the backbone's pooled outputs of the
very windows predicted) so that every window's logits are chosen values. The windows' labels are therefore known,
and the pooled results differ between the rules: on the absence crop the vote ties two classes (broken by the mean
probability, not by class order) and the max picks a third class; on the TUH crop the vote and the mean disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import labram_hf
from labram_hf.cli import main as run_cli
from labram_hf.data._testing import export_crop
from labram_hf.inference import InferenceError, predict_files
from labram_hf.io import read_raw

LABELS = {0: "a", 1: "b", 2: "c"}
WINDOW = 5.0
# chosen logits of every window: absence crop (25 s -> 5 windows), then TUH crop (15 s -> 3 windows)
LOGITS = np.array(
    [[1, 0, 0], [0, 4, 0], [0, 4, 0], [1, 0, 0], [0, 0, 5],  # votes a2 b2 c1 (tie, b has the higher mean); max: c
     [6, 0, 0], [0, -0.2, 0.3], [0, -0.2, 0.3]],  # votes c2 a1, but the mean (and max) favour a
    dtype=np.float64,
)  # fmt: skip
EXPECTED = {"absence": {"mean": "b", "max": "c", "vote": "b"}, "tuh": {"mean": "a", "max": "a", "vote": "c"}}
# one-logit multi-label model ("abnormal" at 0.5): 2 of 5 windows positive, but the mean and max reach 0.5
BINARY_LOGITS = np.array([2.0, -1.0, -1.0, 3.0, -0.5, 4.0, -2.0, -3.0])


def _pooled_windows(model, fe, files):
    """The backbone's pooled output of every window predict will make ([N, D], float64)."""
    rows = []
    for path in files:
        pre = fe.preprocess_one(read_raw(path), source=str(path))
        win = int(WINDOW * fe.sampling_rate)
        values = np.stack([pre.values[:, s : s + win] for s in range(0, pre.n_times - win + 1, win)])
        with torch.no_grad():
            pooled = model.labram(torch.from_numpy(values), torch.tensor(pre.channel_ids)).pooler_output
        rows.append(pooled.double().numpy())
    return np.concatenate(rows)


def _fit_head(model, pooled, logits):
    """Set the classifier so that it maps each pooled vector to its row of ``logits`` (exactly, up to float32)."""
    design = np.hstack([pooled, np.ones((len(pooled), 1))])  # [N, D + 1]
    solution, *_ = np.linalg.lstsq(design, logits.reshape(len(pooled), -1), rcond=None)  # [D + 1, L]
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(solution[:-1].T.copy()))
        model.classifier.bias.copy_(torch.from_numpy(solution[-1].copy()))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("aggregate")
    files = [export_crop("absence", tmp / "absence.edf", 1000.0, 1025.0),
             export_crop("tuh", tmp / "tuh.edf", 60.0, 75.0)]  # fmt: skip
    fe = labram_hf.LaBraMFeatureExtractor(window_seconds=WINDOW)
    torch.manual_seed(0)
    config = labram_hf.LaBraMConfig(num_hidden_layers=1, num_labels=3, id2label=LABELS,
                                    label2id={v: k for k, v in LABELS.items()})  # fmt: skip
    model = labram_hf.LaBraMForSequenceClassification(config).eval()
    pooled = _pooled_windows(model, fe, files)
    _fit_head(model, pooled, LOGITS)
    model_dir = tmp / "classifier"
    model.save_pretrained(model_dir)
    fe.save_pretrained(model_dir)

    binary_config = labram_hf.LaBraMConfig(num_hidden_layers=1, num_labels=1, id2label={0: "abnormal"},
                                           label2id={"abnormal": 0}, problem_type="multi_label_classification")  # fmt: skip
    binary = labram_hf.LaBraMForSequenceClassification(binary_config).eval()
    binary.labram.load_state_dict(model.labram.state_dict())
    _fit_head(binary, pooled, BINARY_LOGITS)
    return tmp, files, model, fe, model_dir, binary


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_vote_from_the_cli(setup, tmp_path, capsys):
    _, files, _, _, model_dir, _ = setup
    out = tmp_path / "pred.csv"
    argv = ["predict", *map(str, files), "--model", str(model_dir), "--output", str(out), "--aggregate", "vote"]
    assert run_cli(argv) == 0
    stdout = capsys.readouterr().out
    assert "wrote 8 window predictions" in stdout and "wrote 2 recording predictions (vote" in stdout
    windows = pd.read_csv(out)
    probs = windows[["prob_a", "prob_b", "prob_c"]].to_numpy()
    np.testing.assert_allclose(probs, _softmax(LOGITS), atol=2e-3)  # the head does what it was fitted to
    assert windows["label"].tolist() == ["a", "b", "b", "a", "c", "a", "c", "c"]
    recordings = pd.read_csv(tmp_path / "pred_recordings.csv")
    assert list(recordings.columns) == ["source", "start", "end", "n_windows", "label", "label_id", "score",
                                        "prob_a", "prob_b", "prob_c", "votes_a", "votes_b", "votes_c"]  # fmt: skip
    assert recordings["source"].tolist() == list(map(str, files))
    assert recordings["n_windows"].tolist() == [5, 3]
    assert recordings[["start", "end"]].to_numpy().tolist() == [[0.0, 25.0], [0.0, 15.0]]
    assert recordings[["votes_a", "votes_b", "votes_c"]].to_numpy().tolist() == [[2, 2, 1], [1, 0, 2]]
    assert recordings["label"].tolist() == [EXPECTED["absence"]["vote"], EXPECTED["tuh"]["vote"]]
    np.testing.assert_allclose(recordings["score"], [2 / 5, 2 / 3], atol=1e-6)
    for i, source in enumerate(map(str, files)):  # prob_* of a vote: the mean window probabilities
        mine = windows[windows["source"] == source][["prob_a", "prob_b", "prob_c"]].to_numpy()
        np.testing.assert_allclose(recordings.loc[i, ["prob_a", "prob_b", "prob_c"]].to_numpy(float),
                                   mine.mean(axis=0), atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("how", ["mean", "max"])
def test_mean_and_max_pool_the_window_rows(setup, how):
    _, files, model, fe, _, _ = setup
    table = predict_files(files, model, fe, aggregate=how, batch_size=3)
    recordings = table.attrs["recordings"]
    names = ["prob_a", "prob_b", "prob_c"]
    for i, source in enumerate(map(str, files)):
        rows = table[table["source"] == source][names].to_numpy()
        pooled = rows.mean(axis=0) if how == "mean" else rows.max(axis=0)
        got = recordings.loc[i, names].to_numpy(float)
        np.testing.assert_allclose(got, pooled, rtol=1e-12)
        assert recordings.loc[i, "label"] == EXPECTED[["absence", "tuh"][i]][how] == names[got.argmax()][-1]
        assert recordings.loc[i, "score"] == pytest.approx(got.max())
        assert "votes_a" not in recordings


def test_multi_label_aggregation(setup):
    _, files, _, fe, _, binary = setup
    table = predict_files(files, binary, fe, aggregate="vote")
    p = 1 / (1 + np.exp(-BINARY_LOGITS))
    np.testing.assert_allclose(table["prob_abnormal"], p, atol=2e-3)
    assert table["label"].tolist() == ["abnormal" if x >= 0.5 else "not abnormal" for x in p]
    vote = table.attrs["recordings"]
    # absence: 2 of 5 windows positive -> "not abnormal" with 3/5 of the votes; TUH: 1 of 3
    assert vote["label"].tolist() == ["not abnormal", "not abnormal"]
    assert vote["label_id"].tolist() == [-1, -1] and vote["votes_abnormal"].tolist() == [2, 1]
    np.testing.assert_allclose(vote["score"], [3 / 5, 2 / 3])
    mean = predict_files(files, binary, fe, aggregate="mean").attrs["recordings"]
    np.testing.assert_allclose(mean["prob_abnormal"], [p[:5].mean(), p[5:].mean()], atol=2e-3)
    assert mean["label"].tolist() == ["abnormal", "not abnormal"]  # 0.55 and 0.37 against 0.5
    maximum = predict_files(files, binary, fe, aggregate="max").attrs["recordings"]
    assert maximum["label"].tolist() == ["abnormal", "abnormal"]
    np.testing.assert_allclose(maximum["score"], [p[:5].max(), p[5:].max()], atol=2e-3)


def test_vote_needs_a_classifier(setup):
    _, files, _, fe, _, _ = setup
    regression = labram_hf.LaBraMForSequenceClassification(
        labram_hf.LaBraMConfig(num_hidden_layers=1, num_labels=1, problem_type="regression")
    ).eval()
    with pytest.raises(InferenceError, match="needs a classifier"):
        predict_files(files, regression, fe, aggregate="vote")
    table = predict_files(files[:1], regression, fe, aggregate="max")
    assert table.attrs["recordings"]["prediction"].iloc[0] == pytest.approx(table["prediction"].max())


def test_recordings_file_is_checked_before_the_work(setup, tmp_path, capsys):
    _, files, _, _, model_dir, _ = setup
    (tmp_path / "p_recordings.csv").write_text("mine")
    argv = ["predict", str(files[0]), "--model", str(model_dir), "-o", str(tmp_path / "p.csv"), "--aggregate", "mean"]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert "p_recordings.csv" in err and "--overwrite" in err
    assert not (tmp_path / "p.csv").exists() and (tmp_path / "p_recordings.csv").read_text() == "mine"


def test_windows_longer_than_the_model(setup, tmp_path, capsys):
    _, files, model, fe, model_dir, _ = setup
    argv = ["predict", str(files[0]), "--model", str(model_dir), "-o", str(tmp_path / "long.csv"),
            "--window-seconds", "20"]  # fmt: skip
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert "longer than the model accepts" in err and "--interpolate-pos-encoding" in err
    assert run_cli([*argv, "--interpolate-pos-encoding"]) == 0
    err = capsys.readouterr().err
    assert "interpolate_pos_encoding" in err and "20-s windows" in err  # the warning
    table = pd.read_csv(tmp_path / "long.csv")
    assert table[["start", "end"]].to_numpy().tolist() == [[0.0, 20.0]]
    pre = fe.preprocess_one(read_raw(files[0]))
    with torch.no_grad():
        logits = model(torch.from_numpy(pre.values[None, :, :4000].copy()), torch.tensor([pre.channel_ids]),
                       interpolate_pos_encoding=True).logits  # fmt: skip
    np.testing.assert_allclose(table[["prob_a", "prob_b", "prob_c"]].to_numpy()[0], logits.softmax(-1)[0], atol=1e-5)
