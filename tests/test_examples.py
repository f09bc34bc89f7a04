"""End-to-end runs of examples/train_tokenizer.py -> pretrain.py -> finetune.py on real EEG (tiny configs).

Data: short crops of the real sample recordings (labram_hf.sample_data), exported to EDF and turned into window
datasets by the data layer (labram_hf.data.build_dataset) — the same path a user takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PY = sys.executable


def build_example_data(root: Path) -> dict[str, Path]:
    """Unlabelled windows (absence + spasms crops) and labelled asleep/awake windows (train: absence, test: spasms).

    Built once per test session into ``root`` (reused when present)."""
    from labram_hf.data import build_dataset
    from labram_hf.data._testing import export_crop

    out = {"unlabelled": root / "unlabelled", "train": root / "train", "test": root / "test"}
    if all((p / "dataset_info.json").exists() for p in out.values()):
        return out
    root.mkdir(parents=True, exist_ok=True)
    kw = dict(window_seconds=4, notch=60.0, overwrite=True, progress=False)
    # asleep 44.8-898.8 s / awake after 898.8 s (absence); asleep ~497-1297.8 s / awake after (spasms)
    a_sleep = export_crop("absence", root / "a_sleep.edf", 300, 340)
    a_wake = export_crop("absence", root / "a_wake.edf", 1000, 1040)
    s_sleep = export_crop("spasms", root / "s_sleep.edf", 700, 724)
    s_wake = export_crop("spasms", root / "s_wake.edf", 1500, 1524)
    classes = ["awake", "asleep"]
    build_dataset([a_sleep, a_wake], out["unlabelled"], **kw)
    build_dataset([a_sleep, a_wake], out["train"], labels={str(a_sleep): "asleep", str(a_wake): "awake"},
                  class_names=classes, **kw)  # fmt: skip
    build_dataset([s_sleep, s_wake], out["test"], labels={str(s_sleep): "asleep", str(s_wake): "awake"},
                  class_names=classes, **kw)  # fmt: skip
    for path in out.values():
        ensure_contract(path, notch_freq=60.0, window_seconds=4)
    return out


def ensure_contract(path: Path, **extractor_kwargs) -> None:
    """Record the preprocessing contract of a dataset built by a labram_hf that did not write it yet."""
    import datasets

    from labram_hf import LaBraMFeatureExtractor
    from labram_hf.data.contract import LabelSchema, save_dataset_contract

    if not (Path(path) / "preprocessor_config.json").exists():
        features = datasets.load_from_disk(str(path)).features
        save_dataset_contract(path, LaBraMFeatureExtractor(**extractor_kwargs), LabelSchema.from_feature(features.get("label")))


def assert_dataset_preprocessing(model_dir: Path, dataset_dir: Path) -> None:
    """The model directory carries the training dataset's preprocessing (preprocessor_config.json)."""
    from labram_hf import LaBraMFeatureExtractor
    from labram_hf.data.contract import PREPROCESSING_KEYS

    saved = LaBraMFeatureExtractor.from_pretrained(str(model_dir))
    data = LaBraMFeatureExtractor.from_pretrained(str(dataset_dir))
    assert saved.notch_freq == 60.0 and saved.window_seconds == 4.0
    assert {k: getattr(saved, k, None) for k in PREPROCESSING_KEYS} == {k: getattr(data, k, None) for k in PREPROCESSING_KEYS}


def run_script(args: list[str], *, launcher: list[str] | None = None, env: dict | None = None, timeout=300):
    cmd = (launcher or [PY]) + [str(a) for a in args]
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=full_env, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def example_data(tmp_path_factory) -> dict[str, Path]:
    return build_example_data(tmp_path_factory.getbasetemp() / "labram_example_data")


TOKENIZER_TINY = ["--preset", "tiny", "--per-device-batch-size", "4", "--lr", "1e-3"]
PRETRAIN_TINY = ["--preset", "tiny", "--per-device-batch-size", "4"]


