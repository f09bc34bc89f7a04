"""Training LaBraM: the three stages of the original, and the pieces they are made of.

Stages (each a dataclass of arguments and one function; ``examples/*.py`` and ``labram demo`` call them):

* :mod:`~labram_hf.training.tokenizer` — :class:`TokenizerArguments`, :func:`train_tokenizer` (VQ-NSP, accelerate);
* :mod:`~labram_hf.training.pretraining` — :class:`PretrainingArguments`, :func:`pretrain` (masked EEG modelling
  with a frozen tokenizer, accelerate);
* :mod:`~labram_hf.training.finetuning` — :class:`FinetuningArguments`, :func:`finetune` (classification with the
  transformers ``Trainer``, optional LoRA).

    from labram_hf.training import TokenizerArguments, train_tokenizer
    summary = train_tokenizer(TokenizerArguments(dataset_dir="windows/", output_dir="runs/vqnsp", preset="tiny"))

Pieces: :mod:`~labram_hf.training.optim` (the original parameter groups and warmup + cosine schedule,
:class:`LayerDecayTrainer`), :mod:`~labram_hf.training.metrics`, :mod:`~labram_hf.training.loop` (a generic
accelerate loop: :class:`LoopArguments`, :func:`train_loop`), :mod:`~labram_hf.training.inputs` (datasets, their
preprocessing contract, world-size-invariant batching, per-sample masks) and :mod:`~labram_hf.training.presets`
(``--preset`` sizes, including ``tiny``).
"""

from .finetuning import FinetuningArguments, finetune, update_training_metadata
from .inputs import (
    ShardedEpochBatches,
    check_dataset_matches,
    collate_rows,
    count_parameters,
    load_feature_extractor,
    load_window_dataset,
    sample_masks,
    to_device,
    training_contract,
)
from .loop import LoopArguments, TrainingArgumentError, latest_checkpoint, make_accelerator, train_loop
from .metrics import binary_metrics, codebook_statistics, compute_metrics, metrics_from_logits, multiclass_metrics
from .optim import (
    NO_WEIGHT_DECAY_NAMES,
    cosine_lr_factor,
    cosine_schedule_with_warmup,
    layer_decay_scales,
    layer_id_for_name,
    make_adamw,
    param_groups,
    resolve_warmup_steps,
    use_weight_decay,
)
from .presets import (
    MODEL_PRESETS,
    TINY_MODEL_KWARGS,
    TINY_TOKENIZER_KWARGS,
    TOKENIZER_PRESETS,
    model_config,
    tokenizer_config,
)
from .pretraining import PretrainingArguments, pretrain
from .tokenizer import TokenizerArguments, train_tokenizer
from .trainer import LayerDecayTrainer

__all__ = [
    "MODEL_PRESETS",
    "NO_WEIGHT_DECAY_NAMES",
    "TINY_MODEL_KWARGS",
    "TINY_TOKENIZER_KWARGS",
    "TOKENIZER_PRESETS",
    "FinetuningArguments",
    "LayerDecayTrainer",
    "LoopArguments",
    "PretrainingArguments",
    "ShardedEpochBatches",
    "TokenizerArguments",
    "TrainingArgumentError",
    "binary_metrics",
    "check_dataset_matches",
    "codebook_statistics",
    "collate_rows",
    "compute_metrics",
    "cosine_lr_factor",
    "cosine_schedule_with_warmup",
    "count_parameters",
    "finetune",
    "latest_checkpoint",
    "layer_decay_scales",
    "layer_id_for_name",
    "load_feature_extractor",
    "load_window_dataset",
    "make_accelerator",
    "make_adamw",
    "metrics_from_logits",
    "model_config",
    "multiclass_metrics",
    "param_groups",
    "pretrain",
    "resolve_warmup_steps",
    "sample_masks",
    "to_device",
    "tokenizer_config",
    "train_loop",
    "train_tokenizer",
    "training_contract",
    "update_training_metadata",
    "use_weight_decay",
]
