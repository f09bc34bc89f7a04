# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Fine-tune LaBraMForSequenceClassification with the transformers Trainer.

    python examples/finetune.py --model runs/mem --train-dataset train/ --eval-dataset val/ --test-dataset test/ \
        --output-dir runs/cls
    accelerate launch examples/finetune.py ...            # multi-GPU / DeepSpeed / FSDP via accelerate configs
    python examples/finetune.py --model runs/mem ... --lora  # LoRA adapters (peft)

From Python: ``finetune(FinetuningArguments(model=..., train_dataset=..., output_dir=...))`` returns the metrics.

``--model`` is a local directory (a fine-tuning checkpoint, or a pre-training ``LaBraMForMaskedEEGModeling`` whose
backbone is reused: only the pooler LayerNorm and classifier start fresh), a Hub id, or ``scratch`` (random init;
``--preset`` picks the size). Datasets are window datasets prepared by ``labram prepare`` / ``build_dataset`` with a
``label`` column.

Data contract: the model inherits the *training* dataset's preprocessing and labels — its feature extractor is
saved as ``preprocessor_config.json`` (``--feature-extractor`` overrides it) and its label schema becomes
``config.id2label`` / ``label2id`` (``--num-labels`` only for integer labels without names). Validation and test
datasets prepared differently (another filter, notch, window, channel policy, or other class names / order) are
refused before training, naming both values.

Recipe (original fine-tuning defaults): AdamW (0.9, 0.999), LR 5e-4, weight decay 0.05 (none on 1-D parameters,
biases, cls token and spatial/temporal embeddings), layer-wise LR decay 0.65 with the original buckets (cls token,
spatial embeddings and the temporal conv: bucket 0; block i: bucket i + 1; everything else, including the temporal
embeddings, pooler and head: the last bucket, scale 1), warmup (10 %: 5 of 50 epochs) then cosine to 1e-6 per
step, drop path 0.1, layer scale 0.1, optional label smoothing (``--label-smoothing``, TUEV: 0.1). The optimiser is
built by :class:`~labram_hf.training.LayerDecayTrainer`. The best checkpoint by ``--metric-for-best-model``
(original: accuracy) on the eval set is kept and, with a test set, its test metrics are reported
(``test_results.json``).

Metrics: binary (one or two logits): accuracy, balanced accuracy, AUROC, AUPR; multiclass: accuracy, balanced
accuracy, Cohen's kappa, weighted F1.

LoRA (``--lora``, peft): adapters on the attention ``qkv`` and output ``dense`` Linear layers and the MLP ``fc1``/
``fc2`` of every block (``--lora-target-modules``), rank ``--lora-r``; the classifier and the pooler LayerNorm are
trained fully (``modules_to_save``). ``OUTPUT_DIR`` then holds the adapter (``adapter_config.json``,
``adapter_model.safetensors``; reload with ``PeftModel.from_pretrained(base_model, OUTPUT_DIR)``) and
``OUTPUT_DIR/merged`` a plain model with the adapters merged (``merge_and_unload``). The feature extractor is saved
with the model in both cases. ``--push-to-hub`` / ``--hub-model-id`` go to TrainingArguments.

Model card input: ``OUTPUT_DIR/training_metadata.json`` (and ``merged/`` with LoRA) records the datasets (name,
``--dataset-description``, window counts, classes), the validation and test metrics, the initialisation (and
``--base-model``, a Hub id for the card's header), the preprocessing (the saved feature extractor's settings) and the
hyper-parameters; ``labram push`` and :mod:`labram_hf.model_card` turn it into the README
(:func:`update_training_metadata` adds to it afterwards). The test set's logits and predictions go to
``test_predictions.json``.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..constants import PATCH_SIZE
from ..data.contract import DatasetContractError, LabelSchema
from ..hub import add_remote_code
from ..modeling import LaBraMForSequenceClassification
from ..modeling.modeling_labram import interpolate_time_embeddings
from .arguments import run_as_script, stage_command
from .inputs import (
    check_dataset_matches,
    check_output_dir,
    load_feature_extractor,
    load_pretrained,
    load_window_dataset,
    training_contract,
)
from .loop import TrainingArgumentError
from .metrics import compute_metrics
from .presets import MODEL_PRESETS, model_config

__all__ = [
    "LORA_MODULES_TO_SAVE",
    "LORA_TARGET_MODULES",
    "FinetuningArguments",
    "apply_lora",
    "build_model",
    "finetune",
    "label_info",
    "load_feature_extractor",
    "main",
    "merge_metadata",
    "parse_args",
    "training_metadata",
    "update_training_metadata",
]

