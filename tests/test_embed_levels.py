"""`labram embed --level window|patch|channel` and `labram_hf.inference.embed` on real recordings.

Patch embeddings are the pooler's LayerNorm (the original fc_norm) applied to each patch token of
last_hidden_state, computed here by hand from the model's hidden states (channel-major token order); channel
embeddings are the mean of a channel's patch rows; Parquet and NPY hold the same numbers; the output suffix is
checked before any work; in-memory inputs (mne Raw, Epochs, array dict) give the file's numbers.
"""

from __future__ import annotations

import json

import mne
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

import labram_hf
from labram_hf.channels import LABRAM_CHANNELS
from labram_hf.cli import main as run_cli
from labram_hf.data._testing import export_crop
from labram_hf.inference import InferenceError, embed, embed_files
from labram_hf.io import read_raw

WINDOW = 4.0


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("embed_levels")
    files = [export_crop("absence", tmp / "absence.edf", 1000.0, 1010.0),  # 10 s, 200 Hz -> 2 windows of 4 s
             export_crop("tuh", tmp / "tuh.edf", 60.0, 68.0)]  # 8 s, 256 Hz, 23 TUH channels -> 2 windows  # fmt: skip
    torch.manual_seed(0)
    model = labram_hf.LaBraMModel(labram_hf.LaBraMConfig(num_hidden_layers=2)).eval()
    with torch.no_grad():  # a trained-looking pooling norm, so that fc_norm is not the identity affine map
        model.pooler.layernorm.weight.uniform_(0.5, 1.5)
        model.pooler.layernorm.bias.normal_(0.0, 0.1)
    model_dir = tmp / "backbone"
    model.save_pretrained(model_dir)
    fe = labram_hf.LaBraMFeatureExtractor(window_seconds=WINDOW)
    fe.save_pretrained(model_dir)
    return tmp, files, model, fe, model_dir


def _by_hand(model, fe, path):
    """Windows of ``path`` -> (patch embeddings [N, C, A, D], pooled [N, D], vocabulary names), from the model."""
    pre = fe.preprocess_one(read_raw(path), source=str(path))
    win = int(WINDOW * fe.sampling_rate)
    values = torch.from_numpy(np.stack([pre.values[:, s : s + win] for s in range(0, pre.n_times - win + 1, win)]))
    with torch.no_grad():
        out = model(values, torch.tensor(pre.channel_ids))
        tokens = out.last_hidden_state[:, 1:]  # [N, C * A, D]
        patches = torch.nn.functional.layer_norm(tokens, (tokens.shape[-1],), model.pooler.layernorm.weight,
                                                 model.pooler.layernorm.bias, model.config.layer_norm_eps)  # fmt: skip
    n, c = values.shape[:2]
    names = [LABRAM_CHANNELS[i] for i in pre.channel_ids]
    return patches.reshape(n, c, -1, tokens.shape[-1]).numpy(), out.pooler_output.numpy(), names


def test_patch_level_is_fc_norm_of_each_patch_token(setup, tmp_path, capsys):
    _, files, model, fe, model_dir = setup
    out = tmp_path / "patches.parquet"
    argv = ["embed", *map(str, files), "--model", str(model_dir), "--level", "patch", "-o", str(out)]
    assert run_cli(argv) == 0
    # 2 windows x 21 channels x 4 patches (absence) + 2 x 23 x 4 (TUH)
    assert "wrote 352 embeddings of size 200 (patch level)" in capsys.readouterr().out
    table = pd.read_parquet(out)
    assert list(table.columns) == ["source", "start", "end", "channel", "patch", "embedding"]
    meta = json.loads(pq.read_schema(out).metadata[b"labram"])
    assert meta["level"] == "patch" and "channel-major" in meta["token_order"] and meta["window_seconds"] == WINDOW
    for path in files:
        patches, _, names = _by_hand(model, fe, path)  # [N, C, A, D]
        rows = table[table["source"] == str(path)]
        n, c, a, d = patches.shape
        assert len(rows) == n * c * a
        got = np.stack(rows["embedding"].to_numpy())
        np.testing.assert_allclose(got, patches.reshape(-1, d), atol=1e-5)  # row w*C*A + c*A + a
        assert rows["channel"].tolist() == [name for _ in range(n) for name in names for _ in range(a)]
        assert rows["patch"].tolist() == list(range(a)) * (n * c)
        assert rows["start"].tolist() == [w * WINDOW for w in range(n) for _ in range(c * a)]
    # not the pooled vector, and not the raw hidden state: fc_norm was applied to each token
    assert not np.allclose(np.stack(table["embedding"].to_numpy()[:4]).mean(axis=0), 0.0, atol=1e-3)


