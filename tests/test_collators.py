"""Tests for labram_hf.data.collators (classification and masked-modelling batches)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labram_hf.data.collators import LaBraMDataCollator, LaBraMMaskingCollator, random_masking


def _original_random_masking(x: torch.Tensor, mask_ratio: float) -> torch.Tensor:
    """Verbatim logic of the original engine_for_pretraining.random_masking (c431221)."""
    n, length, _ = x.shape
    len_keep = int(length * (1 - mask_ratio))
    noise = torch.rand(n, length, device=x.device)
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones([n, length], device=x.device)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, dim=1, index=ids_restore)
    return mask.to(torch.bool)


def _rows(channel_counts, seconds=2, labels=True, as_numpy=False):
    rng = np.random.default_rng(0)
    rows = []
    for i, c in enumerate(channel_counts):
        v = rng.standard_normal((c, 200 * seconds)).astype(np.float32)
        ids = list(range(10, 10 + c))
        row = {"input_values": v if as_numpy else v.tolist(), "channel_ids": ids}
        if labels:
            row["label"] = i % 3
        rows.append(row)
    return rows


def test_classification_collator_stacks_same_channels():
    rows = _rows([4, 4, 4])
    batch = LaBraMDataCollator()(rows)
    assert batch["input_values"].shape == (3, 4, 400) and batch["input_values"].dtype == torch.float32
    assert batch["channel_ids"].dtype == torch.int64 and batch["channel_ids"].shape == (3, 4)
    assert batch["labels"].tolist() == [0, 1, 2] and batch["labels"].dtype == torch.int64
    assert "channel_mask" not in batch
    np.testing.assert_array_equal(batch["input_values"][1].numpy(), np.asarray(rows[1]["input_values"], np.float32))


def test_classification_collator_pads_channels_with_mask():
    rows = _rows([3, 5, 2], as_numpy=True)
    batch = LaBraMDataCollator()(rows)
    assert batch["input_values"].shape == (3, 5, 400)
    assert batch["channel_mask"].tolist() == [
        [True, True, True, False, False],
        [True] * 5,
        [True, True, False, False, False],
    ]
    assert torch.all(batch["input_values"][0, 3:] == 0)
    assert batch["channel_ids"][2].tolist() == [10, 11, 0, 0, 0]
    torch.testing.assert_close(batch["input_values"][0, :3], torch.from_numpy(rows[0]["input_values"]))


def test_collator_accepts_torch_rows_and_labels_key():
    rows = [
        {"input_values": torch.randn(2, 200), "channel_ids": torch.tensor([1, 2]), "labels": 1.5},
        {"input_values": torch.randn(2, 200), "channel_ids": torch.tensor([1, 2]), "labels": 0.5},
    ]
    batch = LaBraMDataCollator(label_dtype=torch.float32, always_return_channel_mask=True)(rows)
    assert batch["labels"].dtype == torch.float32 and batch["channel_mask"].all()


def test_collator_errors_are_clear():
    with pytest.raises(ValueError, match="different numbers of samples"):
        LaBraMDataCollator()([_rows([2], seconds=1)[0], _rows([2], seconds=2)[0]])
    bad = _rows([2])[0]
    bad["channel_ids"] = [1, 2, 3]
    with pytest.raises(ValueError, match="channel_ids"):
        LaBraMDataCollator()([bad])
    with pytest.raises(ValueError, match="empty batch"):
        LaBraMDataCollator()([])


def test_masking_matches_original_bit_for_bit():
    rows = _rows([6] * 4, seconds=3, labels=False)
    torch.manual_seed(1234)
    ours = LaBraMMaskingCollator()(rows)["bool_masked_pos"]  # global RNG, like the original
    torch.manual_seed(1234)
    x = torch.zeros(4, 6 * 3, 200)
    theirs = _original_random_masking(x, 0.5)
    assert torch.equal(ours, theirs)
    assert ours.shape == (4, 18)


@pytest.mark.parametrize("length", [1, 7, 18, 23 * 10])
def test_masking_exact_count(length):
    mask = random_masking(length, 5, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (5, length)
    assert mask.sum(dim=1).tolist() == [length - length // 2] * 5


def test_masking_seeded_reproducible_and_varies_across_batches():
    rows = _rows([4, 4], seconds=4, labels=False)
    a = LaBraMMaskingCollator(seed=7)
    b = LaBraMMaskingCollator(seed=7)
    first_a, first_b = a(rows)["bool_masked_pos"], b(rows)["bool_masked_pos"]
    assert torch.equal(first_a, first_b)
    assert not torch.equal(first_a, a(rows)["bool_masked_pos"])  # the stream advances
    assert not torch.equal(first_a[0], first_a[1])  # per-sample noise


def test_masking_with_padded_channels():
    rows = _rows([3, 5, 1], seconds=2, labels=False)
    batch = LaBraMMaskingCollator(seed=0)(rows)
    m, tok = batch["bool_masked_pos"], batch["token_mask"]
    assert m.shape == (3, 10) and tok.shape == (3, 10)
    assert tok.tolist()[0] == [True] * 6 + [False] * 4  # channel-major: token c*A + a
    assert not torch.any(m & ~tok)  # padded positions never masked
    for b, c in enumerate([3, 5, 1]):
        n = c * 2
        assert int(m[b].sum()) == n - n // 2
    # the full-width sample draws noise exactly as without padding
    unpadded = LaBraMMaskingCollator(seed=0)([rows[1]] * 3)["bool_masked_pos"]
    assert unpadded.shape == (3, 10)


def test_masking_rejects_partial_patches_and_keeps_labels_when_asked():
    rows = [{"input_values": np.zeros((2, 300), np.float32), "channel_ids": [0, 1]}]
    with pytest.raises(ValueError, match="patches"):
        LaBraMMaskingCollator()(rows)
    rows = _rows([2, 2], labels=True)
    batch = LaBraMMaskingCollator(seed=0, include_labels=True)(rows)
    assert batch["labels"].tolist() == [0, 1]
    assert "labels" not in LaBraMMaskingCollator(seed=0)(rows)
