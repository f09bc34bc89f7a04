"""A :class:`transformers.Trainer` with the original fine-tuning optimiser and schedule."""

from __future__ import annotations

from transformers import Trainer

from .optim import cosine_schedule_with_warmup, make_adamw, param_groups

__all__ = ["LayerDecayTrainer"]


class LayerDecayTrainer(Trainer):
    """
    :class:`transformers.Trainer` with the original fine-tuning optimiser: AdamW over
    :func:`~labram_hf.training.optim.param_groups` (layer decay ``layer_decay``, no weight decay on norms, biases and
    embedding tables) and the original warmup + cosine schedule to ``min_lr`` per optimiser step
    (:func:`~labram_hf.training.optim.cosine_schedule_with_warmup`). Warmup comes from
    ``TrainingArguments.warmup_steps`` (a float below 1 is a ratio of the training steps); betas, eps, weight decay
    and the peak LR from the ``TrainingArguments``. ``layer_decay`` of ``None`` or 1.0 turns layer decay off.
    """

    def __init__(self, *args, layer_decay: float | None = 0.65, min_lr: float = 1e-6, **kwargs):
        super().__init__(*args, **kwargs)
        self.layer_decay = layer_decay
        self.min_lr = min_lr

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            opt_model = self.model if model is None else model
            groups = param_groups(
                opt_model,
                self.args.weight_decay,
                layer_decay=self.layer_decay if self.layer_decay not in (None, 1.0) else None,
                lr=self.args.learning_rate,
            )
            self.optimizer = make_adamw(
                groups,
                self.args.learning_rate,
                betas=(self.args.adam_beta1, self.args.adam_beta2),
                eps=self.args.adam_epsilon,
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            optimizer = self.optimizer if optimizer is None else optimizer
            self.lr_scheduler = cosine_schedule_with_warmup(
                optimizer,
                self.args.get_warmup_steps(num_training_steps),
                num_training_steps,
                min_lr=self.min_lr,
                base_lr=self.args.learning_rate,
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler
