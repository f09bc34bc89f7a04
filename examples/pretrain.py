#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Masked EEG modelling (LaBraM pre-training) with a frozen VQ-NSP tokenizer, with accelerate.

    accelerate launch examples/pretrain.py --dataset-dir windows/ --tokenizer runs/vqnsp --output-dir runs/mem
    accelerate launch --multi_gpu --num_processes 2 examples/pretrain.py --cpu --preset tiny --max-steps 20 \
        --dataset-dir windows/ --tokenizer runs/vqnsp-tiny --output-dir runs/mem-tiny

A thin wrapper: the recipe lives in the installed package, :mod:`labram_hf.recipes.pretraining` (same flags; from
Python: ``labram_hf.recipes.pretraining.main([...])``).
"""

from labram_hf.recipes.pretraining import build_model, main, parse_args  # noqa: F401

if __name__ == "__main__":
    main()
