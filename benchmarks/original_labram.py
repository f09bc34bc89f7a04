# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Load the original LaBraM fine-tuning model next to a labram-hf model with the same weights, for speed comparisons.

The original code (github.com/935963004/LaBraM, ``modeling_finetune.py``) is never part of this repository: put a
copy of that file in a directory of your own (e.g. ``/tmp/labram_original``) and pass the directory. It imports
``einops`` and a few helpers from ``timm``; install einops into the environment or into the directory itself
(``pip install --target DIR einops``).

timm: the original imports ``drop_path``, ``to_2tuple``, ``trunc_normal_`` (``timm.models.layers``) and
``register_model`` (``timm.models.registry``). When ``import timm`` works, timm's own helpers are used. timm imports
torchvision, and PyPI's torchvision does not import beside a CPU-only torch build; then this module supplies
stand-ins for those four names (timm 0.4.12's ``drop_path`` arithmetic, the version the original was written
against; ``trunc_normal_`` is only used at initialisation, whose weights are replaced anyway) and says so in
``OriginalModel.timm``. Only ``drop_path`` runs in a measured step.

Same weights: the original model is built with the fine-tuning flags of the original README (layer scale 0.1, no
q/v bias, absolute position embeddings, mean pooling) and a seed; its state dict is converted with
``labram_hf.conversion`` and loaded strictly into ``LaBraMForSequenceClassification``.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from dataclasses import dataclass

import torch

TIMM_STAND_IN = "stand-in (timm not importable: {reason}); drop_path as in timm 0.4.12"


class OriginalUnavailable(RuntimeError):
    """The original code cannot be imported from the given directory (missing file or dependency)."""


@dataclass
class OriginalModel:
    """An original `NeuralTransformer`, the labram-hf model with the same weights and how timm was provided."""

    original: torch.nn.Module
    ours: torch.nn.Module
    timm: str
    source: str


def _stand_in_drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    """Stochastic depth with timm 0.4.12's arithmetic: x / keep_prob * floor(keep_prob + U[0, 1)) per sample."""
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = keep_prob + torch.rand(shape, dtype=x.dtype, device=x.device)
    random_tensor.floor_()
    return x.div(keep_prob) * random_tensor


def _stand_in_timm_modules() -> dict[str, types.ModuleType]:
    package = types.ModuleType("timm")
    models = types.ModuleType("timm.models")
    layers = types.ModuleType("timm.models.layers")
    registry = types.ModuleType("timm.models.registry")
    layers.drop_path = _stand_in_drop_path
    layers.to_2tuple = lambda value: tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    layers.trunc_normal_ = lambda tensor, mean=0.0, std=1.0, a=-2.0, b=2.0: torch.nn.init.trunc_normal_(
        tensor, mean=mean, std=std, a=a, b=b
    )
    registry.register_model = lambda function: function
    package.models, models.layers, models.registry = models, layers, registry
    return {"timm": package, "timm.models": models, "timm.models.layers": layers, "timm.models.registry": registry}


def _provide_timm() -> str:
    """Make `timm.models.layers` / `timm.models.registry` importable; returns how."""
    try:
        import timm  # noqa: F401
        from timm.models import layers, registry  # noqa: F401

        return f"timm {getattr(timm, '__version__', '?')}"
    except Exception as err:  # ImportError, or torchvision's RuntimeError beside a CPU-only torch
        for name in [n for n in sys.modules if n == "timm" or n.startswith("timm.")]:
            del sys.modules[name]
        sys.modules.update(_stand_in_timm_modules())
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        return TIMM_STAND_IN.format(reason=reason)


def import_original(directory: str) -> tuple[types.ModuleType, str]:
    """Import `modeling_finetune` from `directory`; returns (module, how timm was provided)."""
    path = os.path.join(directory, "modeling_finetune.py")
    if not os.path.isfile(path):
        raise OriginalUnavailable(
            f"{path} not found: copy modeling_finetune.py of github.com/935963004/LaBraM into {directory} "
            "(outside the repository) to compare with the original."
        )
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        importlib.import_module("einops")
    except ImportError as err:
        raise OriginalUnavailable(
            f"the original code needs einops ({err}); run `pip install --target {directory} einops` (or install it "
            "into the environment)."
        ) from err
    timm_note = _provide_timm()
    try:
        module = importlib.import_module("modeling_finetune")
    except Exception as err:
        raise OriginalUnavailable(f"importing {path} failed: {type(err).__name__}: {err}") from err
    if not os.path.samefile(getattr(module, "__file__", path), path):
        raise OriginalUnavailable(f"`modeling_finetune` resolved to {module.__file__}, not {path}.")
    return module, timm_note


def build_original_and_ours(
    directory: str,
    preset: str = "base",
    num_labels: int = 2,
    drop_path_rate: float = 0.1,
    attn_implementation: str = "sdpa",
    seed: int = 0,
) -> OriginalModel:
    """
    The original `labram_{preset}_patch200_200` classifier (fine-tuning flags of the original README) and
    `LaBraMForSequenceClassification` loaded with its converted state dict. Both are returned in eval mode.
    """
    from labram_hf import LaBraMForSequenceClassification
    from labram_hf.conversion import convert_classifier_state_dict, infer_config

    module, timm_note = import_original(directory)
    factory = getattr(module, f"labram_{preset}_patch200_200", None)
    if factory is None:
        raise OriginalUnavailable(f"{module.__file__} has no labram_{preset}_patch200_200.")
    torch.manual_seed(seed)
    original = factory(
        num_classes=num_labels,
        drop_path_rate=drop_path_rate,
        init_values=0.1,  # --layer_scale_init_value 0.1
        qkv_bias=False,  # --disable_qkv_bias
        use_abs_pos_emb=True,
        use_rel_pos_bias=False,
        use_mean_pooling=True,
    )
    state_dict = original.state_dict()
    config = infer_config(state_dict, "classifier")
    config.drop_path_rate = drop_path_rate
    config._attn_implementation = attn_implementation
    ours = LaBraMForSequenceClassification(config)
    ours.load_state_dict(convert_classifier_state_dict(state_dict), strict=True)
    return OriginalModel(original=original.eval(), ours=ours.eval(), timm=timm_note, source=module.__file__)


def original_inputs(input_values: torch.Tensor, channel_ids: torch.Tensor, patch_size: int = 200):
    """
    The original's inputs for labram-hf inputs: patches [B, C, A, patch_size] (a view) and `input_chans`
    [1 + C] (0 for the cls row, then vocabulary position + 1; one list shared by the batch).
    """
    batch_size, num_channels, num_samples = input_values.shape
    patches = input_values.view(batch_size, num_channels, num_samples // patch_size, patch_size)  # [B, C, A, P]
    ids = channel_ids if channel_ids.dim() == 1 else channel_ids[0]
    input_chans = torch.cat([ids.new_zeros(1), ids + 1])  # [1 + C]
    return patches, input_chans


@torch.no_grad()
def max_logit_difference(pair: OriginalModel, input_values: torch.Tensor, channel_ids: torch.Tensor) -> float:
    """Largest |logit difference| between the two models in eval mode (a check that the weights are the same)."""
    patches, input_chans = original_inputs(input_values, channel_ids)
    was_training = pair.original.training, pair.ours.training
    pair.original.eval(), pair.ours.eval()
    difference = (pair.original(patches, input_chans=input_chans) - pair.ours(input_values, channel_ids).logits)
    pair.original.train(was_training[0]), pair.ours.train(was_training[1])
    return difference.abs().max().item()
