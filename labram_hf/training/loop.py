"""A generic accelerate training loop (used by the tokenizer and pre-training stages; usable for your own models).

    accelerator = make_accelerator(args, "my_run")          # args: a LoopArguments (or a subclass)
    model, summary = train_loop(accelerator, args, model, dataset, step_fn)

``step_fn(model, batch, sample_keys) -> (loss, metrics)`` computes one micro-batch; everything else is here:

* data: a :class:`torch.utils.data.DataLoader` (``num_workers`` worker processes, pinned memory on CUDA,
  ``prefetch_factor``) over one window dataset, batched by :class:`~labram_hf.training.inputs.ShardedEpochBatches`;
  or over a :class:`~labram_hf.data.corpus.PretrainingCorpus` (several datasets with different montages and window
  lengths, one dataset per batch, mixed by weight); or a :class:`~labram_hf.data.streaming.StreamingCorpus` (Parquet
  shards on any fsspec path, at most one worker) -- see :func:`~labram_hf.training.inputs.training_batches`. All
  three give the same samples per optimiser step for any number of processes with the same global batch and resume
  exactly mid-epoch. ``sample_keys`` (unique per drawn window) let ``step_fn`` make per-sample random choices that
  do not depend on batching (:func:`~labram_hf.training.inputs.sample_masks`);
* optimiser: AdamW over :func:`~labram_hf.training.optim.param_groups` (optional layer decay), the original warmup +
  cosine schedule per optimiser step, optional gradient clipping, gradient accumulation
  (``accelerator.accumulate``), mixed precision through the accelerator;
* logging every ``log_every`` steps: the metrics (averaged over micro-batches and processes) and ``lr`` (the
  learning rate the step used, group 0) go to the accelerate trackers and to ``OUTPUT_DIR/log.jsonl``;
  ``on_log(step, logs, unwrapped_model)`` may add entries (it runs on every process, so it may use collectives);
* checkpoints: ``accelerator.save_state`` every ``checkpoint_every`` steps with accelerate's automatic naming
  (``OUTPUT_DIR/checkpoints/checkpoint_<i>``, the newest ``checkpoints_total_limit`` kept): model, optimiser,
  scheduler, RNG states, the loop position and, for a corpus or a stream, the data-order state after the last batch
  used (``custom_checkpoint_2.pkl``); ``resume="latest"`` (``--resume``) or a checkpoint directory continues
  exactly where it left off, with the next batch;
* ``stop_after_steps``: stop after that many steps as if the run had been interrupted (no final model; the
  checkpoints stay for ``--resume``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..hub import add_remote_code
from .inputs import TrainingArgumentError, TrainingBatches, to_device, training_batches
from .optim import cosine_schedule_with_warmup, make_adamw, param_groups, resolve_warmup_steps

__all__ = [
    "CHECKPOINT_DIR",
    "DATA_STATE_FILE",
    "LoopArguments",
    "TrainingArgumentError",
    "WindowStageArguments",
    "finish_stage",
    "latest_checkpoint",
    "make_accelerator",
    "start_stage",
    "train_loop",
]

#: Where ``accelerator.save_state`` puts the checkpoints (accelerate's automatic naming), below the output dir.
CHECKPOINT_DIR = "checkpoints"
_CHECKPOINT_RE = re.compile(r"^checkpoint_(\d+)$")
#: The file of the data-order state in a checkpoint (the third object registered for checkpointing).
DATA_STATE_FILE = "custom_checkpoint_2.pkl"


@dataclass(kw_only=True)
class LoopArguments:
    """Settings of :func:`train_loop` (the stages subclass it with their recipe's defaults)."""

    output_dir: str = field(metadata={"help": "where checkpoints, logs and the final model go"})
    per_device_batch_size: int = field(default=64, metadata={"help": "windows per process and micro-batch"})
    gradient_accumulation_steps: int = 1
    num_epochs: float = field(default=1.0, metadata={"help": "ignored when --max-steps is given"})
    max_steps: int | None = field(default=None, metadata={"help": "optimiser steps (overrides --num-epochs)"})
    lr: float | None = field(default=None, metadata={"help": "peak learning rate (overrides --blr)"})
    blr: float | None = field(
        default=None,
        metadata={"help": "base LR per 128 samples of total batch: lr = blr * total_batch / 128 (original scaling)"},
    )
    min_lr: float = field(default=1e-5, metadata={"help": "floor of the cosine schedule"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "warmup as a fraction of all steps"})
    warmup_steps: int | None = field(default=None, metadata={"help": "overrides --warmup-ratio"})
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.999], metadata={"help": "AdamW betas (two)"})
    adam_eps: float = 1e-8
    weight_decay: float = 0.05
    layer_decay: float | None = field(
        default=None, metadata={"help": "layer-wise LR decay (e.g. 0.65; default: none, as the original)"}
    )
    clip_grad: float | None = field(default=None, metadata={"help": "max gradient norm (default: no clipping)"})
    seed: int = 0
    no_shuffle: bool = field(default=False, metadata={"help": "visit windows in dataset order"})
    mixed_precision: Literal["no", "fp16", "bf16"] | None = field(
        default=None, metadata={"help": "overrides accelerate's --mixed_precision / config"}
    )
    cpu: bool = field(
        default=False,
        metadata={"help": "force CPU (multi-process CPU runs: `accelerate launch --multi_gpu --num_processes N "
                          "SCRIPT --cpu`, gloo backend; same as ACCELERATE_USE_CPU=1)"},
    )  # fmt: skip
    num_workers: int = field(default=2, metadata={"help": "DataLoader worker processes (0: load in this process)"})
    prefetch_factor: int = field(default=2, metadata={"help": "batches each worker loads ahead"})
    log_every: int = field(default=10, metadata={"help": "log every N optimiser steps"})
    report_to: str = field(
        default="tensorboard", metadata={"help": "accelerate trackers: tensorboard, wandb, all, none (comma-separated)"}
    )
    checkpoint_every: int = field(default=0, metadata={"help": "accelerator.save_state every N steps (0: off)"})
    checkpoints_total_limit: int | None = field(default=None, metadata={"help": "keep only the newest N checkpoints"})
    resume: str | None = field(
        default=None,
        metadata={"nargs": "?", "const": "latest",
                  "help": "continue from the latest checkpoint in OUTPUT_DIR/checkpoints (`--resume` or `--resume "
                          "latest`) or from a checkpoint directory"},
    )  # fmt: skip
    stop_after_steps: int | None = field(
        default=None,
        metadata={"help": "stop after N steps as if interrupted: no final model, checkpoints kept (tests, time boxes)"},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N windows"})
    progress: bool = field(
        default=False, metadata={"help": "show a progress bar (logged values as its postfix) instead of log lines"}
    )

    def __post_init__(self):
        for name in ("per_device_batch_size", "gradient_accumulation_steps", "log_every"):
            if int(getattr(self, name)) < 1:
                raise TrainingArgumentError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_workers < 0 or self.prefetch_factor < 1:
            raise TrainingArgumentError(
                f"num_workers must be >= 0 and prefetch_factor >= 1, got {self.num_workers} and {self.prefetch_factor}"
            )
        if self.lr is None and self.blr is None:
            raise TrainingArgumentError("no learning rate: give lr (peak) or blr (per 128 samples)")
        if len(self.adam_betas) != 2:
            raise TrainingArgumentError(f"adam_betas takes two values, got {list(self.adam_betas)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise TrainingArgumentError(f"max_steps must be at least 1, got {self.max_steps}")

    def peak_lr(self, total_batch: int) -> float:
        """``lr``, or ``blr * total_batch / 128`` (the original's scaling)."""
        return float(self.lr) if self.lr is not None else float(self.blr) * total_batch / 128

    def to_flat_dict(self) -> dict[str, Any]:
        """The scalar settings (for tracker configs and summaries)."""
        return {k: v for k, v in asdict(self).items() if isinstance(v, (int, float, str, bool))}


# ----------------------------------------------------------------------------------------------------------------------
# Accelerator, checkpoints
# ----------------------------------------------------------------------------------------------------------------------


def _checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    root = Path(output_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))]
    return sorted(found)


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoints/checkpoint_<i>`` of a run (highest ``i``), or ``None``."""
    found = _checkpoints(output_dir)
    return found[-1][1] if found else None


def make_accelerator(args: LoopArguments, project_name: str):
    """An :class:`accelerate.Accelerator` for ``args``: trackers from ``report_to``, gradient accumulation, mixed
    precision and automatic checkpoint naming in ``output_dir`` (numbering continues after existing checkpoints)."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    report = [r.strip() for r in str(args.report_to).split(",") if r.strip() and r.strip() != "none"]
    existing = _checkpoints(args.output_dir)
    project = ProjectConfiguration(
        project_dir=args.output_dir,
        logging_dir=os.path.join(args.output_dir, "logs"),
        automatic_checkpoint_naming=True,
        total_limit=args.checkpoints_total_limit,
        iteration=existing[-1][0] + 1 if existing else 0,
    )
    accelerator = Accelerator(
        cpu=bool(args.cpu),
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=report or None,
        project_config=project,
    )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and accelerator.num_processes == 1:
        raise TrainingArgumentError(
            f"launched as one of {world} processes, but the Accelerator sees a single process: every process would "
            "train alone and write to the same output directory",
            hint="on a machine without GPUs pass --cpu to the script (or set ACCELERATE_USE_CPU=1) so that the "
            "processes join a gloo group",
        )
    if report:
        accelerator.init_trackers(project_name, config=args.to_flat_dict())
    return accelerator


