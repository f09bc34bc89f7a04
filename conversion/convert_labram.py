"""Conversion of the original LaBraM checkpoints (GitHub 935963004/LaBraM) to labram-hf.

The mapping functions are pure: they take a state dict with the original key names and return one with ours (and
back, for round trips). Three original formats exist:

* ``classifier``: a fine-tuned ``NeuralTransformer`` (keys ``cls_token``, ``blocks.0...``, ``fc_norm``, ``head``).
* ``pretraining``: a masked-EEG-modelling ``NeuralTransformerForMEM`` (keys ``student.*``, ``lm_head.*``,
  ``projection_head.*``), e.g. the released ``labram-base.pth``.
* ``tokenizer``: a ``VQNSP`` neural tokenizer (``encoder.*``, ``decoder.*``, ``quantize.*``, task layers), e.g. the
  released ``vqnsp.pth``.

Modules the original builds but never uses in a forward pass are dropped explicitly (``student.lm_head``,
``projection_head``, ``quantize.embedding.embed_avg``, ``quantize.embedding.cluster_size``, and ``loss*``,
``teacher*``, ``scaling*`` entries, which the original tokenizer loader deletes as well). Any other key that fits
no rule is an error, never silently ignored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from ..modeling import (
    LABRAM_PRESETS,
    LaBraMConfig,
    LaBraMForMaskedEEGModeling,
    LaBraMForSequenceClassification,
    LaBraMTokenizerConfig,
    LaBraMTokenizerModel,
)

KINDS = ("classifier", "pretraining", "tokenizer")

# Prefix rewrites of one backbone (a NeuralTransformer without pooling or head): original -> ours. `{i}` is a block
# index. Both directions are derived from this single table.
_BACKBONE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("cls_token", "embeddings.cls_token"),
    ("mask_token", "embeddings.mask_token"),
    ("pos_embed", "embeddings.position_embeddings"),
    ("time_embed", "embeddings.time_embeddings"),
    ("patch_embed.conv", "embeddings.patch_embeddings.conv"),
    ("patch_embed.norm", "embeddings.patch_embeddings.norm"),
    ("blocks.{i}.norm1.", "encoder.layer.{i}.layernorm_before."),
    ("blocks.{i}.norm2.", "encoder.layer.{i}.layernorm_after."),
    ("blocks.{i}.gamma_1", "encoder.layer.{i}.lambda_1"),
    ("blocks.{i}.gamma_2", "encoder.layer.{i}.lambda_2"),
    ("blocks.{i}.attn.proj.", "encoder.layer.{i}.attention.dense."),
    ("blocks.{i}.attn.", "encoder.layer.{i}.attention."),
    ("blocks.{i}.mlp.", "encoder.layer.{i}.mlp."),
)

# Whole-model prefix rewrites per kind, tried in order: (original prefix, our prefix, maps a backbone?).
# A backbone entry rewrites the remainder through _BACKBONE_PREFIXES; a plain entry copies the remainder as is.
_MODEL_PREFIXES: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "classifier": (
        ("fc_norm.", "labram.pooler.layernorm.", False),
        ("norm.", "labram.pooler.layernorm.", False),  # cls pooling (no mean pooling): `norm` is the LayerNorm
        ("head.", "classifier.", False),
        ("", "labram.", True),
    ),
    "pretraining": (
        ("student.norm.", "layernorm.", False),
        ("lm_head.", "lm_head.", False),
        ("student.", "labram.", True),
    ),
    "tokenizer": (
        ("encoder.fc_norm.", "encoder.layernorm.", False),
        ("encoder.norm.", "encoder.layernorm.", False),  # the original tokenizer loader renames fc_norm -> norm
        ("decoder.fc_norm.", "decoder.layernorm.", False),
        ("decoder.norm.", "decoder.layernorm.", False),
        ("decoder.patch_embed.proj.", "decoder.embeddings.projection.", False),
        ("encode_task_layer.", "encoder_head.", False),
        ("decode_task_layer_angle.", "phase_head.", False),
        ("decode_task_layer.", "amplitude_head.", False),
        ("quantize.embedding.weight", "quantizer.codebook", False),
        ("quantize.embedding.initted", "quantizer.initialized", False),
        ("quantize.cluster_size", "quantizer.code_usage", False),
        ("encoder.", "encoder.", True),
        ("decoder.", "decoder.", True),
    ),
}

# Original entries that no forward pass reads; dropped on purpose.
_DROPPED: dict[str, tuple[str, ...]] = {
    "classifier": (r"relative_position_index$", r"relative_position_bias_table$"),
    "pretraining": (r"^student\.lm_head\.", r"^projection_head\.", r"relative_position_index$"),
    "tokenizer": (
        r"^quantize\.embedding\.embed_avg$",
        r"^quantize\.embedding\.cluster_size$",
        r"^loss",
        r"^teacher",
        r"^scaling",
    ),
}


def _prefix_regex(template: str) -> re.Pattern:
    return re.compile("^" + re.escape(template).replace(re.escape("{i}"), r"(?P<i>\d+)"))


def _rewrite(key: str, table: tuple[tuple[str, str], ...], reverse: bool = False) -> str | None:
    for original, ours in table:
        source, target = (ours, original) if reverse else (original, ours)
        match = _prefix_regex(source).match(key)
        if match:
            prefix = target.replace("{i}", match.group("i")) if "{i}" in target else target
            return prefix + key[match.end() :]
    return None


def _convert(state_dict: Mapping[str, torch.Tensor], kind: str, reverse: bool = False) -> dict[str, torch.Tensor]:
    if kind not in KINDS:
        raise ValueError(f"Unknown checkpoint kind {kind!r}; expected one of {KINDS}.")
    converted: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, tensor in state_dict.items():
        if not reverse and any(re.search(pattern, key) for pattern in _DROPPED[kind]):
            continue
        new_key = None
        for original, ours, is_backbone in _MODEL_PREFIXES[kind]:
            source, target = (ours, original) if reverse else (original, ours)
            if not key.startswith(source):
                continue
            rest = key[len(source) :]
            if is_backbone:
                mapped = _rewrite(rest, _BACKBONE_PREFIXES, reverse=reverse)
                if mapped is None:
                    continue
                new_key = target + mapped
            else:
                new_key = target + rest
            break
        if new_key is None:
            unknown.append(key)
            continue
        if new_key in converted:
            raise ValueError(f"Two checkpoint entries map to {new_key!r} (the second is {key!r}).")
        if kind == "tokenizer" and new_key in ("quantizer.initialized", "quantize.embedding.initted"):
            tensor = tensor.reshape(1) if reverse else tensor.reshape(())
        converted[new_key] = tensor
    if unknown:
        direction = "labram-hf" if reverse else f"original LaBraM {kind}"
        raise ValueError(
            f"{len(unknown)} key(s) fit no rule of the {direction} format: {unknown[:10]}"
            + (" ..." if len(unknown) > 10 else "")
        )
    return converted


def convert_classifier_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original fine-tuned `NeuralTransformer` -> `LaBraMForSequenceClassification`."""
    return _convert(state_dict, "classifier")


