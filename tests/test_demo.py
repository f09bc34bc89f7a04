"""`labram demo --quick --both-directions` end to end (in-process, through the CLI), then checks of everything it
wrote.

The quick demo runs the real pipeline on the real sample recordings (fetch -> windows -> tokenizer -> pre-training ->
fine-tuning -> baselines -> HF directory -> reload) at tiny sizes, so the metrics are near chance; the tests check
values, consistency and reproducibility, not quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import os

    from labram_hf.cli import main

    out = tmp_path_factory.mktemp("demo") / "demo-output"
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        code = main(["demo", "--output", str(out), "--quick", "--seed", "0", "--both-directions"])
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous
    assert code == 0
    return out, json.loads((out / "results.json").read_text())


def test_demo_writes_every_file(demo):
    out, results = demo
    model = out / "model"
    for name in ("model.safetensors", "config.json", "configuration_labram.py", "modeling_labram.py",
                 "preprocessor_config.json", "README.md", "training_metadata.json"):  # fmt: skip
        assert (model / name).is_file(), name
    config = json.loads((model / "config.json").read_text())
    assert config["architectures"] == ["LaBraMForSequenceClassification"]
    assert config["auto_map"]["AutoModelForSequenceClassification"] == (
        "modeling_labram.LaBraMForSequenceClassification"
    )
    assert config["id2label"] == {"0": "awake", "1": "asleep"}
    fe = json.loads((model / "preprocessor_config.json").read_text())
    assert fe["notch_freq"] == 60.0 and fe["window_seconds"] == 4 and fe["channel_policy"] == "lenient"
    for root in (out, out / "reverse"):  # every dataset carries its contract; every stage saved it
        for split in ("train", "validation", "test", "unlabelled"):
            assert (root / "data" / split / "dataset_info.json").is_file()
            data_fe = json.loads((root / "data" / split / "preprocessor_config.json").read_text())
            assert (data_fe["notch_freq"], data_fe["window_seconds"], data_fe["channel_policy"]) == (60.0, 4, "lenient")
            schema = json.loads((root / "data" / split / "label_schema.json").read_text())
            assert schema == ({"kind": "none"} if split == "unlabelled" else {"kind": "class", "names": ["awake", "asleep"]})
        for stage in ("tokenizer", "pretrain", "finetune", "scratch"):
            saved = json.loads((root / "stages" / stage / "preprocessor_config.json").read_text())
            assert saved["notch_freq"] == 60.0 and saved["window_seconds"] == 4, stage
    assert (out / "stages" / "tokenizer" / "model.safetensors").is_file()
    assert (out / "stages" / "pretrain" / "model.safetensors").is_file()
    assert not list((out / "stages").rglob("checkpoint-*")), "Trainer checkpoints should be cleaned up"
    for key, path in results["paths"].items():
        assert Path(path).exists(), key


def test_demo_results_are_consistent(demo):
    from labram_hf.training import binary_metrics

    _, results = demo
    metrics = results["test_metrics"]
    assert len(metrics) == 3  # pre-trained, (a) scratch, (b) band power
    for method, values in metrics.items():
        assert set(values) == {"accuracy", "balanced_accuracy", "auroc", "aupr"}, method
        assert all(0.0 <= v <= 1.0 for v in values.values()), (method, values)
    pred = results["test_predictions"]
    labels = np.asarray(pred["labels"])
    counts = results["windows"]["test"]
    assert len(labels) == counts["awake"] + counts["asleep"] == 48
    assert int(labels.sum()) == counts["asleep"]
    # the stored predictions reproduce the reported metrics
    pretrained = next(v for k, v in metrics.items() if k.startswith("LaBraM"))
    assert np.mean(np.asarray(pred["predictions"]) == labels) == pytest.approx(pretrained["accuracy"])
    recomputed = binary_metrics(labels, pred["probability_asleep"])
    for key in ("accuracy", "balanced_accuracy", "auroc", "aupr"):
        assert recomputed[key] == pytest.approx(pretrained[key], abs=1e-6), key
    band = next(v for k, v in metrics.items() if "band power" in k)
    assert binary_metrics(labels, pred["band_power_probability_asleep"]) == pytest.approx(band)
    check = results["reload_check"]
    assert check["predictions_equal_evaluation"] is True
    assert check["raw_recording_through_feature_extractor"]["predictions_equal_evaluation"] is True
    assert check["raw_recording_through_feature_extractor"]["max_abs_input_difference"] == 0.0
    assert results["total_seconds"] < 120 * len(results["directions"])  # quick: under two minutes a direction


def test_demo_both_directions(demo):
    out, results = demo
    first, second = results["directions"]
    assert (first["train"], first["test"], second["train"], second["test"]) == ("absence", "spasms", "spasms", "absence")
    assert first["test_metrics"] == results["test_metrics"]
    assert sum(second["windows"]["test"].values()) == 48  # the quick demo's cap, from the other recording
    reverse = json.loads((out / "reverse" / "stages" / "finetune" / "results.json").read_text())
    pretrained = next(v for k, v in second["test_metrics"].items() if k.startswith("LaBraM"))
    assert reverse["test"]["test_balanced_accuracy"] == pytest.approx(pretrained["balanced_accuracy"])
    table = (out / "results.md").read_text().splitlines()
    assert len(table) == 2 + 3 + 3
    assert sum("absence → spasms" in line for line in table) == 3 and sum("spasms → absence" in line for line in table) == 3
    assert f"{pretrained['auroc']:.3f}" in next(line for line in table if "spasms → absence | LaBraM" in line)
    assert (out / "plots" / "training_curves_spasms_to_absence.png").read_bytes()[:8] == PNG_MAGIC


def test_demo_model_reloads_and_reproduces_predictions(demo):
    import datasets
    from transformers import AutoFeatureExtractor, AutoModelForSequenceClassification

    out, results = demo
    model = AutoModelForSequenceClassification.from_pretrained(out / "model").eval()
    assert type(model).__name__ == "LaBraMForSequenceClassification"
    assert type(AutoFeatureExtractor.from_pretrained(out / "model")).__name__ == "LaBraMFeatureExtractor"
    test = datasets.load_from_disk(str(out / "data" / "test")).with_format("torch")[:]
    assert test["start"].tolist() == pytest.approx(results["test_predictions"]["start_seconds"])
    with torch.no_grad():
        logits = model(input_values=test["input_values"], channel_ids=test["channel_ids"]).logits
    assert logits.argmax(-1).tolist() == results["test_predictions"]["predictions"]
    stored = json.loads((out / "stages" / "finetune" / "test_predictions.json").read_text())
    torch.testing.assert_close(logits.double(), torch.tensor(stored["logits"], dtype=torch.float64),
                               atol=1e-5, rtol=1e-5)  # fmt: skip
    probs = logits.softmax(-1)[:, 1]
    assert probs.tolist() == pytest.approx(results["test_predictions"]["probability_asleep"], abs=1e-6)


def test_demo_model_card(demo):
    from huggingface_hub import ModelCard

    out, results = demo
    card = ModelCard.load(out / "model" / "README.md")
    assert "eeg" in card.data.tags and "sleep" in card.data.tags
    assert card.data.library_name == "transformers"
    text = card.text
    assert "## Evaluation" in text and "not a medical device" in text
    for method, values in results["test_metrics"].items():
        assert method in text
        assert f"{values['balanced_accuracy']:.4g}" in text
    meta = json.loads((out / "model" / "training_metadata.json").read_text())
    assert meta["dataset"]["test windows"] == 48
    assert meta["preprocessing"]["notch_freq"] == 60.0
    assert "base_model" not in meta  # pre-trained locally, not a Hub checkpoint


def test_demo_plots_are_pngs(demo):
    import matplotlib.image as mpimg

    out, _ = demo
    for name in ("training_curves.png", "embeddings.png"):
        path = out / "plots" / name
        assert path.read_bytes()[:8] == PNG_MAGIC, name
        image = mpimg.imread(path)
        assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 800, (name, image.shape)
        assert float(image[..., :3].std()) > 0.05, f"{name} looks blank"


def test_demo_refuses_a_foreign_directory(tmp_path, capsys):
    from labram_hf.cli import main
    from labram_hf.demo import MARKER, prepare_output_dir

    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    assert main(["demo", "--output", str(target), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and "hint:" in err and "--overwrite" in err
    assert (target / "notes.txt").read_text() == "keep me" and not (target / MARKER).exists()
    # --overwrite clears only the demo's own entries
    (target / "plots").mkdir()
    prepare_output_dir(target, overwrite=True)
    assert (target / "notes.txt").exists() and not (target / "plots").exists() and (target / MARKER).exists()
    # an earlier demo output may be replaced without --overwrite
    prepare_output_dir(target, overwrite=False)
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--output", str(tmp_path / "file"), "--quick"]) == 2
    assert "not a directory" in capsys.readouterr().err