LORA_TARGET_MODULES = ["qkv", "dense", "fc1", "fc2"]
LORA_MODULES_TO_SAVE = ["classifier", "pooler"]
METADATA_FILE = "training_metadata.json"


@dataclass(kw_only=True)
class FinetuningArguments:
    """Arguments of :func:`finetune` (defaults: the original fine-tuning recipe)."""

    model: str = field(metadata={"help": "local directory, Hub id, or 'scratch'"})
    train_dataset: str = field(metadata={"help": "window dataset with labels (its contract is inherited)"})
    output_dir: str
    eval_dataset: str | None = field(default=None, metadata={"help": "default: no evaluation during training"})
    test_dataset: str | None = field(default=None, metadata={"help": "evaluated once at the end with the best model"})
    feature_extractor: str | None = field(
        default=None, metadata={"help": "preprocessing to save with the model (default: the training dataset's)"}
    )
    preset: str = field(default="base", metadata={"choices": list(MODEL_PRESETS), "help": "with --model scratch"})
    num_layers: int | None = field(default=None, metadata={"help": "with --model scratch: number of blocks"})
    num_labels: int | None = field(default=None, metadata={"help": "integer labels without names: class count"})
    binary_single_logit: bool = field(
        default=False, metadata={"help": "one logit + BCE for two classes (the original TUAB head)"}
    )
    lr: float = 5e-4
    min_lr: float = 1e-6
    layer_decay: float = field(default=0.65, metadata={"help": "1.0 disables layer-wise LR decay"})
    weight_decay: float = 0.05
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_ratio: float = 0.1
    drop_path: float = 0.1
    label_smoothing: float = 0.0
    num_epochs: float = 50
    max_steps: int = -1
    batch_size: int = field(default=64, metadata={"help": "per device"})
    eval_batch_size: int | None = field(default=None, metadata={"help": "default 1.5 x batch size"})
    gradient_accumulation_steps: int = 1
    eval_strategy: Literal["epoch", "steps", "no"] = "epoch"
    eval_steps: int | None = None
    metric_for_best_model: str = field(
        default="accuracy",
        metadata={"help": "e.g. accuracy (original), balanced_accuracy, auroc, aupr, cohen_kappa, f1_weighted, loss"},
    )
    save_total_limit: int = 2
    seed: int = 0
    bf16: bool = False
    logging_steps: int = 10
    report_to: str = "tensorboard"
    attn_implementation: Literal["eager", "sdpa"] = "sdpa"
    ignore_mismatched_sizes: bool = field(default=False, metadata={"help": "re-initialise a head of another size"})
    lora: bool = field(default=False, metadata={"help": "train LoRA adapters (peft) instead of all weights"})
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGET_MODULES))
    push_to_hub: bool = False
    hub_model_id: str | None = None
    dataloader_num_workers: int = 0
    quiet: bool = field(default=False, metadata={"help": "no Trainer progress bars and no printed results"})
    dataset_name: str | None = field(default=None, metadata={"help": "model card: default the training dir's name"})
    dataset_description: str | None = field(default=None, metadata={"help": "model card: the data and the split"})
    base_model: str | None = field(
        default=None,
        metadata={"help": "model card: Hub id of the starting checkpoint (default: --model when it is a Hub id)"},
    )

    def __post_init__(self):
        if len(self.adam_betas) != 2:
            raise TrainingArgumentError(f"adam_betas takes two values, got {list(self.adam_betas)}")


def label_info(dataset, num_labels: int | None = None, schema: LabelSchema | None = None):
    """``(num_labels, id2label)`` of a labelled dataset: class names from ``schema`` (default: the ``label``
    feature), or ``0 … num_labels - 1`` for integer labels (``num_labels`` default: largest label + 1)."""
    schema = schema or LabelSchema.from_feature(dataset.features.get("label"))
    if schema.kind == "none" or "label" not in dataset.column_names:
        raise DatasetContractError(
            "the training dataset has no labels, so there is nothing to fine-tune on",
            hint="prepare it with labels (labram prepare --labels ...), or use it for pre-training",
        )
    if schema.kind == "class":
        if num_labels is not None and num_labels != schema.num_classes:
            raise TrainingArgumentError(
                f"--num-labels {num_labels} contradicts the training dataset's {schema.num_classes} classes "
                f"{list(schema.names)}",
                hint="leave --num-labels out: the classes come from the dataset",
            )
        return schema.num_classes, dict(schema.id2label)
    if num_labels is None:
        num_labels = int(max(dataset["label"])) + 1
    return num_labels, {i: str(i) for i in range(num_labels)}


