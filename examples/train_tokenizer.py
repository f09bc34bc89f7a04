#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Train LaBraM's VQ-NSP neural tokenizer (LaBraMTokenizerModel) with accelerate.

    accelerate launch examples/train_tokenizer.py --dataset-dir windows/ --output-dir runs/vqnsp
    accelerate launch --multi_gpu --num_processes 2 examples/train_tokenizer.py --cpu --dataset-dir windows/ \
        --output-dir runs/vqnsp-tiny --preset tiny --max-steps 20

A thin wrapper: the recipe lives in the installed package, :mod:`labram_hf.recipes.tokenizer` (``--help`` there
and here are the same; from Python: ``labram_hf.recipes.tokenizer.main([...])``).
"""

from labram_hf.recipes.tokenizer import build_model, kmeans_initialize, main, parse_args  # noqa: F401

if __name__ == "__main__":
    main()
