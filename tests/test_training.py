"""Unit tests of labram_hf.training: layer-decay buckets, weight-decay rules, schedule, metrics, batching, masks."""

import math

import numpy as np
import pytest
import torch

from labram_hf import (
    LaBraMConfig,
    LaBraMForMaskedEEGModeling,
    LaBraMForSequenceClassification,
)
from labram_hf.training import (
    TINY_MODEL_KWARGS,
    ShardedEpochBatches,
    binary_metrics,
    compute_metrics,
    cosine_lr_factor,
    cosine_schedule_with_warmup,
    layer_decay_scales,
    layer_id_for_name,
    make_adamw,
    metrics_from_logits,
    multiclass_metrics,
    param_groups,
    sample_masks,
    use_weight_decay,
)


def tiny_classifier(num_labels=2, **kw):
    return LaBraMForSequenceClassification(LaBraMConfig(**TINY_MODEL_KWARGS, num_labels=num_labels, **kw))


def test_layer_buckets_follow_the_original():
    model = tiny_classifier()
    depth = model.config.num_hidden_layers
    buckets = {name: layer_id_for_name(name, depth) for name, _ in model.named_parameters()}
    assert buckets["labram.embeddings.cls_token"] == 0
    assert buckets["labram.embeddings.position_embeddings"] == 0
    assert all(v == 0 for k, v in buckets.items() if ".patch_embeddings." in k)
    assert buckets["labram.embeddings.time_embeddings"] == depth + 1  # the original's time_embed falls through
    for i in range(depth):
        assert all(v == i + 1 for k, v in buckets.items() if f"encoder.layer.{i}." in k)
    assert buckets["labram.pooler.layernorm.weight"] == depth + 1
    assert buckets["classifier.weight"] == depth + 1
    # peft-style prefixes and infixes
    assert layer_id_for_name("base_model.model.labram.encoder.layer.1.attention.qkv.lora_A.default.weight", 2) == 2
    assert layer_id_for_name("base_model.model.classifier.modules_to_save.default.weight", 2) == 3
    assert layer_id_for_name("base_model.model.labram.embeddings.cls_token", 2) == 0
    # original names too
    assert layer_id_for_name("cls_token", 12) == 0 and layer_id_for_name("pos_embed", 12) == 0
    assert layer_id_for_name("patch_embed.conv1.weight", 12) == 0


def test_layer_decay_scales_base():
    scales = layer_decay_scales(12, 0.65)
    assert len(scales) == 14
    assert scales[-1] == 1.0
    assert scales[0] == pytest.approx(0.65**13)
    assert scales[0] == pytest.approx(0.0037, abs=1e-4)


def test_weight_decay_rules():
    mem = LaBraMForMaskedEEGModeling(LaBraMConfig(**TINY_MODEL_KWARGS, vocab_size=32))
    params = dict(mem.named_parameters())
    for name in ("labram.embeddings.cls_token", "labram.embeddings.position_embeddings",
                 "labram.embeddings.time_embeddings", "labram.embeddings.mask_token",
                 "labram.encoder.layer.0.lambda_1", "labram.encoder.layer.0.layernorm_before.weight",
                 "labram.encoder.layer.0.attention.dense.bias", "lm_head.bias"):  # fmt: skip
        assert not use_weight_decay(name, params[name]), name
    for name in ("labram.encoder.layer.0.attention.qkv.weight", "labram.encoder.layer.1.mlp.fc1.weight",
                 "lm_head.weight", "labram.embeddings.patch_embeddings.conv1.weight"):  # fmt: skip
        assert use_weight_decay(name, params[name]), name


def test_param_groups_cover_every_parameter_once():
    model = tiny_classifier()
    groups = param_groups(model, 0.05, layer_decay=0.65, lr=1e-3)
    seen = [id(p) for g in groups for p in g["params"]]
    assert len(seen) == len(set(seen)) == sum(1 for _ in model.parameters())
    assert groups[0]["lr_scale"] == 1.0  # largest scale first (Trainer logs group 0)
    for g in groups:
        assert g["lr"] == pytest.approx(1e-3 * g["lr_scale"])
        assert g["weight_decay"] in (0.0, 0.05)
        for name in g["param_names"]:
            assert g["lr_scale"] == pytest.approx(0.65 ** (3 - layer_id_for_name(name, 2)))
    opt = make_adamw(groups, 1e-3, betas=(0.9, 0.999))
    assert len(opt.param_groups) == len(groups)
    # frozen parameters are left out
    for p in model.labram.embeddings.parameters():
        p.requires_grad_(False)
    names = [n for g in param_groups(model, 0.05) for n in g["param_names"]]
    assert not any("embeddings" in n for n in names)


