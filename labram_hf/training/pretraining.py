# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Masked EEG modelling (LaBraM pre-training) with a frozen VQ-NSP tokenizer, with accelerate.

    accelerate launch examples/pretrain.py --dataset-dir windows/ --tokenizer runs/vqnsp --output-dir runs/mem
    accelerate launch --multi_gpu --num_processes 2 examples/pretrain.py --cpu --preset tiny --max-steps 20 \
        --dataset-dir windows/ --tokenizer runs/vqnsp-tiny --output-dir runs/mem-tiny
    accelerate launch examples/pretrain.py --corpus "windows/tuh:2,windows/siena,windows/bci" ...   # several datasets
    accelerate launch examples/pretrain.py --corpus-shards "s3://bucket/tuh,hf://datasets/org/eeg/data" ...  # streamed

From Python: ``pretrain(PretrainingArguments(dataset_dir=..., tokenizer=..., output_dir=..., preset="tiny"))``.

Data (exactly one of):

* ``--dataset-dir DIR``: one prepared window dataset;
* ``--corpus SPEC``: several prepared datasets, which may differ in channels and window length (``"dirA:2,dirB,dirC"``
  or a list file with one ``PATH[:WEIGHT]`` per line; :class:`labram_hf.data.corpus.PretrainingCorpus`). Every
  batch comes from one dataset (no padding in time), datasets are mixed by weight (``--corpus-weighting``), windows
  are read by ``--num-workers`` DataLoader worker processes;
* ``--corpus-shards SPEC`` (or ``--corpus SPEC --streaming``): the same from Parquet shards
  (:func:`labram_hf.data.streaming.write_shards`, ``labram prepare --shard-size``) on any fsspec path, read with
  ``datasets`` streaming (:class:`labram_hf.data.streaming.StreamingCorpus`; ``--shuffle-buffer``,
  ``--storage-options``; one DataLoader worker at most).

For a corpus or a stream, every checkpoint also holds the position in the data (the sampler's or the stream's state
after the last batch used), and ``--resume`` continues with exactly the next batch; resuming with another corpus,
weights, seed or batch size is refused. The model is saved with the first dataset's feature extractor (the corpus
is checked to share its filters and sampling rate; window lengths and channels may differ), and
``train_summary.json`` lists every dataset of the run.

Each step: the frozen tokenizer (loaded from ``--tokenizer``, eval mode, fp32 with autocast off) turns the batch into
codebook ids on the device (``get_codebook_indices``); half of every sample's patch tokens are masked (the original
``random_masking``); ``LaBraMForMaskedEEGModeling`` runs the symmetric pair of passes (mask, complement) and its
loss is CE(masked) + CE(complement).

Masks (``--masking``): ``per-sample`` (default) draws each sample's mask with the original algorithm from a generator
seeded by (seed, epoch, window index), so masks do not depend on the number of processes or on resumption (the
distributed and resume tests rely on it); ``collator`` draws them from one RNG stream per process (the original's
behaviour; not reproduced exactly after ``--resume``).

Defaults follow the original recipe: AdamW (0.9, 0.98), LR 5e-4, weight decay 0.05 (none on norms, biases, the cls
token, the spatial/temporal embeddings and the mask token), gradient clipping 3.0, warmup (10 %: 5 of 50 epochs)
then cosine to 1e-5, drop path 0.1, layer scale 0.1, no layer decay. The vocabulary size is the tokenizer's
``n_code``. Saves ``LaBraMForMaskedEEGModeling`` and the training dataset's feature extractor; its backbone loads into
``LaBraMForSequenceClassification.from_pretrained(OUTPUT_DIR, num_labels=...)`` with only the new head (pooler
LayerNorm and classifier) initialised fresh.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from ..data.collators import random_masking
from ..errors import LaBraMError
from ..modeling import LaBraMForMaskedEEGModeling, LaBraMTokenizerModel
from .arguments import run_as_script, stage_command
from .inputs import check_output_dir, load_feature_extractor, load_pretrained, sample_masks
from .loop import TrainingArgumentError, WindowStageArguments, finish_stage, make_accelerator, start_stage, train_loop
from .presets import MODEL_PRESETS, model_config

__all__ = [
    "MaskedModelingStep",
    "PretrainingArguments",
    "build_model",
    "main",
    "parse_args",
    "pretrain",
    "start_pretraining",
]