@pytest.fixture(scope="module")
def tokenizer_run(example_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("tokenizer")
    run_script([EXAMPLES / "train_tokenizer.py", "--dataset-dir", example_data["unlabelled"], "--output-dir", out,
                *TOKENIZER_TINY, "--max-steps", "6", "--log-every", "2", "--checkpoint-every", "3",
                "--gradient-accumulation-steps", "2"])  # fmt: skip
    return out


@pytest.fixture(scope="module")
def pretrain_run(example_data, tokenizer_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain")
    run_script([EXAMPLES / "pretrain.py", "--dataset-dir", example_data["unlabelled"], "--tokenizer", tokenizer_run,
                "--output-dir", out, *PRETRAIN_TINY, "--max-steps", "4", "--log-every", "2"])  # fmt: skip
    return out


def test_tokenizer_example(tokenizer_run, example_data):
    from labram_hf import LaBraMTokenizerModel
    from labram_hf.training import load_window_dataset

    out = tokenizer_run
    log = read_log(out / "log.jsonl")
    assert [r["step"] for r in log] == [2, 4, 6]
    for r in log:
        assert torch.isfinite(torch.tensor(r["loss"]))
        assert r["loss"] == pytest.approx(r["quantization_loss"] + r["amplitude_loss"] + r["phase_loss"], rel=1e-4)
        assert 0 < r["codebook/used_codes"] <= 64
        assert r["codebook/dead_codes"] == 64 - r["codebook/used_codes"]
        assert r["codebook/max_process_diff"] == 0.0
    assert list((out / "logs").rglob("events.out.tfevents*")), "no TensorBoard events"
    # accelerate's automatic checkpoint naming; each checkpoint records the loop position (the optimiser steps done)
    for index, step in ((0, 3), (1, 6)):
        position = torch.load(out / "checkpoints" / f"checkpoint_{index}" / "custom_checkpoint_1.pkl")
        assert position == {"step": step}
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["total_batch"] == 8  # 4 per device x 2 accumulation steps
    assert_dataset_preprocessing(out, example_data["unlabelled"])

    model = LaBraMTokenizerModel.from_pretrained(out).eval()
    assert model.config.n_code == 64 and model.config.code_dim == 16
    assert float(model.quantizer.initialized) == 1.0  # k-means ran
    assert torch.allclose(model.quantizer.codebook.norm(dim=-1), torch.ones(64), atol=1e-5)
    row = load_window_dataset(example_data["unlabelled"]).with_format("torch")[0]
    ids = model.get_codebook_indices(row["input_values"][None], row["channel_ids"][None])
    assert ids.shape == (1, row["input_values"].shape[0] * 4) and int(ids.max()) < 64


@pytest.mark.slow
def test_tokenizer_resume_latest(tokenizer_run, example_data, tmp_path):
    """--resume latest continues from the last checkpoint (here: nothing left to do, so it only re-saves)."""
    import shutil

    out = tmp_path / "tok"
    shutil.copytree(tokenizer_run, out)
    proc = run_script([EXAMPLES / "train_tokenizer.py", "--dataset-dir", example_data["unlabelled"], "--output-dir",
                       out, *TOKENIZER_TINY, "--max-steps", "8", "--log-every", "2", "--checkpoint-every", "3",
                       "--gradient-accumulation-steps", "2", "--resume", "latest", "--report-to", "none"])  # fmt: skip
    assert "at step 6" in proc.stdout + proc.stderr
    assert [r["step"] for r in read_log(out / "log.jsonl")] == [2, 4, 6, 8]


def test_pretrain_example_and_backbone_transfer(pretrain_run, example_data):
    from labram_hf import LaBraMForMaskedEEGModeling, LaBraMForSequenceClassification

    out = pretrain_run
    log = read_log(out / "log.jsonl")
    assert [r["step"] for r in log] == [2, 4]
    assert all(0 < r["loss"] < 2 * 4.5 for r in log)  # two CE terms over a 64-code vocabulary (ln 64 = 4.16)
    assert all(0.0 <= r["mlm_accuracy"] <= 1.0 for r in log)
    assert all(r["grad_norm"] > 0 for r in log)
    assert_dataset_preprocessing(out, example_data["unlabelled"])
    mem = LaBraMForMaskedEEGModeling.from_pretrained(out)
    assert mem.config.vocab_size == 64

    model, info = LaBraMForSequenceClassification.from_pretrained(out, num_labels=2, output_loading_info=True)
    assert sorted(info["missing_keys"]) == [
        "classifier.bias",
        "classifier.weight",
        "labram.pooler.layernorm.bias",
        "labram.pooler.layernorm.weight",
    ]
    assert not info["mismatched_keys"]
    torch.testing.assert_close(model.labram.embeddings.cls_token, mem.labram.embeddings.cls_token)
    torch.testing.assert_close(
        model.labram.encoder.layer[1].mlp.fc2.weight, mem.labram.encoder.layer[1].mlp.fc2.weight
    )


def test_finetune_example(pretrain_run, example_data, tmp_path):
    from labram_hf import LaBraMForSequenceClassification

    out = tmp_path / "ft"
    run_script([EXAMPLES / "finetune.py", "--model", pretrain_run, "--train-dataset", example_data["train"],
                "--eval-dataset", example_data["test"], "--test-dataset", example_data["test"], "--output-dir", out,
                "--num-epochs", "2", "--batch-size", "8", "--logging-steps", "1", "--report-to", "tensorboard",
                "--metric-for-best-model", "balanced_accuracy", "--label-smoothing", "0.1"])  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    test = results["test"]
    for key in ("test_accuracy", "test_balanced_accuracy", "test_auroc", "test_aupr", "test_loss"):
        assert key in test
    assert results["best_model_checkpoint"] is not None
    assert_dataset_preprocessing(out, example_data["train"])
    config = json.loads((out / "config.json").read_text())  # the saved model carries its pipelines as remote code
    assert config["custom_pipelines"]["eeg-classification"]["impl"].startswith("pipeline_labram.")
    assert (out / "pipeline_labram.py").read_text() == (EXAMPLES.parent / "labram_hf" / "pipeline_labram.py").read_text()
    model = LaBraMForSequenceClassification.from_pretrained(out)
    assert model.config.num_labels == 2 and model.config.id2label[1] == "asleep"
    assert model.config.label_smoothing == pytest.approx(0.1)
    assert model.config.drop_path_rate == pytest.approx(0.1)
    lrs = [h["learning_rate"] for h in results["log_history"] if "learning_rate" in h]
    assert max(lrs) <= 5e-4 + 1e-12 and lrs[-1] < max(lrs)  # warmup + cosine


def test_finetune_lora(pretrain_run, example_data, tmp_path):
    from peft import PeftModel

    from labram_hf import LaBraMForSequenceClassification
    from labram_hf.training import load_window_dataset

    out = tmp_path / "lora"
    run_script([EXAMPLES / "finetune.py", "--model", pretrain_run, "--train-dataset", example_data["train"],
                "--eval-dataset", example_data["test"], "--output-dir", out, "--max-steps", "4",
                "--eval-strategy", "steps", "--eval-steps", "2", "--batch-size", "8", "--report-to", "none",
                "--lora", "--lora-r", "4", "--lr", "5e-3"])  # fmt: skip
    assert (out / "adapter_config.json").exists() and (out / "adapter_model.safetensors").exists()
    adapter_cfg = json.loads((out / "adapter_config.json").read_text())
    assert set(adapter_cfg["target_modules"]) == {"qkv", "dense", "fc1", "fc2"}
    assert set(adapter_cfg["modules_to_save"]) >= {"classifier", "pooler"}

    base = LaBraMForSequenceClassification.from_pretrained(pretrain_run, num_labels=2)
    reloaded = PeftModel.from_pretrained(base, out).eval()
    merged = LaBraMForSequenceClassification.from_pretrained(out / "merged").eval()
    assert (out / "merged" / "preprocessor_config.json").exists()
    batch = load_window_dataset(example_data["test"]).with_format("torch")[:3]
    with torch.no_grad():
        a = reloaded(input_values=batch["input_values"], channel_ids=batch["channel_ids"]).logits
        b = merged(input_values=batch["input_values"], channel_ids=batch["channel_ids"]).logits
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # the adapters changed the model (the head is trained, LoRA B is non-zero after a few steps at lr 5e-3)
    lora_b = [p for n, p in reloaded.named_parameters() if "lora_B" in n]
    assert lora_b and any(float(p.abs().max()) > 0 for p in lora_b)
