#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Fine-tune LaBraMForSequenceClassification with the transformers Trainer.

    python examples/finetune.py --model runs/mem --train-dataset train/ --eval-dataset val/ --test-dataset test/ \
        --output-dir runs/cls
    accelerate launch examples/finetune.py ...            # multi-GPU / DeepSpeed / FSDP via accelerate configs
    python examples/finetune.py --model runs/mem ... --lora  # LoRA adapters (peft)

A thin wrapper: the recipe lives in the installed package, :mod:`labram_hf.recipes.finetuning` (same flags; from
Python: ``labram_hf.recipes.finetuning.main([...])``, which returns the metrics).
"""

from labram_hf.recipes.finetuning import (  # noqa: F401
    LORA_MODULES_TO_SAVE,
    LORA_TARGET_MODULES,
    apply_lora,
    build_model,
    label_info,
    load_feature_extractor,
    main,
    parse_args,
)

if __name__ == "__main__":
    main()
