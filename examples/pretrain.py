#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Masked EEG modelling (LaBraM pre-training) with a frozen VQ-NSP tokenizer, with accelerate.

    accelerate launch examples/pretrain.py --dataset-dir windows/ --tokenizer runs/vqnsp --output-dir runs/mem

A thin entry point: the stage is :func:`labram_hf.training.pretrain` (arguments:
:class:`labram_hf.training.PretrainingArguments`; ``--help`` lists them).
"""

from labram_hf.training.arguments import run_as_script
from labram_hf.training.pretraining import main

if __name__ == "__main__":
    run_as_script(main)