@dataclass(kw_only=True)
class PretrainingArguments(WindowStageArguments):
    """Arguments of :func:`pretrain`: the data, the frozen tokenizer, the model and the loop (defaults: the
    original recipe). The data is one of ``dataset_dir``, ``corpus`` or ``corpus_shards``."""

    dataset_dir: str | None = field(
        default=None, metadata={"help": "one window dataset (datasets.load_from_disk) with its contract"}
    )
    corpus: str | None = field(
        default=None,
        metadata={"help": 'several prepared window datasets, which may differ in channels and window length: '
                          '"dirA:2,dirB,dirC" (PATH[:WEIGHT], comma-separated) or a list file (one PATH[:WEIGHT] per '
                          'line); every batch comes from one of them'},
    )  # fmt: skip
    corpus_weighting: Literal["windows", "absolute"] = field(
        default="windows",
        metadata={"help": "windows: a dataset is drawn in proportion to WEIGHT x its windows (no weight = its size); "
                          "absolute: in proportion to WEIGHT alone"},
    )  # fmt: skip
    streaming: bool = field(
        default=False,
        metadata={"help": "read the --corpus sources as Parquet shards (write_shards / labram prepare --shard-size) "
                          "with datasets streaming: directories, globs or fsspec URLs"},
    )  # fmt: skip
    corpus_shards: str | None = field(
        default=None,
        metadata={"help": "= --corpus SPEC --streaming (e.g. \"s3://bucket/tuh:2,hf://datasets/org/eeg/data\")"},
    )
    shuffle_buffer: int = field(default=1024, metadata={"help": "streaming: rows per shuffle block"})
    storage_options: str | None = field(
        default=None, metadata={"help": "streaming: fsspec storage options as JSON (credentials, endpoints)"}
    )
    tokenizer: str = field(metadata={"help": "directory of a trained LaBraMTokenizerModel (frozen)"})
    preset: str = field(default="base", metadata={"choices": list(MODEL_PRESETS), "help": "model size"})
    init_from: str | None = field(default=None, metadata={"help": "continue from a LaBraMForMaskedEEGModeling dir"})
    num_layers: int | None = None
    drop_path: float = 0.1
    layer_scale: float = field(default=0.1, metadata={"help": "layer scale init (0 disables)"})
    cls_position_quirk: bool = field(
        default=False,
        metadata={"help": "reproduce the original pre-training quirk (cls gets the first channel's spatial row)"},
    )
    attn_implementation: Literal["eager", "sdpa"] = "sdpa"
    mask_ratio: float = 0.5
    masking: Literal["per-sample", "collator"] = "per-sample"
    # the original recipe's loop settings
    per_device_batch_size: int = 64
    num_epochs: float = 50
    lr: float | None = 5e-4
    min_lr: float = 1e-5
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    weight_decay: float = 0.05
    clip_grad: float | None = 3.0

    def __post_init__(self):
        super().__post_init__()
        given = [name for name in ("dataset_dir", "corpus", "corpus_shards") if getattr(self, name)]
        if len(given) != 1:
            raise TrainingArgumentError(
                "give the training data once: one of dataset_dir, corpus, corpus_shards"
                + (f" (got {', '.join(given)})" if given else ""),
                hint="--dataset-dir DIR (one dataset), --corpus \"dirA:2,dirB\" (several), --corpus-shards SPEC "
                "(Parquet shards, streamed)",
            )
        if self.streaming and self.dataset_dir:
            raise TrainingArgumentError("--streaming reads a corpus of Parquet shards, not --dataset-dir",
                                        hint="write the dataset with write_shards() and pass --corpus-shards DIR")
        if self.shuffle_buffer < 0:
            raise TrainingArgumentError(f"shuffle_buffer must be >= 0, got {self.shuffle_buffer}")
        if self.storage_options is not None:
            self.storage_options_dict()

    @property
    def is_streaming(self) -> bool:
        return bool(self.corpus_shards) or bool(self.streaming and self.corpus)

    def storage_options_dict(self) -> dict[str, Any]:
        """``storage_options`` parsed (a JSON object), or ``{}``."""
        if self.storage_options is None:
            return {}
        if isinstance(self.storage_options, dict):
            return dict(self.storage_options)
        try:
            options = json.loads(self.storage_options)
        except json.JSONDecodeError as err:
            raise TrainingArgumentError(f"storage_options is not JSON ({err}): {self.storage_options!r}",
                                        hint='e.g. --storage-options \'{"anon": true}\'') from None  # fmt: skip
        if not isinstance(options, dict):
            raise TrainingArgumentError(f"storage_options must be a JSON object, got {self.storage_options!r}")
        return options


