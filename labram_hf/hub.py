"""Publishing LaBraM models on the Hugging Face Hub: assemble the exact upload folder, then upload it.

The upload folder holds exactly :data:`UPLOAD_FILES`:

* ``model.safetensors`` (or its shards and ``model.safetensors.index.json``),
* ``config.json`` with a complete ``auto_map`` (AutoConfig, AutoModel and, for LaBraM, the sequence-classification
  and pre-training heads), so ``trust_remote_code=True`` works where ``labram_hf`` is not installed,
* the remote code ``configuration_labram.py`` and ``modeling_labram.py`` (this package's own model files),
* ``preprocessor_config.json`` (the model's :class:`~labram_hf.LaBraMFeatureExtractor`; defaults when absent),
* ``README.md``: a model card from :mod:`labram_hf.model_card`, fed with ``conversion_info.json`` and
  ``training_metadata.json`` found in the model directory plus the caller's metadata.

The folder is checked before it is returned: the weights load into the matching labram-hf class with no missing or
unexpected keys.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "REMOTE_CODE_FILES",
    "UPLOAD_FILES",
    "HubError",
    "assemble_upload_folder",
    "collect_metadata",
    "push_folder",
]

REMOTE_CODE_FILES = ("configuration_labram.py", "modeling_labram.py")
UPLOAD_FILES = ("model.safetensors", "config.json", *REMOTE_CODE_FILES, "preprocessor_config.json", "README.md")
#: Files in a model directory that feed the model card.
METADATA_FILES = ("conversion_info.json", "training_metadata.json")


class HubError(ValueError):
    """A user-facing publishing problem; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _modeling_dir() -> Path:
    from . import modeling

    return Path(modeling.__file__).resolve().parent


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise HubError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(data, dict):
        raise HubError(f"{path}: expected a JSON object")
    return data


def collect_metadata(model_dir: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Model-card metadata: ``training_metadata.json`` and ``conversion_info.json`` of the directory, then
    ``metadata`` (which wins)."""
    model_dir = Path(model_dir)
    merged: dict[str, Any] = {}
    training = model_dir / "training_metadata.json"
    if training.is_file():
        merged.update(_read_json(training))
    conversion = model_dir / "conversion_info.json"
    if conversion.is_file():
        merged.setdefault("conversion", _read_json(conversion))
    merged.update(dict(metadata or {}))
    return merged


def _weight_files(model_dir: Path) -> list[str]:
    if (model_dir / "model.safetensors").is_file():
        return ["model.safetensors"]
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(_read_json(index).get("weight_map", {}).values()))
        missing = [s for s in shards if not (model_dir / s).is_file()]
        if missing:
            raise HubError(f"{model_dir}: shards listed in model.safetensors.index.json are missing: {missing}")
        return ["model.safetensors.index.json", *shards]
    if any((model_dir / n).is_file() for n in ("pytorch_model.bin", "model.pt", "model.pth")):
        raise HubError(
            f"{model_dir} holds pickled weights only",
            hint="re-save with model.save_pretrained(dir) (safetensors), or convert an original .pth with `labram convert`",
        )
    raise HubError(f"{model_dir}: no model.safetensors", hint="pass a directory written by save_pretrained")


def _model_classes(model_type: str):
    from . import modeling

    if model_type == "labram":
        return modeling.LaBraMPreTrainedModel._auto_map, {
            "LaBraMModel": modeling.LaBraMModel,
            "LaBraMForSequenceClassification": modeling.LaBraMForSequenceClassification,
            "LaBraMForMaskedEEGModeling": modeling.LaBraMForMaskedEEGModeling,
        }
    if model_type == "labram_tokenizer":
        return modeling.LaBraMTokenizerPreTrainedModel._auto_map, {"LaBraMTokenizerModel": modeling.LaBraMTokenizerModel}
    raise HubError(
        f"config.json has model_type {model_type!r}, not a LaBraM model",
        hint="only labram and labram_tokenizer models are published by this command",
    )


def _verify(folder: Path, architecture: str, classes: dict) -> None:
    cls = classes.get(architecture)
    if cls is None:
        raise HubError(f"config.json names an unknown architecture {architecture!r}; expected one of {sorted(classes)}")
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        _, info = cls.from_pretrained(str(folder), output_loading_info=True)
    except Exception as err:  # noqa: BLE001 - any load failure is a broken folder
        raise HubError(f"the assembled weights do not load into {architecture}: {' '.join(str(err).split())[:300]}")
    finally:
        hf_logging.set_verbosity(previous)
    problems = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if problems:
        raise HubError(
            f"the weights do not match {architecture}: "
            + "; ".join(f"{k}: {sorted(v)[:5]}" for k, v in problems.items()),
            hint="re-save the model with save_pretrained from labram_hf",
        )


def assemble_upload_folder(
    model_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    repo_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    verify: bool = True,
) -> Path:
    """Write the exact upload folder of ``model_dir`` to ``output_dir`` (see the module docstring)."""
    from .model_card import build_model_card

    model_dir, output_dir = Path(model_dir), Path(output_dir)
    if not model_dir.is_dir():
        raise HubError(f"model directory not found: {model_dir}", hint="pass a directory written by save_pretrained")
    if not (model_dir / "config.json").is_file():
        raise HubError(f"{model_dir}: no config.json", hint="pass a directory written by save_pretrained")
    if output_dir.resolve() == model_dir.resolve():
        raise HubError("the upload folder must differ from the model directory", hint="choose another --dry-run DIR")
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())) and not overwrite:
        raise HubError(f"{output_dir} exists and is not empty", hint="choose a new directory or pass --overwrite")

    config_dict = _read_json(model_dir / "config.json")
    auto_map, classes = _model_classes(config_dict.get("model_type"))
    architectures = config_dict.get("architectures") or []
    if len(architectures) != 1:
        raise HubError(f"{model_dir}/config.json must name exactly one architecture, got {architectures}")
    weights = _weight_files(model_dir)

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        for name in weights:
            shutil.copyfile(model_dir / name, staging / name)
        config_dict["auto_map"] = {**(config_dict.get("auto_map") or {}), **auto_map}
        (staging / "config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
        for name in REMOTE_CODE_FILES:
            shutil.copyfile(_modeling_dir() / name, staging / name)

        from transformers import AutoConfig

        from . import LaBraMConfig  # noqa: F401  (registration)
        from .feature_extraction_labram import LaBraMFeatureExtractor

        config = AutoConfig.from_pretrained(str(staging))
        if (model_dir / "preprocessor_config.json").is_file():
            fe = LaBraMFeatureExtractor.from_pretrained(str(model_dir))
        else:
            fe = LaBraMFeatureExtractor(
                sampling_rate=config.sampling_rate, patch_size=config.patch_size, max_time_patches=config.max_time_patches
            )
        fe.save_pretrained(str(staging))

        card = build_model_card(config, collect_metadata(model_dir, metadata), feature_extractor=fe, repo_id=repo_id)
        card.save(staging / "README.md")
        if verify:
            _verify(staging, architectures[0], classes)
        if output_dir.exists():
            shutil.rmtree(output_dir) if output_dir.is_dir() else output_dir.unlink()
        os.replace(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output_dir


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    private: bool = False,
    commit_message: str | None = None,
    api=None,
) -> str:
    """Create (or reuse) the model repo and upload ``folder`` as one commit; returns the commit URL.

    ``api`` defaults to :class:`huggingface_hub.HfApi` (token from ``hf auth login`` or ``HF_TOKEN``).
    """
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="model",
        commit_message=commit_message or "Upload LaBraM model with labram-hf",
    )
    return str(getattr(info, "commit_url", info))