def convert_pretraining_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original `NeuralTransformerForMEM` (`student.*`, `lm_head.*`) -> `LaBraMForMaskedEEGModeling`."""
    return _convert(state_dict, "pretraining")


def convert_tokenizer_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original `VQNSP` -> `LaBraMTokenizerModel`."""
    return _convert(state_dict, "tokenizer")


def convert_state_dict(state_dict: Mapping[str, torch.Tensor], kind: str) -> dict[str, torch.Tensor]:
    return _convert(state_dict, kind)


def to_original_state_dict(state_dict: Mapping[str, torch.Tensor], kind: str) -> dict[str, torch.Tensor]:
    """Reverse mapping (ours -> original names) of the entries we keep; used for round-trip checks."""
    return _convert(state_dict, kind, reverse=True)


def detect_kind(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Tell which original format a state dict is in, or raise a ValueError that says what was found."""
    keys = list(state_dict)
    if any(k.startswith("quantize.") for k in keys) and any(k.startswith("encoder.") for k in keys):
        return "tokenizer"
    if any(k.startswith("student.") for k in keys):
        return "pretraining"
    if "cls_token" in state_dict and "patch_embed.conv1.weight" in state_dict:
        return "classifier"
    preview = ", ".join(keys[:8])
    raise ValueError(
        "This checkpoint is not an original LaBraM classifier, pre-training (student.*) or VQ-NSP tokenizer "
        f"(encoder./decoder./quantize.) state dict; its first keys are: {preview or '(none)'}"
    )


def _num_blocks(state_dict: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile("^" + re.escape(prefix) + r"blocks\.(\d+)\.")
    indices = {int(m.group(1)) for k in state_dict if (m := pattern.match(k))}
    if not indices:
        raise ValueError(f"No transformer blocks ({prefix}blocks.N.*) in the checkpoint.")
    if indices != set(range(len(indices))):
        raise ValueError(f"Block indices under {prefix}blocks are not contiguous: {sorted(indices)}")
    return len(indices)


def _backbone_fields(state_dict: Mapping[str, torch.Tensor], prefix: str, num_heads: int | None) -> dict:
    hidden_size = state_dict[f"{prefix}cls_token"].shape[-1]
    q_norm = state_dict.get(f"{prefix}blocks.0.attn.q_norm.weight")
    if num_heads is None:
        if q_norm is not None:
            num_heads = hidden_size // q_norm.shape[0]
        else:
            by_width = {preset["hidden_size"]: preset["num_attention_heads"] for preset in LABRAM_PRESETS.values()}
            if hidden_size not in by_width:
                raise ValueError(
                    f"Cannot infer the number of attention heads of a width-{hidden_size} model without qk-norm "
                    "weights; pass num_heads (CLI: --num-heads)."
                )
            num_heads = by_width[hidden_size]
    fields = {
        "hidden_size": hidden_size,
        "num_hidden_layers": _num_blocks(state_dict, prefix),
        "num_attention_heads": num_heads,
        "intermediate_size": state_dict[f"{prefix}blocks.0.mlp.fc1.weight"].shape[0],
        "temporal_conv_channels": state_dict[f"{prefix}patch_embed.conv1.weight"].shape[0],
        "qkv_bias": f"{prefix}blocks.0.attn.q_bias" in state_dict,
        "use_qk_norm": q_norm is not None,
        "max_time_patches": state_dict[f"{prefix}time_embed"].shape[1],
        "num_electrodes": state_dict[f"{prefix}pos_embed"].shape[1] - 1,
    }
    gamma = state_dict.get(f"{prefix}blocks.0.gamma_1")
    fields["layer_scale_init_value"] = 0.1 if gamma is not None else 0.0
    return fields


def infer_config(
    state_dict: Mapping[str, torch.Tensor], kind: str, num_heads: int | None = None
) -> LaBraMConfig | LaBraMTokenizerConfig:
    """Build the labram-hf configuration of an original checkpoint from its tensor shapes."""
    if kind == "classifier":
        fields = _backbone_fields(state_dict, "", num_heads)
        num_labels = state_dict["head.weight"].shape[0] if "head.weight" in state_dict else 0
        extra = {}
        if num_labels == 1:
            # The original TUAB recipe: one logit trained with BCEWithLogitsLoss.
            extra["problem_type"] = "multi_label_classification"
        return LaBraMConfig(
            **fields,
            num_labels=max(num_labels, 1),
            use_mean_pooling="fc_norm.weight" in state_dict,
            **extra,
        )
    if kind == "pretraining":
        fields = _backbone_fields(state_dict, "student.", num_heads)
        return LaBraMConfig(
            **fields,
            vocab_size=state_dict["lm_head.weight"].shape[0],
            cls_position_from_first_channel=True,
            drop_path_rate=0.1,
        )
    if kind == "tokenizer":
        fields = _backbone_fields(state_dict, "encoder.", num_heads)
        codebook = state_dict["quantize.embedding.weight"]
        fields.pop("use_qk_norm")
        return LaBraMTokenizerConfig(
            **fields,
            use_qk_norm="encoder.blocks.0.attn.q_norm.weight" in state_dict,
            decoder_num_hidden_layers=_num_blocks(state_dict, "decoder."),
            n_code=codebook.shape[0],
            code_dim=codebook.shape[1],
            decoder_out_dim=state_dict["decode_task_layer.2.weight"].shape[0],
        )
    raise ValueError(f"Unknown checkpoint kind {kind!r}; expected one of {KINDS}.")


MODEL_CLASSES = {
    "classifier": LaBraMForSequenceClassification,
    "pretraining": LaBraMForMaskedEEGModeling,
    "tokenizer": LaBraMTokenizerModel,
}


def load_original_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """
    Read an original `.pth` file safely: weights-only unpickling (argparse.Namespace is the one allow-listed class,
    as training checkpoints store their arguments), then unwrap `model` / `module` / `state_dict`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError / RuntimeError with a long explanation
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"Cannot read {path} as a weights-only PyTorch checkpoint ({first_line}). labram-hf never unpickles "
            "arbitrary objects; re-save the state dict with torch.save(model.state_dict(), path) if needed."
        ) from err
    if isinstance(payload, Mapping):
        for wrapper in ("model", "module", "state_dict"):
            if wrapper in payload and isinstance(payload[wrapper], Mapping):
                payload = payload[wrapper]
                break
    if not isinstance(payload, Mapping) or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise ValueError(f"{path} does not hold a state dict (a mapping of names to tensors).")
    return dict(payload)


