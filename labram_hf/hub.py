"""Publishing LaBraM models on the Hugging Face Hub: assemble the exact upload folder, then upload it.

The upload folder holds exactly :data:`UPLOAD_FILES`:

* ``model.safetensors`` (or its shards and ``model.safetensors.index.json``),
* ``config.json`` with a complete ``auto_map`` (AutoConfig, AutoModel and, for LaBraM, the sequence-classification
  and pre-training heads), so ``trust_remote_code=True`` works where ``labram_hf`` is not installed,
* the model's remote code :data:`MODEL_CODE_FILES` (``configuration_labram.py``, ``modeling_labram.py``: this
  package's own model files),
* ``preprocessor_config.json`` (the model's :class:`~labram_hf.LaBraMFeatureExtractor`; defaults when absent) with
  an ``auto_map``, and the extractor's remote code :data:`EXTRACTOR_CODE_FILES` (``feature_extraction_labram.py``
  and the modules it imports relatively), written by the extractor's ``save_pretrained``, so that
  ``AutoFeatureExtractor.from_pretrained(repo, trust_remote_code=True)`` works without labram_hf (needs numpy,
  scipy and mne),
* the pipelines' remote code :data:`PIPELINE_CODE_FILES` (``pipeline_labram.py``) and, for LaBraM encoders,
  ``custom_pipelines`` in ``config.json`` (:func:`custom_pipelines_config`: ``eeg-classification``,
  ``eeg-feature-extraction`` and ``feature-extraction``), so ``pipeline(task, model=repo, trust_remote_code=True)``
  works without labram_hf (transformers asks for ``trust_remote_code=True`` for such a repo even where labram_hf is
  installed),
* ``README.md``: a model card from :mod:`labram_hf.model_card`, fed with ``conversion_info.json`` and
  ``training_metadata.json`` found in the model directory plus the caller's metadata.

:func:`add_remote_code` adds the same remote code (model, extractor, pipelines, ``auto_map`` and
``custom_pipelines``) to an existing model directory in place.

The folder is checked before it is returned: the weights load into the matching labram-hf class with no missing or
unexpected keys. A ``--dry-run`` folder is written through :class:`labram_hf.outputs.OutputTarget`: never over the
model directory (or a directory holding it), only over an earlier labram output, atomically, with normal
permissions.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import LaBraMError

__all__ = [
    "EXTRACTOR_CODE_FILES",
    "MODEL_CODE_FILES",
    "PIPELINE_CODE_FILES",
    "REMOTE_CODE_FILES",
    "UPLOAD_FILES",
    "HubError",
    "add_remote_code",
    "assemble_upload_folder",
    "collect_metadata",
    "custom_pipelines_config",
    "push_folder",
    "write_upload_folder",
]



def _code_files(module_name: str) -> tuple[str, ...]:
    """A module of this package and, recursively, the modules it imports relatively: what transformers copies
    beside a saved custom object (``custom_object_save``) and loads with it."""
    from transformers.dynamic_module_utils import get_relative_import_files

    module = Path(__file__).with_name(module_name)
    return (module.name, *sorted(Path(f).name for f in get_relative_import_files(str(module))))


#: Remote code of the models (copied from labram_hf.modeling).
MODEL_CODE_FILES = ("configuration_labram.py", "modeling_labram.py")
#: Remote code of the feature extractor (written by its save_pretrained beside preprocessor_config.json).
EXTRACTOR_CODE_FILES = _code_files("feature_extraction_labram.py")
#: Remote code the pipelines add to the extractor's (labram_hf.pipeline_labram; it imports the extractor's modules).
PIPELINE_CODE_FILES = tuple(n for n in _code_files("pipeline_labram.py") if n not in EXTRACTOR_CODE_FILES)
REMOTE_CODE_FILES = (*MODEL_CODE_FILES, *EXTRACTOR_CODE_FILES, *PIPELINE_CODE_FILES)
UPLOAD_FILES = ("model.safetensors", "config.json", *REMOTE_CODE_FILES, "preprocessor_config.json", "README.md")
#: ``auto_map`` of a saved feature extractor (preprocessor_config.json).
EXTRACTOR_AUTO_MAP = {"AutoFeatureExtractor": "feature_extraction_labram.LaBraMFeatureExtractor"}


def custom_pipelines_config() -> dict[str, dict[str, Any]]:
    """``config.json`` ``custom_pipelines`` of a LaBraM encoder: task -> ``{"impl": "pipeline_labram.Class", "pt":
    [Auto class]}`` for ``eeg-classification`` and ``eeg-feature-extraction``, and ``feature-extraction`` (the
    built-in task name) for the embeddings of this model only."""
    from ._auto_registration import PIPELINE_TASKS

    entries = {task: {"impl": f"pipeline_labram.{cls}", "pt": [auto], "type": "multimodal"}
               for task, (cls, auto) in PIPELINE_TASKS.items()}  # fmt: skip
    entries["feature-extraction"] = dict(entries["eeg-feature-extraction"])
    return entries


#: Files in a model directory that feed the model card.
METADATA_FILES = ("conversion_info.json", "training_metadata.json")


class HubError(LaBraMError):
    """A user-facing publishing problem; ``hint`` says what to do."""


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
    """Write the exact upload folder of ``model_dir`` to ``output_dir`` (see the module docstring).

    ``output_dir`` is checked before anything is read or written (see :class:`labram_hf.outputs.OutputTarget`;
    problems raise :class:`~labram_hf.outputs.OutputError`), assembled beside it and moved into place at the end.
    """
    from .outputs import OutputTarget

    model_dir = Path(model_dir)
    _check_model_dir(model_dir)
    target = OutputTarget(output_dir, inputs=[model_dir], overwrite=overwrite, kind="dir", what="upload folder",
                          command="push")  # fmt: skip
    with target as out:
        write_upload_folder(model_dir, out.work, repo_id=repo_id, metadata=metadata, verify=verify)
        return out.commit()


def _check_model_dir(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise HubError(f"model directory not found: {model_dir}", hint="pass a directory written by save_pretrained")
    if not (model_dir / "config.json").is_file():
        raise HubError(f"{model_dir}: no config.json", hint="pass a directory written by save_pretrained")


def write_upload_folder(
    model_dir: str | os.PathLike,
    folder: str | os.PathLike,
    repo_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    verify: bool = True,
) -> Path:
    """Write the upload files of ``model_dir`` into the existing (empty) directory ``folder``; returns ``folder``."""
    from .model_card import build_model_card

    model_dir, folder = Path(model_dir), Path(folder)
    _check_model_dir(model_dir)
    config_dict = _read_json(model_dir / "config.json")
    auto_map, classes = _model_classes(config_dict.get("model_type"))
    architectures = config_dict.get("architectures") or []
    if len(architectures) != 1:
        raise HubError(f"{model_dir}/config.json must name exactly one architecture, got {architectures}")
    weights = _weight_files(model_dir)

    for name in weights:
        shutil.copyfile(model_dir / name, folder / name)
    config_dict["auto_map"] = {**(config_dict.get("auto_map") or {}), **auto_map}
    if config_dict.get("model_type") == "labram":  # the tokenizer has no pipeline (the files travel anyway)
        config_dict["custom_pipelines"] = custom_pipelines_config()
    for name in PIPELINE_CODE_FILES:
        shutil.copyfile(Path(__file__).with_name(name), folder / name)
    (folder / "config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
    for name in MODEL_CODE_FILES:
        shutil.copyfile(_modeling_dir() / name, folder / name)

    from transformers import AutoConfig

    from . import LaBraMConfig  # noqa: F401  (registration)
    from .feature_extraction_labram import LaBraMFeatureExtractor

    config = AutoConfig.from_pretrained(str(folder))
    if (model_dir / "preprocessor_config.json").is_file():
        try:
            fe = LaBraMFeatureExtractor.from_pretrained(str(model_dir))
        except (OSError, ValueError) as err:
            raise HubError(f"{model_dir}/preprocessor_config.json is not a LaBraM feature extractor: "
                           f"{' '.join(str(err).split())[:300]}",
                           hint="fix or delete the file (the original defaults are then used)") from None  # fmt: skip
    else:
        fe = LaBraMFeatureExtractor(
            sampling_rate=config.sampling_rate, patch_size=config.patch_size, max_time_patches=config.max_time_patches
        )
    fe.save_pretrained(str(folder))  # preprocessor_config.json with auto_map + EXTRACTOR_CODE_FILES
    missing = [name for name in EXTRACTOR_CODE_FILES if not (folder / name).is_file()]
    if missing:  # pragma: no cover - only if the extractor stopped registering for AutoFeatureExtractor
        raise HubError(f"the feature extractor's remote code was not written: {missing}")

    card = build_model_card(config, collect_metadata(model_dir, metadata), feature_extractor=fe, repo_id=repo_id)
    card.save(folder / "README.md")
    if verify:
        _verify(folder, architectures[0], classes)
    return folder


def add_remote_code(model_dir: str | os.PathLike) -> Path:
    """Make a saved LaBraM model directory usable with ``trust_remote_code=True`` where labram_hf is not installed,
    in place, and return it.

    Copies the model code (:data:`MODEL_CODE_FILES`) and, for LaBraM encoders, the feature extractor's and the
    pipelines' code (:data:`EXTRACTOR_CODE_FILES`, :data:`PIPELINE_CODE_FILES`) into the directory; completes the
    ``auto_map`` of ``config.json`` (and of ``preprocessor_config.json`` when present) and writes
    ``custom_pipelines`` (:func:`custom_pipelines_config`), so that ``pipeline("eeg-classification", model=dir,
    trust_remote_code=True)`` works. ``labram push`` does the same in its upload folder.

    Note: transformers asks for ``trust_remote_code=True`` for every model whose config lists
    ``custom_pipelines`` -- also where labram_hf is installed (where a directory without them needs no flag).
    """
    model_dir = Path(model_dir)
    _check_model_dir(model_dir)
    config_dict = _read_json(model_dir / "config.json")
    auto_map, _ = _model_classes(config_dict.get("model_type"))
    config_dict["auto_map"] = {**(config_dict.get("auto_map") or {}), **auto_map}
    for name in MODEL_CODE_FILES:
        shutil.copyfile(_modeling_dir() / name, model_dir / name)
    if config_dict.get("model_type") == "labram":
        config_dict["custom_pipelines"] = custom_pipelines_config()
        for name in (*EXTRACTOR_CODE_FILES, *PIPELINE_CODE_FILES):
            shutil.copyfile(Path(__file__).with_name(name), model_dir / name)
        extractor = model_dir / "preprocessor_config.json"
        if extractor.is_file():
            fe_dict = _read_json(extractor)
            if fe_dict.get("auto_map") != EXTRACTOR_AUTO_MAP:
                _write_json(extractor, {**fe_dict, "auto_map": {**(fe_dict.get("auto_map") or {}),
                                                                **EXTRACTOR_AUTO_MAP}})  # fmt: skip
    _write_json(model_dir / "config.json", config_dict)
    return model_dir


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` by ``data`` atomically (written beside it, then renamed)."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    private: bool = False,
    commit_message: str | None = None,
    api=None,
    repo_type: str = "model",
) -> str:
    """Create (or reuse) the repository ``repo_id`` (a model repo, or ``repo_type="dataset"``) and upload ``folder``
    as one commit; returns the commit URL.

    ``api`` defaults to :class:`huggingface_hub.HfApi` (token from ``hf auth login`` or ``HF_TOKEN``).
    """
    from .outputs import MARKER_FILE

    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    api.create_repo(repo_id=repo_id, repo_type=repo_type, private=private, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type=repo_type,
        commit_message=commit_message or f"Upload LaBraM {repo_type} with labram-hf",
        ignore_patterns=[MARKER_FILE, ".*.lock"],  # labram's own bookkeeping of a --dry-run folder
    )
    return str(getattr(info, "commit_url", info))
