"""Unit tests of labram_hf.training: layer-decay buckets, weight-decay rules, metrics, batching, masks, presets.

The schedule is tested against the original formula in tests/test_training_schedule.py.
"""

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


def test_sharded_batches_feed_a_dataloader_with_sample_keys():
    """As a batch sampler: sample keys (epoch * N + index), a window of micro-batches from any start, and the same
    batches with and without worker processes."""
    from labram_hf.training.inputs import KeyedCollator, KeyedWindows

    sampler = ShardedEpochBatches(10, 3, seed=5, num_batches=7)  # 3 micro-batches per epoch
    stream = list(sampler)
    triples = sampler.iterate()
    expected = [[epoch * 10 + i for i in idx] for epoch, _, idx in (next(triples) for _ in range(7))]
    assert stream == expected and len(sampler) == 7
    assert {k // 10 for k in stream[3]} == {1}  # the 4th micro-batch is in epoch 1
    later = ShardedEpochBatches(10, 3, seed=5, start=4, num_batches=3)
    assert list(later) == stream[4:]

    class Rows:  # a reader: row i holds the value i
        def __len__(self):
            return 10

        def __getitems__(self, indices):
            return [{"value": i} for i in indices]

    def collate(rows):
        return {"value": torch.tensor([r["value"] for r in rows])}

    batches = {}
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(KeyedWindows(Rows()), batch_sampler=sampler, num_workers=workers,
                                             collate_fn=KeyedCollator(collate))  # fmt: skip
        batches[workers] = [(b["sample_keys"].tolist(), b["value"].tolist()) for b in loader]
    assert batches[0] == batches[2]
    assert [keys for keys, _ in batches[0]] == stream
    assert all(values == [k % 10 for k in keys] for keys, values in batches[0])


def test_presets_build_configs_and_refuse_unknown_names():
    from labram_hf.training import MODEL_PRESETS, TOKENIZER_PRESETS, model_config, tokenizer_config
    from labram_hf.training.presets import UnknownPresetError

    assert {"tiny", "base", "large", "huge"} <= set(MODEL_PRESETS) and {"tiny", "base"} <= set(TOKENIZER_PRESETS)
    tiny = model_config("tiny", num_hidden_layers=3, vocab_size=32)
    assert (tiny.hidden_size, tiny.num_hidden_layers, tiny.vocab_size) == (100, 3, 32)
    assert model_config("base").hidden_size == 200 and model_config("base").num_hidden_layers == 12
    tok = tokenizer_config("tiny", n_code=128)
    assert (tok.hidden_size, tok.decoder_num_hidden_layers, tok.n_code, tok.code_dim) == (100, 1, 128, 16)
    with pytest.raises(UnknownPresetError, match="'small'") as err:
        model_config("small")
    assert "tiny" in err.value.hint


def test_stage_arguments_parse_the_documented_flags():
    """HfArgumentParser: today's dashed flags, underscores, bare --resume (= latest), recipe defaults, bad values."""
    from labram_hf.training import finetuning, pretraining, tokenizer

    args = tokenizer.parse_args(["--dataset-dir", "d", "--output-dir", "o", "--preset", "tiny", "--resume",
                                 "--adam-betas", "0.8", "0.9", "--no-shuffle"])  # fmt: skip
    assert (args.dataset_dir, args.output_dir, args.resume, args.adam_betas, args.no_shuffle) == (
        "d", "o", "latest", [0.8, 0.9], True)  # fmt: skip
    assert (args.blr, args.lr, args.weight_decay, args.per_device_batch_size) == (5e-5, None, 1e-4, 128)
    args = pretraining.parse_args(["--dataset_dir", "d", "--tokenizer", "t", "--output_dir", "o",
                                   "--resume", "o/checkpoints/checkpoint_3"])  # fmt: skip
    assert (args.lr, args.clip_grad, args.adam_betas, args.resume) == (5e-4, 3.0, [0.9, 0.98], "o/checkpoints/checkpoint_3")
    args = finetuning.parse_args(["--model", "scratch", "--train-dataset", "t", "--output-dir", "o", "--lora"])
    assert (args.layer_decay, args.min_lr, args.lora, args.lora_target_modules) == (0.65, 1e-6, True,
                                                                                     ["qkv", "dense", "fc1", "fc2"])
    with pytest.raises(SystemExit) as exit_info:  # argparse error: exit status 2 with the reason
        tokenizer.parse_args(["--dataset-dir", "d", "--output-dir", "o", "--per-device-batch-size", "0"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        pretraining.parse_args(["--dataset-dir", "d", "--tokenizer", "t", "--output-dir", "o", "--preset", "small"])
