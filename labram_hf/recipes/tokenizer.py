# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Train LaBraM's VQ-NSP neural tokenizer (LaBraMTokenizerModel) with accelerate (``examples/train_tokenizer.py``).

    accelerate launch examples/train_tokenizer.py --dataset-dir windows/ --output-dir runs/vqnsp
    accelerate launch --cpu --num_processes 2 examples/train_tokenizer.py --dataset-dir windows/ \
        --output-dir runs/vqnsp-tiny --preset tiny --max-steps 20

The dataset directory is a window dataset of ``labram_hf.data.build_dataset`` (``datasets.load_from_disk``).
Defaults follow the original recipe (README / ``run_vqnsp_training.py``): base encoder, 8192 codes x 64, k-means
codebook initialisation, AdamW (0.9, 0.99) with weight decay 1e-4, LR 5e-5 x total batch / 128, warmup (10 % of the
steps: 10 of 100 epochs) then cosine to 1e-5, no gradient clipping.

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

import argparse
import hashlib
import json
import os

import torch
import torch.nn.functional as F

from .. import LaBraMTokenizerConfig, LaBraMTokenizerModel
from ..training import (
    TINY_TOKENIZER_KWARGS,
    add_loop_arguments,
    load_window_dataset,
    make_accelerator,
    run_accelerate_loop,
    save_feature_extractor,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset-dir", required=True, help="window dataset (datasets.load_from_disk)")
    p.add_argument("--split", default=None, help="split of a DatasetDict (default: train)")
    m = p.add_argument_group("model")
    m.add_argument("--preset", default="base", choices=["tiny", "base", "large"],
                   help="tiny: 2+1 blocks of width 100, 64 codes x 16 (tests / smoke runs)")
    m.add_argument("--init-from", default=None, help="start from a saved LaBraMTokenizerModel directory")
    m.add_argument("--num-layers", type=int, default=None, help="encoder blocks")
    m.add_argument("--decoder-num-layers", type=int, default=None)
    m.add_argument("--n-code", type=int, default=None, help="codebook size (default 8192)")
    m.add_argument("--code-dim", type=int, default=None, help="code vector size (default 64)")
    m.add_argument("--no-kmeans-init", action="store_true", help="random l2-normalised codebook instead")
    m.add_argument("--ema-decay", type=float, default=None)
    m.add_argument("--attn-implementation", default="sdpa", choices=["eager", "sdpa"])
    add_loop_arguments(p, blr=5e-5, betas=(0.9, 0.99), weight_decay=1e-4, min_lr=1e-5, warmup_ratio=0.1,
                       clip_grad=None, batch_size=128, epochs=100)  # fmt: skip
    return p.parse_args(argv)


def build_model(args) -> LaBraMTokenizerModel:
    if args.init_from:
        return LaBraMTokenizerModel.from_pretrained(args.init_from, attn_implementation=args.attn_implementation)
    kwargs = dict(TINY_TOKENIZER_KWARGS) if args.preset == "tiny" else {}
    for field, value in (("num_hidden_layers", args.num_layers), ("decoder_num_hidden_layers", args.decoder_num_layers),
                         ("n_code", args.n_code), ("code_dim", args.code_dim), ("ema_decay", args.ema_decay)):  # fmt: skip
        if value is not None:
            kwargs[field] = value
    if args.no_kmeans_init:
        kwargs["kmeans_init"] = False
    if args.preset == "tiny":
        config = LaBraMTokenizerConfig(**kwargs)
    else:
        config = LaBraMTokenizerConfig.from_preset(args.preset, **kwargs)
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
    flat = F.normalize(features.float(), dim=-1).reshape(-1, quantizer.code_dim)
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


def main(argv=None, *, feature_extractor=None) -> dict:
    """Train the tokenizer as the command line ``argv`` says; returns the training summary (with ``output_dir``).

    ``feature_extractor`` (optional, in-process use): the :class:`~labram_hf.LaBraMFeatureExtractor` saved with the
    model (default: the original recipe's settings).
    """
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    accelerator = make_accelerator(args, "train_tokenizer")
    from accelerate.utils import set_seed

    set_seed(args.seed)
    dataset = load_window_dataset(args.dataset_dir, args.split)
    model = build_model(args)
    n_code = model.config.n_code

    def step_fn(model, batch, keys):
        out = model(
            input_values=batch["input_values"], channel_ids=batch["channel_ids"], channel_mask=batch.get("channel_mask")
        )
        ids = out.token_ids.reshape(-1)
        if batch.get("channel_mask") is not None:
            num_patches = out.token_ids.shape[1] // batch["channel_ids"].shape[1]
            ids = ids[batch["channel_mask"].repeat_interleave(num_patches, dim=1).reshape(-1)]
        counts = torch.bincount(ids, minlength=n_code).float()
        metrics = {
            "quantization_loss": out.quantization_loss,
            "amplitude_loss": out.amplitude_loss,
            "phase_loss": out.phase_loss,
            "code_counts": counts,
        }
        return out.loss, metrics

    def on_log(step, logs, unwrapped):
        quantizer = unwrapped.quantizer
        extra = {"codebook/ema_dead_codes": float((quantizer.code_usage < 1e-3).sum())}
        books = accelerator.gather(quantizer.codebook.unsqueeze(0).contiguous())  # [processes, n_code, code_dim]
        extra["codebook/max_process_diff"] = float((books - books[:1]).abs().max())
        return extra

    def before_first_step(unwrapped, batch):
        kmeans_initialize(unwrapped, batch, accelerator, args.seed)

    model, summary = run_accelerate_loop(
        accelerator, args, model, dataset, step_fn, betas=args.adam_betas, on_log=on_log,
        before_first_step=before_first_step, desc="tokenizer",
    )  # fmt: skip
    summary["output_dir"] = args.output_dir
    if accelerator.is_main_process:
        model.save_pretrained(args.output_dir)
        save_feature_extractor(args.output_dir, feature_extractor, accelerator.print)
        summary["codebook_sha"] = hashlib.sha256(model.quantizer.codebook.detach().cpu().numpy().tobytes()).hexdigest()
        with open(os.path.join(args.output_dir, "train_summary.json"), "w") as f:
            json.dump(summary, f, indent=2, default=float)
        if not args.progress:
            accelerator.print(f"saved LaBraMTokenizerModel to {args.output_dir}")
    accelerator.end_training()
    return summary


if __name__ == "__main__":
    main()