def test_channel_level_is_the_mean_of_the_patch_rows(setup):
    _, files, model, fe, _ = setup
    patches = embed_files(files, model, fe, level="patch")
    channels = embed_files(files, model, fe, level="channel")
    assert list(channels.columns) == ["source", "start", "end", "channel", "embedding"]
    assert len(channels) == len(patches) // 4  # four 1-s patches per 4-s window
    grouped = patches.groupby(["source", "start", "channel"], sort=False)["embedding"]
    expected = grouped.apply(lambda e: np.stack(e.to_numpy()).mean(axis=0))
    keys = list(zip(channels["source"], channels["start"], channels["channel"]))
    assert keys == list(expected.index)
    np.testing.assert_allclose(np.stack(channels["embedding"].to_numpy()), np.stack(expected.to_numpy()), atol=1e-6)
    # the window level stays the pooled output (fc_norm of the mean token), which differs from the channel mean
    windows = embed_files(files, model, fe)
    _, pooled, _ = _by_hand(model, fe, files[0])
    np.testing.assert_allclose(np.stack(windows["embedding"].to_numpy()[:2]), pooled, atol=1e-5)


def test_npy_and_parquet_hold_the_same_rows(setup, tmp_path):
    _, files, _, _, model_dir = setup
    parquet, npy = tmp_path / "c.parquet", tmp_path / "c.npy"
    for out in (parquet, npy):
        assert run_cli(["embed", *map(str, files), "--model", str(model_dir), "--level", "channel", "-o", str(out),
                        "-q"]) == 0  # fmt: skip
    table = pd.read_parquet(parquet)
    array = np.load(npy)
    rows = pd.read_csv(tmp_path / "c_rows.csv")
    assert array.dtype == np.float32 and array.shape == (len(table), 200)
    np.testing.assert_array_equal(array, np.stack(table["embedding"].to_numpy()))
    assert list(rows.columns) == ["source", "start", "end", "channel"]
    pd.testing.assert_frame_equal(rows, table.drop(columns="embedding"), check_dtype=False)


def test_unknown_suffix_is_refused_before_any_work(setup, tmp_path, capsys):
    _, files, _, _, _ = setup
    # the model does not even exist: the suffix is checked first, before anything is loaded
    argv = ["embed", str(files[0]), "--model", str(tmp_path / "no-model"), "-o", str(tmp_path / "e.h5")]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert "unknown format '.h5'" in err and "hint:" in err and ".npy" in err
    assert not list(tmp_path.iterdir())


def test_npy_rows_file_is_checked_before_the_work(setup, tmp_path, capsys):
    _, files, _, _, model_dir = setup
    (tmp_path / "e_rows.csv").write_text("mine")
    assert run_cli(["embed", str(files[0]), "--model", str(model_dir), "-o", str(tmp_path / "e.npy")]) == 2
    assert "e_rows.csv" in capsys.readouterr().err
    assert not (tmp_path / "e.npy").exists() and (tmp_path / "e_rows.csv").read_text() == "mine"


def test_in_memory_inputs_give_the_file_numbers(setup):
    _, files, model, fe, _ = setup
    expected = embed_files(files[:1], model, fe, level="patch")
    raw = read_raw(files[0])
    from_raw = embed(model, fe, raw, level="patch")
    np.testing.assert_allclose(np.stack(from_raw["embedding"]), np.stack(expected["embedding"]), atol=1e-6)
    data = {"array": raw.get_data() * 1e6, "sampling_rate": raw.info["sfreq"], "channel_names": raw.ch_names}
    from_array = embed(model, fe, data, level="patch", unit="uV")
    assert set(from_array["source"]) == {"array"}
    np.testing.assert_allclose(np.stack(from_array["embedding"]), np.stack(expected["embedding"]), atol=1e-4)
    # a classifier's backbone is used for embeddings
    classifier = labram_hf.LaBraMForSequenceClassification(labram_hf.LaBraMConfig(num_hidden_layers=2, num_labels=2))
    classifier.labram.load_state_dict(model.state_dict())
    from_classifier = embed(classifier.eval(), fe, raw, level="window")
    np.testing.assert_allclose(np.stack(from_classifier["embedding"]),
                               np.stack(embed_files(files[:1], model, fe)["embedding"]), atol=1e-6)  # fmt: skip
    with pytest.raises(InferenceError, match="unknown embedding level"):
        embed(model, fe, raw, level="token")


def test_epochs_give_one_row_per_trial_and_channel(setup):
    _, files, model, fe, _ = setup
    raw = read_raw(files[0], preload=True)
    sfreq = raw.info["sfreq"]
    events = np.array([[int(t * sfreq), 0, code] for t, code in ((2.0, 1), (5.0, 2), (8.0, 1))])
    epochs = mne.Epochs(raw, events, event_id={"open": 1, "closed": 2}, tmin=-1.0, tmax=2.0 - 1 / sfreq,
                        baseline=None, preload=True, verbose="error")  # fmt: skip
    with pytest.warns(UserWarning, match="trial"):  # filtered trial by trial: the extractor says so
        table = embed(model, fe, epochs, level="channel")
    assert list(table.columns) == ["source", "start", "end", "trial", "event", "channel", "embedding"]
    n_channels = len(set(table["channel"]))
    # 3-s trials, shorter than the 4-s window: each trial is one 3-s window, times relative to its event
    assert table["trial"].tolist() == [t for t in range(3) for _ in range(n_channels)]
    assert table["event"].tolist()[::n_channels] == ["open", "closed", "open"]
    assert set(table["start"]) == {-1.0} and set(table["end"]) == {2.0}
    assert np.isfinite(np.stack(table["embedding"])).all()
