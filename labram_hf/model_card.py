"""Hugging Face model cards (README.md) for LaBraM models, generated from the config and training metadata.

>>> from labram_hf.model_card import build_model_card
>>> card = build_model_card(model.config, {"dataset": "TUAB, 10-s windows", "metrics": {"balanced_accuracy": 0.81}},
...                         feature_extractor=fe, repo_id="org/labram-tuab")
>>> card.save("README.md")      # a huggingface_hub.ModelCard: YAML metadata header + markdown body

Metadata keys (all optional):

* ``model_name``: title of the card (default: the repo name).
* ``dataset``: a description string, or a dict with ``name``, ``description``, ``url``, ``split``.
* ``datasets``: Hub dataset ids for the metadata header.
* ``preprocessing``: a dict of preprocessing settings (default: taken from ``feature_extractor``).
* ``metrics``: ``{"name": value}`` or ``{"split": {"name": value}}`` or a list of row dicts; rendered as a table.
* ``base_model``: the Hub id the model was fine-tuned from (written to the header as ``base_model``).
* ``conversion``: the ``conversion_info.json`` of a converted checkpoint (source file, sha256, kind).
* ``training``: a dict of training hyper-parameters.
* ``license``: licence id of the weights for the header (default ``"mit"``, the licence of the original LaBraM
  release); the code is MIT.
* ``tags``: extra tags; ``pipeline_tag`` overrides the default (``feature-extraction`` for encoders and the
  tokenizer, ``other`` for classifiers: the Hub has no EEG-classification pipeline).
* ``intended_use``: extra text for the intended-use section.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CITATION_BIBTEX", "PAPER_URL", "build_card_data", "build_model_card", "load_metadata", "render_model_card"]

PAPER_TITLE = "Large Brain Model for Learning Generic Representations with Tremendous EEG Data in BCI"
PAPER_URL = "https://arxiv.org/abs/2405.18765"
ORIGINAL_CODE_URL = "https://github.com/935963004/LaBraM"
CITATION_BIBTEX = """@inproceedings{jiang2024large,
  title     = {Large Brain Model for Learning Generic Representations with Tremendous {EEG} Data in {BCI}},
  author    = {Jiang, Wei-Bang and Zhao, Li-Ming and Lu, Bao-Liang},
  booktitle = {The Twelfth International Conference on Learning Representations (ICLR)},
  year      = {2024},
  eprint    = {2405.18765},
  archivePrefix = {arXiv},
  url       = {https://arxiv.org/abs/2405.18765}
}"""

BASE_TAGS = ["eeg", "labram", "brain-computer-interface", "biosignals", "time-series", "pytorch"]

_PREPROCESSING_FIELDS = (
    ("sampling_rate", "Sampling rate (Hz)"),
    ("patch_size", "Patch size (samples)"),
    ("max_time_patches", "Longest input (patches = seconds)"),
    ("window_seconds", "Window length (s)"),
    ("stride_seconds", "Window stride (s)"),
    ("l_freq", "High-pass edge (Hz)"),
    ("h_freq", "Low-pass edge (Hz)"),
    ("notch_freq", "Notch (Hz)"),
    ("unit", "Unit of array inputs"),
    ("channels", "Channel selection"),
    ("channel_policy", "Unknown channels (strict: raise, lenient: drop)"),
    ("strict_channels", "Unknown channels raise"),  # configs saved before channel_policy existed
)


def _kind(config) -> str:
    """``classifier``, ``pretraining``, ``backbone`` or ``tokenizer`` from a config's architectures/model_type."""
    if getattr(config, "model_type", None) == "labram_tokenizer":
        return "tokenizer"
    archs = list(getattr(config, "architectures", None) or [])
    if any("SequenceClassification" in a for a in archs):
        return "classifier"
    if any("MaskedEEGModeling" in a for a in archs):
        return "pretraining"
    return "backbone"


_CLASS_OF = {
    "classifier": "LaBraMForSequenceClassification",
    "pretraining": "LaBraMForMaskedEEGModeling",
    "backbone": "LaBraMModel",
    "tokenizer": "LaBraMTokenizerModel",
}
_AUTO_OF = {
    "classifier": "AutoModelForSequenceClassification",
    "pretraining": "AutoModelForPreTraining",
    "backbone": "AutoModel",
    "tokenizer": "AutoModel",
}


def _preprocessing(metadata: Mapping[str, Any], feature_extractor) -> dict[str, Any] | None:
    if metadata.get("preprocessing") is not None:
        return dict(metadata["preprocessing"])
    if feature_extractor is None:
        return None
    if isinstance(feature_extractor, Mapping):
        return dict(feature_extractor)
    return feature_extractor.to_dict()


def build_card_data(config, metadata: Mapping[str, Any] | None = None, repo_id: str | None = None):
    """The YAML header as :class:`huggingface_hub.ModelCardData`."""
    from huggingface_hub import ModelCardData

    metadata = dict(metadata or {})
    kind = _kind(config)
    tags = list(dict.fromkeys(BASE_TAGS + [kind if kind != "backbone" else "feature-extraction"] + list(
        metadata.get("tags", [])
    )))  # fmt: skip
    pipeline_tag = metadata.get("pipeline_tag") or ("other" if kind == "classifier" else "feature-extraction")
    fields: dict[str, Any] = {
        "library_name": "transformers",
        "license": metadata.get("license", "mit"),
        "tags": tags,
        "pipeline_tag": pipeline_tag,
    }
    if metadata.get("base_model"):
        fields["base_model"] = metadata["base_model"]
        fields["base_model_relation"] = "finetune" if kind == "classifier" else None
    if metadata.get("datasets"):
        fields["datasets"] = list(metadata["datasets"])
    if repo_id or metadata.get("model_name"):
        fields["model_name"] = metadata.get("model_name") or repo_id.split("/")[-1]
    return ModelCardData(**{k: v for k, v in fields.items() if v is not None})


def _table(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value).replace("|", "\\|")


def _metric_rows(metrics: Any) -> list[dict[str, Any]]:
    if isinstance(metrics, Mapping):
        if metrics and all(isinstance(v, Mapping) for v in metrics.values()):
            return [{"split": split, **dict(values)} for split, values in metrics.items()]
        return [{"metric": k, "value": v} for k, v in metrics.items()]
    return [dict(r) for r in metrics]


def _data_section(metadata: Mapping[str, Any], kind: str) -> str:
    dataset = metadata.get("dataset")
    lines = ["## Training data", ""]
    if isinstance(dataset, Mapping):
        name = dataset.get("name")
        url = dataset.get("url")
        if name:
            lines.append(f"**{name}**" + (f" ({url})" if url else ""))
            lines.append("")
        if dataset.get("description"):
            lines.append(str(dataset["description"]))
            lines.append("")
        for key, value in dataset.items():
            if key not in ("name", "url", "description"):
                lines.append(f"- {key}: {_fmt(value)}")
        if lines[-1] != "":
            lines.append("")
    elif dataset:
        lines += [str(dataset), ""]
    elif metadata.get("conversion"):
        lines += [
            "Converted from a checkpoint of the original LaBraM code; its training data is described in the "
            f"paper ({PAPER_URL}): about 2,500 hours of EEG from around 20 datasets for pre-training, and TUAB / "
            "TUEV for the published fine-tuned models.",
            "",
        ]
    else:
        lines += ["Not documented by the uploader.", ""]
    if metadata.get("training"):
        lines += ["### Training procedure", "", _table([{"hyper-parameter": k, "value": v}
                                                         for k, v in dict(metadata["training"]).items()]), ""]  # fmt: skip
    conversion = metadata.get("conversion")
    if conversion:
        lines += [
            "### Conversion",
            "",
            f"Converted with `labram convert` from `{conversion.get('source_file', '?')}` "
            f"({conversion.get('kind', kind)} checkpoint of {ORIGINAL_CODE_URL}).",
            "",
            f"- source sha256: `{conversion.get('source_sha256', '?')}`",
        ]
        if conversion.get("num_source_tensors") is not None:
            lines.append(f"- tensors in the source state dict: {conversion['num_source_tensors']}")
        lines.append("")
    return "\n".join(lines)


def _preprocessing_section(pre: dict[str, Any] | None) -> str:
    lines = ["## Preprocessing", ""]
    if not pre:
        lines += [
            "Inputs are EEG in microvolts / 100 at 200 Hz, cut into 1-s patches of 200 samples (the original "
            "recipe: 0.1-75 Hz band-pass, 50 Hz notch).",
            "",
        ]
        return "\n".join(lines)
    lines += [
        "The feature extractor saved with the model (`preprocessor_config.json`, `labram_hf.LaBraMFeatureExtractor`)"
        " applies these steps: keep the EEG channels LaBraM knows, band-pass, notch, resample, and scale to "
        "microvolts / 100 (float32).",
        "",
    ]
    rows = [{"setting": label, "value": "none" if pre.get(key) is None else pre[key]}
            for key, label in _PREPROCESSING_FIELDS if key in pre]  # fmt: skip
    lines += [_table(rows), ""]
    return "\n".join(lines)


def _usage_section(kind: str, repo_id: str | None) -> str:
    repo = repo_id or "path/to/model"
    auto = _AUTO_OF[kind]
    if kind == "tokenizer":
        call = "ids = model.get_codebook_indices(**inputs)  # [batch, channels * patches]"
    elif kind == "classifier":
        call = "probs = model(**inputs).logits.softmax(-1)"
    elif kind == "pretraining":
        call = "out = model.labram(**inputs)  # the backbone; the MEM head needs bool_masked_pos"
    else:
        call = "embedding = model(**inputs).pooler_output  # [batch, hidden_size]"
    pipeline_section = ""
    if kind != "tokenizer":  # encoders carry the LaBraM pipelines as remote code
        if kind == "classifier":
            lines = (f'classify = pipeline("eeg-classification", model="{repo}", trust_remote_code=True)\n'
                     'result = classify("recording.edf", aggregate="mean")  # per-window and per-recording labels')
        else:
            lines = (f'embed = pipeline("eeg-feature-extraction", model="{repo}", trust_remote_code=True)\n'
                     'out = embed("recording.edf", level="window")  # one embedding per window')
        pipeline_section = (
            "Whole recordings through a transformers pipeline (the pipeline code ships with the repository too; it "
            "cuts the\nrecording into the saved windows, batches them and pools the windows per recording):\n\n"
            f"```python\nfrom transformers import pipeline\n{lines}\n```\n\n"
        )
    return f"""## How to use

With the `labram-hf` package (`pip install labram-hf`), which also brings the preprocessing:

```python
import labram_hf, mne
from transformers import {auto}

model = {auto}.from_pretrained("{repo}").eval()
fe = labram_hf.LaBraMFeatureExtractor.from_pretrained("{repo}")
raw = mne.io.read_raw_edf("recording.edf", preload=True)
inputs = fe(raw.crop(0, 10, include_tmax=False))   # input_values [1, C, T], channel_ids [1, C]
{call}
```

Without it, the model code and the feature extractor's code ship with the repository
(`trust_remote_code=True`). The feature extractor needs `numpy`, `scipy` and `mne` (`pip install mne scipy`);
the model needs only `torch` and `transformers`. Inputs are `input_values` [batch, channels, time] (microvolts /
100, 200 Hz, whole seconds, at most `config.max_time_patches` s) and `channel_ids` [batch, channels] (positions in
LaBraM's 128-electrode vocabulary), which the feature extractor produces from a recording:

```python
import mne
from transformers import AutoFeatureExtractor, {auto}
model = {auto}.from_pretrained("{repo}", trust_remote_code=True).eval()
fe = AutoFeatureExtractor.from_pretrained("{repo}", trust_remote_code=True)
inputs = fe(mne.io.read_raw_edf("recording.edf").crop(0, 10, include_tmax=False))
```

{pipeline_section}Command line: `labram embed FILES --model {repo} --output emb.parquet`"""  + (
        f" / `labram predict FILES --model {repo} --output pred.csv`" if kind == "classifier" else ""
    )


def _metrics_section(metadata: Mapping[str, Any]) -> str:
    lines = ["## Evaluation", ""]
    metrics = metadata.get("metrics")
    if metrics:
        lines += [_table(_metric_rows(metrics)), ""]
    else:
        lines += ["No evaluation results were supplied with this upload.", ""]
    return "\n".join(lines)


def _intended_use_section(metadata: Mapping[str, Any]) -> str:
    extra = metadata.get("intended_use")
    return "\n".join(
        [
            "## Intended use and limitations",
            "",
            "**Research use only.** This model is **not a medical device**: it is not certified, validated or "
            "intended for diagnosis, screening, monitoring or any clinical decision, and must not be used as such.",
            "",
            *( [str(extra), ""] if extra else [] ),
            "- Intended for research on EEG representations, brain-computer interfaces and benchmarking.",
            "- Results depend on the montage, reference, amplifier and preprocessing; recordings unlike the training "
            "data (other populations, devices, sampling rates or channel sets) can degrade performance silently.",
            "- Electrodes outside LaBraM's 128-name vocabulary are dropped; inputs are limited to "
            "`max_time_patches` one-second patches per window.",
            "- EEG is sensitive health data: make sure you have the right to process the recordings you use, and "
            "do not attempt to identify people from model outputs.",
            "",
        ]
    )


def _license_section(metadata: Mapping[str, Any]) -> str:
    weights = metadata.get("license", "mit")
    return "\n".join(
        [
            "## Licence",
            "",
            "- Code (`configuration_labram.py`, `modeling_labram.py`, `feature_extraction_labram.py` and its helper "
            "modules, the `labram-hf` package): MIT.",
            f"- Weights: as their source. Converted weights keep the licence of the original release "
            f"({ORIGINAL_CODE_URL}); fine-tuned weights are also bound by the terms of their training data "
            f"(e.g. the TUH EEG corpus data use agreement). Declared weights licence: `{weights}`.",
            "",
        ]
    )


def render_model_card(
    config, metadata: Mapping[str, Any] | None = None, feature_extractor=None, repo_id: str | None = None
) -> str:
    """The card's markdown body (without the YAML header)."""
    metadata = dict(metadata or {})
    kind = _kind(config)
    title = metadata.get("model_name") or (repo_id.split("/")[-1] if repo_id else "LaBraM")
    summary = {
        "classifier": f"a fine-tuned LaBraM EEG classifier ({config.num_labels} output(s))",
        "pretraining": "a pre-trained LaBraM EEG encoder with its masked EEG modelling head",
        "backbone": "a LaBraM EEG encoder",
        "tokenizer": "the VQ-NSP neural tokenizer of LaBraM",
    }[kind]
    lines = [
        f"# {title}",
        "",
        f"This is {summary} (`{_CLASS_OF[kind]}`), from [LaBraM]({PAPER_URL}) — *{PAPER_TITLE}* (Jiang, Zhao and "
        "Lu, ICLR 2024) — ported to Hugging Face transformers by `labram-hf`.",
        "",
    ]
    if metadata.get("base_model"):
        lines += [f"Fine-tuned from [`{metadata['base_model']}`](https://huggingface.co/{metadata['base_model']}).", ""]
    arch = [
        {"field": "hidden size", "value": config.hidden_size},
        {"field": "layers", "value": config.num_hidden_layers},
        {"field": "attention heads", "value": config.num_attention_heads},
        {"field": "max patches (s)", "value": config.max_time_patches},
    ]
    if kind == "classifier":
        labels = getattr(config, "id2label", {}) or {}
        arch.append({"field": "labels", "value": ", ".join(f"{k}: {v}" for k, v in sorted(labels.items()))})
        arch.append({"field": "problem type", "value": config.problem_type or "single_label_classification"})
    if kind == "tokenizer":
        arch.append({"field": "codebook", "value": f"{config.n_code} x {config.code_dim}"})
    lines += ["## Model", "", _table(arch), ""]
    lines += [
        _data_section(metadata, kind),
        _preprocessing_section(_preprocessing(metadata, feature_extractor)),
        _metrics_section(metadata),
        _usage_section(kind, repo_id),
        "",
        _intended_use_section(metadata),
        _license_section(metadata),
        "## Citation",
        "",
        f"If you use this model, please cite the LaBraM paper ({PAPER_URL}):",
        "",
        "```bibtex",
        CITATION_BIBTEX,
        "```",
        "",
    ]
    return "\n".join(lines)


def build_model_card(
    config, metadata: Mapping[str, Any] | None = None, feature_extractor=None, repo_id: str | None = None
):
    """A :class:`huggingface_hub.ModelCard` (YAML header + body) for a LaBraM model; ``card.save(path)``."""
    from huggingface_hub import ModelCard

    data = build_card_data(config, metadata, repo_id)
    body = render_model_card(config, metadata, feature_extractor, repo_id)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def load_metadata(path) -> dict[str, Any]:
    """Read a metadata JSON file (see the module docstring) with a clear error."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the metadata file must hold a JSON object")
    return data
