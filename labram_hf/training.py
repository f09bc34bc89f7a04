"""Shared training helpers for LaBraM: the original recipes (optimiser groups, schedules, metrics) in one place.

Used by the recipes in :mod:`labram_hf.recipes` (``examples/train_tokenizer.py``, ``examples/pretrain.py`` and
``examples/finetune.py`` wrap them), ``examples/real_run.py`` and ``labram demo``; everything here is plain torch /
scikit-learn and can be used in your own loops.

* Parameter groups: :func:`param_groups` implements the original ``optim_factory.get_parameter_groups``:
  no weight decay for 1-D parameters, biases and the embedding tables (cls token, spatial/temporal embeddings,
  mask token), and optionally layer-wise learning-rate decay with the original buckets (:func:`layer_id_for_name`).
* :func:`cosine_schedule_with_warmup`: the original ``utils.cosine_scheduler`` (linear warmup from 0, cosine to a
  floor ``min_lr``) as a per-optimiser-step ``LambdaLR``; groups with an ``lr_scale`` keep it (the floor scales too,
  as in the original, where ``lr = schedule[it] * lr_scale``).
* Metrics (scikit-learn): :func:`binary_metrics` (accuracy, balanced accuracy, AUROC, AUPR),
  :func:`multiclass_metrics` (accuracy, balanced accuracy, Cohen's kappa, weighted F1) and :func:`compute_metrics`
  for :class:`transformers.Trainer`.
* :class:`LayerDecayTrainer`: a ``Trainer`` whose ``create_optimizer``/``create_scheduler`` use the above.
* Data helpers for the examples: :func:`load_window_dataset`, :class:`ShardedEpochBatches` (world-size invariant
  batching for the accelerate loops), :func:`sample_masks` (per-sample reproducible masks), tiny configurations.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "NO_WEIGHT_DECAY_NAMES",
    "TINY_MODEL_KWARGS",
    "TINY_TOKENIZER_KWARGS",
    "LayerDecayTrainer",
    "ShardedEpochBatches",
    "binary_metrics",
    "compute_metrics",
    "cosine_lr_factor",
    "cosine_schedule_with_warmup",
    "layer_decay_scales",
    "layer_id_for_name",
    "load_window_dataset",
    "multiclass_metrics",
    "param_groups",
    "sample_masks",
    "use_weight_decay",
]

# ----------------------------------------------------------------------------------------------------------------------
# Parameter groups
# ----------------------------------------------------------------------------------------------------------------------

#: Parameter-name leaves that never get weight decay (the original's skip list: cls_token, pos_embed, time_embed,
#: and the pre-training mask token), in this port's names.
NO_WEIGHT_DECAY_NAMES = ("cls_token", "position_embeddings", "time_embeddings", "mask_token")

_BLOCK_RE = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)\.")
_BUCKET0_RE = re.compile(r"(?:^|\.)embeddings\.(?:cls_token|position_embeddings|mask_token|patch_embeddings\.)")


def use_weight_decay(name: str, param: torch.Tensor) -> bool:
    """The original rule: no decay for 1-D parameters, biases and the embedding tables (`NO_WEIGHT_DECAY_NAMES`)."""
    if param.ndim <= 1 or name.endswith(".bias"):
        return False
    leaf = name.rsplit(".", 1)[-1]
    return leaf not in NO_WEIGHT_DECAY_NAMES


def layer_id_for_name(name: str, num_layers: int) -> int:
    """
    The original ``get_num_layer_for_vit`` bucket of a parameter (``num_layers + 2`` buckets):

    * 0: ``cls_token``, ``position_embeddings`` (pos_embed), ``patch_embeddings.*`` (the temporal conv) and the mask
      token;
    * i + 1: everything in transformer block i (``encoder.layer.i.*``);
    * ``num_layers + 1``: everything else, **including** ``time_embeddings`` (the original checks ``time_embed``
      nowhere, so it falls through), the pooler LayerNorm and the classifier.

    Names may carry any prefix (``labram.``, peft's ``base_model.model.``): matching is by pattern.
    """
    if _BUCKET0_RE.search(name) or name in ("cls_token", "pos_embed") or name.startswith("patch_embed"):
        return 0
    match = _BLOCK_RE.search(name)
    if match is not None:
        return int(match.group(1)) + 1
    return num_layers + 1


def layer_decay_scales(num_layers: int, layer_decay: float) -> list[float]:
    """LR scale of every bucket: ``layer_decay ** (num_layers + 1 - j)`` for j = 0 … num_layers + 1."""
    return [layer_decay ** (num_layers + 1 - j) for j in range(num_layers + 2)]


def param_groups(
    model: nn.Module,
    weight_decay: float,
    layer_decay: float | None = None,
    num_layers: int | None = None,
    lr: float | None = None,
) -> list[dict[str, Any]]:
    """
    Optimiser parameter groups with the original weight-decay rule and, with ``layer_decay`` (e.g. 0.65), layer-wise
    learning-rate decay. Only trainable parameters are included.

    Each group has ``params``, ``weight_decay``, ``lr_scale`` and a ``group_name``; with ``lr`` given, also
    ``lr = lr * lr_scale``. Groups are ordered with the largest scale first (so loggers that report group 0 show
    the head's learning rate). ``num_layers`` defaults to ``model.config.num_hidden_layers``.
    """
    if layer_decay is not None and num_layers is None:
        config = getattr(model, "config", None)
        if config is None and hasattr(model, "get_base_model"):
            config = model.get_base_model().config
        num_layers = int(config.num_hidden_layers)
    scales = layer_decay_scales(num_layers, layer_decay) if layer_decay is not None else None
    groups: dict[str, dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = use_weight_decay(name, param)
        layer = layer_id_for_name(name, num_layers) if scales is not None else 0
        key = f"layer_{layer}_{'decay' if decay else 'no_decay'}"
        if key not in groups:
            scale = scales[layer] if scales is not None else 1.0
            groups[key] = {
                "group_name": key,
                "params": [],
                "param_names": [],
                "weight_decay": weight_decay if decay else 0.0,
                "lr_scale": scale,
            }
            if lr is not None:
                groups[key]["lr"] = lr * scale
        groups[key]["params"].append(param)
        groups[key]["param_names"].append(name)
    return sorted(groups.values(), key=lambda g: (-g["lr_scale"], g["group_name"]))


def make_adamw(groups: list[dict[str, Any]], lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` output (extra keys such as ``param_names`` are dropped)."""
    clean = []
    for g in groups:
        clean.append({k: v for k, v in g.items() if k not in ("param_names",)})
        clean[-1].setdefault("lr", lr * g.get("lr_scale", 1.0))
    return torch.optim.AdamW(clean, lr=lr, betas=tuple(betas), eps=eps)


# ----------------------------------------------------------------------------------------------------------------------
# Schedule
# ----------------------------------------------------------------------------------------------------------------------


def cosine_lr_factor(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """
    Multiplier of the base LR at optimiser step ``step`` (0-based), as ``utils.cosine_scheduler``: linear warmup
    ``step / warmup_steps`` (from 0), then ``min + (1 - min) * 0.5 * (1 + cos(pi * i / (total - warmup)))``.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return step / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def cosine_schedule_with_warmup(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_lr: float = 0.0, base_lr: float | None = None
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` following :func:`cosine_lr_factor`; every group keeps its own (scaled) initial LR."""
    if base_lr is None:
        base_lr = max(g["lr"] / g.get("lr_scale", 1.0) for g in optimizer.param_groups)
    ratio = (min_lr / base_lr) if base_lr > 0 else 0.0
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: cosine_lr_factor(step, warmup_steps, total_steps, ratio)
    )


# ----------------------------------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------------------------------


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def binary_metrics(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """Accuracy and balanced accuracy at ``threshold``, AUROC and AUPR (average precision) of positive-class scores."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        balanced_accuracy_score,
        roc_auc_score,
    )

    y = np.asarray(labels).astype(int).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    pred = (s >= threshold).astype(int)
    out = {
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
    }
    if len(np.unique(y)) == 2:
        out["auroc"] = float(roc_auc_score(y, s))
        out["aupr"] = float(average_precision_score(y, s))
    else:  # undefined with one class present
        out["auroc"] = float("nan")
        out["aupr"] = float("nan")
    return out


def multiclass_metrics(labels: Sequence[int], predictions: Sequence[int]) -> dict[str, float]:
    """Accuracy, balanced accuracy, Cohen's kappa and weighted F1 (the TUEV metrics)."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        cohen_kappa_score,
        f1_score,
    )

    y = np.asarray(labels).astype(int).reshape(-1)
    p = np.asarray(predictions).astype(int).reshape(-1)
    return {
        "accuracy": float(accuracy_score(y, p)),
        "balanced_accuracy": float(balanced_accuracy_score(y, p)),
        "cohen_kappa": float(cohen_kappa_score(y, p)),
        "f1_weighted": float(f1_score(y, p, average="weighted", zero_division=0)),
    }


def metrics_from_logits(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """
    Metrics by problem shape: one logit (sigmoid, binary), two logits (softmax probability of class 1, binary), more
    (argmax, multiclass).
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim == 1 or logits.shape[-1] == 1:
        scores = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
        return binary_metrics(labels.reshape(-1), scores)
    if logits.shape[-1] == 2:
        return binary_metrics(labels.reshape(-1), _softmax(logits)[:, 1])
    return multiclass_metrics(labels.reshape(-1), logits.argmax(axis=-1))


def compute_metrics(eval_pred) -> dict[str, float]:
    """``compute_metrics`` for :class:`transformers.Trainer` (see :func:`metrics_from_logits`)."""
    logits = eval_pred.predictions
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    return metrics_from_logits(logits, eval_pred.label_ids)


# ----------------------------------------------------------------------------------------------------------------------
# Trainer with the original optimiser
# ----------------------------------------------------------------------------------------------------------------------


def _trainer_base():
    from transformers import Trainer

    return Trainer


class LayerDecayTrainer(_trainer_base()):
    """
    :class:`transformers.Trainer` with the original fine-tuning optimiser: AdamW over :func:`param_groups` (layer
    decay ``layer_decay``, no weight decay on norms/biases/embedding tables) and the original warmup + cosine
    schedule to ``min_lr`` (per optimiser step). Warmup comes from ``TrainingArguments.warmup_steps`` /
    ``warmup_ratio``; betas/eps/weight decay/LR from the TrainingArguments.
    """

    def __init__(self, *args, layer_decay: float | None = 0.65, min_lr: float = 1e-6, **kwargs):
        super().__init__(*args, **kwargs)
        self.layer_decay = layer_decay
        self.min_lr = min_lr

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            opt_model = self.model if model is None else model
            groups = param_groups(
                opt_model,
                self.args.weight_decay,
                layer_decay=self.layer_decay if self.layer_decay not in (None, 1.0) else None,
                lr=self.args.learning_rate,
            )
            self.optimizer = make_adamw(
                groups,
                self.args.learning_rate,
                betas=(self.args.adam_beta1, self.args.adam_beta2),
                eps=self.args.adam_epsilon,
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            optimizer = self.optimizer if optimizer is None else optimizer
            self.lr_scheduler = cosine_schedule_with_warmup(
                optimizer,
                self.args.get_warmup_steps(num_training_steps),
                num_training_steps,
                min_lr=self.min_lr,
                base_lr=self.args.learning_rate,
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler


# ----------------------------------------------------------------------------------------------------------------------
# Data helpers for the example loops
# ----------------------------------------------------------------------------------------------------------------------

#: Tiny backbone for tests and smoke runs (hidden 100 = 25 x 4 conv channels; 2 blocks of 4 heads of 25).
TINY_MODEL_KWARGS = {
    "hidden_size": 100,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 200,
    "temporal_conv_channels": 4,
}
#: Tiny tokenizer (2 encoder blocks, 1 decoder block, 64 codes of 16).
TINY_TOKENIZER_KWARGS = {
    "hidden_size": 100,
    "num_hidden_layers": 2,
    "decoder_num_hidden_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 200,
    "temporal_conv_channels": 4,
    "n_code": 64,
    "code_dim": 16,
}


def load_window_dataset(path: str | os.PathLike, split: str | None = None):
    """``datasets.load_from_disk(path)``; for a ``DatasetDict`` the ``split`` (default ``"train"``) is returned."""
    import datasets

    ds = datasets.load_from_disk(os.fspath(path))
    if isinstance(ds, datasets.DatasetDict):
        split = split or ("train" if "train" in ds else next(iter(ds)))
        ds = ds[split]
    elif split not in (None, "train"):
        raise ValueError(f"{path} holds a single Dataset, not splits; cannot select split {split!r}")
    return ds


class ShardedEpochBatches:
    """
    World-size-invariant batching for hand-written (accelerate) loops.

    Epoch e uses the permutation of ``torch.Generator().manual_seed(seed + e)`` over the dataset (or the identity
    with ``shuffle=False``); consecutive ``global_batch_size = per_device_batch_size * num_processes`` indices form a
    global micro-batch (the incomplete tail is dropped) and process r takes slice r of it. One process with a
    per-device batch of ``b * n`` therefore sees exactly the samples that n processes with ``b`` see together, step
    by step — the property behind the distributed equivalence tests, and behind exact resumption
    (:meth:`iterate` starts at any micro-batch). Yields ``(epoch, micro_batch_index, indices)``.
    """

    def __init__(
        self,
        num_samples: int,
        per_device_batch_size: int,
        num_processes: int = 1,
        process_index: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ):
        self.num_samples = int(num_samples)
        self.per_device_batch_size = int(per_device_batch_size)
        self.num_processes = int(num_processes)
        self.process_index = int(process_index)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.global_batch_size = self.per_device_batch_size * self.num_processes
        if self.global_batch_size > self.num_samples:
            raise ValueError(
                f"global batch {self.global_batch_size} (= {per_device_batch_size} x {num_processes} processes) "
                f"exceeds the {num_samples} samples of the dataset"
            )

    @property
    def batches_per_epoch(self) -> int:
        return self.num_samples // self.global_batch_size

    def epoch_order(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.num_samples)
        return torch.randperm(self.num_samples, generator=torch.Generator().manual_seed(self.seed + epoch))

    def iterate(self, start_micro_batch: int = 0) -> Iterator[tuple[int, int, list[int]]]:
        """Endless stream of (epoch, global micro-batch index, this process's indices) from ``start_micro_batch``."""
        per_epoch = self.batches_per_epoch
        k = int(start_micro_batch)
        while True:
            epoch, within = divmod(k, per_epoch)
            order = self.epoch_order(epoch)
            lo = within * self.global_batch_size + self.process_index * self.per_device_batch_size
            yield epoch, k, order[lo : lo + self.per_device_batch_size].tolist()
            k += 1


def sample_masks(
    sample_keys: Iterable[int],
    num_tokens: int | Sequence[int],
    mask_ratio: float = 0.5,
    seed: int = 0,
    max_tokens: int | None = None,
) -> torch.Tensor:
    """
    The original per-sample random masking (uniform noise, argsort, keep ``int(L (1 - ratio))`` lowest, mask the
    rest; :func:`labram_hf.data.collators.random_masking`), drawn for each sample from its own generator seeded by
    ``(seed, key)``. Masks therefore depend only on the sample key (e.g. ``epoch * N + index``), never on batch
    composition, process count or resumption. ``num_tokens`` is L, or each sample's real token count (padded
    channels at the end, never masked). Returns bool [B, max_tokens], True = masked.
    """
    from .data.collators import random_masking

    keys = [int(k) for k in sample_keys]
    counts = [int(num_tokens)] * len(keys) if isinstance(num_tokens, int) else [int(c) for c in num_tokens]
    width = max(counts) if max_tokens is None else int(max_tokens)
    rows = []
    for key, count in zip(keys, counts):
        gen = torch.Generator().manual_seed((int(seed) * 1_000_003 + key) % (2**62))
        rows.append(random_masking(torch.tensor([count]), mask_ratio=mask_ratio, generator=gen, max_tokens=width))
    return torch.cat(rows, dim=0)


def collate_rows(rows: Sequence[Mapping[str, Any]], with_labels: bool = False) -> dict[str, torch.Tensor]:
    """Rows -> batch with :class:`labram_hf.data.LaBraMDataCollator` (pads channel sets with a ``channel_mask``)."""
    from .data.collators import LaBraMDataCollator

    rows = rows if with_labels else [{k: v for k, v in r.items() if k not in ("label", "labels")} for r in rows]
    return LaBraMDataCollator()(rows)


def to_device(batch: Mapping[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def codebook_statistics(counts: torch.Tensor) -> dict[str, float]:
    """Usage statistics of code counts [n_code]: used / dead codes, usage fraction and perplexity (exp entropy)."""
    counts = counts.double()
    total = counts.sum().clamp(min=1)
    p = counts / total
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    used = int((counts > 0).sum())
    return {
        "used_codes": used,
        "dead_codes": int(counts.numel() - used),
        "usage_fraction": used / counts.numel(),
        "perplexity": float(entropy.exp()),
    }


def jsonl_logger(path: str | os.PathLike | None) -> Callable[[dict[str, Any]], None]:
    """A function appending one JSON object per call to ``path`` (no-op for ``None``)."""
    import json

    def log(record: dict[str, Any]) -> None:
        if path is None:
            return
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=float) + "\n")

    return log


# ----------------------------------------------------------------------------------------------------------------------
# A small accelerate training loop shared by the tokenizer and pre-training recipes (labram_hf.recipes)
# ----------------------------------------------------------------------------------------------------------------------


def add_loop_arguments(parser, *, lr=None, blr=None, betas=(0.9, 0.999), weight_decay=0.05, min_lr=1e-5,
                       warmup_ratio=0.1, clip_grad=None, batch_size=64, epochs=1) -> None:  # fmt: skip
    """The command-line options of :func:`run_accelerate_loop` (defaults: the recipe of the calling script)."""
    g = parser.add_argument_group("training loop")
    g.add_argument("--output-dir", required=True, help="where checkpoints, logs and the final model go")
    g.add_argument("--per-device-batch-size", type=int, default=batch_size)
    g.add_argument("--gradient-accumulation-steps", type=int, default=1)
    g.add_argument("--num-epochs", type=float, default=epochs, help="ignored when --max-steps is given")
    g.add_argument("--max-steps", type=int, default=None, help="optimiser steps (overrides --num-epochs)")
    g.add_argument("--lr", type=float, default=lr, help="peak learning rate (overrides --blr)")
    g.add_argument("--blr", type=float, default=blr,
                   help="base LR per 128 samples of total batch: lr = blr * total_batch / 128 (original scaling)")
    g.add_argument("--min-lr", type=float, default=min_lr, help="floor of the cosine schedule")
    g.add_argument("--warmup-ratio", type=float, default=warmup_ratio, help="warmup as a fraction of all steps")
    g.add_argument("--warmup-steps", type=int, default=None, help="overrides --warmup-ratio")
    g.add_argument("--adam-betas", type=float, nargs=2, default=list(betas))
    g.add_argument("--adam-eps", type=float, default=1e-8)
    g.add_argument("--weight-decay", type=float, default=weight_decay)
    g.add_argument("--clip-grad", type=float, default=clip_grad, help="max gradient norm (none: no clipping)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--no-shuffle", action="store_true", help="visit windows in dataset order")
    g.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default=None,
                   help="overrides accelerate's --mixed_precision / config")
    g.add_argument("--log-every", type=int, default=10, help="log every N optimiser steps")
    g.add_argument("--report-to", default="tensorboard",
                   help="accelerate trackers: tensorboard, wandb, all, none (comma-separated)")
    g.add_argument("--checkpoint-every", type=int, default=0, help="accelerator.save_state every N steps (0: off)")
    g.add_argument("--checkpoints-total-limit", type=int, default=None, help="keep only the newest N checkpoints")
    g.add_argument("--resume", default=None, help="checkpoint directory, or 'latest' (in OUTPUT_DIR/checkpoints)")
    g.add_argument("--stop-after-steps", type=int, default=None,
                   help="exit abruptly after N steps without the final save (simulates a crash; for tests)")
    g.add_argument("--max-train-samples", type=int, default=None, help="use only the first N windows")
    g.add_argument("--progress", action="store_true",
                   help="show a progress bar (logged values as its postfix) instead of one printed line per log")
    g.add_argument("--cpu", action="store_true",
                   help="force CPU (multi-process CPU runs: `accelerate launch --multi_gpu --num_processes N "
                        "SCRIPT --cpu`, gloo backend; same as ACCELERATE_USE_CPU=1)")


#: Logged values shown in the ``--progress`` bar's postfix (those present).
_PROGRESS_KEYS = ("loss", "mlm_accuracy", "codebook/used_codes", "codebook/perplexity")


def save_feature_extractor(output_dir: str, feature_extractor=None, report: Callable[[str], None] = print) -> None:
    """Save ``feature_extractor`` (default: :class:`~labram_hf.LaBraMFeatureExtractor` with the original recipe's
    settings) next to a model, so that the directory carries its preprocessing (``preprocessor_config.json``)."""
    try:
        if feature_extractor is None:
            from . import LaBraMFeatureExtractor

            if LaBraMFeatureExtractor is None:  # pragma: no cover
                return
            feature_extractor = LaBraMFeatureExtractor()
        feature_extractor.save_pretrained(output_dir)
    except Exception as err:  # noqa: BLE001 - the feature extractor is optional
        report(f"feature extractor not saved: {err}")


def _latest_checkpoint(output_dir: str) -> str | None:
    root = os.path.join(output_dir, "checkpoints")
    if not os.path.isdir(root):
        return None
    done = [d for d in os.listdir(root) if d.startswith("step_") and os.path.exists(os.path.join(root, d, "loop_state.json"))]
    return os.path.join(root, max(done, key=lambda d: int(d.split("_")[1]))) if done else None


def make_accelerator(args, project_name: str):
    """An :class:`accelerate.Accelerator` with trackers from ``--report-to`` and ``--gradient-accumulation-steps``."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    report = [r.strip() for r in str(args.report_to).split(",") if r.strip() and r.strip() != "none"]
    accelerator = Accelerator(
        cpu=bool(getattr(args, "cpu", False)),
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=report or None,
        project_config=ProjectConfiguration(project_dir=args.output_dir, logging_dir=os.path.join(args.output_dir, "logs")),
    )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and accelerator.num_processes == 1:
        raise RuntimeError(
            f"launched as one of {world} processes, but the Accelerator sees a single process: on a machine without "
            "GPUs pass --cpu to the script (or set ACCELERATE_USE_CPU=1) so that the processes join a gloo group; "
            "otherwise every process would train alone and write to the same output directory"
        )
    if report:
        config = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers(project_name, config=config)
    return accelerator


def run_accelerate_loop(
    accelerator,
    args,
    model: nn.Module,
    dataset,
    step_fn: Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]],
    *,
    betas: Sequence[float],
    on_log: Callable[[int, dict[str, float], nn.Module], dict[str, float]] | None = None,
    before_first_step: Callable[[nn.Module, dict[str, torch.Tensor]], None] | None = None,
    collate: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]] | None = None,
    desc: str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """
    Train ``model`` on ``dataset`` (a window dataset) with accelerate; returns the unwrapped model and a summary.

    * Batching: :class:`ShardedEpochBatches` (the same samples per optimiser step for any number of processes with
      the same global batch), read with :class:`labram_hf.data.ArrowWindowDataset` and collated with
      :class:`labram_hf.data.LaBraMDataCollator` (or ``collate``).
    * ``step_fn(model, batch, sample_keys) -> (loss, metrics)``; ``sample_keys`` identify the windows
      (``epoch * len(dataset) + index``) so that random choices made from them (masks) are reproducible.
    * AdamW over :func:`param_groups` (no decay on norms/biases/embedding tables), warmup + cosine per optimiser step,
      optional gradient clipping, gradient accumulation with ``accelerator.accumulate``, mixed precision via the
      accelerator.
    * Logging every ``--log-every`` steps through the accelerate trackers and to ``OUTPUT_DIR/log.jsonl`` (losses
      averaged over processes and micro-batches). ``on_log(step, logs, unwrapped_model)`` may add entries (it runs on every process).
    * ``accelerator.save_state`` checkpoints (model, optimiser, scheduler, RNG states) every ``--checkpoint-every``
      steps to ``OUTPUT_DIR/checkpoints/step_N``; ``--resume`` continues exactly where the checkpoint left off.
    * ``before_first_step(unwrapped_model, first_batch)`` runs once before training starts on a fresh run (e.g. the
      tokenizer's codebook initialisation).
    * ``--progress`` (``args.progress``): a tqdm bar (``desc``) on the main process, with the last logged values as
      its postfix, replaces the printed log lines.
    """
    import json
    import shutil
    import time

    from .data import ArrowWindowDataset

    collate = collate or collate_rows
    if args.max_train_samples is not None:
        dataset = dataset.select(range(min(len(dataset), args.max_train_samples)))
    reader = ArrowWindowDataset(dataset, columns=["input_values", "channel_ids"])
    batches = ShardedEpochBatches(
        len(dataset), args.per_device_batch_size, accelerator.num_processes, accelerator.process_index, args.seed,
        shuffle=not args.no_shuffle,
    )  # fmt: skip
    accum = args.gradient_accumulation_steps
    steps_per_epoch = max(1, batches.batches_per_epoch // accum)
    max_steps = args.max_steps or max(1, int(round(args.num_epochs * steps_per_epoch)))
    warmup = args.warmup_steps if args.warmup_steps is not None else int(round(args.warmup_ratio * max_steps))
    total_batch = batches.global_batch_size * accum
    lr = args.lr if args.lr is not None else args.blr * total_batch / 128
    optimizer = make_adamw(param_groups(model, args.weight_decay), lr, betas=betas, eps=args.adam_eps)
    scheduler = cosine_schedule_with_warmup(optimizer, warmup, max_steps, min_lr=min(args.min_lr, lr), base_lr=lr)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    device = accelerator.device

    start_step = 0
    resume = _latest_checkpoint(args.output_dir) if args.resume == "latest" else args.resume
    if args.resume == "latest" and resume is None:
        accelerator.print("--resume latest: no checkpoint found, starting from scratch")
    if resume:
        accelerator.load_state(resume)
        with open(os.path.join(resume, "loop_state.json")) as f:
            start_step = int(json.load(f)["step"])
        accelerator.print(f"resumed from {resume} at step {start_step}")
    log_path = os.path.join(args.output_dir, "log.jsonl") if accelerator.is_main_process else None
    if log_path is not None and os.path.exists(log_path):
        # a fresh run starts a new log; a resumed run keeps only the records up to its checkpoint (a crashed run
        # may have logged steps after it, which are about to be redone)
        with open(log_path, encoding="utf-8") as f:
            kept = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= start_step]
        with open(log_path, "w", encoding="utf-8") as f:
            f.writelines(kept)
    log_json = jsonl_logger(log_path)
    show_progress = bool(getattr(args, "progress", False))
    say = (lambda *a, **k: None) if show_progress else accelerator.print
    say(
        f"{len(dataset)} windows, {accelerator.num_processes} process(es) x {args.per_device_batch_size} x {accum} "
        f"accumulation = {total_batch} per step, {max_steps} steps ({steps_per_epoch}/epoch), warmup {warmup}, "
        f"peak lr {lr:.3g}"
    )
    bar = None
    if show_progress and accelerator.is_main_process:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_steps, initial=start_step, desc=desc or "training", unit="step", dynamic_ncols=True)

    stream = batches.iterate(start_step * accum)
    model.train()
    summary: dict[str, Any] = {"max_steps": max_steps, "lr": lr, "warmup_steps": warmup, "total_batch": total_batch}
    pending: dict[str, list[torch.Tensor]] = {}
    started = time.perf_counter()
    first = True
    loss = None
    for step in range(start_step, max_steps):
        for _ in range(accum):
            epoch, _, indices = next(stream)
            batch = to_device(collate(reader.__getitems__(indices)), device)
            keys = [epoch * len(dataset) + i for i in indices]
            if first and start_step == 0 and before_first_step is not None:
                before_first_step(accelerator.unwrap_model(model), batch)
            first = False
            with accelerator.accumulate(model):
                loss, metrics = step_fn(model, batch, keys)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    if args.clip_grad:
                        norm = accelerator.clip_grad_norm_(model.parameters(), args.clip_grad)
                        metrics["grad_norm"] = norm.detach() if isinstance(norm, torch.Tensor) else torch.tensor(norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
            for k, v in {"loss": loss.detach(), **metrics}.items():
                v = torch.as_tensor(v).detach().float()
                pending.setdefault(k, []).append(v if k == "code_counts" else v.reshape(()))
        done = step + 1
        if done % args.log_every == 0 or done == max_steps:
            local = {k: torch.stack(v).mean() for k, v in pending.items() if k != "code_counts"}
            names = sorted(local)
            reduced = accelerator.reduce(torch.stack([local[k] for k in names]).to(device), reduction="mean")
            logs = {k: float(v) for k, v in zip(names, reduced.cpu())}
            if "code_counts" in pending:
                counts = accelerator.reduce(torch.stack(pending["code_counts"]).sum(0), reduction="sum")
                logs.update({f"codebook/{k}": v for k, v in codebook_statistics(counts.cpu()).items()})
            logs["lr"] = optimizer.param_groups[0]["lr"]
            logs["epoch"] = done / steps_per_epoch
            if on_log is not None:
                logs.update(on_log(done, logs, accelerator.unwrap_model(model)) or {})
            accelerator.log(logs, step=done)
            log_json({"step": done, **logs})
            say(f"step {done}/{max_steps} " + " ".join(f"{k}={v:.4g}" for k, v in logs.items()))
            if bar is not None:
                shown = [k for k in _PROGRESS_KEYS if k in logs]
                bar.set_postfix({k.split("/")[-1]: f"{logs[k]:.3g}" for k in shown}, refresh=False)
            summary["last_logs"] = logs
            pending = {}
        if args.checkpoint_every and done % args.checkpoint_every == 0:
            path = os.path.join(args.output_dir, "checkpoints", f"step_{done}")
            accelerator.save_state(path)
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                with open(os.path.join(path, "loop_state.json"), "w") as f:
                    json.dump({"step": done, "max_steps": max_steps}, f)
                if args.checkpoints_total_limit:
                    root = os.path.join(args.output_dir, "checkpoints")
                    old = sorted((d for d in os.listdir(root) if d.startswith("step_")), key=lambda d: int(d[5:]))
                    for d in old[: -args.checkpoints_total_limit]:
                        shutil.rmtree(os.path.join(root, d), ignore_errors=True)
            accelerator.wait_for_everyone()
        if bar is not None:
            bar.update(1)
        if args.stop_after_steps is not None and done >= args.stop_after_steps and done < max_steps:
            accelerator.print(f"--stop-after-steps {args.stop_after_steps}: exiting without the final save")
            accelerator.wait_for_everyone()
            os._exit(0)
    if bar is not None:
        bar.close()
    accelerator.wait_for_everyone()
    summary["train_seconds"] = time.perf_counter() - started
    summary["steps_run"] = max_steps - start_step
    return accelerator.unwrap_model(model), summary