class _LoopPosition:
    """The optimiser steps done, saved with every checkpoint (``accelerator.register_for_checkpointing``)."""

    def __init__(self):
        self.step = 0

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step = int(state["step"])


class _DataState:
    """The data-order state after the last batch the loop used (a corpus sampler's or a stream's), saved with every
    checkpoint (``accelerator.register_for_checkpointing``)."""

    _WHAT = {"corpus": "a corpus of datasets on disk (--corpus)", "stream": "streamed shards (--corpus-shards)"}

    def __init__(self, kind: str):
        self.kind = kind
        self.state: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("kind")
        if saved != self.kind:
            raise TrainingArgumentError(
                f"the checkpoint was saved by a run on {self._WHAT.get(saved, saved)}, this run reads "
                f"{self._WHAT.get(self.kind, self.kind)}: their batch orders differ",
                hint="resume with the data arguments of the interrupted run",
            )
        self.state = state["state"]


def _check_checkpoint_data(resume: Path, stateful: bool) -> None:
    """Refuse to resume a corpus/stream run from a single-dataset checkpoint and the other way round."""
    saved = (Path(resume) / DATA_STATE_FILE).is_file()
    if stateful and not saved:
        raise TrainingArgumentError(
            f"--resume {resume}: this checkpoint holds no corpus/stream position (it was saved by a run on one "
            "dataset, --dataset-dir)",
            hint="resume with the data arguments of the interrupted run",
        )
    if saved and not stateful:
        raise TrainingArgumentError(
            f"--resume {resume}: this checkpoint was saved by a run on a corpus or a stream of shards, not on one "
            "dataset",
            hint="resume with the data arguments of the interrupted run (--corpus / --corpus-shards)",
        )


