"""The learning-rate schedule of every training path equals the original ``utils.cosine_scheduler``.

The reference is written here from the formula in LABRAM_REFERENCE.md ("Schedule formula"): with W warmup and T
total iterations, ``schedule = concat(linspace(0, lr, W), [min_lr + 0.5 (lr - min_lr) (1 + cos(pi i / (T - W)))
for i in 0 … T - W - 1])`` and every parameter group runs at ``schedule[it] * lr_scale``. The learning rates are read
from the optimiser in real (tiny) runs on real EEG windows: the fine-tuning ``Trainer`` (layer-decay groups), the
tokenizer and pre-training stages and the accelerate loop itself (layer-decay groups).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.test_examples import example_data, read_log  # noqa: F401 - fixture


def original_schedule(peak: float, floor: float, total: int, warmup: int) -> np.ndarray:
    """``utils.cosine_scheduler`` per iteration (LABRAM_REFERENCE.md)."""
    ramp = np.linspace(0.0, peak, warmup)  # both ends included: step 0 has 0, step W - 1 the peak
    i = np.arange(total - warmup)
    cosine = floor + 0.5 * (peak - floor) * (1.0 + np.cos(np.pi * i / (total - warmup)))
    return np.concatenate([ramp, cosine])


def assert_groups_follow(records: list[list[tuple[float, float]]], peak: float, floor: float, total: int,
                         warmup: int) -> None:  # fmt: skip
    """records[it] = [(lr, lr_scale) of every group] as the optimiser held them for step ``it``."""
    reference = original_schedule(peak, floor, total, warmup)
    assert len(records) == total
    for it, groups in enumerate(records):
        for lr, scale in groups:
            assert lr == pytest.approx(reference[it] * scale, rel=1e-9, abs=1e-15), (it, scale)


def test_reference_warmup_reaches_the_peak_one_step_early():
    """The property the port used to miss: the peak is at step W - 1, not W (and step 0 is 0)."""
    from labram_hf.training import cosine_lr_factor

    schedule = original_schedule(1.0, 0.0, 10, 4)
    assert schedule[0] == 0.0 and schedule[3] == 1.0 and schedule[4] == 1.0
    ours = [cosine_lr_factor(s, 4, 10, 0.0) for s in range(10)]
    np.testing.assert_allclose(ours, schedule, rtol=1e-12, atol=1e-15)
    assert cosine_lr_factor(0, 1, 5, 0.1) == 0.0  # one warmup step: linspace(0, lr, 1) = [0]
    assert cosine_lr_factor(0, 0, 5, 0.1) == 1.0  # no warmup: the cosine starts at the peak


@pytest.mark.parametrize(("total", "warmup", "floor"), [(12, 3, 1e-5), (7, 0, 2e-4), (9, 1, 0.0), (5, 5, 1e-6)])
def test_lambda_schedule_per_group(total, warmup, floor):
    from labram_hf import LaBraMConfig, LaBraMForSequenceClassification
    from labram_hf.training import TINY_MODEL_KWARGS, cosine_schedule_with_warmup, make_adamw, param_groups

    model = LaBraMForSequenceClassification(LaBraMConfig(**TINY_MODEL_KWARGS, num_labels=2))
    peak = 5e-4
    optimizer = make_adamw(param_groups(model, 0.05, layer_decay=0.65, lr=peak), peak)
    scheduler = cosine_schedule_with_warmup(optimizer, warmup, total, min_lr=floor, base_lr=peak)
    records = []
    for _ in range(total):
        records.append([(g["lr"], g["lr_scale"]) for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert len({scale for _, scale in records[0]}) == 4  # 2 blocks: 4 layer-decay buckets
    assert_groups_follow(records, peak, floor, total, warmup)


# ----------------------------------------------------------------------------------------------------------------------
# real runs
# ----------------------------------------------------------------------------------------------------------------------


class LearningRateRecorder:
    """Trainer callback: every group's (lr, lr_scale) when the optimiser steps (before the scheduler moves on)."""

    def __init__(self):
        from transformers import TrainerCallback

        recorder = self

        class _Callback(TrainerCallback):
            def on_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
                recorder.records.append([(g["lr"], g["lr_scale"]) for g in optimizer.param_groups])

        self.records: list[list[tuple[float, float]]] = []
        self.callback = _Callback()


