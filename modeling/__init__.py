"""Self-contained LaBraM model files (installed as `labram_hf.modeling`; the same files are the Hub remote code)."""

from .configuration_labram import LABRAM_PRESETS, LABRAM_TOKENIZER_PRESETS, LaBraMConfig, LaBraMTokenizerConfig
from .modeling_labram import (
    LaBraMForMaskedEEGModeling,
    LaBraMForSequenceClassification,
    LaBraMMaskedEEGModelingOutput,
    LaBraMModel,
    LaBraMPreTrainedModel,
    LaBraMTokenizerModel,
    LaBraMTokenizerOutput,
    LaBraMTokenizerPreTrainedModel,
)

__all__ = [
    "LABRAM_PRESETS",
    "LABRAM_TOKENIZER_PRESETS",
    "LaBraMConfig",
    "LaBraMTokenizerConfig",
    "LaBraMModel",
    "LaBraMPreTrainedModel",
    "LaBraMForSequenceClassification",
    "LaBraMForMaskedEEGModeling",
    "LaBraMMaskedEEGModelingOutput",
    "LaBraMTokenizerModel",
    "LaBraMTokenizerOutput",
    "LaBraMTokenizerPreTrainedModel",
]
