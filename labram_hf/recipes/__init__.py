"""The three LaBraM training recipes under their earlier import path (kept for existing code).

The stages live in :mod:`labram_hf.training` (``tokenizer``, ``pretraining``, ``finetuning``); each module here
re-exports its stage: the arguments dataclass, the stage function and ``parse_args(argv)`` / ``main(argv)`` with the
flags of the scripts in ``examples/``::

    from labram_hf.recipes import tokenizer
    tokenizer.main(["--dataset-dir", "windows/", "--output-dir", "runs/vqnsp", "--preset", "tiny", "--max-steps", "50"])

New code: ``from labram_hf.training import TokenizerArguments, train_tokenizer`` (likewise ``pretrain``,
``finetune``).
"""

__all__ = ["finetuning", "pretraining", "tokenizer"]
