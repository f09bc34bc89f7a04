"""Model cards: valid Hub metadata (huggingface_hub.ModelCard / ModelCardData) and the required sections."""

from __future__ import annotations

import yaml
from huggingface_hub import ModelCard, ModelCardData

from labram_hf import LaBraMConfig, LaBraMFeatureExtractor, LaBraMTokenizerConfig
from labram_hf.model_card import build_model_card

SECTIONS = ("## Training data", "## Preprocessing", "## Evaluation", "## Intended use and limitations",
            "## Licence", "## Citation")  # fmt: skip


def classifier_config():
    config = LaBraMConfig(num_hidden_layers=2, num_labels=2, id2label={0: "normal", 1: "abnormal"},
                          label2id={"normal": 0, "abnormal": 1})  # fmt: skip
    config.architectures = ["LaBraMForSequenceClassification"]
    return config


def test_finetuned_card(tmp_path):
    metadata = {
        "dataset": {"name": "TUAB", "description": "TUH Abnormal EEG corpus, 10-s windows", "url": "https://isip.piconepress.com"},
        "metrics": {"test": {"balanced_accuracy": 0.8123, "auroc": 0.9012}, "validation": {"balanced_accuracy": 0.8}},
        "base_model": "org/labram-base",
        "training": {"epochs": 30, "learning_rate": 5e-4, "layer_decay": 0.65},
        "datasets": ["org/tuab-windows"],
    }
    fe = LaBraMFeatureExtractor(notch_freq=60.0)
    card = build_model_card(classifier_config(), metadata, feature_extractor=fe, repo_id="org/labram-tuab")
    path = tmp_path / "README.md"
    card.save(path)
    loaded = ModelCard.load(path)  # parses and validates the YAML header
    data = loaded.data.to_dict()
    assert data["library_name"] == "transformers"
    assert data["base_model"] == "org/labram-base"
    assert {"eeg", "labram"} <= set(data["tags"])
    assert data["pipeline_tag"] and data["license"] == "mit"
    assert data["datasets"] == ["org/tuab-windows"]
    assert isinstance(loaded.data, ModelCardData)
    header = yaml.safe_load(path.read_text().split("---")[1])
    assert header["library_name"] == "transformers"
    text = loaded.text
    for section in SECTIONS:
        assert section in text, section
    assert "0.8123" in text and "balanced_accuracy" in text and "TUAB" in text
    assert "60" in text and "Notch" in text  # preprocessing from the feature extractor
    assert "NOT a medical device".lower() in text.lower()
    assert "Research use only" in text and "MIT" in text
    assert "2405.18765" in text and "Jiang" in text and "ICLR 2024" in text
    assert "normal" in text and "abnormal" in text
    # the extractor ships as remote code too, and says what it needs
    assert 'AutoFeatureExtractor.from_pretrained("org/labram-tuab", trust_remote_code=True)' in text
    assert "`numpy`, `scipy` and `mne`" in text
    # and so do the pipelines
    assert 'pipeline("eeg-classification", model="org/labram-tuab", trust_remote_code=True)' in text


def test_converted_card_records_sha256():
    config = LaBraMConfig(num_hidden_layers=2)
    config.architectures = ["LaBraMForMaskedEEGModeling"]
    sha = "ab" * 32
    conversion = {"source_file": "labram-base.pth", "source_sha256": sha, "kind": "pretraining"}
    card = build_model_card(config, {"conversion": conversion}, repo_id="org/labram-base")
    data = card.data.to_dict()
    assert "base_model" not in data
    assert data["pipeline_tag"] == "feature-extraction"
    assert sha in card.text and "labram-base.pth" in card.text
    assert 'pipeline("eeg-feature-extraction", model="org/labram-base", trust_remote_code=True)' in card.text
    ModelCard(str(card))  # round trip of the whole text


def test_tokenizer_card_without_metadata():
    card = build_model_card(LaBraMTokenizerConfig(num_hidden_layers=1, decoder_num_hidden_layers=1))
    text = str(card)
    assert text.startswith("---\n")
    assert "LaBraMTokenizerModel" in text and "codebook" in text
    assert "No evaluation results" in text
    assert "pipeline(" not in text  # the tokenizer has no pipelines
    assert ModelCard(text).data.library_name == "transformers"
