# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Fine-tune LaBraMForSequenceClassification with the transformers Trainer (``examples/finetune.py``).

    python examples/finetune.py --model runs/mem --train-dataset train/ --eval-dataset val/ --test-dataset test/ \
        --output-dir runs/cls
    accelerate launch examples/finetune.py ...            # multi-GPU / DeepSpeed / FSDP via accelerate configs
    python examples/finetune.py --model runs/mem ... --lora  # LoRA adapters (peft)

``--model`` is a local directory (a fine-tuning checkpoint, or a pre-training ``LaBraMForMaskedEEGModeling`` whose
backbone is reused: only the pooler LayerNorm and classifier start fresh), a Hub id, or ``scratch`` (random init;
``--preset`` picks the size). Datasets are window datasets from ``labram_hf.data`` (``datasets.load_from_disk``) with
a ``label`` column; the number of classes comes from its ``ClassLabel`` (or ``--num-labels``).

Recipe (original fine-tuning defaults): AdamW (0.9, 0.999), LR 5e-4, weight decay 0.05 (none on 1-D parameters,
biases, cls token and spatial/temporal embeddings), layer-wise LR decay 0.65 with the original buckets (cls token,
spatial embeddings and the temporal conv: bucket 0; block i: bucket i + 1; everything else, including the temporal
embeddings, pooler and head: the last bucket, scale 1), warmup (10 %: 5 of 50 epochs) then cosine to 1e-6 per
step, drop path 0.1, layer scale 0.1, optional label smoothing (``--label-smoothing``, TUEV: 0.1). The optimiser is
built by ``labram_hf.training.LayerDecayTrainer`` (``create_optimizer``/``create_scheduler`` overrides). The best
checkpoint by ``--metric-for-best-model`` (original: accuracy) on the eval set is kept and, with a test set, its
test metrics are reported (``test_results.json``).

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
hyper-parameters; ``labram push`` and :mod:`labram_hf.model_card` turn it into the README. The test set's logits
and predictions go to ``test_predictions.json``.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from .. import LaBraMConfig, LaBraMForSequenceClassification
from ..data import ArrowWindowDataset, LaBraMDataCollator
from ..training import (
    TINY_MODEL_KWARGS,
    LayerDecayTrainer,
    compute_metrics,
    load_window_dataset,
)

