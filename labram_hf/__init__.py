"""labram-hf: LaBraM, the Large Brain Model for EEG, as a first-class Hugging Face transformers model.

Importing the package registers the LaBraM classes with the transformers Auto classes (AutoConfig, AutoModel,
AutoModelForSequenceClassification, AutoModelForPreTraining), the feature extractor with AutoFeatureExtractor, and
the pipeline tasks ``eeg-classification`` and ``eeg-feature-extraction`` with transformers' ``PIPELINE_REGISTRY``
(:mod:`labram_hf.pipeline_labram`)::

    import labram_hf
    from transformers import pipeline

    classify = pipeline("eeg-classification", model="my-finetuned-labram")
    classify("recording.edf", aggregate="mean")["label"]

The import itself is cheap: the model classes (torch, ``transformers.modeling_utils``), the feature extractor and
the pipelines are imported on first use -- ``labram_hf.LaBraMModel``, the first Auto lookup of a LaBraM model or
the first LaBraM pipeline (see :mod:`labram_hf._auto_registration`) -- so that the ``labram`` console script answers at once and
``import labram_hf`` costs about what ``import transformers`` costs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _auto_registration
from .channels import CHANNEL_ALIASES, LABRAM_CHANNELS, TUH_CHANNELS, channel_ids, channel_names

__version__ = "0.1.0"

# Public names imported on first access: name -> submodule.
_LAZY_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "LABRAM_PRESETS",
            "LABRAM_TOKENIZER_PRESETS",
            "LaBraMConfig",
            "LaBraMForMaskedEEGModeling",
            "LaBraMForSequenceClassification",
            "LaBraMMaskedEEGModelingOutput",
            "LaBraMModel",
            "LaBraMPreTrainedModel",
            "LaBraMTokenizerConfig",
            "LaBraMTokenizerModel",
            "LaBraMTokenizerOutput",
        ),
        "modeling",
    ),
    "LaBraMFeatureExtractor": "feature_extraction_labram",
    "EEGClassificationPipeline": "pipeline_labram",
    "EEGFeatureExtractionPipeline": "pipeline_labram",
    "register_feature_extractor": "feature_extraction_labram",
}

#: Register every LaBraM class with the transformers Auto classes now (normally done on demand).
register_auto_classes = _auto_registration.register_all

_auto_registration.install()

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .feature_extraction_labram import LaBraMFeatureExtractor, register_feature_extractor
    from .pipeline_labram import EEGClassificationPipeline, EEGFeatureExtractionPipeline
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


def __getattr__(name: str) -> Any:
    submodule = _LAZY_NAMES.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{submodule}", __name__), name)
    if submodule == "modeling":  # the model classes are loaded now anyway: make every Auto lookup see them
        _auto_registration.register_all()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


__all__ = [
    "CHANNEL_ALIASES",
    "EEGClassificationPipeline",
    "EEGFeatureExtractionPipeline",
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
    "register_auto_classes",
]
