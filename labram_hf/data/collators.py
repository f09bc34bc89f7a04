"""Batch collators that turn dataset rows into model-ready LaBraM batches.

Rows are dicts as produced by :mod:`labram_hf.data` datasets (``input_values`` [C, T], ``channel_ids`` [C] and,
when labelled, ``label`` or ``labels``); lists, NumPy arrays and torch tensors are all accepted.

* :class:`LaBraMDataCollator` — classification / regression batches: ``input_values`` float32 [B, C, T],
  ``channel_ids`` int64 [B, C], ``labels`` [B] and, when the rows have different channel counts, the channels are
  padded at the end and ``channel_mask`` bool [B, C] (True = real channel) is added.
* :class:`LaBraMMaskingCollator` — masked-EEG-modelling (pre-training) batches: the above plus ``bool_masked_pos``
  bool [B, C*A], channel-major (token index = c*A + a), drawn exactly as the original
  ``engine_for_pretraining.random_masking``: per sample, uniform noise of length L = C*A, argsort, keep the
  ``int(L * (1 - mask_ratio))`` lowest and mask the rest (with ``mask_ratio=0.5``: exactly ``L - L // 2`` masked).

Padded channels under masking: their token positions are never masked, and noise is only drawn over a sample's real
tokens (padded positions get ``+inf`` before the argsort), so a sample with C_b real channels gets exactly
``C_b*A - int(C_b*A*(1 - mask_ratio))`` masked tokens whatever the batch's padding. The symmetric (complement) pass
of the original must use ``~bool_masked_pos & token_mask`` — the collator returns ``token_mask`` (bool [B, C*A],
True = real token) whenever it pads, so padded positions enter neither loss. Without padding the batch is
bit-identical to the original's masking for the same random stream (``generator=None`` uses the global torch RNG,
exactly like the original; pass ``seed`` for reproducible masks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

PATCH_SIZE = 200

__all__ = ["LaBraMDataCollator", "LaBraMMaskingCollator", "random_masking"]


def _as_tensor(value: Any, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(dtype)
    if isinstance(value, np.ndarray):
        if not value.flags.writeable:  # e.g. memory-mapped Arrow buffers: copy once
            return torch.tensor(value, dtype=dtype)
        return torch.from_numpy(np.ascontiguousarray(value)).to(dtype)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], np.ndarray):
        return torch.from_numpy(np.stack(value)).to(dtype)
    return torch.as_tensor(value, dtype=dtype)


def _stack_channels(
    features: Sequence[Mapping[str, Any]], pad_channel_id: int, always_mask: bool
) -> dict[str, torch.Tensor]:
    if not features:
        raise ValueError("cannot collate an empty batch")
    raw = [f["input_values"] for f in features]
    if all(isinstance(v, np.ndarray) for v in raw):
        values: list[Any] = raw  # NumPy rows (e.g. ArrowWindowDataset): copied once, into the batch tensor
    else:
        values = [_as_tensor(v, torch.float32) for v in raw]
    for i, v in enumerate(values):
        if v.ndim != 2:
            raise ValueError(f"row {i}: input_values must be [channels, time], got shape {tuple(v.shape)}")
    times = {int(v.shape[1]) for v in values}
    if len(times) != 1:
        raise ValueError(
            f"rows have different numbers of samples per channel {sorted(times)}; build windows of one length "
            "(window_seconds) per dataset"
        )
    if "channel_ids" not in features[0]:
        raise KeyError("rows need 'channel_ids' (LaBraM vocabulary ids of the channels)")
    raw_ids = [f["channel_ids"] for f in features]
    if all(isinstance(c, np.ndarray) for c in raw_ids):
        ids: list[Any] = [c.reshape(-1) for c in raw_ids]
    else:
        ids = [_as_tensor(c, torch.int64).reshape(-1) for c in raw_ids]
    for i, (v, c) in enumerate(zip(values, ids)):
        if v.shape[0] != c.shape[0]:
            raise ValueError(f"row {i}: {v.shape[0]} channels in input_values but {c.shape[0]} channel_ids")
    counts = [int(v.shape[0]) for v in values]
    c_max = max(counts)
    t = times.pop()
    batch: dict[str, torch.Tensor] = {}
    if len(set(counts)) == 1:
        if isinstance(values[0], np.ndarray):
            batch["input_values"] = torch.from_numpy(np.stack(values).astype(np.float32, copy=False))
        else:
            batch["input_values"] = torch.stack(values)
        if isinstance(ids[0], np.ndarray):
            batch["channel_ids"] = torch.from_numpy(np.stack(ids).astype(np.int64, copy=False))
        else:
            batch["channel_ids"] = torch.stack([_as_tensor(c, torch.int64) for c in ids])
        if always_mask:
            batch["channel_mask"] = torch.ones(len(values), c_max, dtype=torch.bool)
        return batch
    out_v = torch.zeros(len(values), c_max, t, dtype=torch.float32)
    out_c = torch.full((len(values), c_max), pad_channel_id, dtype=torch.int64)
    mask = torch.zeros(len(values), c_max, dtype=torch.bool)
    for b, (v, c) in enumerate(zip(values, ids)):
        n = int(v.shape[0])
        if isinstance(v, np.ndarray):
            out_v.numpy()[b, :n] = v
        else:
            out_v[b, :n] = v
        if isinstance(c, np.ndarray):
            out_c.numpy()[b, :n] = c
        else:
            out_c[b, :n] = c
        mask[b, :n] = True
    batch["input_values"] = out_v
    batch["channel_ids"] = out_c
    batch["channel_mask"] = mask
    return batch


class LaBraMDataCollator:
    """Collate rows into a classification batch (torch tensors).

    Args:
        label_key: row key holding the target; ``"label"`` (the dataset column) and ``"labels"`` are both found
            automatically when left ``None``. Rows without a label give a batch without ``labels``.
        label_dtype: ``torch.int64`` for classes (default), ``torch.float32`` for regression / multi-label.
        pad_channel_id: channel id written into padded channel slots (ignored by the model via ``channel_mask``).
        always_return_channel_mask: add ``channel_mask`` even when all rows have the same channels.
    """

    def __init__(
        self,
        label_key: str | None = None,
        label_dtype: torch.dtype = torch.int64,
        pad_channel_id: int = 0,
        always_return_channel_mask: bool = False,
    ):
        self.label_key = label_key
        self.label_dtype = label_dtype
        self.pad_channel_id = pad_channel_id
        self.always_return_channel_mask = always_return_channel_mask

    def _label_key(self, row: Mapping[str, Any]) -> str | None:
        if self.label_key is not None:
            return self.label_key
        for key in ("labels", "label"):
            if key in row:
                return key
        return None

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        batch = _stack_channels(features, self.pad_channel_id, self.always_return_channel_mask)
        key = self._label_key(features[0])
        if key is not None:
            missing = [i for i, f in enumerate(features) if key not in f or f[key] is None]
            if missing:
                raise ValueError(f"rows {missing} have no {key!r}; a batch must be all labelled or all unlabelled")
            values = [f[key] for f in features]
            if all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
                batch["labels"] = torch.from_numpy(np.asarray(values)).to(self.label_dtype)
            else:
                batch["labels"] = _as_tensor(values, self.label_dtype)
        return batch


def random_masking(
    num_tokens: torch.Tensor | int,
    batch_size: int | None = None,
    *,
    mask_ratio: float = 0.5,
    generator: torch.Generator | None = None,
    max_tokens: int | None = None,
) -> torch.Tensor:
    """The original per-sample random masking, generalised to padded samples.

    Args:
        num_tokens: int L (all samples have L tokens) or int64 tensor [B] of real token counts per sample.
        batch_size: B when ``num_tokens`` is an int.
        mask_ratio: fraction to mask; ``int(L * (1 - mask_ratio))`` tokens are kept per sample.
        generator: torch RNG; ``None`` uses the global RNG like the original.
        max_tokens: width of the returned mask (default: the largest count).

    Returns:
        bool [B, max_tokens], True = masked. Positions at or beyond a sample's count are False.
    """
    if isinstance(num_tokens, int):
        if batch_size is None:
            raise ValueError("batch_size is required when num_tokens is an int")
        counts = torch.full((batch_size,), num_tokens, dtype=torch.int64)
    else:
        counts = torch.as_tensor(num_tokens, dtype=torch.int64).reshape(-1)
    b = counts.shape[0]
    width = int(max_tokens if max_tokens is not None else counts.max())
    noise = torch.rand(b, width, generator=generator)  # same draw as the original when nothing is padded
    positions = torch.arange(width).unsqueeze(0)
    valid = positions < counts.unsqueeze(1)
    if not bool(valid.all()):
        noise = noise.masked_fill(~valid, float("inf"))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)  # rank of each position in the sorted noise
    len_keep = (counts.to(torch.float64) * (1 - mask_ratio)).floor().to(torch.int64)  # == int(L * (1 - r))
    # The original builds ones, zeros the first len_keep and gathers with ids_restore: masked <=> rank >= len_keep.
    return (ids_restore >= len_keep.unsqueeze(1)) & valid


class LaBraMMaskingCollator(LaBraMDataCollator):
    """Collate rows into a masked-EEG-modelling batch with ``bool_masked_pos`` [B, C*A] (channel-major).

    Args:
        mask_ratio: fraction of each sample's tokens to mask (original: 0.5).
        patch_size: samples per patch (200); T must be a multiple of it.
        seed: seed of a private ``torch.Generator`` (reproducible masks); ``None`` with ``generator=None`` uses
            the global torch RNG, exactly like the original.
        generator: an explicit ``torch.Generator`` (overrides ``seed``).
        include_labels: also return ``labels`` when the rows carry them (default False: pre-training ignores them).

    With padded channels the batch also holds ``channel_mask`` [B, C] and ``token_mask`` [B, C*A] (True = real
    token); padded tokens are never masked, and the complement pass must use ``~bool_masked_pos & token_mask``.
    """

    def __init__(
        self,
        mask_ratio: float = 0.5,
        patch_size: int = PATCH_SIZE,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        pad_channel_id: int = 0,
        always_return_channel_mask: bool = False,
        include_labels: bool = False,
    ):
        super().__init__(pad_channel_id=pad_channel_id, always_return_channel_mask=always_return_channel_mask)
        if not 0.0 <= mask_ratio <= 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1], got {mask_ratio}")
        self.mask_ratio = mask_ratio
        self.patch_size = patch_size
        self.include_labels = include_labels
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(int(seed))
        self.generator = generator

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if self.include_labels:
            batch = super().__call__(features)
        else:
            batch = _stack_channels(features, self.pad_channel_id, self.always_return_channel_mask)
        b, c, t = batch["input_values"].shape
        if t % self.patch_size:
            raise ValueError(f"time length {t} is not a whole number of {self.patch_size}-sample patches")
        a = t // self.patch_size
        if "channel_mask" in batch:
            counts = batch["channel_mask"].sum(dim=1) * a
            mask = random_masking(
                counts, mask_ratio=self.mask_ratio, generator=self.generator, max_tokens=c * a
            )
            # channels are padded at the end, so a sample's real tokens are exactly its first C_b*A positions
            batch["token_mask"] = batch["channel_mask"].repeat_interleave(a, dim=1)
        else:
            mask = random_masking(c * a, b, mask_ratio=self.mask_ratio, generator=self.generator)
        batch["bool_masked_pos"] = mask
        return batch