def build_model(args: PretrainingArguments, vocab_size: int) -> LaBraMForMaskedEEGModeling:
    """A fresh masked-modelling model of ``args.preset`` (vocabulary: the tokenizer's codes), or ``args.init_from``."""
    if args.init_from:
        return load_pretrained(LaBraMForMaskedEEGModeling, args.init_from, "init-from",
                               attn_implementation=args.attn_implementation)  # fmt: skip
    overrides = {"num_hidden_layers": args.num_layers} if args.num_layers is not None else {}
    config = model_config(
        args.preset, **overrides, vocab_size=vocab_size, drop_path_rate=args.drop_path,
        layer_scale_init_value=args.layer_scale, cls_position_from_first_channel=args.cls_position_quirk,
    )  # fmt: skip
    config._attn_implementation = args.attn_implementation
    return LaBraMForMaskedEEGModeling(config)


def _corpus_contract(extractors: list[Any], names: list[str], override) -> dict[str, Any]:
    """The contract a model pre-trained on a corpus is saved with: ``override`` (``--feature-extractor``), else the
    first dataset's recorded extractor."""
    from ..data.contract import DatasetContractError, LabelSchema

    recorded = next((fe for fe in extractors if fe is not None), None)
    chosen = load_feature_extractor(override) if override is not None else recorded
    if chosen is None:
        raise DatasetContractError(
            "none of the corpus datasets records its preprocessing (no preprocessor_config.json in "
            f"{', '.join(names)})",
            hint="rebuild them with `labram prepare` / build_dataset, or pass the extractor they were prepared with "
            "(--feature-extractor DIR_OR_JSON)",
        )
    return {"feature_extractor": chosen, "label_schema": LabelSchema(), "reference": (recorded, LabelSchema())}


def start_pretraining(args: PretrainingArguments, feature_extractor=None):
    """Open the training data (one dataset, a corpus or a stream of shards) and its contract -- refused before
    anything is written when unusable -- then create the output directory and the accelerator and seed every RNG.
    Returns ``(accelerator, data, contract)``; ``data`` is what :func:`~labram_hf.training.train_loop` takes."""
    from accelerate.utils import set_seed

    from ..data.contract import load_dataset_contract
    from ..data.corpus import PretrainingCorpus
    from ..data.streaming import StreamingCorpus

    override = feature_extractor or args.feature_extractor
    check_output_dir(args.output_dir, dataset_dir=args.dataset_dir, corpus=args.corpus, corpus_shards=args.corpus_shards,
                     tokenizer=args.tokenizer, init_from=args.init_from)  # fmt: skip
    if args.dataset_dir:
        return start_stage(args, "pretrain", feature_extractor)
    stream_settings = {}
    if args.is_streaming:
        spec = args.corpus_shards or args.corpus
        stream_settings = dict(seed=args.seed, shuffle_buffer=args.shuffle_buffer, weighting=args.corpus_weighting,
                               storage_options=args.storage_options_dict(), yield_state=True)  # fmt: skip
        # one process's view first: every source resolved, its contract and batch size checked, before any write
        data = StreamingCorpus(spec, args.per_device_batch_size, **stream_settings)
        contract = _corpus_contract(data.feature_extractors(), data.paths, override)
    else:
        data = PretrainingCorpus(args.corpus, weighting=args.corpus_weighting, split=args.split)
        extractors = []
        for path in data.paths:
            try:
                extractors.append(load_dataset_contract(path)[0])
            except LaBraMError:
                extractors.append(None)
        contract = _corpus_contract(extractors, data.names, override)
    os.makedirs(args.output_dir, exist_ok=True)
    accelerator = make_accelerator(args, "pretrain")
    set_seed(args.seed)
    if args.is_streaming and accelerator.num_processes > 1:  # the stream of this process's slice of every batch
        data = StreamingCorpus(spec, args.per_device_batch_size * accelerator.num_processes,
                               num_processes=accelerator.num_processes, process_index=accelerator.process_index,
                               check_contract=False, **stream_settings)  # fmt: skip
    return accelerator, data, contract


