#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Train LaBraM's VQ-NSP neural tokenizer (LaBraMTokenizerModel) with accelerate.

    accelerate launch examples/train_tokenizer.py --dataset-dir windows/ --output-dir runs/vqnsp

A thin entry point: the stage is :func:`labram_hf.training.train_tokenizer` (arguments:
:class:`labram_hf.training.TokenizerArguments`; ``--help`` lists them).
"""

from labram_hf.training.arguments import run_as_script
from labram_hf.training.tokenizer import main

if __name__ == "__main__":
    run_as_script(main)