def sha256sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def build_model(state_dict: Mapping[str, torch.Tensor], kind: str = "auto", num_heads: int | None = None):
    """Create the labram-hf model of an original state dict and load it strictly. Returns (model, kind)."""
    if kind == "auto":
        kind = detect_kind(state_dict)
    config = infer_config(state_dict, kind, num_heads=num_heads)
    model = MODEL_CLASSES[kind](config)
    converted = convert_state_dict(state_dict, kind)
    expected = model.state_dict()
    for key, tensor in converted.items():
        if key in expected and expected[key].shape != tensor.shape:
            raise ValueError(f"Shape mismatch for {key}: checkpoint {tuple(tensor.shape)}, model {tuple(expected[key].shape)}")
    model.load_state_dict({k: v.to(expected[k].dtype) if k in expected else v for k, v in converted.items()}, strict=True)
    return model.eval(), kind


def convert_checkpoint(
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike,
    kind: str = "auto",
    num_heads: int | None = None,
    overwrite: bool = False,
) -> Path:
    """
    Convert an original `.pth` file into a Hugging Face directory: `model.safetensors`, `config.json` (with
    `auto_map`), the remote-code files, `preprocessor_config.json` (with the feature extractor's remote code) and
    `conversion_info.json` (source file name, sha256, kind).

    The output goes through :class:`labram_hf.outputs.OutputTarget`: it is checked before the checkpoint is read
    (never the checkpoint itself or a directory holding it; an existing non-empty directory only with `overwrite`
    and only when labram wrote it), written beside its final path with normal permissions and renamed into place,
    so a failure leaves nothing behind. Output problems raise :class:`labram_hf.outputs.OutputError`.
    """
    from ..feature_extraction_labram import LaBraMFeatureExtractor
    from ..outputs import OutputTarget
    from ..hub import add_remote_code

    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    if kind != "auto" and kind not in KINDS:
        raise ValueError(f"Unknown checkpoint kind {kind!r}; expected auto or one of {KINDS}.")
    target = OutputTarget(output_dir, inputs=[checkpoint], overwrite=overwrite, kind="dir", what="output directory",
                          command="convert")  # fmt: skip
    state_dict = load_original_checkpoint(checkpoint)
    try:
        model, kind = build_model(state_dict, kind, num_heads=num_heads)
    except (KeyError, ValueError, RuntimeError) as err:
        raise ValueError(f"{checkpoint}: cannot convert as {kind}: {err}") from err

    with target as out:
        model.save_pretrained(out.work)
        LaBraMFeatureExtractor().save_pretrained(out.work)  # the original recipe, with its remote code
        add_remote_code(out.work)  # + pipeline code and custom_pipelines (encoders)
        info = {
            "source_file": checkpoint.name,
            "source_sha256": sha256sum(checkpoint),
            "kind": kind,
            "model_class": type(model).__name__,
            "num_source_tensors": len(state_dict),
        }
        (out.work / "conversion_info.json").write_text(json.dumps(info, indent=2) + "\n")
        return out.commit()
