"""The generic accelerate loop (labram_hf.training.loop) on real EEG windows: DataLoader workers, checkpoints with
accelerate's automatic naming, resumption and its errors. (Multi-process runs: tests/test_distributed.py.)"""

from __future__ import annotations

import pytest
import torch

from tests.test_examples import example_data, read_log  # noqa: F401 - fixture


def run_loop(data_dir, output_dir, **overrides):
    from labram_hf import LaBraMConfig, LaBraMForSequenceClassification
    from labram_hf.training import TINY_MODEL_KWARGS, LoopArguments, load_window_dataset, make_accelerator, train_loop

    settings = dict(output_dir=str(output_dir), lr=1e-3, max_steps=6, warmup_steps=2, per_device_batch_size=4,
                    report_to="none", num_workers=0, log_every=1, seed=3)  # fmt: skip
    args = LoopArguments(**{**settings, **overrides})
    torch.manual_seed(args.seed)
    model = LaBraMForSequenceClassification(LaBraMConfig(**TINY_MODEL_KWARGS, num_labels=2, drop_path_rate=0.1))
    seen = []

    def step_fn(model, batch, keys):
        seen.append(list(keys))
        logits = model(input_values=batch["input_values"], channel_ids=batch["channel_ids"]).logits
        return logits.square().mean(), {"first_key": torch.tensor(float(keys[0]))}

    _, summary = train_loop(make_accelerator(args, "loop"), args, model, load_window_dataset(data_dir), step_fn)
    return summary, seen, model


def test_worker_processes_change_nothing(example_data, tmp_path):  # noqa: F811
    base, keys0, model0 = run_loop(example_data["unlabelled"], tmp_path / "w0")
    _, keys2, model2 = run_loop(example_data["unlabelled"], tmp_path / "w2", num_workers=2, prefetch_factor=3)
    assert keys0 == keys2 and len(keys0) == 6
    assert {k // 20 for k in keys0[5]} == {1}  # 20 windows, 5 batches of 4 per epoch: step 6 is in epoch 1
    assert read_log(tmp_path / "w0" / "log.jsonl") == read_log(tmp_path / "w2" / "log.jsonl")
    for a, b in zip(model0.parameters(), model2.parameters()):
        assert torch.equal(a, b)


def test_checkpoint_rotation_and_resume_from_the_latest(example_data, tmp_path):  # noqa: F811
    from labram_hf.training import TrainingArgumentError, latest_checkpoint

    full, _, _ = run_loop(example_data["unlabelled"], tmp_path / "full")
    out = tmp_path / "run"
    stopped, keys_before, _ = run_loop(example_data["unlabelled"], out, checkpoint_every=2,
                                       checkpoints_total_limit=1, stop_after_steps=5)  # fmt: skip
    assert stopped["interrupted"] and stopped["steps_run"] == 5
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint_1"]  # step 4; step 2's removed
    assert latest_checkpoint(out).name == "checkpoint_1"
    resumed, keys_after, _ = run_loop(example_data["unlabelled"], out, checkpoint_every=2, checkpoints_total_limit=1,
                                      resume="latest")  # fmt: skip
    assert resumed["start_step"] == 4 and resumed["steps_run"] == 2
    assert keys_after == keys_before[4:] + [keys_after[-1]]  # step 5 redone with the same windows, then step 6
    assert [r["step"] for r in read_log(out / "log.jsonl")] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in read_log(out / "log.jsonl")] == [r["loss"] for r in read_log(tmp_path / "full" / "log.jsonl")]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint_2"]  # numbering continued
    assert full["steps_run"] == 6

    with pytest.raises(TrainingArgumentError, match="no such checkpoint directory"):
        run_loop(example_data["unlabelled"], tmp_path / "other", resume=str(tmp_path / "missing"))