def test_cosine_schedule_matches_the_original_formula():
    base, final, warm, total = 5e-4, 1e-6, 5, 50
    # the original utils.cosine_scheduler, per iteration
    warmup = np.linspace(0, base, warm)
    iters = np.arange(total - warm)
    cosine = np.array([final + 0.5 * (base - final) * (1 + math.cos(math.pi * i / len(iters))) for i in iters])
    original = np.concatenate([warmup, cosine])
    ours = np.array([base * cosine_lr_factor(s, warm, total, final / base) for s in range(total)])
    # warmup: ours is linear from 0 reaching base at step `warm` (linspace ends on base one step earlier)
    assert ours[0] == 0.0 and ours[warm] == pytest.approx(base)
    np.testing.assert_allclose(ours[warm:], original[warm:], rtol=1e-12)
    assert ours[-1] > final

    model = tiny_classifier()
    opt = make_adamw(param_groups(model, 0.05, layer_decay=0.5, lr=base), base)
    sched = cosine_schedule_with_warmup(opt, warm, total, min_lr=final, base_lr=base)
    lrs = []
    for _ in range(total):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    lrs = np.array(lrs)
    np.testing.assert_allclose(lrs[:, 0], ours, rtol=1e-9, atol=1e-15)  # group 0 has scale 1
    scales = np.array([g["lr_scale"] for g in opt.param_groups])
    np.testing.assert_allclose(lrs[warm + 3], ours[warm + 3] * scales, rtol=1e-9)  # every group keeps its scale


def test_binary_metrics_against_sklearn():
    from sklearn.metrics import (
        average_precision_score,
        balanced_accuracy_score,
        roc_auc_score,
    )

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    m = binary_metrics(y, s)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, s))
    assert m["aupr"] == pytest.approx(average_precision_score(y, s))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, s >= 0.5))
    # two logits: softmax probability of class 1; one logit: sigmoid
    logits2 = np.stack([np.zeros(200), np.log(s / (1 - s + 1e-12) + 1e-12)], axis=1)
    assert metrics_from_logits(logits2, y)["auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
    assert metrics_from_logits(logits2[:, 1:], y)["auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
    assert math.isnan(binary_metrics(np.zeros(5), np.linspace(0, 1, 5))["auroc"])


def test_multiclass_metrics_and_compute_metrics():
    from sklearn.metrics import cohen_kappa_score, f1_score
    from transformers import EvalPrediction

    rng = np.random.default_rng(1)
    y = rng.integers(0, 6, 300)
    logits = rng.normal(size=(300, 6))
    logits[np.arange(300), y] += 1.0
    pred = logits.argmax(1)
    m = compute_metrics(EvalPrediction(predictions=logits, label_ids=y))
    assert set(m) == {"accuracy", "balanced_accuracy", "cohen_kappa", "f1_weighted"}
    assert m["cohen_kappa"] == pytest.approx(cohen_kappa_score(y, pred))
    assert m["f1_weighted"] == pytest.approx(f1_score(y, pred, average="weighted"))
    assert multiclass_metrics(y, y)["accuracy"] == 1.0


def test_sharded_batches_are_world_size_invariant():
    one = ShardedEpochBatches(23, 4, 1, 0, seed=3)
    two = [ShardedEpochBatches(23, 2, 2, r, seed=3) for r in range(2)]
    s1 = one.iterate()
    s2 = [b.iterate() for b in two]
    for _ in range(12):  # crosses epochs (5 global batches per epoch)
        e, k, idx = next(s1)
        parts = [next(s) for s in s2]
        assert all(p[0] == e and p[1] == k for p in parts)
        assert idx == parts[0][2] + parts[1][2]
    # resumption from any micro-batch gives the same stream
    resumed = one.iterate(7)
    fresh = one.iterate()
    for _ in range(7):
        next(fresh)
    for _ in range(5):
        assert next(resumed) == next(fresh)
    with pytest.raises(ValueError):
        ShardedEpochBatches(3, 2, 2, 0)


def test_sample_masks_are_the_original_masking_per_sample():
    m = sample_masks([0, 1, 2, 3], 38, mask_ratio=0.5, seed=0)
    assert m.shape == (4, 38) and m.dtype == torch.bool
    assert (m.sum(1) == 38 - 19).all()
    # depends only on the key, not on the batch composition
    assert torch.equal(sample_masks([2], 38, seed=0)[0], m[2])
    assert not torch.equal(sample_masks([2], 38, seed=1)[0], m[2])
    # odd L: L - floor(L/2) masked, as the original
    assert (sample_masks([5, 6], 21).sum(1) == 11).all()
    # padded samples: real tokens first, padding never masked
    pm = sample_masks([0, 1], [20, 12], max_tokens=20)
    assert pm.shape == (2, 20) and not pm[1, 12:].any() and pm[1].sum() == 6