@pytest.mark.parametrize(("total", "warmup_ratio", "warmup", "floor"), [(7, 0.3, 3, 1e-5), (6, 0.15, 1, 2e-4)])
def test_trainer_schedule_equals_the_original(example_data, tmp_path, total, warmup_ratio, warmup, floor):  # noqa: F811
    from labram_hf.training import FinetuningArguments, finetune

    recorder = LearningRateRecorder()
    args = FinetuningArguments(
        model="scratch", preset="tiny", train_dataset=str(example_data["train"]), output_dir=str(tmp_path / "ft"),
        max_steps=total, warmup_ratio=warmup_ratio, min_lr=floor, lr=1e-3, layer_decay=0.65, batch_size=4,
        eval_strategy="no", report_to="none", quiet=True, save_total_limit=1, logging_steps=100, drop_path=0.0,
    )  # fmt: skip
    finetune(args, callbacks=[recorder.callback])
    assert len({scale for _, scale in recorder.records[0]}) == 4  # layer-decay buckets of the tiny model
    assert_groups_follow(recorder.records, 1e-3, floor, total, warmup)


def test_accelerate_stages_schedule_equals_the_original(example_data, tmp_path):  # noqa: F811
    """Tokenizer and pre-training (log_every=1: the logged ``lr`` is the one each step used)."""
    from labram_hf.training import PretrainingArguments, TokenizerArguments, pretrain, train_tokenizer

    common = dict(dataset_dir=str(example_data["unlabelled"]), preset="tiny", per_device_batch_size=4, log_every=1,
                  report_to="none", num_workers=0)  # fmt: skip
    tok = tmp_path / "tok"
    train_tokenizer(TokenizerArguments(**common, output_dir=str(tok), lr=1e-3, min_lr=1e-4, max_steps=6,
                                       warmup_steps=2))  # fmt: skip
    lrs = [r["lr"] for r in read_log(tok / "log.jsonl")]
    np.testing.assert_allclose(lrs, original_schedule(1e-3, 1e-4, 6, 2), rtol=1e-9, atol=1e-15)

    mem = tmp_path / "mem"
    pretrain(PretrainingArguments(**common, tokenizer=str(tok), output_dir=str(mem), max_steps=5, warmup_ratio=0.5,
                                  min_lr=1e-5, drop_path=0.0))  # fmt: skip
    lrs = [r["lr"] for r in read_log(mem / "log.jsonl")]  # warmup = ceil(0.5 * 5) = 3, peak: the recipe's 5e-4
    np.testing.assert_allclose(lrs, original_schedule(5e-4, 1e-5, 5, 3), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize(("total", "warmup", "floor", "accumulation"), [(5, 2, 1e-5, 1), (4, 1, 0.0, 2)])
def test_accelerate_loop_schedule_per_group(example_data, tmp_path, total, warmup, floor, accumulation):  # noqa: F811
    """Every layer-decay group of the generic loop, with and without gradient accumulation."""
    from labram_hf import LaBraMConfig, LaBraMForSequenceClassification
    from labram_hf.training import TINY_MODEL_KWARGS, LoopArguments, load_window_dataset, make_accelerator, train_loop

    args = LoopArguments(output_dir=str(tmp_path), lr=2e-3, min_lr=floor, max_steps=total, warmup_steps=warmup,
                         layer_decay=0.65, per_device_batch_size=4, gradient_accumulation_steps=accumulation,
                         report_to="none", num_workers=0, log_every=100)  # fmt: skip
    model = LaBraMForSequenceClassification(LaBraMConfig(**TINY_MODEL_KWARGS, num_labels=2, drop_path_rate=0.0))
    records = []

    def step_fn(model, batch, keys):
        return model(input_values=batch["input_values"], channel_ids=batch["channel_ids"]).logits.square().mean(), {}

    def after_optimizer_step(step, optimizer):
        assert step == len(records)
        records.append([(g["lr"], g["lr_scale"]) for g in optimizer.param_groups])

    _, summary = train_loop(make_accelerator(args, "schedule"), args, model,
                            load_window_dataset(example_data["unlabelled"]), step_fn,
                            after_optimizer_step=after_optimizer_step)  # fmt: skip
    assert summary["warmup_steps"] == warmup and summary["steps_run"] == total
    assert len({scale for _, scale in records[0]}) == 4
    assert_groups_follow(records, 2e-3, floor, total, warmup)
    assert all(torch.isfinite(p).all() for p in model.parameters())