class MaskedModelingStep:
    """One pre-training micro-batch, as ``step_fn(model, batch, sample_keys) -> (loss, metrics)`` of
    :func:`~labram_hf.training.train_loop`: the frozen ``tokenizer`` turns the batch into codebook ids on its device
    (fp32, autocast off); a mask per sample (``masking="per-sample"``: :func:`~labram_hf.training.sample_masks`
    seeded by (seed, sample key); ``"collator"``: one random stream per process); the symmetric loss of
    :class:`~labram_hf.LaBraMForMaskedEEGModeling` (CE on the masked tokens + CE on the complement), with the masked
    token accuracy of both passes over real (not padded) tokens."""

    def __init__(self, tokenizer, *, mask_ratio: float = 0.5, masking: str = "per-sample", seed: int = 0,
                 process_index: int = 0):  # fmt: skip
        if masking not in ("per-sample", "collator"):
            raise TrainingArgumentError(f"masking must be 'per-sample' or 'collator', got {masking!r}")
        self.tokenizer = tokenizer
        self.mask_ratio, self.masking, self.seed = float(mask_ratio), masking, int(seed)
        self.mask_stream = torch.Generator().manual_seed(self.seed + 1000 * int(process_index))

    def masks(self, keys, labels: torch.Tensor, channel_mask: torch.Tensor | None, num_channels: int) -> torch.Tensor:
        """bool [B, C * A] (True = masked) for the samples ``keys`` with token ids ``labels`` [B, C * A]."""
        num_patches = labels.shape[1] // num_channels
        counts = labels.shape[1] if channel_mask is None else (channel_mask.sum(1) * num_patches).tolist()
        if self.masking == "per-sample":
            return sample_masks(keys, counts, self.mask_ratio, self.seed, max_tokens=labels.shape[1])
        counts = torch.as_tensor(counts).expand(len(keys)) if isinstance(counts, int) else torch.tensor(counts)
        return random_masking(counts, mask_ratio=self.mask_ratio, generator=self.mask_stream,
                              max_tokens=labels.shape[1])  # fmt: skip

    def __call__(self, model, batch, keys):
        values, ids, channel_mask = batch["input_values"], batch["channel_ids"], batch.get("channel_mask")
        with torch.no_grad(), torch.autocast(device_type=values.device.type, enabled=False):
            labels = self.tokenizer.get_codebook_indices(values.float(), ids, channel_mask)  # [B, C * A], on device
        num_patches = labels.shape[1] // ids.shape[1]
        masked = self.masks(keys, labels, channel_mask, ids.shape[1]).to(values.device, non_blocking=True)  # [B, C*A]
        # the head runs only on the scored patches (as the original): logits [N1, V], symmetric_logits [N2, V]
        out = model(input_values=values, channel_ids=ids, channel_mask=channel_mask, bool_masked_pos=masked,
                    labels=labels, masked_logits_only=True)  # fmt: skip
        with torch.no_grad():
            valid = torch.ones_like(masked) if channel_mask is None else channel_mask.repeat_interleave(num_patches, 1)
            first, second = masked & valid, ~masked & valid
            acc = (out.logits.argmax(-1) == labels[first]).float().mean()
            acc_sym = (out.symmetric_logits.argmax(-1) == labels[second]).float().mean()
        return out.loss, {"mlm_accuracy": acc, "mlm_accuracy_symmetric": acc_sym}


def pretrain(args: PretrainingArguments, *, feature_extractor=None) -> dict:
    """Pre-train; returns the training summary (``output_dir``, steps, learning rate, last logged values, ``data``).
    ``feature_extractor`` (an extractor or a path) overrides ``args.feature_extractor``."""
    check_output_dir(args.output_dir, dataset_dir=args.dataset_dir, corpus=args.corpus, corpus_shards=args.corpus_shards,
                     tokenizer=args.tokenizer, init_from=args.init_from)  # fmt: skip
    tokenizer = load_pretrained(LaBraMTokenizerModel, args.tokenizer, "tokenizer")  # before anything is written
    accelerator, dataset, contract = start_pretraining(args, feature_extractor)
    device = accelerator.device
    tokenizer = tokenizer.to(device).eval().requires_grad_(False)
    model = build_model(args, tokenizer.config.n_code)
    if model.config.vocab_size != tokenizer.config.n_code:
        raise TrainingArgumentError(
            f"model vocab_size {model.config.vocab_size} != tokenizer n_code {tokenizer.config.n_code}",
            hint="--init-from a model pre-trained with this tokenizer, or train from a preset",
        )
    step_fn = MaskedModelingStep(tokenizer, mask_ratio=args.mask_ratio, masking=args.masking, seed=args.seed,
                                 process_index=accelerator.process_index)  # fmt: skip

    model, summary = train_loop(
        accelerator, args, model, dataset, step_fn, progress_keys=("loss", "mlm_accuracy"), desc="pre-training"
    )
    return finish_stage(accelerator, args, model, summary, contract)


parse_args, main = stage_command(PretrainingArguments, pretrain, __doc__)

if __name__ == "__main__":
    run_as_script(main)