def _append_jsonl(path: str | None, record: dict[str, Any]) -> None:
    if path is not None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=float) + "\n")


def _restart_log(path: str | None, up_to_step: int) -> None:
    """A fresh run starts a new log; a resumed run keeps the records up to its checkpoint (an interrupted run may
    have logged steps after it, which are about to be redone)."""
    if path is None or not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        kept = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= up_to_step]
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(kept)


# ----------------------------------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------------------------------

StepFunction = Callable[[nn.Module, dict[str, torch.Tensor], list[int]], tuple[torch.Tensor, dict[str, Any]]]


def train_loop(
    accelerator,
    args: LoopArguments,
    model: nn.Module,
    dataset,
    step_fn: StepFunction,
    *,
    collate: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]] | None = None,
    before_first_step: Callable[[nn.Module, dict[str, torch.Tensor]], None] | None = None,
    after_optimizer_step: Callable[[int, torch.optim.Optimizer], None] | None = None,
    on_log: Callable[[int, dict[str, float], nn.Module], dict[str, float] | None] | None = None,
    progress_keys: Sequence[str] = ("loss",),
    desc: str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """
    Train ``model`` on ``dataset`` with ``accelerator``; returns the unwrapped model and a summary (``max_steps``,
    ``lr``, ``warmup_steps``, ``total_batch``, ``start_step``, ``steps_run``, ``interrupted``, ``last_logs``,
    ``train_seconds``, ``data``, and the time this process spent blocked on the DataLoader: ``first_batch_seconds``
    for the first batch, which includes starting the workers, ``data_wait_seconds`` for all later ones).

    ``dataset``: a window dataset (:class:`datasets.Dataset`), a :class:`~labram_hf.data.corpus.PretrainingCorpus`,
    a :class:`~labram_hf.data.streaming.StreamingCorpus` built for this run's global batch and process, or a
    :class:`~labram_hf.training.inputs.TrainingBatches` (:func:`~labram_hf.training.inputs.training_batches`).

    Hooks: ``step_fn(model, batch, sample_keys) -> (loss, metrics)`` with scalar metrics; ``collate(rows)`` builds
    a batch (default :class:`labram_hf.data.LaBraMDataCollator`); ``before_first_step(unwrapped_model,
    first_batch)`` runs once on a fresh run (e.g. the tokenizer's codebook initialisation);
    ``after_optimizer_step(step, optimizer)`` runs after each optimiser step, before the scheduler advances (the
    groups' ``lr`` are those the step used); ``on_log`` adds logged values; ``progress_keys`` are shown in the
    progress bar. See the module docstring for everything else.
    """
    from ..data import LaBraMDataCollator

    world, rank, device = accelerator.num_processes, accelerator.process_index, accelerator.device
    accum = args.gradient_accumulation_steps
    global_batch = args.per_device_batch_size * world
    single = not isinstance(dataset, TrainingBatches) and hasattr(dataset, "select")  # one window dataset
    if args.max_train_samples is not None:
        if not single:
            raise TrainingArgumentError("max_train_samples applies to one window dataset, not to a corpus or a stream",
                                        hint="drop --max-train-samples, or weight the corpus instead")  # fmt: skip
        dataset = dataset.select(range(min(len(dataset), args.max_train_samples)))
    if single and global_batch > len(dataset):
        raise TrainingArgumentError(
            f"global batch {global_batch} (= {args.per_device_batch_size} x {world} processes) exceeds the "
            f"{len(dataset)} windows of the dataset",
            hint="lower --per-device-batch-size",
        )
    data = training_batches(dataset, args.per_device_batch_size, world, rank, args.seed, shuffle=not args.no_shuffle)
    steps_per_epoch = max(1, data.batches_per_epoch // accum)
    max_steps = args.max_steps or max(1, int(round(args.num_epochs * steps_per_epoch)))
    warmup = resolve_warmup_steps(max_steps, args.warmup_ratio, args.warmup_steps)
    total_batch = global_batch * accum
    lr = args.peak_lr(total_batch)
    groups = param_groups(model, args.weight_decay, layer_decay=args.layer_decay, lr=lr)
    optimizer = make_adamw(groups, lr, betas=args.adam_betas, eps=args.adam_eps)
    scheduler = cosine_schedule_with_warmup(optimizer, warmup, max_steps, min_lr=min(args.min_lr, lr), base_lr=lr)
    model, optimizer = accelerator.prepare(model, optimizer)
    position = _LoopPosition()
    data_state = _DataState(data.kind) if data.stateful else None
    accelerator.register_for_checkpointing(scheduler, position, *([data_state] if data_state is not None else []))

    resume = latest_checkpoint(args.output_dir) if args.resume == "latest" else args.resume
    if args.resume == "latest" and resume is None:
        accelerator.print("--resume: no checkpoint found, starting from scratch")
    if resume:
        if not Path(resume).is_dir():
            raise TrainingArgumentError(f"--resume {resume}: no such checkpoint directory",
                                        hint=f"use --resume (the latest in {Path(args.output_dir) / CHECKPOINT_DIR})")
        _check_checkpoint_data(Path(resume), data.stateful)
        accelerator.load_state(str(resume))
        if data_state is not None:
            data.load_state_dict(data_state.state, start=position.step * accum)
        accelerator.print(f"resumed from {resume} at step {position.step}")
    start_step = position.step
    log_path = None
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
        log_path = os.path.join(args.output_dir, "log.jsonl")
        _restart_log(log_path, start_step)

    loader = data.loader(
        start_step * accum, max(0, max_steps - start_step) * accum, collate=collate or LaBraMDataCollator(),
        num_workers=args.num_workers, prefetch_factor=args.prefetch_factor, pin_memory=device.type == "cuda",
        seed=args.seed,
    )  # fmt: skip

    show_progress = bool(args.progress)
    say = (lambda *a, **k: None) if show_progress else accelerator.print
    if data.kind != "windows":
        say(f"{data.kind}:\n{data.describe()}")
    say(
        f"{data.num_windows} windows, {world} process(es) x {args.per_device_batch_size} x {accum} accumulation = "
        f"{total_batch} per step, {max_steps} steps ({steps_per_epoch}/epoch), warmup {warmup}, peak lr {lr:.3g}"
    )
    bar = None
    if show_progress and accelerator.is_main_process:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_steps, initial=start_step, desc=desc or "training", unit="step", dynamic_ncols=True)

    summary: dict[str, Any] = {"max_steps": max_steps, "lr": lr, "warmup_steps": warmup, "total_batch": total_batch,
                               "start_step": start_step, "interrupted": False, "data": data.summary()}  # fmt: skip
    pending: dict[str, list[torch.Tensor]] = {}
    first_wait, data_wait = None, 0.0  # seconds blocked waiting for the first batch, and for all later ones
    started = time.perf_counter()
    batches = iter(loader)
    model.train()
    done = start_step
    fresh = start_step == 0
    for step in range(start_step, max_steps):
        step_lr = optimizer.param_groups[0]["lr"]
        for _ in range(accum):
            waited = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                raise TrainingArgumentError(f"the data ran out at step {step + 1} of {max_steps}",
                                            hint="give a stream without num_epochs (endless)") from None  # fmt: skip
            waited = time.perf_counter() - waited
            if first_wait is None:
                first_wait = waited  # includes starting the DataLoader workers
            else:
                data_wait += waited
            keys = batch.pop("sample_keys").tolist()
            if data_state is not None:
                data_state.state = data.state_after(batch, keys)
            batch = to_device(batch, device)
            if fresh and before_first_step is not None:
                before_first_step(accelerator.unwrap_model(model), batch)
            fresh = False
            with accelerator.accumulate(model):
                loss, metrics = step_fn(model, batch, keys)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    if args.clip_grad:
                        norm = accelerator.clip_grad_norm_(model.parameters(), args.clip_grad)
                        metrics["grad_norm"] = torch.as_tensor(norm).detach()
                    optimizer.step()
                    if after_optimizer_step is not None:
                        after_optimizer_step(step, optimizer)
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
            for key, value in {"loss": loss.detach(), **metrics}.items():
                pending.setdefault(key, []).append(torch.as_tensor(value).detach().float().reshape(()).to(device))
        done = position.step = step + 1
        if done % args.log_every == 0 or done == max_steps:
            names = sorted(pending)
            means = torch.stack([torch.stack(pending[k]).mean() for k in names])
            reduced = accelerator.reduce(means, reduction="mean").cpu()
            logs = {k: float(v) for k, v in zip(names, reduced)}
            logs["lr"] = step_lr
            logs["epoch"] = done / steps_per_epoch
            if on_log is not None:
                logs.update(on_log(done, logs, accelerator.unwrap_model(model)) or {})
            accelerator.log(logs, step=done)
            _append_jsonl(log_path, {"step": done, **logs})
            say(f"step {done}/{max_steps} " + " ".join(f"{k}={v:.4g}" for k, v in logs.items()))
            if bar is not None:
                shown = {k.split("/")[-1]: f"{logs[k]:.3g}" for k in progress_keys if k in logs}
                bar.set_postfix(shown, refresh=False)
            summary["last_logs"] = logs
            pending = {}
        if args.checkpoint_every and done % args.checkpoint_every == 0:
            summary["last_checkpoint"] = str(accelerator.save_state())
            accelerator.wait_for_everyone()
        if bar is not None:
            bar.update(1)
        if args.stop_after_steps is not None and args.stop_after_steps <= done < max_steps:
            accelerator.print(f"stop_after_steps={args.stop_after_steps}: stopping as if interrupted at step {done}")
            summary["interrupted"] = True
            break
    del batches  # shuts the DataLoader workers down
    if bar is not None:
        bar.close()
    accelerator.wait_for_everyone()
    summary["train_seconds"] = time.perf_counter() - started
    summary["first_batch_seconds"] = first_wait or 0.0
    summary["data_wait_seconds"] = data_wait
    summary["steps_run"] = done - start_step
    return accelerator.unwrap_model(model), summary



