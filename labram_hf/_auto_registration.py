"""Registration of the LaBraM classes with the transformers Auto classes, without importing anything heavy up front.

``import labram_hf`` has to stay cheap: the ``labram`` console script answers ``--help`` at once, and the modeling
code pulls in torch and ``transformers.modeling_utils`` (seconds). Yet after ``import labram_hf``,
``AutoConfig`` / ``AutoModel`` / ``AutoModelForSequenceClassification`` / ``AutoModelForPreTraining`` /
``AutoFeatureExtractor`` must know LaBraM. This module does both:

1. :func:`install` (run by ``import labram_hf``) imports nothing from transformers. For each of the transformers
   modules that hold the Auto mappings (``configuration_auto``, ``modeling_auto``, ``feature_extraction_auto``) it
   either prepares the mapping at once (module already imported) or installs a post-import hook (a
   :class:`importlib.abc.MetaPathFinder`) that prepares it right after transformers imports the module.
2. Preparing a mapping imports nothing either: its registry of extra entries (``_extra_content``, the dict that
   ``AutoX.register`` writes to) is wrapped in :class:`_RegisterOnDemand`. The first lookup of a LaBraM key -- the
   model types ``"labram"`` / ``"labram_tokenizer"`` or the LaBraM config classes -- runs :func:`register_all`,
   which imports the LaBraM classes and registers them through the public ``AutoX.register`` API, then answers
   the lookup. The feature-extractor mapping additionally gets :class:`LaBraMFeatureExtractor` registered at once
   (it is cheap and ``AutoFeatureExtractor`` finds extractors by class name among the registered ones).

3. ``transformers.pipelines`` (hooked the same way) gets the LaBraM pipeline tasks ``eeg-classification`` and
   ``eeg-feature-extraction`` added to its ``PIPELINE_REGISTRY`` as ``"labram_hf.pipeline_labram.Class"`` strings,
   which transformers imports only when such a pipeline is built.

So ``AutoModel.from_pretrained(dir)`` imports the LaBraM model code exactly when it needs it. Accessing a model
class through ``labram_hf`` (``labram_hf.LaBraMModel``) registers everything eagerly as well. Should a future
transformers lay its mappings out differently, preparing a mapping falls back to registering eagerly.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
import warnings
from types import ModuleType

__all__ = ["install", "register_all"]

#: Model types registered with AutoConfig.
MODEL_TYPES = ("labram", "labram_tokenizer")
#: Module of the LaBraM configuration classes (the keys of the model and feature-extractor mappings).
CONFIG_MODULE = "labram_hf.modeling.configuration_labram"

_CONFIG_AUTO = "transformers.models.auto.configuration_auto"
_MODELING_AUTO = "transformers.models.auto.modeling_auto"
_FEATURE_AUTO = "transformers.models.auto.feature_extraction_auto"
_PIPELINES = "transformers.pipelines"

_lock = threading.RLock()
_registered = False
_registering = False


def register_all() -> None:
    """Register every LaBraM class with the transformers Auto classes (imports them; idempotent)."""
    global _registered, _registering
    with _lock:
        if _registered or _registering:
            return
        _registering = True
        try:
            from transformers import (
                AutoConfig,
                AutoFeatureExtractor,
                AutoModel,
                AutoModelForPreTraining,
                AutoModelForSequenceClassification,
            )

            from .feature_extraction_labram import LaBraMFeatureExtractor
            from .modeling import (
                LaBraMConfig,
                LaBraMForMaskedEEGModeling,
                LaBraMForSequenceClassification,
                LaBraMModel,
                LaBraMTokenizerConfig,
                LaBraMTokenizerModel,
            )

            AutoConfig.register(LaBraMConfig.model_type, LaBraMConfig, exist_ok=True)
            AutoConfig.register(LaBraMTokenizerConfig.model_type, LaBraMTokenizerConfig, exist_ok=True)
            AutoModel.register(LaBraMConfig, LaBraMModel, exist_ok=True)
            AutoModel.register(LaBraMTokenizerConfig, LaBraMTokenizerModel, exist_ok=True)
            AutoModelForSequenceClassification.register(LaBraMConfig, LaBraMForSequenceClassification, exist_ok=True)
            AutoModelForPreTraining.register(LaBraMConfig, LaBraMForMaskedEEGModeling, exist_ok=True)
            AutoFeatureExtractor.register(LaBraMConfig, LaBraMFeatureExtractor, exist_ok=True)
            _registered = True
        finally:
            _registering = False


def _is_labram_key(key) -> bool:
    if isinstance(key, str):
        return key in MODEL_TYPES
    return isinstance(key, type) and getattr(key, "__module__", None) == CONFIG_MODULE


class _RegisterOnDemand(dict):
    """The ``_extra_content`` dict of a transformers Auto mapping that registers LaBraM on its first lookup."""

    def _load(self, key) -> bool:
        if _registered or _registering or not _is_labram_key(key):
            return False
        register_all()
        return dict.__contains__(self, key)

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or self._load(key)

    def __missing__(self, key):
        if self._load(key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key, default=None):
        return self[key] if key in self else default


def _prepare(mapping) -> None:
    extra = getattr(mapping, "_extra_content", None)
    if type(extra) is dict:
        mapping._extra_content = _RegisterOnDemand(extra)
    elif not isinstance(extra, _RegisterOnDemand):
        # An unknown layout. Registering here could import the modeling code in the middle of transformers' own
        # imports, so only say what to do.
        warnings.warn(
            "labram_hf cannot prepare the transformers Auto classes of this transformers version for LaBraM; call "
            "labram_hf.register_auto_classes() before using AutoConfig/AutoModel with LaBraM models",
            RuntimeWarning,
            stacklevel=2,
        )


def _prepare_config_auto(module: ModuleType) -> None:
    _prepare(module.CONFIG_MAPPING)


def _prepare_modeling_auto(module: ModuleType) -> None:
    for name in ("MODEL_MAPPING", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING", "MODEL_FOR_PRETRAINING_MAPPING"):
        _prepare(getattr(module, name))


def _prepare_feature_auto(module: ModuleType) -> None:
    _prepare(module.FEATURE_EXTRACTOR_MAPPING)
    # AutoFeatureExtractor resolves `feature_extractor_type` by class name among the registered extractors; the
    # extractor module imports only numpy, transformers' feature_extraction_utils (loaded by now) and our
    # pure-Python helpers, so it is registered at once, under the model-type string (no config class needed).
    from .feature_extraction_labram import LaBraMFeatureExtractor

    module.FEATURE_EXTRACTOR_MAPPING.register("labram", LaBraMFeatureExtractor, exist_ok=True)


#: The LaBraM pipeline tasks: task -> (class in labram_hf.pipeline_labram, the Auto class that loads the model).
PIPELINE_TASKS = {
    "eeg-classification": ("EEGClassificationPipeline", "AutoModelForSequenceClassification"),
    "eeg-feature-extraction": ("EEGFeatureExtractionPipeline", "AutoModel"),
}


def _prepare_pipelines(module: ModuleType) -> None:
    """Add the LaBraM tasks to transformers' ``PIPELINE_REGISTRY``. The implementations are given as
    ``"module.Class"`` strings, which transformers imports when the pipeline is built, so nothing is imported now."""
    registry = getattr(module, "PIPELINE_REGISTRY", None)
    if registry is None or not hasattr(module, "_resolve_impl"):  # a transformers that takes only classes
        warnings.warn(
            "labram_hf cannot register its pipelines lazily with this transformers version; call "
            "labram_hf.pipeline_labram.register_pipelines() before pipeline('eeg-classification', ...)",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    modeling_auto = importlib.import_module(_MODELING_AUTO)  # already imported by transformers.pipelines
    for task, (class_name, auto_name) in PIPELINE_TASKS.items():
        if task not in registry.supported_tasks:
            registry.supported_tasks[task] = {"impl": f"labram_hf.pipeline_labram.{class_name}",
                                              "pt": (getattr(modeling_auto, auto_name),), "type": "multimodal"}  # fmt: skip


_PREPARERS = {
    _CONFIG_AUTO: _prepare_config_auto,
    _MODELING_AUTO: _prepare_modeling_auto,
    _FEATURE_AUTO: _prepare_feature_auto,
    _PIPELINES: _prepare_pipelines,
}
_pending: dict[str, object] = {}


def _run_preparer(name: str, module: ModuleType) -> None:
    with _lock:
        preparer = _pending.pop(name, None)
        if not _pending:
            _remove_hook()
    if preparer is not None:
        preparer(module)


class _HookedLoader(importlib.abc.Loader):
    """Delegates to the real loader and prepares the Auto mapping once the module has run."""

    def __init__(self, loader, name: str):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _run_preparer(self._name, module)

    def __getattr__(self, attr):  # get_source, get_filename, get_resource_reader, ...
        return getattr(self._loader, attr)


class _AutoModuleHook(importlib.abc.MetaPathFinder):
    """Finds the transformers Auto modules like every other finder would, with a loader that prepares them."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _HookedLoader(spec.loader, fullname)
        return spec


_hook = _AutoModuleHook()


def _remove_hook() -> None:
    try:
        sys.meta_path.remove(_hook)
    except ValueError:
        pass


def install() -> None:
    """Prepare the Auto mappings that are already imported and hook those that are not (imports nothing)."""
    with _lock:
        for name, preparer in _PREPARERS.items():
            module = sys.modules.get(name)
            if module is not None:
                preparer(module)
            else:
                _pending[name] = preparer
        if _pending and _hook not in sys.meta_path:
            sys.meta_path.insert(0, _hook)
