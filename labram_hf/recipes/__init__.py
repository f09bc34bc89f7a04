"""The three LaBraM training recipes, importable from the installed package.

* :mod:`labram_hf.recipes.tokenizer` — the VQ-NSP neural tokenizer (``LaBraMTokenizerModel``), accelerate loop;
* :mod:`labram_hf.recipes.pretraining` — masked EEG modelling (``LaBraMForMaskedEEGModeling``) with a frozen
  tokenizer, accelerate loop;
* :mod:`labram_hf.recipes.finetuning` — classification (``LaBraMForSequenceClassification``) with the transformers
  ``Trainer`` and the original layer-decay optimiser, optional LoRA.

Each module has ``parse_args(argv)`` and ``main(argv)`` taking the same flags as the scripts in ``examples/`` (which
are thin wrappers around them), so a stage runs from Python as well as from the shell::

    from labram_hf.recipes import tokenizer, pretraining, finetuning

    tokenizer.main(["--dataset-dir", "windows/", "--output-dir", "runs/vqnsp", "--preset", "tiny", "--max-steps", "50"])
    pretraining.main(["--dataset-dir", "windows/", "--tokenizer", "runs/vqnsp", "--output-dir", "runs/mem", ...])
    results = finetuning.main(["--model", "runs/mem", "--train-dataset", "train/", "--output-dir", "runs/cls", ...])

``tokenizer.main`` and ``pretraining.main`` return the training summary (``output_dir``, steps, learning rate, last
logged values); ``finetuning.main`` returns the metrics (``eval``, ``test``), the log history and the test
predictions. Shared helpers (optimiser groups, schedules, metrics, the accelerate loop) are in
:mod:`labram_hf.training`.
"""

__all__ = ["finetuning", "pretraining", "tokenizer"]
