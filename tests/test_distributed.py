"""Scale-out and fault tests of the accelerate examples (tiny configs, real EEG windows, CPU, gloo).

* 2 processes (``accelerate launch --multi_gpu --num_processes 2`` with ``ACCELERATE_USE_CPU=1``: torchrun + gloo;
  accelerate 1.15's ``--cpu`` alone starts a single process) vs 1 process with the same global batch: the per-step
  losses agree within rel 1e-4 / abs 1e-5 (observed: ~1e-7, float reduction order only), the tokenizer codebook is
  identical on both processes at every logged step (max difference exactly 0) and matches the 1-process codebook.
* Kill and resume: a run stopped after k steps as if interrupted (``--stop-after-steps``: no final save, the
  accelerate checkpoints stay) and resumed from its latest checkpoint (``--resume``) reproduces the uninterrupted
  run's losses (rel 1e-6; in practice bitwise), drop path, DataLoader workers and all; steps logged after the
  checkpoint are redone, not duplicated.
* Determinism: the same seed gives the same losses (exactly).
"""

from __future__ import annotations

import shutil

import pytest
import torch

from tests.test_examples import (
    EXAMPLES,
    PRETRAIN_TINY,
    PY,
    TOKENIZER_TINY,
    example_data,  # noqa: F401 - fixture
    read_log,
    run_script,
)

