"""Training takes the data contract (issue 8): the model inherits the training dataset's preprocessing and labels,
and validation/test data prepared differently is refused.

Datasets are built by ``labram_hf.data.build_dataset`` from real crops of the sample recordings (all channels,
including ones LaBraM does not know, so the lenient channel policy matters) with a 60 Hz notch and 4-s windows.
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["awake", "asleep"]


def _build(recordings, out: Path, *, notch: float, class_names=CLASSES) -> Path:
    from labram_hf.data import build_dataset

    from tests.test_examples import ensure_contract

    (sleep, wake) = recordings
    policy = ({"channel_policy": "lenient"} if "channel_policy" in inspect.signature(build_dataset).parameters
              else {"strict_channels": False})  # fmt: skip
    build_dataset([sleep, wake], out, window_seconds=4, notch=notch, labels={str(sleep): "asleep", str(wake): "awake"},
                  class_names=class_names, progress=False, **policy)  # fmt: skip
    ensure_contract(out, notch_freq=notch, window_seconds=4, channel_policy="lenient")
    return out


@pytest.fixture(scope="module")
def datasets_dir(tmp_path_factory):
    from labram_hf.data._testing import export_crop

    root = tmp_path_factory.mktemp("contract")
    absence = (export_crop("absence", root / "a_sleep.edf", 300, 324, picks=None),
               export_crop("absence", root / "a_wake.edf", 1000, 1024, picks=None))  # fmt: skip
    spasms = (export_crop("spasms", root / "s_sleep.edf", 700, 716, picks=None),
              export_crop("spasms", root / "s_wake.edf", 1500, 1516, picks=None))  # fmt: skip
    return {
        "train": _build(absence, root / "train", notch=60.0),
        "val": _build(spasms, root / "val", notch=60.0),
        "val_notch50": _build(spasms, root / "val_notch50", notch=50.0),
        "val_reordered": _build(spasms, root / "val_reordered", notch=60.0, class_names=CLASSES[::-1]),
    }


def finetune_args(train, out, **kwargs):
    from labram_hf.training import FinetuningArguments

    base = dict(model="scratch", preset="tiny", train_dataset=str(train), output_dir=str(out), max_steps=1,
                batch_size=4, report_to="none", quiet=True, save_total_limit=1)  # fmt: skip
    return FinetuningArguments(**{**base, **kwargs})


def test_finetuned_model_inherits_the_training_contract(datasets_dir, tmp_path):
    from labram_hf import LaBraMFeatureExtractor, LaBraMForSequenceClassification
    from labram_hf.training import finetune

    out = tmp_path / "model"
    finetune(finetune_args(datasets_dir["train"], out, eval_dataset=str(datasets_dir["val"]),
                           eval_strategy="steps", eval_steps=1))  # fmt: skip
    saved = json.loads((out / "preprocessor_config.json").read_text())
    assert saved["notch_freq"] == 60.0 and saved["window_seconds"] == 4.0 and saved["channel_policy"] == "lenient"
    fe = LaBraMFeatureExtractor.from_pretrained(str(out))
    assert (fe.notch_freq, fe.window_seconds, fe.channel_policy) == (60.0, 4.0, "lenient")
    config = LaBraMForSequenceClassification.from_pretrained(out).config
    assert config.id2label == {0: "awake", 1: "asleep"} and config.label2id == {"awake": 0, "asleep": 1}
    schema = json.loads((datasets_dir["train"] / "label_schema.json").read_text())
    assert [config.id2label[i] for i in range(len(schema["names"]))] == schema["names"]
    meta = json.loads((out / "training_metadata.json").read_text())
    assert meta["preprocessing"]["notch_freq"] == 60.0 and meta["dataset"]["classes"] == "0: awake, 1: asleep"


def test_validation_with_another_notch_is_refused(datasets_dir, tmp_path):
    from labram_hf.data.contract import DatasetContractError
    from labram_hf.training import finetune

    out = tmp_path / "model"
    with pytest.raises(DatasetContractError) as err:
        finetune(finetune_args(datasets_dir["train"], out, eval_dataset=str(datasets_dir["val_notch50"])))
    message = str(err.value)
    assert "notch_freq" in message and "60.0" in message and "50.0" in message and "validation" in message
    assert not out.exists()  # refused before anything was written


def test_test_set_with_another_class_order_is_refused(datasets_dir, tmp_path):
    from labram_hf.data.contract import DatasetContractError
    from labram_hf.training import finetune

    with pytest.raises(DatasetContractError, match="label schema") as err:
        finetune(finetune_args(datasets_dir["train"], tmp_path / "m", test_dataset=str(datasets_dir["val_reordered"])))
    assert '["awake", "asleep"]' in str(err.value) and '["asleep", "awake"]' in str(err.value)


def test_dataset_without_contract_needs_an_explicit_extractor(datasets_dir, tmp_path):
    from labram_hf.data.contract import DatasetContractError
    from labram_hf.training import TokenizerArguments, finetune, train_tokenizer

    old = tmp_path / "old_train"
    shutil.copytree(datasets_dir["train"], old)
    (old / "preprocessor_config.json").unlink()
    (old / "label_schema.json").unlink()
    with pytest.raises(DatasetContractError, match="no preprocessor_config.json") as err:
        finetune(finetune_args(old, tmp_path / "a"))
    assert "--feature-extractor" in err.value.hint
    with pytest.raises(DatasetContractError, match="no preprocessor_config.json"):
        train_tokenizer(TokenizerArguments(dataset_dir=str(old), output_dir=str(tmp_path / "tok"), preset="tiny"))
    assert not (tmp_path / "tok").exists()

    # told how the data was prepared: trains, saves that extractor and the ClassLabel's names
    out = tmp_path / "b"
    finetune(finetune_args(old, out, feature_extractor=str(datasets_dir["train"] / "preprocessor_config.json"),
                           eval_dataset=str(datasets_dir["val"]), eval_strategy="no"))  # fmt: skip
    saved = json.loads((out / "preprocessor_config.json").read_text())
    assert saved["notch_freq"] == 60.0 and saved["channel_policy"] == "lenient"
    assert json.loads((out / "config.json").read_text())["id2label"] == {"0": "awake", "1": "asleep"}


def test_finetune_script_reports_a_contract_mismatch_in_one_line(datasets_dir, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "finetune.py"), "--model", "scratch", "--preset", "tiny",
         "--train-dataset", str(datasets_dir["train"]), "--eval-dataset", str(datasets_dir["val_notch50"]),
         "--output-dir", str(tmp_path / "cli")],
        capture_output=True, text=True, cwd=ROOT, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert lines[-2].startswith("error: ") and "notch_freq: training 60.0 vs validation 50.0" in lines[-2]
    assert lines[-1].startswith("hint: ") and "Traceback" not in proc.stderr


def test_extended_time_embeddings_equal_interpolation():
    """Fine-tuning on windows longer than the table: the table becomes its interpolation, so the model's first
    forward equals the unextended model run with interpolate_pos_encoding=True."""
    import torch

    from labram_hf import LaBraMConfig, LaBraMForSequenceClassification
    from labram_hf.training.finetuning import extend_time_embeddings

    torch.manual_seed(0)
    model = LaBraMForSequenceClassification(LaBraMConfig(num_hidden_layers=1, num_labels=2)).eval()
    torch.nn.init.normal_(model.labram.embeddings.time_embeddings, std=1.0)
    x, ids = torch.randn(2, 3, 20 * 200), torch.tensor([[1, 5, 9]] * 2)
    with torch.no_grad():
        expected = model(x, ids, interpolate_pos_encoding=True).logits
    with pytest.warns(UserWarning, match="extended to 20 rows"):
        extend_time_embeddings(model, 20)
    assert model.config.max_time_patches == 20 and model.labram.embeddings.time_embeddings.shape == (1, 20, 200)
    assert model.labram.embeddings.time_embeddings.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(model(x, ids).logits, expected, rtol=0, atol=1e-6)
    table = model.labram.embeddings.time_embeddings.clone()
    extend_time_embeddings(model, 12)  # shorter windows: nothing to do
    assert torch.equal(model.labram.embeddings.time_embeddings, table)


def test_finetune_on_20_s_windows_then_predict(tmp_path):
    """20-s windows (> 16 patches): fine-tuning extends the table, the saved model predicts 20-s windows as they
    are (no interpolate_pos_encoding needed at inference)."""
    from labram_hf import LaBraMFeatureExtractor, LaBraMForSequenceClassification
    from labram_hf.data import build_dataset
    from labram_hf.data._testing import export_crop
    from labram_hf.inference import predict_files
    from labram_hf.training import finetune

    files = [export_crop("absence", tmp_path / "sleep.edf", 300, 360), export_crop("absence", tmp_path / "wake.edf",
                                                                                  1000, 1060)]  # fmt: skip
    with pytest.warns(UserWarning, match="interpolate_pos_encoding"):
        build_dataset(files, tmp_path / "train", window_seconds=20, labels={str(files[0]): "asleep",
                      str(files[1]): "awake"}, progress=False)  # fmt: skip
    out = tmp_path / "model"
    with pytest.warns(UserWarning, match="extended to 20 rows"):
        finetune(finetune_args(tmp_path / "train", out))
    model = LaBraMForSequenceClassification.from_pretrained(out)
    assert model.config.max_time_patches == 20
    fe = LaBraMFeatureExtractor.from_pretrained(str(out))
    assert fe.window_seconds == 20.0
    rows = predict_files([files[0]], model.eval(), fe, progress=False)
    assert list(zip(rows["start"], rows["end"])) == [(0, 20), (20, 40), (40, 60)]
    assert rows["label"].isin(["asleep", "awake"]).all()


def test_output_dir_inside_an_input_and_missing_models_are_refused(datasets_dir, tmp_path):
    """Training never writes among its inputs' files, and a model path that is not there is named, not a network
    traceback; both before any output exists. A parent directory of the inputs is a fine output."""
    from labram_hf.training import PretrainingArguments, TrainingArgumentError, finetune, pretrain

    train = datasets_dir["train"]
    before = sorted(p.name for p in train.iterdir())
    for out in (train, train / "run"):
        with pytest.raises(TrainingArgumentError, match="--train-dataset") as err:
            finetune(finetune_args(train, out))
        assert "directory of their own" in err.value.hint
    with pytest.raises(TrainingArgumentError, match=r"--model .*nowhere: neither a local directory"):
        finetune(finetune_args(train, tmp_path / "ft", model=str(tmp_path / "nowhere")))
    with pytest.raises(TrainingArgumentError, match="lies inside the input --corpus"):
        pretrain(PretrainingArguments(corpus=f"{train}:2", tokenizer=str(tmp_path / "tok"),
                                      output_dir=str(train / "mem")))  # fmt: skip
    with pytest.raises(TrainingArgumentError, match=r"--tokenizer .*tok: neither a local directory"):
        pretrain(PretrainingArguments(dataset_dir=str(train), tokenizer=str(tmp_path / "tok"),
                                      output_dir=str(tmp_path / "mem")))  # fmt: skip
    assert sorted(p.name for p in train.iterdir()) == before
    assert not (tmp_path / "ft").exists() and not (tmp_path / "mem").exists()
