"""Conversion of the original LaBraM checkpoints (installed as `labram_hf.conversion`)."""

from .convert_labram import (
    KINDS,
    build_model,
    convert_checkpoint,
    convert_classifier_state_dict,
    convert_pretraining_state_dict,
    convert_state_dict,
    convert_tokenizer_state_dict,
    detect_kind,
    infer_config,
    load_original_checkpoint,
    sha256sum,
    to_original_state_dict,
)

__all__ = [
    "KINDS",
    "build_model",
    "convert_checkpoint",
    "convert_classifier_state_dict",
    "convert_pretraining_state_dict",
    "convert_state_dict",
    "convert_tokenizer_state_dict",
    "detect_kind",
    "infer_config",
    "load_original_checkpoint",
    "sha256sum",
    "to_original_state_dict",
]