def build_model(args: FinetuningArguments, num_labels: int, id2label: dict[int, str]) -> LaBraMForSequenceClassification:
    """The classifier: from ``args.model`` (a new head where needed) or from a preset (``--model scratch``)."""
    n_out = 1 if (args.binary_single_logit and num_labels == 2) else num_labels
    head_labels = id2label if n_out == num_labels else {0: id2label.get(1, "1")}
    common = dict(
        num_labels=n_out,
        drop_path_rate=args.drop_path,
        label_smoothing=args.label_smoothing,
        id2label=head_labels,
        label2id={v: k for k, v in head_labels.items()},
    )
    if n_out == 1:
        common["problem_type"] = "multi_label_classification"  # BCE with logits, as the original TUAB head
    if args.model == "scratch":
        overrides = {"num_hidden_layers": args.num_layers} if args.num_layers is not None else {}
        config = model_config(args.preset, **overrides, **common)
        config._attn_implementation = args.attn_implementation
        return LaBraMForSequenceClassification(config)
    return load_pretrained(
        LaBraMForSequenceClassification,
        args.model,
        "model",
        attn_implementation=args.attn_implementation,
        ignore_mismatched_sizes=args.ignore_mismatched_sizes,
        **common,
    )


def window_patches(dataset) -> int:
    """Number of 200-sample patches per window of a prepared dataset (all its windows have the same length)."""
    return int(np.asarray(dataset[0]["input_values"]).shape[-1]) // PATCH_SIZE


def extend_time_embeddings(model: LaBraMForSequenceClassification, num_patches: int) -> bool:
    """Give ``model`` temporal embeddings for windows of ``num_patches`` patches when its table is shorter.

    The original model has ``max_time_patches`` (16) rows. For longer training windows the table is replaced, once,
    by its linear interpolation to ``num_patches`` rows (the rule of ``interpolate_pos_encoding``: an extension of
    the original) and ``config.max_time_patches`` becomes ``num_patches``; fine-tuning then trains those rows, and the
    saved model takes such windows as they are (``predict``, pipelines) without ``interpolate_pos_encoding``.
    Returns whether the table was extended.
    """
    embeddings = model.labram.embeddings
    table_rows = embeddings.time_embeddings.shape[1]
    if num_patches <= table_rows:
        return False
    warnings.warn(
        f"training windows have {num_patches} patches ({num_patches} s) but the model has temporal embeddings for "
        f"{table_rows}: its table is extended to {num_patches} rows by linear interpolation "
        "(interpolate_pos_encoding's rule, an extension of the original LaBraM) and fine-tuned from there",
        stacklevel=2,
    )
    with torch.no_grad():
        table = interpolate_time_embeddings(embeddings.time_embeddings.detach(), num_patches)  # [1, num_patches, D]
    embeddings.time_embeddings = torch.nn.Parameter(table.contiguous())
    model.config.max_time_patches = num_patches
    return True