LAUNCH_2 = [PY, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]  # fmt: skip
CPU_ENV = {"ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
STEPS = "4"


def losses(out, key="loss"):
    return [r[key] for r in read_log(out / "log.jsonl")]


@pytest.fixture(scope="module")
def tokenizer_runs(example_data, tmp_path_factory):  # noqa: F811
    """The same tiny tokenizer training with 1 process x 4 and 2 processes x 2 windows per step."""
    root = tmp_path_factory.mktemp("dist_tok")
    common = ["--dataset-dir", example_data["unlabelled"], *TOKENIZER_TINY[:2], "--lr", "1e-3", "--max-steps", STEPS,
              "--log-every", "1", "--report-to", "none"]  # fmt: skip
    run_script([EXAMPLES / "train_tokenizer.py", *common, "--per-device-batch-size", "4", "--output-dir",
                root / "one"], env=CPU_ENV)  # fmt: skip
    run_script([EXAMPLES / "train_tokenizer.py", *common, "--per-device-batch-size", "2", "--output-dir",
                root / "two"], launcher=LAUNCH_2, env=CPU_ENV)  # fmt: skip
    return root


def test_tokenizer_two_processes_match_one(tokenizer_runs):
    from labram_hf import LaBraMTokenizerModel

    one, two = tokenizer_runs / "one", tokenizer_runs / "two"
    assert len(losses(one)) == len(losses(two)) == int(STEPS)
    for a, b in zip(losses(one), losses(two)):
        assert b == pytest.approx(a, rel=1e-4, abs=1e-5)
    # the EMA codebook is identical on every process at every logged step ...
    assert all(d == 0.0 for d in losses(two, "codebook/max_process_diff"))
    # ... and equals the single-process codebook (k-means on the gathered global batch + all-reduced EMA)
    book_one = LaBraMTokenizerModel.from_pretrained(one).quantizer.codebook
    book_two = LaBraMTokenizerModel.from_pretrained(two).quantizer.codebook
    torch.testing.assert_close(book_two, book_one, atol=1e-5, rtol=1e-5)


def test_pretrain_two_processes_match_one(example_data, tokenizer_runs, tmp_path):  # noqa: F811
    common = ["--dataset-dir", example_data["unlabelled"], "--tokenizer", tokenizer_runs / "one", "--preset", "tiny",
              "--max-steps", STEPS, "--log-every", "1", "--report-to", "none", "--drop-path", "0"]  # fmt: skip
    run_script([EXAMPLES / "pretrain.py", *common, "--per-device-batch-size", "4", "--output-dir", tmp_path / "one"],
               env=CPU_ENV)  # fmt: skip
    run_script([EXAMPLES / "pretrain.py", *common, "--per-device-batch-size", "2", "--output-dir", tmp_path / "two"],
               launcher=LAUNCH_2, env=CPU_ENV)  # fmt: skip
    for key in ("loss", "grad_norm"):
        for a, b in zip(losses(tmp_path / "one", key), losses(tmp_path / "two", key), strict=True):
            assert b == pytest.approx(a, rel=1e-4, abs=1e-5), key


def test_pretrain_kill_and_resume_and_determinism(example_data, tokenizer_runs, tmp_path):  # noqa: F811
    """Stop after 3 of 6 steps, resume from the step-3 checkpoint: steps 4-6 equal the uninterrupted run."""
    common = ["--dataset-dir", example_data["unlabelled"], "--tokenizer", tokenizer_runs / "one", *PRETRAIN_TINY,
              "--max-steps", "6", "--log-every", "1", "--checkpoint-every", "3", "--report-to", "none",
              "--drop-path", "0.1", "--seed", "7"]  # fmt: skip
    full, again, broken = tmp_path / "full", tmp_path / "again", tmp_path / "broken"
    run_script([EXAMPLES / "pretrain.py", *common, "--output-dir", full], env=CPU_ENV)
    run_script([EXAMPLES / "pretrain.py", *common, "--output-dir", again], env=CPU_ENV)
    assert losses(again) == losses(full)  # same seed, same losses (bitwise)

    run_script([EXAMPLES / "pretrain.py", *common, "--output-dir", broken, "--stop-after-steps", "3"], env=CPU_ENV)
    assert [r["step"] for r in read_log(broken / "log.jsonl")] == [1, 2, 3]
    assert not (broken / "model.safetensors").exists()  # crashed before the final save
    run_script([EXAMPLES / "pretrain.py", *common, "--output-dir", broken, "--resume", "latest"], env=CPU_ENV)
    resumed = read_log(broken / "log.jsonl")
    assert [r["step"] for r in resumed] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(losses(full), [r["loss"] for r in resumed], strict=True):
        assert b == pytest.approx(a, rel=1e-6)
    assert (broken / "model.safetensors").exists()


def test_tokenizer_kill_and_resume(example_data, tmp_path):  # noqa: F811
    """The EMA codebook, optimiser, scheduler and RNG state survive a crash + resume (2 processes)."""
    common = ["--dataset-dir", example_data["unlabelled"], *TOKENIZER_TINY, "--max-steps", "4", "--log-every", "1",
              "--checkpoint-every", "2", "--report-to", "none", "--per-device-batch-size", "2"]  # fmt: skip
    full, broken = tmp_path / "full", tmp_path / "broken"
    run_script([EXAMPLES / "train_tokenizer.py", *common, "--output-dir", full], launcher=LAUNCH_2, env=CPU_ENV)
    # crash at step 3, one step after the step-2 checkpoint: step 3 is redone after the resume
    run_script([EXAMPLES / "train_tokenizer.py", *common, "--output-dir", broken, "--stop-after-steps", "3"],
               launcher=LAUNCH_2, env=CPU_ENV)  # fmt: skip
    assert [r["step"] for r in read_log(broken / "log.jsonl")] == [1, 2, 3]
    run_script([EXAMPLES / "train_tokenizer.py", *common, "--output-dir", broken, "--resume"],  # = latest
               launcher=LAUNCH_2, env=CPU_ENV)  # fmt: skip
    assert [r["step"] for r in read_log(broken / "log.jsonl")] == [1, 2, 3, 4]  # the stale step 3 was dropped
    for a, b in zip(losses(full), losses(broken), strict=True):
        assert b == pytest.approx(a, rel=1e-6)
    from labram_hf import LaBraMTokenizerModel

    torch.testing.assert_close(
        LaBraMTokenizerModel.from_pretrained(broken).quantizer.codebook,
        LaBraMTokenizerModel.from_pretrained(full).quantizer.codebook,
        atol=1e-6,
        rtol=1e-6,
    )
    shutil.rmtree(tmp_path, ignore_errors=True)
