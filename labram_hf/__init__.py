"""labram-hf: LaBraM, the Large Brain Model for EEG, as a first-class Hugging Face transformers model.

Importing the package registers the LaBraM classes with the transformers Auto classes (AutoConfig, AutoModel,
AutoModelForSequenceClassification, AutoModelForPreTraining) and the feature extractor with AutoFeatureExtractor.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
)

from .channels import CHANNEL_ALIASES, LABRAM_CHANNELS, TUH_CHANNELS, channel_ids, channel_names
from .modeling import (
    LABRAM_PRESETS,
    LABRAM_TOKENIZER_PRESETS,
    LaBraMConfig,
    LaBraMForMaskedEEGModeling,
    LaBraMForSequenceClassification,
    LaBraMMaskedEEGModelingOutput,
    LaBraMModel,
    LaBraMPreTrainedModel,
    LaBraMTokenizerConfig,
    LaBraMTokenizerModel,
    LaBraMTokenizerOutput,
)

__version__ = "0.1.0"

AutoConfig.register(LaBraMConfig.model_type, LaBraMConfig, exist_ok=True)
AutoConfig.register(LaBraMTokenizerConfig.model_type, LaBraMTokenizerConfig, exist_ok=True)
AutoModel.register(LaBraMConfig, LaBraMModel, exist_ok=True)
AutoModel.register(LaBraMTokenizerConfig, LaBraMTokenizerModel, exist_ok=True)
AutoModelForSequenceClassification.register(LaBraMConfig, LaBraMForSequenceClassification, exist_ok=True)
AutoModelForPreTraining.register(LaBraMConfig, LaBraMForMaskedEEGModeling, exist_ok=True)

try:  # the feature extractor module arrives with the data layer
    from .feature_extraction_labram import LaBraMFeatureExtractor, register_feature_extractor

    register_feature_extractor()
except ImportError:  # pragma: no cover - only while the module is absent
    LaBraMFeatureExtractor = None

__all__ = [
    "CHANNEL_ALIASES",
    "LABRAM_CHANNELS",
    "LABRAM_PRESETS",
    "LABRAM_TOKENIZER_PRESETS",
    "TUH_CHANNELS",
    "LaBraMConfig",
    "LaBraMFeatureExtractor",
    "LaBraMForMaskedEEGModeling",
    "LaBraMForSequenceClassification",
    "LaBraMMaskedEEGModelingOutput",
    "LaBraMModel",
    "LaBraMPreTrainedModel",
    "LaBraMTokenizerConfig",
    "LaBraMTokenizerModel",
    "LaBraMTokenizerOutput",
    "channel_ids",
    "channel_names",
]