def apply_lora(model, args: FinetuningArguments):
    """Wrap ``model`` with LoRA adapters (peft) as ``args`` says; the head and pooler are trained fully."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=list(args.lora_target_modules),
        modules_to_save=LORA_MODULES_TO_SAVE,
    )
    peft_model = get_peft_model(model, config)
    peft_model.print_trainable_parameters()
    return peft_model


# ----------------------------------------------------------------------------------------------------------------------
# training_metadata.json (the model card's input)
# ----------------------------------------------------------------------------------------------------------------------

_CARD_METRICS = ("accuracy", "balanced_accuracy", "auroc", "aupr", "cohen_kappa", "f1_weighted", "loss")


def _card_metrics(metrics: dict, prefix: str) -> dict[str, float]:
    return {k: float(metrics[f"{prefix}_{k}"]) for k in _CARD_METRICS if metrics.get(f"{prefix}_{k}") is not None}


def training_metadata(args: FinetuningArguments, *, train, eval_set=None, test_set=None, id2label=None, results=None,
                      feature_extractor=None, global_step=None) -> dict:  # fmt: skip
    """The ``training_metadata.json`` of a fine-tuning run (see :mod:`labram_hf.model_card` for the keys)."""
    n_time = len(train[0]["input_values"][0]) if len(train) else 0
    dataset = {
        "name": args.dataset_name or os.path.basename(os.path.normpath(args.train_dataset)),
        "description": args.dataset_description,
        "training windows": len(train),
        "validation windows": len(eval_set) if eval_set is not None else None,
        "test windows": len(test_set) if test_set is not None else None,
        "window length (s)": n_time / 200 if n_time else None,
        "classes": ", ".join(f"{k}: {v}" for k, v in sorted((id2label or {}).items())),
    }
    metrics = {}
    for split, prefix in (("validation", "eval"), ("test", "test")):
        values = _card_metrics((results or {}).get(prefix, {}) or {}, prefix)
        if values:
            metrics[split] = values
    training = {
        "initialisation": "random (from scratch)" if args.model == "scratch" else args.model,
        "epochs": args.num_epochs if args.max_steps in (None, -1) else None,
        "optimiser steps": global_step,
        "batch size (per device)": args.batch_size,
        "learning rate": args.lr,
        "layer decay": args.layer_decay,
        "weight decay": args.weight_decay,
        "warmup ratio": args.warmup_ratio,
        "drop path": args.drop_path,
        "label smoothing": args.label_smoothing,
        "best model by": args.metric_for_best_model if eval_set is not None else None,
        "LoRA rank": args.lora_r if args.lora else None,
        "seed": args.seed,
    }
    base = args.base_model
    if base is None and args.model != "scratch" and not os.path.exists(args.model):
        base = args.model  # a Hub id
    meta = {
        "dataset": {k: v for k, v in dataset.items() if v not in (None, "")},
        "metrics": metrics,
        "training": {k: v for k, v in training.items() if v is not None},
    }
    if base:
        meta["base_model"] = base
    if feature_extractor is not None:
        pre = feature_extractor.to_dict()
        pre.pop("feature_extractor_type", None)
        meta["preprocessing"] = pre
    return meta


def merge_metadata(meta: dict, extra: dict | None) -> dict:
    """``meta`` updated with ``extra``: dict values are merged one level deep, anything else replaced."""
    out = dict(meta)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def update_training_metadata(model_dir: str | os.PathLike, extra: dict) -> dict:
    """Merge ``extra`` into ``MODEL_DIR/training_metadata.json`` (:func:`merge_metadata`); returns the result."""
    path = Path(model_dir) / METADATA_FILE
    meta = merge_metadata(json.loads(path.read_text(encoding="utf-8")), extra)
    path.write_text(json.dumps(meta, indent=2, default=float), encoding="utf-8")
    return meta


# ----------------------------------------------------------------------------------------------------------------------
# The stage
# ----------------------------------------------------------------------------------------------------------------------


def _training_arguments(args: FinetuningArguments, do_eval: bool):
    from transformers import TrainingArguments

    metric = args.metric_for_best_model
    return TrainingArguments(
        output_dir=args.output_dir,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.eval_batch_size or max(1, int(args.batch_size * 1.5)),
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        adam_beta1=args.adam_betas[0],
        adam_beta2=args.adam_betas[1],
        adam_epsilon=1e-8,
        warmup_steps=args.warmup_ratio,  # a float < 1 is a ratio of the training steps
        num_train_epochs=args.num_epochs,
        max_steps=args.max_steps,
        eval_strategy=args.eval_strategy if do_eval else "no",
        eval_steps=args.eval_steps,
        save_strategy=args.eval_strategy if do_eval else "epoch",
        save_steps=args.eval_steps,
        save_total_limit=args.save_total_limit,
        load_best_model_at_end=do_eval,
        metric_for_best_model=metric if do_eval else None,
        greater_is_better=(metric not in ("loss", "eval_loss")) if do_eval else None,
        logging_steps=args.logging_steps,
        report_to=[] if args.report_to == "none" else [r for r in args.report_to.split(",") if r],
        seed=args.seed,
        bf16=args.bf16,
        remove_unused_columns=False,  # rows are raw EEG windows; the collator builds the model inputs
        label_names=["labels"],
        dataloader_num_workers=args.dataloader_num_workers,
        dataloader_pin_memory=torch.accelerator.is_available(),  # pinned memory only helps copies to an accelerator
        push_to_hub=args.push_to_hub,
        hub_model_id=args.hub_model_id,
        disable_tqdm=True if args.quiet else None,
    )


def _prediction_record(prediction) -> dict[str, list]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    logits = np.asarray(logits, dtype=np.float64)  # [N, num_labels] (or [N] / [N, 1] for one logit)
    single = logits.ndim == 1 or logits.shape[-1] == 1
    predicted = (logits.reshape(-1) > 0).astype(int) if single else logits.argmax(-1)
    return {
        "logits": logits.tolist(),
        "predictions": predicted.astype(int).tolist(),
        "labels": np.asarray(prediction.label_ids).astype(int).reshape(-1).tolist(),
    }


def finetune(args: FinetuningArguments, *, feature_extractor=None, metadata: dict | None = None,
             callbacks=None) -> dict:  # fmt: skip
    """Fine-tune; returns the results (``train``, ``eval``, ``test`` metrics, ``log_history``,
    ``best_model_checkpoint``, ``test_predictions`` and the ``training_metadata`` written).

    ``feature_extractor`` (an extractor or a path) overrides the training dataset's (and ``args.feature_extractor``);
    ``metadata`` is merged into ``training_metadata.json`` (:func:`merge_metadata`); ``callbacks`` go to the
    ``Trainer``.
    """
    from transformers import set_seed

    from ..data import ArrowWindowDataset, LaBraMDataCollator
    from .trainer import LayerDecayTrainer

    check_output_dir(args.output_dir, model=None if args.model == "scratch" else args.model,
                     train_dataset=args.train_dataset, eval_dataset=args.eval_dataset,
                     test_dataset=args.test_dataset)  # fmt: skip
    train = load_window_dataset(args.train_dataset)
    contract = training_contract(args.train_dataset, train, feature_extractor or args.feature_extractor)
    splits = {}
    for name, path in (("validation", args.eval_dataset), ("test", args.test_dataset)):
        if path:
            splits[name] = load_window_dataset(path)
            check_dataset_matches(contract, path, splits[name], name)
    num_labels, id2label = label_info(train, args.num_labels, contract["label_schema"])
    extractor = contract["feature_extractor"]

    set_seed(args.seed)
    model = build_model(args, num_labels, id2label)
    if extend_time_embeddings(model, window_patches(train)):
        extractor.max_time_patches = model.config.max_time_patches  # saved with the model: it takes these windows
    if args.lora:
        model = apply_lora(model, args)
    columns = ["input_values", "channel_ids", "label"]
    eval_raw, test_raw = splits.get("validation"), splits.get("test")
    do_eval = eval_raw is not None and args.eval_strategy != "no"
    trainer = LayerDecayTrainer(
        model=model,
        args=_training_arguments(args, do_eval),
        train_dataset=ArrowWindowDataset(train, columns=columns),
        eval_dataset=ArrowWindowDataset(eval_raw, columns=columns) if eval_raw is not None else None,
        data_collator=LaBraMDataCollator(label_dtype=torch.float32 if model.config.num_labels == 1 else torch.int64),
        processing_class=extractor,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        layer_decay=args.layer_decay,
        min_lr=args.min_lr,
    )
    if args.quiet:  # with disable_tqdm the Trainer prints every log dict instead of showing bars
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    train_result = trainer.train()
    trainer.save_model(args.output_dir)  # the best model when evaluating; + preprocessor_config.json
    results: dict[str, Any] = {"train": train_result.metrics}
    if do_eval:
        results["eval"] = trainer.evaluate()
    if test_raw is not None:
        prediction = trainer.predict(ArrowWindowDataset(test_raw, columns=columns), metric_key_prefix="test")
        results["test"] = prediction.metrics
        results["test_predictions"] = _prediction_record(prediction)
    results["best_model_checkpoint"] = trainer.state.best_model_checkpoint
    results["log_history"] = trainer.state.log_history
    meta = training_metadata(args, train=train, eval_set=eval_raw, test_set=test_raw, id2label=id2label,
                             results=results, feature_extractor=extractor,
                             global_step=trainer.state.global_step)  # fmt: skip
    results["training_metadata"] = meta = merge_metadata(meta, metadata)
    if trainer.is_world_process_zero():
        _write_outputs(trainer, args, results, meta, extractor)
    if args.push_to_hub:
        trainer.push_to_hub()
    return results


def _write_outputs(trainer, args: FinetuningArguments, results: dict, meta: dict, extractor) -> None:
    out = Path(args.output_dir)
    if args.lora:
        merged_dir = out / "merged"
        trainer.model.merge_and_unload().save_pretrained(merged_dir)
        extractor.save_pretrained(str(merged_dir))
        add_remote_code(merged_dir)  # + pipeline code and custom_pipelines: pipeline(..., trust_remote_code=True)
        (merged_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=float))
        results["merged_dir"] = str(merged_dir)
    else:
        add_remote_code(out)  # + pipeline code and custom_pipelines: pipeline(..., trust_remote_code=True)
    (out / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=float))
    summary = {k: v for k, v in results.items() if k != "test_predictions"}
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=float))
    if "test" in results:
        (out / "test_results.json").write_text(json.dumps(results["test"], indent=2, default=float))
        (out / "test_predictions.json").write_text(json.dumps(results["test_predictions"]))
    if not args.quiet:
        print(json.dumps({k: results[k] for k in ("eval", "test") if k in results}, indent=2, default=float))


parse_args, main = stage_command(FinetuningArguments, finetune, __doc__)

if __name__ == "__main__":
    run_as_script(main)
