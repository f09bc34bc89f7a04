# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Train LaBraM's VQ-NSP neural tokenizer (``LaBraMTokenizerModel``) with accelerate.

    accelerate launch examples/train_tokenizer.py --dataset-dir windows/ --output-dir runs/vqnsp
    accelerate launch --multi_gpu --num_processes 2 examples/train_tokenizer.py --cpu --dataset-dir windows/ \
        --output-dir runs/vqnsp-tiny --preset tiny --max-steps 20

From Python: ``train_tokenizer(TokenizerArguments(dataset_dir=..., output_dir=..., preset="tiny"))``.

The dataset directory is a window dataset of ``labram_hf.data.build_dataset`` / ``labram prepare``
(``datasets.load_from_disk``); its feature extractor (``preprocessor_config.json``, how the windows were
preprocessed) is saved with the tokenizer. Defaults follow the original recipe (README / ``run_vqnsp_training.py``):
base encoder, 8192 codes x 64, k-means codebook initialisation, AdamW (0.9, 0.99) with weight decay 1e-4, LR 5e-5 x
total batch / 128, warmup (10 % of the steps: 10 of 100 epochs) then cosine to 1e-5, no gradient clipping.

Codebook: the quantizer updates its codebook by EMA in training mode, all-reduced over processes, so every process
holds the same codebook (logged as ``codebook/max_process_diff``, which must stay 0). The k-means initialisation
runs here, before the first step, on the *gathered* first global batch with a fixed seed, so a run on N processes
starts from the same codebook as a single-process run with the same global batch (the original runs it inside the
first forward on the local batch of each GPU and broadcasts rank 0's result).

Logged (TensorBoard under OUTPUT_DIR/logs, and OUTPUT_DIR/log.jsonl): the three loss terms, codebook usage over
the logging window (``codebook/used_codes``, ``codebook/dead_codes`` = codes not chosen by any token in the window,
``codebook/perplexity``), ``codebook/ema_dead_codes`` (codes whose EMA usage count fell below 1e-3) and the
cross-process codebook difference.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from ..modeling import LaBraMTokenizerModel
from .arguments import run_as_script, stage_command
from .inputs import load_pretrained
from .loop import WindowStageArguments, finish_stage, start_stage, train_loop
from .metrics import codebook_statistics
from .presets import TOKENIZER_PRESETS, tokenizer_config

__all__ = ["TokenizerArguments", "build_model", "kmeans_initialize", "main", "parse_args", "train_tokenizer"]


@dataclass(kw_only=True)
class TokenizerArguments(WindowStageArguments):
    """Arguments of :func:`train_tokenizer`: the data, the model, and the loop (defaults: the original recipe)."""

    preset: str = field(
        default="base",
        metadata={"choices": list(TOKENIZER_PRESETS), "help": "model size (tiny: 2+1 blocks of width 100, 64 x 16 "
                  "codes, for tests and smoke runs)"},
    )  # fmt: skip
    init_from: str | None = field(default=None, metadata={"help": "start from a saved LaBraMTokenizerModel"})
    num_layers: int | None = field(default=None, metadata={"help": "encoder blocks"})
    decoder_num_layers: int | None = None
    n_code: int | None = field(default=None, metadata={"help": "codebook size (default 8192)"})
    code_dim: int | None = field(default=None, metadata={"help": "code vector size (default 64)"})
    no_kmeans_init: bool = field(default=False, metadata={"help": "random l2-normalised codebook instead"})
    ema_decay: float | None = None
    attn_implementation: Literal["eager", "sdpa"] = "sdpa"
    # the original recipe's loop settings
    per_device_batch_size: int = 128
    num_epochs: float = 100
    blr: float | None = 5e-5
    min_lr: float = 1e-5
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    weight_decay: float = 1e-4


def build_model(args: TokenizerArguments) -> LaBraMTokenizerModel:
    """A fresh tokenizer of ``args.preset`` with the size overrides, or the one in ``args.init_from``."""
    if args.init_from:
        return load_pretrained(LaBraMTokenizerModel, args.init_from, "init-from",
                               attn_implementation=args.attn_implementation)  # fmt: skip
    overrides = {
        name: value
        for name, value in (("num_hidden_layers", args.num_layers), ("decoder_num_hidden_layers", args.decoder_num_layers),
                            ("n_code", args.n_code), ("code_dim", args.code_dim), ("ema_decay", args.ema_decay))
        if value is not None
    }  # fmt: skip
    if args.no_kmeans_init:
        overrides["kmeans_init"] = False
    config = tokenizer_config(args.preset, **overrides)
    config._attn_implementation = args.attn_implementation
    return LaBraMTokenizerModel(config)


@torch.no_grad()
def kmeans_initialize(model: LaBraMTokenizerModel, batch, accelerator, seed: int) -> None:
    """Cosine k-means of the codebook on the gathered first global batch (same result on every process)."""
    from ..modeling.modeling_labram import _cosine_kmeans

    quantizer = model.quantizer
    if not quantizer.kmeans_init or bool(quantizer.initialized):
        return
    features, _, _, _, token_mask = model.encode(
        batch["input_values"], batch["channel_ids"], batch.get("channel_mask"), update_codebook=False
    )
    flat = F.normalize(features.float(), dim=-1).reshape(-1, quantizer.code_dim)  # [B * tokens, code_dim]
    if token_mask is not None:
        flat = flat[token_mask.reshape(-1)]
    if accelerator.num_processes > 1:  # variable token counts: pad, gather, unpad (process order = batch order)
        counts = accelerator.gather(torch.tensor([flat.shape[0]], device=flat.device))
        padded = accelerator.pad_across_processes(flat, dim=0)
        gathered = accelerator.gather(padded).view(accelerator.num_processes, -1, quantizer.code_dim)
        flat = torch.cat([gathered[r, : int(n)] for r, n in enumerate(counts.cpu())], dim=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        means = _cosine_kmeans(flat.cpu(), quantizer.n_code, quantizer.kmeans_iters).to(flat.device)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.broadcast(means, src=0)  # identical already; make it bitwise certain
    quantizer.codebook.copy_(means)
    quantizer.initialized.fill_(1.0)
    accelerator.print(f"codebook initialised by k-means on {flat.shape[0]} token vectors")


def train_tokenizer(args: TokenizerArguments, *, feature_extractor=None) -> dict:
    """Train the tokenizer; returns the training summary (``output_dir``, steps, learning rate, last logged values,
    ``codebook_sha``). ``feature_extractor`` (an extractor or a path) overrides ``args.feature_extractor``."""
    accelerator, dataset, contract = start_stage(args, "train_tokenizer", feature_extractor)
    model = build_model(args)
    n_code = model.config.n_code
    code_counts = torch.zeros(n_code, device=accelerator.device)  # codes chosen since the last log

    def step_fn(model, batch, keys):
        out = model(
            input_values=batch["input_values"], channel_ids=batch["channel_ids"], channel_mask=batch.get("channel_mask")
        )
        ids = out.token_ids.reshape(-1)  # [B * C * A]
        if batch.get("channel_mask") is not None:
            num_patches = out.token_ids.shape[1] // batch["channel_ids"].shape[1]
            ids = ids[batch["channel_mask"].repeat_interleave(num_patches, dim=1).reshape(-1)]
        code_counts.add_(torch.bincount(ids.detach(), minlength=n_code).float())
        metrics = {"quantization_loss": out.quantization_loss, "amplitude_loss": out.amplitude_loss,
                   "phase_loss": out.phase_loss}  # fmt: skip
        return out.loss, metrics

    def on_log(step, logs, unwrapped):
        counts = accelerator.reduce(code_counts.clone(), reduction="sum")
        code_counts.zero_()
        extra = {f"codebook/{k}": v for k, v in codebook_statistics(counts.cpu()).items()}
        quantizer = unwrapped.quantizer
        extra["codebook/ema_dead_codes"] = float((quantizer.code_usage < 1e-3).sum())
        books = accelerator.gather(quantizer.codebook.unsqueeze(0).contiguous())  # [processes, n_code, code_dim]
        extra["codebook/max_process_diff"] = float((books - books[:1]).abs().max())
        return extra

    def before_first_step(unwrapped, batch):
        kmeans_initialize(unwrapped, batch, accelerator, args.seed)

    model, summary = train_loop(
        accelerator, args, model, dataset, step_fn, on_log=on_log, before_first_step=before_first_step,
        progress_keys=("loss", "codebook/used_codes", "codebook/perplexity"), desc="tokenizer",
    )  # fmt: skip
    summary["codebook_sha"] = hashlib.sha256(model.quantizer.codebook.detach().cpu().numpy().tobytes()).hexdigest()
    return finish_stage(accelerator, args, model, summary, contract)


parse_args, main = stage_command(TokenizerArguments, train_tokenizer, __doc__)

if __name__ == "__main__":
    run_as_script(main)
