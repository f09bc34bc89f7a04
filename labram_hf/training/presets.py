"""Named model sizes for the training stages (``--preset``): the published sizes plus ``tiny`` for tests and smoke runs.

:data:`MODEL_PRESETS` (``LaBraMConfig`` fields) and :data:`TOKENIZER_PRESETS` (``LaBraMTokenizerConfig`` fields) map
a preset name to configuration keyword arguments; :func:`model_config` and :func:`tokenizer_config` build a
configuration from a preset plus overrides. Add your own size by adding an entry.
"""

from __future__ import annotations

from typing import Any

from ..errors import LaBraMError
from ..modeling import LABRAM_PRESETS, LABRAM_TOKENIZER_PRESETS, LaBraMConfig, LaBraMTokenizerConfig

__all__ = [
    "MODEL_PRESETS",
    "TINY_MODEL_KWARGS",
    "TINY_TOKENIZER_KWARGS",
    "TOKENIZER_PRESETS",
    "model_config",
    "tokenizer_config",
]

#: Tiny backbone for tests and smoke runs (hidden 100 = 25 x 4 conv channels; 2 blocks of 4 heads of 25).
TINY_MODEL_KWARGS: dict[str, Any] = {
    "hidden_size": 100,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 200,
    "temporal_conv_channels": 4,
}
#: Tiny tokenizer (2 encoder blocks, 1 decoder block, 64 codes of 16).
TINY_TOKENIZER_KWARGS: dict[str, Any] = {
    **TINY_MODEL_KWARGS,
    "decoder_num_hidden_layers": 1,
    "n_code": 64,
    "code_dim": 16,
}

#: ``--preset`` of pre-training and fine-tuning: ``tiny``, ``base``, ``large``, ``huge``.
MODEL_PRESETS: dict[str, dict[str, Any]] = {"tiny": TINY_MODEL_KWARGS, **LABRAM_PRESETS}
#: ``--preset`` of the tokenizer stage: ``tiny``, ``base``, ``large``.
TOKENIZER_PRESETS: dict[str, dict[str, Any]] = {"tiny": TINY_TOKENIZER_KWARGS, **LABRAM_TOKENIZER_PRESETS}


class UnknownPresetError(LaBraMError):
    """A ``--preset`` name that is not in the table."""


def _lookup(table: dict[str, dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    if name not in table:
        raise UnknownPresetError(f"unknown {what} preset {name!r}", hint=f"choose one of {', '.join(table)}")
    return table[name]


def model_config(preset: str, **overrides: Any) -> LaBraMConfig:
    """``LaBraMConfig`` of ``preset`` (a key of :data:`MODEL_PRESETS`) with ``overrides`` applied."""
    return LaBraMConfig(**{**_lookup(MODEL_PRESETS, preset, "model"), **overrides})


def tokenizer_config(preset: str, **overrides: Any) -> LaBraMTokenizerConfig:
    """``LaBraMTokenizerConfig`` of ``preset`` (a key of :data:`TOKENIZER_PRESETS`) with ``overrides`` applied."""
    return LaBraMTokenizerConfig(**{**_lookup(TOKENIZER_PRESETS, preset, "tokenizer"), **overrides})
