#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Masked EEG modelling (LaBraM pre-training) with a frozen VQ-NSP tokenizer, with accelerate.

    accelerate launch examples/pretrain.py --dataset-dir windows/ --tokenizer runs/vqnsp --output-dir runs/mem
    # several prepared datasets (channels and window lengths may differ), mixed by weight, one dataset per batch
    accelerate launch examples/pretrain.py --corpus "windows/tuh:2,windows/siena,windows/bci" ...
    # Parquet shards (labram_hf.data.write_shards) on any fsspec path, read with datasets streaming
    accelerate launch examples/pretrain.py --corpus-shards "s3://bucket/tuh,hf://datasets/org/eeg/data" ...

Checkpoints (``--checkpoint-every``) hold the data position too; ``--resume`` continues with exactly the next batch.
A thin entry point: the stage is :func:`labram_hf.training.pretrain` (arguments:
:class:`labram_hf.training.PretrainingArguments`; ``--help`` lists them).
"""

from labram_hf.training.arguments import run_as_script
from labram_hf.training.pretraining import main

if __name__ == "__main__":
    run_as_script(main)