# ----------------------------------------------------------------------------------------------------------------------
# Start and end of an accelerate stage (tokenizer, pre-training)
# ----------------------------------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class WindowStageArguments(LoopArguments):
    """:class:`LoopArguments` plus the training window dataset of an accelerate stage."""

    dataset_dir: str = field(metadata={"help": "window dataset (datasets.load_from_disk) with its contract"})
    split: str | None = field(default=None, metadata={"help": "split of a DatasetDict (default: train)"})
    feature_extractor: str | None = field(
        default=None,
        metadata={"help": "preprocessing to save with the model (directory or preprocessor_config.json); default: "
                          "the dataset's own"},
    )  # fmt: skip


def start_stage(args: WindowStageArguments, project_name: str, feature_extractor=None):
    """Open the training dataset and its contract (refused before anything is written when unusable), then create
    the output directory and the accelerator and seed every RNG. ``feature_extractor`` (an extractor or a path)
    overrides ``args.feature_extractor``. Returns ``(accelerator, dataset, contract)``."""
    from accelerate.utils import set_seed

    from .inputs import check_output_dir, load_window_dataset, training_contract

    check_output_dir(args.output_dir, dataset_dir=args.dataset_dir, init_from=getattr(args, "init_from", None),
                     tokenizer=getattr(args, "tokenizer", None))  # fmt: skip
    dataset = load_window_dataset(args.dataset_dir, args.split)
    contract = training_contract(args.dataset_dir, dataset, feature_extractor or args.feature_extractor)
    os.makedirs(args.output_dir, exist_ok=True)
    accelerator = make_accelerator(args, project_name)
    set_seed(args.seed)
    return accelerator, dataset, contract


def finish_stage(accelerator, args: LoopArguments, model, summary: dict[str, Any], contract) -> dict[str, Any]:
    """Save the trained model, the training dataset's feature extractor (``preprocessor_config.json``) and
    ``train_summary.json`` into the output directory — unless the run was interrupted — and end the trackers."""
    summary["output_dir"] = args.output_dir
    if accelerator.is_main_process and not summary["interrupted"]:
        model.save_pretrained(args.output_dir)
        contract["feature_extractor"].save_pretrained(args.output_dir)
        add_remote_code(args.output_dir)  # model, extractor and (encoders) pipeline remote code
        with open(os.path.join(args.output_dir, "train_summary.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2, default=float)
        if not args.progress:
            accelerator.print(f"saved {type(model).__name__} to {args.output_dir}")
    accelerator.end_training()
    return summary
