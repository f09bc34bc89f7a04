"""The original LaBraM optimiser: parameter groups (weight-decay rule, layer-wise LR decay) and the LR schedule.

* :func:`param_groups` implements the original ``optim_factory.get_parameter_groups``: no weight decay for 1-D
  parameters, biases and the embedding tables (cls token, spatial/temporal embeddings, mask token), and optionally
  layer-wise learning-rate decay with the original buckets (:func:`layer_id_for_name`).
* :func:`cosine_schedule_with_warmup` is the original ``utils.cosine_scheduler`` as a per-optimiser-step
  ``LambdaLR`` (usable by :class:`transformers.Trainer` through ``create_scheduler`` and by the accelerate loop):
  ``linspace(0, lr, W)`` warmup (step 0 has LR 0, step ``W - 1`` the peak), then cosine from the peak towards
  ``min_lr`` over the remaining ``T - W`` steps. Each group's LR is ``schedule[step] * lr_scale`` (the floor scales
  with the group, as in the original).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import nn

__all__ = [
    "NO_WEIGHT_DECAY_NAMES",
    "cosine_lr_factor",
    "cosine_schedule_with_warmup",
    "layer_decay_scales",
    "layer_id_for_name",
    "make_adamw",
    "param_groups",
    "resolve_warmup_steps",
    "use_weight_decay",
]

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


def make_adamw(groups: list[dict[str, Any]], lr: float, betas=(0.9, 0.999), eps: float = 1e-8,
               fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` output (``param_names`` is dropped; a group without ``lr`` gets
    ``lr * lr_scale``).

    ``fused=None`` (default) uses the fused implementation (one kernel over all parameters, on CPU as well as CUDA)
    where torch supports it for the parameters' device and dtype, else the plain one; the update rule is the same.
    """
    clean = []
    for group in groups:
        clean.append({k: v for k, v in group.items() if k != "param_names"})
        clean[-1].setdefault("lr", lr * group.get("lr_scale", 1.0))
    if fused is None:
        try:
            return torch.optim.AdamW(clean, lr=lr, betas=tuple(betas), eps=eps, fused=True)
        except (RuntimeError, ValueError):  # a device or dtype the fused kernel does not support
            fused = False
    return torch.optim.AdamW(clean, lr=lr, betas=tuple(betas), eps=eps, fused=fused)


def resolve_warmup_steps(total_steps: int, warmup_ratio: float = 0.0, warmup_steps: int | None = None) -> int:
    """Warmup length in optimiser steps: ``warmup_steps`` when given, else ``ceil(warmup_ratio * total_steps)`` (the
    rounding of ``TrainingArguments.get_warmup_steps``, so both training paths agree)."""
    if warmup_steps is not None:
        return int(warmup_steps)
    return int(math.ceil(float(warmup_ratio) * int(total_steps)))


def cosine_lr_factor(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """
    Multiplier of the peak LR at optimiser step ``step`` (0-based), exactly ``utils.cosine_scheduler``:

    * warmup (``step < W``): ``linspace(0, 1, W)[step] = step / (W - 1)`` (0 at step 0, the peak at step ``W - 1``;
      a single warmup step has LR 0);
    * then ``min + (1 - min) * 0.5 * (1 + cos(pi * i / (T - W)))`` with ``i = step - W`` (the original's schedule
      ends at ``i = T - W - 1``; later steps stay at the floor).
    """
    warmup_steps, total_steps = int(warmup_steps), int(total_steps)
    if step < warmup_steps:
        return step / (warmup_steps - 1) if warmup_steps > 1 else 0.0
    decay_steps = total_steps - warmup_steps
    if decay_steps <= 0:
        return min_lr_ratio
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def cosine_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    warmup_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    base_lr: float | None = None,
) -> torch.optim.lr_scheduler.LambdaLR:
    """
    ``LambdaLR`` following :func:`cosine_lr_factor` (step it once per optimiser step). ``base_lr`` is the peak LR
    (default: the largest ``lr / lr_scale`` of the groups); every group keeps its own scaled initial LR, so group g
    runs at ``schedule[step] * lr_scale_g`` with ``schedule`` going from ``base_lr`` to ``min_lr``.
    """
    if base_lr is None:
        base_lr = max(g["lr"] / g.get("lr_scale", 1.0) for g in optimizer.param_groups)
    ratio = (min_lr / base_lr) if base_lr > 0 else 0.0
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: cosine_lr_factor(step, warmup_steps, total_steps, ratio)
    )