LORA_TARGET_MODULES = ["qkv", "dense", "fc1", "fc2"]
LORA_MODULES_TO_SAVE = ["classifier", "pooler"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="local directory, Hub id, or 'scratch'")
    p.add_argument("--preset", default="base", choices=["tiny", "base", "large", "huge"], help="with --model scratch")
    p.add_argument("--num-layers", type=int, default=None, help="with --model scratch: number of blocks")
    p.add_argument("--train-dataset", required=True)
    p.add_argument("--eval-dataset", default=None, help="default: no evaluation during training")
    p.add_argument("--test-dataset", default=None, help="evaluated once at the end with the best model")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--num-labels", type=int, default=None, help="default: from the label column's ClassLabel")
    p.add_argument("--binary-single-logit", action="store_true",
                   help="one logit + BCE for two classes (the original TUAB head)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--min-lr", type=float, default=1e-6)
    p.add_argument("--layer-decay", type=float, default=0.65, help="1.0 disables layer-wise LR decay")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--adam-betas", type=float, nargs=2, default=[0.9, 0.999])
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--drop-path", type=float, default=0.1)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--num-epochs", type=float, default=50)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--batch-size", type=int, default=64, help="per device")
    p.add_argument("--eval-batch-size", type=int, default=None, help="default 1.5 x batch size")
    p.add_argument("--gradient-accumulation-steps", type=int, default=1)
    p.add_argument("--eval-strategy", default="epoch", choices=["epoch", "steps", "no"])
    p.add_argument("--eval-steps", type=int, default=None)
    p.add_argument("--metric-for-best-model", default="accuracy",
                   help="e.g. accuracy (original), balanced_accuracy, auroc, aupr, cohen_kappa, f1_weighted, loss")
    p.add_argument("--save-total-limit", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--report-to", default="tensorboard")
    p.add_argument("--attn-implementation", default="sdpa", choices=["eager", "sdpa"])
    p.add_argument("--ignore-mismatched-sizes", action="store_true", help="re-initialise a head of another size")
    p.add_argument("--lora", action="store_true", help="train LoRA adapters (peft) instead of all weights")
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=int, default=16)
    p.add_argument("--lora-dropout", type=float, default=0.0)
    p.add_argument("--lora-target-modules", nargs="+", default=LORA_TARGET_MODULES)
    p.add_argument("--push-to-hub", action="store_true")
    p.add_argument("--hub-model-id", default=None)
    p.add_argument("--dataloader-num-workers", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no Trainer progress bars and no printed results")
    card = p.add_argument_group("model card (training_metadata.json)")
    card.add_argument("--dataset-name", default=None, help="default: the training dataset's directory name")
    card.add_argument("--dataset-description", default=None, help="one paragraph on the data and the split")
    card.add_argument("--base-model", default=None,
                      help="Hub id of the starting checkpoint for the card (default: --model when it is a Hub id)")
    return p.parse_args(argv)


def label_info(dataset, num_labels: int | None):
    feature = dataset.features.get("label")
    names = getattr(feature, "names", None)
    if num_labels is None:
        if names is None:
            labels = sorted(set(dataset["label"]))
            num_labels = max(labels) + 1
        else:
            num_labels = len(names)
    names = names or [str(i) for i in range(num_labels)]
    return num_labels, {i: n for i, n in enumerate(names)}


def build_model(args, num_labels: int, id2label: dict[int, str]) -> LaBraMForSequenceClassification:
    n_out = 1 if (args.binary_single_logit and num_labels == 2) else num_labels
    common = dict(
        num_labels=n_out,
        drop_path_rate=args.drop_path,
        label_smoothing=args.label_smoothing,
        id2label=id2label if n_out == num_labels else {0: id2label.get(1, "1")},
        label2id={v: k for k, v in id2label.items()} if n_out == num_labels else {id2label.get(1, "1"): 0},
    )
    if n_out == 1:
        common["problem_type"] = "multi_label_classification"  # BCE with logits, as the original TUAB head
    if args.model == "scratch":
        kwargs = dict(TINY_MODEL_KWARGS) if args.preset == "tiny" else {}
        if args.num_layers is not None:
            kwargs["num_hidden_layers"] = args.num_layers
        config = (LaBraMConfig(**kwargs, **common) if args.preset == "tiny"
                  else LaBraMConfig.from_preset(args.preset, **common))  # fmt: skip
        config._attn_implementation = args.attn_implementation
        return LaBraMForSequenceClassification(config)
    return LaBraMForSequenceClassification.from_pretrained(
        args.model,
        attn_implementation=args.attn_implementation,
        ignore_mismatched_sizes=args.ignore_mismatched_sizes,
        **common,
    )


def load_feature_extractor(model_path: str):
    try:
        from .. import LaBraMFeatureExtractor
    except ImportError:  # pragma: no cover
        return None
    if LaBraMFeatureExtractor is None:
        return None
    if model_path != "scratch":
        try:
            return LaBraMFeatureExtractor.from_pretrained(model_path)
        except Exception:  # noqa: BLE001 - no preprocessor_config.json there
            pass
    return LaBraMFeatureExtractor()


def apply_lora(model, args):
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


_CARD_METRICS = ("accuracy", "balanced_accuracy", "auroc", "aupr", "cohen_kappa", "f1_weighted", "loss")


def _card_metrics(metrics: dict, prefix: str) -> dict[str, float]:
    out = {}
    for key in _CARD_METRICS:
        value = metrics.get(f"{prefix}_{key}")
        if value is not None:
            out[key] = float(value)
    return out


def training_metadata(args, *, train, eval_set=None, test_set=None, id2label=None, results=None,
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


def _merge_metadata(meta: dict, extra: dict | None) -> dict:
    out = dict(meta)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def main(argv=None, *, feature_extractor=None, metadata: dict | None = None, callbacks=None) -> dict:
    """Fine-tune as the command line ``argv`` says; returns the results (``train``, ``eval``, ``test`` metrics,
    ``log_history``, ``best_model_checkpoint``, ``test_predictions`` and the ``training_metadata`` written).

    In-process extras: ``feature_extractor`` is saved with the model (default: the one in ``--model``'s directory,
    else the original recipe's settings); ``metadata`` is merged into ``training_metadata.json`` (dicts one level
    deep); ``callbacks`` are passed to the ``Trainer``.
    """
    from transformers import TrainingArguments, set_seed

    args = parse_args(argv)
    set_seed(args.seed)
    train = load_window_dataset(args.train_dataset)
    num_labels, id2label = label_info(train, args.num_labels)
    model = build_model(args, num_labels, id2label)
    if args.lora:
        model = apply_lora(model, args)
    if feature_extractor is None:
        feature_extractor = load_feature_extractor(args.model)

    columns = ["input_values", "channel_ids", "label"]
    train_ds = ArrowWindowDataset(train, columns=columns)
    eval_raw = load_window_dataset(args.eval_dataset) if args.eval_dataset else None
    eval_ds = ArrowWindowDataset(eval_raw, columns=columns) if eval_raw is not None else None
    label_dtype = torch.float32 if model.config.num_labels == 1 else torch.int64
    collator = LaBraMDataCollator(label_dtype=label_dtype)

    do_eval = eval_ds is not None and args.eval_strategy != "no"
    metric = args.metric_for_best_model
    training_args = TrainingArguments(
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
        push_to_hub=args.push_to_hub,
        hub_model_id=args.hub_model_id,
        disable_tqdm=True if args.quiet else None,
    )
    trainer = LayerDecayTrainer(
        model=model,
        args=training_args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=collator,
        processing_class=feature_extractor,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        layer_decay=args.layer_decay,
        min_lr=args.min_lr,
    )
    if args.quiet:  # with disable_tqdm the Trainer prints every log dict instead of showing bars
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    train_result = trainer.train()
    trainer.save_model(args.output_dir)  # the best model when evaluating (load_best_model_at_end); + feature extractor
    results = {"train": train_result.metrics}
    if do_eval:
        results["eval"] = trainer.evaluate()
    test_raw = None
    if args.test_dataset:
        test_raw = load_window_dataset(args.test_dataset)
        prediction = trainer.predict(ArrowWindowDataset(test_raw, columns=columns), metric_key_prefix="test")
        results["test"] = prediction.metrics
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        logits = np.asarray(logits, dtype=np.float64)
        predicted = (logits.reshape(-1) > 0).astype(int) if logits.ndim == 1 or logits.shape[-1] == 1 else logits.argmax(-1)
        results["test_predictions"] = {
            "logits": logits.tolist(),
            "predictions": predicted.astype(int).tolist(),
            "labels": np.asarray(prediction.label_ids).astype(int).reshape(-1).tolist(),
        }
    results["best_model_checkpoint"] = trainer.state.best_model_checkpoint
    results["log_history"] = trainer.state.log_history
    meta = training_metadata(args, train=train, eval_set=eval_raw, test_set=test_raw, id2label=id2label,
                             results=results, feature_extractor=feature_extractor,
                             global_step=trainer.state.global_step)  # fmt: skip
    results["training_metadata"] = meta = _merge_metadata(meta, metadata)
    if args.lora and trainer.is_world_process_zero():
        merged = trainer.model.merge_and_unload()
        merged_dir = os.path.join(args.output_dir, "merged")
        merged.save_pretrained(merged_dir)
        if feature_extractor is not None:
            feature_extractor.save_pretrained(merged_dir)
        with open(os.path.join(merged_dir, "training_metadata.json"), "w") as f:
            json.dump(meta, f, indent=2, default=float)
        results["merged_dir"] = merged_dir
    if trainer.is_world_process_zero():
        with open(os.path.join(args.output_dir, "training_metadata.json"), "w") as f:
            json.dump(meta, f, indent=2, default=float)
        with open(os.path.join(args.output_dir, "results.json"), "w") as f:
            json.dump({k: v for k, v in results.items() if k != "test_predictions"}, f, indent=2, default=float)
        if "test" in results:
            with open(os.path.join(args.output_dir, "test_results.json"), "w") as f:
                json.dump(results["test"], f, indent=2, default=float)
            with open(os.path.join(args.output_dir, "test_predictions.json"), "w") as f:
                json.dump(results["test_predictions"], f)
        if not args.quiet:
            print(json.dumps({k: results[k] for k in ("eval", "test") if k in results}, indent=2, default=float))
    if args.push_to_hub:
        trainer.push_to_hub()
    return results

if __name__ == "__main__":
    main()
