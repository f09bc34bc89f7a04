# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Masked EEG modelling (LaBraM pre-training) with a frozen VQ-NSP tokenizer, with accelerate (``examples/pretrain.py``).

    accelerate launch examples/pretrain.py --dataset-dir windows/ --tokenizer runs/vqnsp --output-dir runs/mem
    accelerate launch --multi_gpu --num_processes 2 examples/pretrain.py --cpu --preset tiny --max-steps 20 \
        --dataset-dir windows/ --tokenizer runs/vqnsp-tiny --output-dir runs/mem-tiny

Each step: the frozen tokenizer (loaded from ``--tokenizer``, eval mode, fp32 with autocast off) turns the batch into
codebook ids on the device (``get_codebook_indices``); half of every sample's patch tokens are masked (the original
``random_masking``); ``LaBraMForMaskedEEGModeling`` runs the symmetric pair of passes (mask, complement) and its
loss is CE(masked) + CE(complement).

Masks (``--masking``): ``per-sample`` (default) draws each sample's mask with the original algorithm from a generator
seeded by (seed, epoch, window index), so masks do not depend on the number of processes or on resumption (the
distributed and resume tests rely on it); ``collator`` uses :class:`labram_hf.data.LaBraMMaskingCollator` with one
RNG stream per process (the original's behaviour; not reproduced exactly after ``--resume``).

Defaults follow the original recipe: AdamW (0.9, 0.98), LR 5e-4, weight decay 0.05 (none on norms, biases, the cls
token, the spatial/temporal embeddings and the mask token), gradient clipping 3.0, warmup (10 %: 5 of 50 epochs)
then cosine to 1e-5, drop path 0.1, layer scale 0.1, no layer decay. The vocabulary size is the tokenizer's
``n_code``. Saves ``LaBraMForMaskedEEGModeling`` (+ the feature extractor); its backbone loads into
``LaBraMForSequenceClassification.from_pretrained(OUTPUT_DIR, num_labels=...)`` with only the new head (pooler
LayerNorm and classifier) initialised fresh.
"""

from __future__ import annotations

import argparse
import json
import os

import torch

from .. import LaBraMConfig, LaBraMForMaskedEEGModeling, LaBraMTokenizerModel
from ..training import (
    TINY_MODEL_KWARGS,
    add_loop_arguments,
    load_window_dataset,
    make_accelerator,
    run_accelerate_loop,
    sample_masks,
    save_feature_extractor,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset-dir", required=True, help="window dataset (datasets.load_from_disk)")
    p.add_argument("--split", default=None)
    p.add_argument("--tokenizer", required=True, help="directory of a trained LaBraMTokenizerModel (frozen)")
    m = p.add_argument_group("model")
    m.add_argument("--preset", default="base", choices=["tiny", "base", "large", "huge"])
    m.add_argument("--init-from", default=None, help="continue from a saved LaBraMForMaskedEEGModeling directory")
    m.add_argument("--num-layers", type=int, default=None)
    m.add_argument("--drop-path", type=float, default=0.1)
    m.add_argument("--layer-scale", type=float, default=0.1, help="layer scale init (0 disables)")
    m.add_argument("--cls-position-quirk", action="store_true",
                   help="reproduce the original pre-training quirk (cls gets the first channel's spatial row)")
    m.add_argument("--attn-implementation", default="sdpa", choices=["eager", "sdpa"])
    m.add_argument("--mask-ratio", type=float, default=0.5)
    m.add_argument("--masking", choices=["per-sample", "collator"], default="per-sample")
    add_loop_arguments(p, lr=5e-4, betas=(0.9, 0.98), weight_decay=0.05, min_lr=1e-5, warmup_ratio=0.1,
                       clip_grad=3.0, batch_size=64, epochs=50)  # fmt: skip
    return p.parse_args(argv)


def build_model(args, vocab_size: int) -> LaBraMForMaskedEEGModeling:
    if args.init_from:
        return LaBraMForMaskedEEGModeling.from_pretrained(args.init_from, attn_implementation=args.attn_implementation)
    kwargs = dict(TINY_MODEL_KWARGS) if args.preset == "tiny" else {}
    if args.num_layers is not None:
        kwargs["num_hidden_layers"] = args.num_layers
    kwargs.update(
        vocab_size=vocab_size,
        drop_path_rate=args.drop_path,
        layer_scale_init_value=args.layer_scale,
        cls_position_from_first_channel=args.cls_position_quirk,
    )
    config = LaBraMConfig(**kwargs) if args.preset == "tiny" else LaBraMConfig.from_preset(args.preset, **kwargs)
    config._attn_implementation = args.attn_implementation
    return LaBraMForMaskedEEGModeling(config)


def main(argv=None, *, feature_extractor=None) -> dict:
    """Pre-train as the command line ``argv`` says; returns the training summary (with ``output_dir``).

    ``feature_extractor`` (optional, in-process use): the :class:`~labram_hf.LaBraMFeatureExtractor` saved with the
    model (default: the original recipe's settings).
    """
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    accelerator = make_accelerator(args, "pretrain")
    from accelerate.utils import set_seed

    from ..data import LaBraMMaskingCollator

    set_seed(args.seed)
    dataset = load_window_dataset(args.dataset_dir, args.split)
    tokenizer = LaBraMTokenizerModel.from_pretrained(args.tokenizer).to(accelerator.device).eval().requires_grad_(False)
    model = build_model(args, tokenizer.config.n_code)
    if model.config.vocab_size != tokenizer.config.n_code:
        raise ValueError(f"model vocab_size {model.config.vocab_size} != tokenizer n_code {tokenizer.config.n_code}")
    device_type = accelerator.device.type

    collate = None
    if args.masking == "collator":
        masker = LaBraMMaskingCollator(mask_ratio=args.mask_ratio, seed=args.seed + 1000 * accelerator.process_index)
        collate = masker

    def step_fn(model, batch, keys):
        values, ids, channel_mask = batch["input_values"], batch["channel_ids"], batch.get("channel_mask")
        with torch.no_grad(), torch.autocast(device_type=device_type, enabled=False):
            labels = tokenizer.get_codebook_indices(values.float(), ids, channel_mask)  # [B, C*A], on device
        num_patches = labels.shape[1] // ids.shape[1]
        if "bool_masked_pos" in batch:
            masked = batch["bool_masked_pos"]
        else:
            counts = labels.shape[1] if channel_mask is None else (channel_mask.sum(1) * num_patches).tolist()
            masked = sample_masks(keys, counts, args.mask_ratio, args.seed, max_tokens=labels.shape[1])
            masked = masked.to(values.device, non_blocking=True)
        out = model(input_values=values, channel_ids=ids, channel_mask=channel_mask, bool_masked_pos=masked,
                    labels=labels)  # fmt: skip
        with torch.no_grad():
            valid = masked.new_ones(masked.shape) if channel_mask is None else channel_mask.repeat_interleave(
                num_patches, dim=1)  # fmt: skip
            first, second = masked & valid, ~masked & valid
            acc = (out.logits.argmax(-1)[first] == labels[first]).float().mean()
            acc_sym = (out.symmetric_logits.argmax(-1)[second] == labels[second]).float().mean()
        return out.loss, {"mlm_accuracy": acc, "mlm_accuracy_symmetric": acc_sym}

    model, summary = run_accelerate_loop(
        accelerator, args, model, dataset, step_fn, betas=args.adam_betas, collate=collate, desc="pre-training",
    )  # fmt: skip
    summary["output_dir"] = args.output_dir
    if accelerator.is_main_process:
        model.save_pretrained(args.output_dir)
        save_feature_extractor(args.output_dir, feature_extractor, accelerator.print)
        with open(os.path.join(args.output_dir, "train_summary.json"), "w") as f:
            json.dump(summary, f, indent=2, default=float)
        if not args.progress:
            accelerator.print(f"saved LaBraMForMaskedEEGModeling to {args.output_dir}")
    accelerator.end_training()
    return summary


if __name__ == "__main__":
    main()
