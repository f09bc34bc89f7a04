#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Fine-tune LaBraMForSequenceClassification with the transformers Trainer.

    python examples/finetune.py --model runs/mem --train-dataset train/ --eval-dataset val/ --test-dataset test/ \
        --output-dir runs/cls
    accelerate launch examples/finetune.py ...            # multi-GPU / DeepSpeed / FSDP via accelerate configs

A thin entry point: the stage is :func:`labram_hf.training.finetune` (arguments:
:class:`labram_hf.training.FinetuningArguments`; ``--help`` lists them).
"""

from labram_hf.training.arguments import run_as_script
from labram_hf.training.finetuning import main

if __name__ == "__main__":
    run_as_script(main)
