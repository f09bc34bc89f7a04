"""Batch inference on EEG: recordings -> preprocessed windows -> model -> one row per window (or per recording).

Used by ``labram embed`` (embeddings per window, per channel or per patch) and ``labram predict`` (per-window class
probabilities and label names from ``config.id2label``, optionally pooled per recording).

>>> from labram_hf.inference import load_for_inference, embed, embed_files, predict_files
>>> model, fe = load_for_inference("my-model", task="embed")
>>> table = embed_files(["a.edf", "b.edf"], model, fe)                      # pandas DataFrame, one row per window
>>> patches = embed(model, fe, raw, level="patch")                          # an in-memory mne Raw / Epochs / array
>>> model, fe = load_for_inference("my-classifier", task="predict")
>>> windows = predict_files(["a.edf"], model, fe, aggregate="mean")
>>> recordings = windows.attrs["recordings"]                                # one row per recording

The window, batching, embedding-level and aggregation code is shared with the transformers pipelines
(:mod:`labram_hf.pipeline_labram`), so ``pipeline("eeg-classification")`` gives the same numbers.

The preprocessing contract is the model's own: the :class:`~labram_hf.LaBraMFeatureExtractor` saved next to it
(``preprocessor_config.json``) -- filters, channel policy and selection, window and stride. A model directory
without one gets the extractor's defaults (the original recipe) and an :class:`InferenceWarning` saying so.
:func:`with_overrides` derives an extractor with explicit changes and reports which of them contradict the saved
contract (the CLI prints those as warnings). Each recording is preprocessed once, cut into windows that lie fully
inside it, and the windows of one file are run in batches. Window length: ``window_seconds`` argument, else the
extractor's ``window_seconds``, else 10 s (the dataset builder's default); a whole number of patches, at most
``max_time_patches`` patches of both the extractor and the model unless ``interpolate_pos_encoding=True`` (longer
windows then interpolate the temporal embeddings, with a warning: an extension of the original model). Stride: ``stride_seconds`` argument, else the
extractor's ``stride_seconds``, else the window length (no overlap).

Loading is strict (:func:`load_model_strict`): every weight the model needs must be in the checkpoint and nothing
unknown may be in it; the only exceptions are heads deliberately left out (the backbone of a classifier or of a
pre-training checkpoint; the pre-training checkpoint has no trained pooling norm, which is then fresh and a warning
says so). A damaged weights file, non-finite outputs or an impossible window raise :class:`InferenceError`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .constants import DEFAULT_WINDOW_SECONDS
from .errors import LaBraMError

__all__ = [
    "AssumedPreprocessingWarning",
    "DEFAULT_WINDOW_SECONDS",
    "InferenceError",
    "InferenceWarning",
    "EMBEDDING_DESCRIPTIONS",
    "OFF",
    "TOKEN_ORDER",
    "Window",
    "embed",
    "embed_files",
    "iter_windows",
    "load_feature_extractor",
    "load_for_inference",
    "load_model_strict",
    "predict_files",
    "resolve_device",
    "resolve_stride_seconds",
    "resolve_window_seconds",
    "with_overrides",
]

Task = Literal["embed", "predict"]

#: Checkpoint entries of heads that a task may leave out on purpose (loading a classifier's or a pre-training
#: checkpoint's backbone): the classification head, the masked-modelling head and its final norm, the mask token.
UNUSED_HEAD_PREFIXES = (
    "classifier.", "lm_head.", "layernorm.", "labram.embeddings.mask_token", "embeddings.mask_token",
)  # fmt: skip
#: Extractor fields that `with_overrides` may change (the preprocessing contract a model was trained with).
OVERRIDABLE_FIELDS = (
    "l_freq", "h_freq", "notch_freq", "channel_policy", "channels", "montage", "bipolar", "window_seconds",
    "stride_seconds",
)  # fmt: skip


class InferenceError(LaBraMError):
    """A user-facing inference problem (bad model directory, unreadable file, impossible window length)."""


class InferenceWarning(UserWarning):
    """Something the user should know about a result (fresh pooling norm, assumed preprocessing)."""


class AssumedPreprocessingWarning(InferenceWarning):
    """The model directory has no saved feature extractor: the original preprocessing defaults are assumed."""


@dataclass
class Window:
    """One model input: ``values`` [channels, samples] in model units, the electrodes' vocabulary ids."""

    source: str
    start: float  # seconds from the start of the recording
    end: float
    values: np.ndarray
    channel_ids: np.ndarray


# ----------------------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------------------


def _one_line(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:limit]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine (default: cuda if available, else cpu)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InferenceError(f"unknown device {str(device)!r}", hint="use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InferenceError(f"device {str(device)!r} requested, but CUDA is not available on this machine",
                                 hint="use --device cpu (or leave --device out)")  # fmt: skip
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InferenceError(f"device {str(device)!r} requested, but this machine has "
                                 f"{torch.cuda.device_count()} CUDA device(s)",
                                 hint="use cuda:0 .. cuda:N-1, or --device cpu")  # fmt: skip
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise InferenceError(f"device {str(device)!r} requested, but MPS is not available on this machine",
                             hint="use --device cpu")  # fmt: skip
    return dev


def _load_config(model_dir: str | os.PathLike):
    from transformers import AutoConfig

    from . import LaBraMConfig  # noqa: F401  (registers the Auto classes)

    path = Path(model_dir)
    if path.exists() and not (path / "config.json").is_file():
        raise InferenceError(
            f"{model_dir} is not a model directory (no config.json)",
            hint="pass a directory written by `labram convert`, save_pretrained or a training script",
        )
    try:
        config = AutoConfig.from_pretrained(str(model_dir))
    except (OSError, ValueError) as err:
        raise InferenceError(
            f"cannot load a model config from {model_dir}: {_one_line(err)}",
            hint="pass a local model directory (or a Hub id already in the local cache)",
        ) from None
    if getattr(config, "model_type", None) != "labram":
        kind = getattr(config, "model_type", type(config).__name__)
        raise InferenceError(
            f"{model_dir} holds a {kind!r} model, not a LaBraM encoder",
            hint="the VQ-NSP tokenizer has no embeddings or predictions; use a LaBraM backbone or classifier",
        )
    return config


def _keys(keys: Sequence[str], limit: int = 6) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_model_strict(
    model_dir: str | os.PathLike, head: Literal["classifier", "backbone"] = "backbone", **kwargs: Any
) -> torch.nn.Module:
    """Load ``model_dir`` as a classifier (:class:`LaBraMForSequenceClassification`) or a backbone
    (:class:`LaBraMModel`) and refuse anything but an exact match of the weights.

    * A weight the model needs but the checkpoint lacks is an error naming the keys -- except the pooling norm of
      a backbone taken from a pre-training checkpoint (a fresh ``LayerNorm``; :class:`InferenceWarning`), and, for
      ``head="classifier"``, a missing classification head is the error "no trained classification head".
    * A checkpoint entry the model does not have is an error, except the heads in :data:`UNUSED_HEAD_PREFIXES`
      (a classifier's or pre-training model's head when only the backbone is wanted).
    * A weights file that cannot be read (truncated, corrupt) is an error with a hint.

    ``kwargs`` go to ``from_pretrained`` (e.g. ``attn_implementation="eager"``).
    """
    from safetensors import SafetensorError
    from transformers import AutoModel, AutoModelForSequenceClassification

    config = _load_config(model_dir)
    cls = AutoModelForSequenceClassification if head == "classifier" else AutoModel

    try:
        model, info = cls.from_pretrained(str(model_dir), config=config, output_loading_info=True, **kwargs)
    except (OSError, ValueError, RuntimeError, EOFError, SafetensorError) as err:  # unreadable or unfit weights
        raise InferenceError(
            f"cannot load the weights of {model_dir}: {_one_line(err)}",
            hint="the weights file is damaged, incomplete or does not match config.json (e.g. an interrupted "
            "download or copy): copy/download it again, or re-save the model with save_pretrained",
        ) from None
    missing = list(info.get("missing_keys") or [])
    unexpected = [k for k in info.get("unexpected_keys") or [] if not k.startswith(UNUSED_HEAD_PREFIXES)]
    mismatched = [str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys") or []]
    if head == "classifier" and (
        any(k.startswith("classifier.") for k in missing) or not isinstance(model.classifier, torch.nn.Linear)
    ):
        raise InferenceError(
            f"{model_dir} has no trained classification head",
            hint="fine-tune the model first, or use `labram embed` for embeddings",
        )
    fresh_pooler = [k for k in missing if k.startswith("pooler.")] if head == "backbone" else []
    missing = [k for k in missing if k not in fresh_pooler]
    if missing:
        raise InferenceError(
            f"{model_dir}: the checkpoint lacks {len(missing)} weight(s) the model needs ({_keys(missing)}); "
            "they would be random",
            hint="the weights file is incomplete or belongs to another configuration: re-save or re-convert the "
            "model (a deliberately new head must be trained before inference)",
        )
    if unexpected or mismatched:
        what = unexpected + mismatched
        raise InferenceError(
            f"{model_dir}: the checkpoint holds {len(what)} weight(s) this model does not have or cannot take "
            f"({_keys(what)})",
            hint="config.json does not describe these weights (e.g. num_hidden_layers, hidden_size); use the "
            "config.json saved with them",
        )
    if fresh_pooler:
        warnings.warn(
            f"{model_dir}: no trained pooling LayerNorm in the checkpoint (a pre-training checkpoint?); the "
            "embeddings are LayerNorm(mean of patch tokens) with unit scale and zero shift",
            InferenceWarning,
            stacklevel=2,
        )
    return model


def load_feature_extractor(model_dir: str | os.PathLike, config=None):
    """The model's saved :class:`LaBraMFeatureExtractor` (``preprocessor_config.json``).

    Without one, an extractor with the original defaults (and the model's rate/patch size) is returned and an
    :class:`InferenceWarning` says that this preprocessing is assumed. A file that exists but is not a valid
    extractor raises :class:`InferenceError`.
    """
    from .feature_extraction_labram import LaBraMFeatureExtractor

    path = Path(model_dir)
    saved = None
    if (path / "preprocessor_config.json").is_file() or not path.exists():  # local file, or a (cached) Hub id
        try:
            saved = LaBraMFeatureExtractor.from_pretrained(str(model_dir))
        except OSError:
            if path.exists():
                raise InferenceError(f"{path / 'preprocessor_config.json'} cannot be read",
                                     hint="fix its permissions or delete it") from None  # fmt: skip
        except (ValueError, TypeError) as err:
            raise InferenceError(
                f"{model_dir}: preprocessor_config.json is not a valid LaBraM feature extractor ({_one_line(err)})",
                hint="fix the file, or delete it to use the original preprocessing defaults",
            ) from None
    if saved is not None:
        return saved
    kwargs = {}
    if config is not None:
        kwargs = {
            "sampling_rate": int(config.sampling_rate),
            "patch_size": int(config.patch_size),
            "max_time_patches": int(config.max_time_patches),
        }
    warnings.warn(
        f"{model_dir} has no preprocessor_config.json: the original LaBraM preprocessing is assumed (0.1-75 Hz "
        f"band-pass, 50 Hz notch, {kwargs.get('sampling_rate', 200)} Hz, {DEFAULT_WINDOW_SECONDS:g}-s windows, "
        "unknown channels refused); pass the preprocessing options if the model was trained otherwise",
        AssumedPreprocessingWarning,
        stacklevel=2,
    )
    return LaBraMFeatureExtractor(**kwargs)


def load_for_inference(model_dir: str | os.PathLike, task: Task = "embed", device: str | torch.device | None = "cpu"):
    """Load ``(model, feature_extractor)`` for ``task`` from a model directory (or a cached Hub id), strictly.

    ``embed`` loads the bare :class:`LaBraMModel` (a classifier's or a pre-training checkpoint's backbone; the
    pre-training head has no trained pooling norm, which is then fresh: an :class:`InferenceWarning` says so).
    ``predict`` needs a fine-tuned :class:`LaBraMForSequenceClassification`. See :func:`load_model_strict` for
    what is refused, and :func:`load_feature_extractor` for the preprocessing.
    """
    if task not in ("embed", "predict"):
        raise ValueError(f"unknown task {task!r}; expected 'embed' or 'predict'")
    dev = resolve_device(device)
    model = load_model_strict(model_dir, head="classifier" if task == "predict" else "backbone")
    model.to(dev).eval()
    return model, load_feature_extractor(model_dir, model.config)


def with_overrides(feature_extractor, **overrides: Any):
    """A copy of ``feature_extractor`` with ``overrides`` applied (fields of :data:`OVERRIDABLE_FIELDS`; ``None``
    values are left out), and ``{field: (saved value, new value)}`` for each override that differs from the
    extractor's value.

    Changing ``window_seconds`` without giving ``stride_seconds`` resets the stride to the new window length (no
    overlap), since a saved stride belongs to the saved window.
    """
    unknown = set(overrides) - set(OVERRIDABLE_FIELDS)
    if unknown:
        raise ValueError(f"cannot override {sorted(unknown)}; overridable: {OVERRIDABLE_FIELDS}")
    given: dict[str, Any] = {}
    changed: dict[str, tuple[Any, Any]] = {}
    for name, value in overrides.items():
        if value is None:
            continue
        if value is OFF:
            new = None
        elif name == "channels":
            new = [str(c) for c in value]
        elif name in ("channel_policy", "montage", "bipolar"):
            new = str(value)
        else:
            new = float(value)
        old = getattr(feature_extractor, name, None)
        if name == "stride_seconds" and old is None:
            old = feature_extractor.window_seconds  # no saved stride: the saved window length
        if old is not None and new != old:
            changed[name] = (old, new)
        elif old is None and new is not None and name not in ("window_seconds", "stride_seconds"):
            changed[name] = (old, new)  # a filter or channel rule the model was trained without
        given[name] = new
    if "window_seconds" in changed and "stride_seconds" not in given:
        given["stride_seconds"] = None
    fields = {**feature_extractor.to_dict(), **given}
    return type(feature_extractor).from_dict(fields), changed


class _Off:
    """Marks an override that switches a filter off (``--notch off``), as distinct from "not given" (``None``)."""

    def __repr__(self) -> str:
        return "OFF"


#: Pass as an override value to switch a filter off (e.g. ``with_overrides(fe, notch_freq=OFF)``).
OFF = _Off()


# ----------------------------------------------------------------------------------------------------------------------
# Windows
# ----------------------------------------------------------------------------------------------------------------------


def resolve_window_seconds(
    feature_extractor, config=None, window_seconds: float | None = None, interpolate_pos_encoding: bool = False
) -> float:
    """The window length to use (see the module docstring); raises :class:`InferenceError` if impossible.

    Longer than the model's ``max_time_patches`` seconds only with ``interpolate_pos_encoding`` (then a
    :class:`~labram_hf.pipeline_labram.LongWindowWarning` names it).
    """
    from .pipeline_labram import resolve_window_seconds as resolve

    return resolve(feature_extractor, config, window_seconds, interpolate_pos_encoding, error=InferenceError)


def resolve_stride_seconds(feature_extractor, window_seconds: float, stride_seconds: float | None = None) -> float:
    """The hop between window starts: ``stride_seconds``, else the extractor's, else ``window_seconds``; it must be
    a positive whole number of samples at the extractor's rate."""
    from .pipeline_labram import resolve_stride_seconds as resolve

    return resolve(feature_extractor, window_seconds, stride_seconds, error=InferenceError)


def _windowed(eeg, feature_extractor, window_seconds: float, stride_seconds: float | None, **kwargs):
    """:func:`labram_hf.pipeline_labram.window_recording` with every input problem as an :class:`InferenceError`."""
    from .io import EEGReadError
    from .pipeline_labram import window_recording

    source = kwargs.get("source") or (str(eeg) if isinstance(eeg, (str, os.PathLike)) else None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # mne's reader and filter chatter
            return window_recording(eeg, feature_extractor, window_seconds, stride_seconds, **kwargs)
    except EEGReadError as err:
        hint = "pass EEG files mne can read (EDF, BDF, FIF, ...) or .eeg.h5"
        raise InferenceError(_one_line(err, 1000), hint=hint) from None
    except ValueError as err:
        message = _one_line(err, 1000)
        raise InferenceError(
            message if source is None or source in message else f"{source}: {message}",
            hint=getattr(err, "hint", None)
            or "check the recording's channels and length (see `labram prepare --help` for the preprocessing)",
        ) from None


def iter_windows(
    files: Sequence[str | os.PathLike],
    feature_extractor,
    window_seconds: float,
    stride_seconds: float | None = None,
) -> Iterator[list[Window]]:
    """Yield, per file, the list of its windows (possibly empty when the recording is shorter than a window)."""
    for path in files:
        windowed = _windowed(path, feature_extractor, window_seconds, stride_seconds)
        yield [
            Window(windowed.source, start, end, np.ascontiguousarray(values), windowed.channel_ids)
            for start, end, values in zip(windowed.starts, windowed.ends, windowed.windows)
        ]


def _collect(
    inputs,
    model,
    feature_extractor,
    output: str,
    window_seconds: float | None = None,
    stride_seconds: float | None = None,
    batch_size: int = 32,
    progress=None,
    interpolate_pos_encoding: bool = False,
    **extractor_kwargs,
):
    """Window every input and run the model on the windows: ``[(WindowedEEG, outputs)]``, the skipped sources
    (shorter than one window) and the window length. ``output``: see :func:`labram_hf.pipeline_labram.run_model`."""
    from .pipeline_labram import run_model

    window_seconds = resolve_window_seconds(feature_extractor, model.config, window_seconds, interpolate_pos_encoding)
    stride_seconds = resolve_stride_seconds(feature_extractor, window_seconds, stride_seconds)
    results = []
    skipped: list[str] = []
    for eeg in inputs:
        windowed = _windowed(eeg, feature_extractor, window_seconds, stride_seconds, **extractor_kwargs)
        if not len(windowed):
            skipped.append(windowed.source)
            continue
        outputs = run_model(model, windowed, output, batch_size, interpolate_pos_encoding, error=InferenceError)
        results.append((windowed, outputs))
        if progress:
            progress(windowed.source, len(windowed))
    if not results:
        raise InferenceError(f"no {window_seconds:g}-s window fits in any input recording",
                             hint="use a shorter --window-seconds")  # fmt: skip
    return results, skipped, window_seconds


def _window_columns(results) -> dict[str, Any]:
    """``source``, ``start``, ``end`` (and ``trial``, ``event`` for Epochs inputs) of every window, in order."""
    columns: dict[str, Any] = {
        "source": [w.source for w, _ in results for _ in range(len(w))],
        "start": np.array([s for w, _ in results for s in w.starts], dtype=np.float64),
        "end": np.array([e for w, _ in results for e in w.ends], dtype=np.float64),
    }
    if any(w.trials is not None for w, _ in results):
        columns["trial"] = [t for w, _ in results for t in (w.trials or [-1] * len(w))]
        columns["event"] = [e for w, _ in results for e in (w.events or [""] * len(w))]
    return columns


# ----------------------------------------------------------------------------------------------------------------------
# Embeddings
# ----------------------------------------------------------------------------------------------------------------------

#: The meaning of the ``embedding`` column per ``level`` (also written into the output's metadata).
EMBEDDING_DESCRIPTIONS = {
    "window": "pooler_output: LayerNorm (fc_norm) of the mean patch token of the window",
    "patch": "fc_norm (the pooler's LayerNorm) of one patch token of last_hidden_state: one channel, one second",
    "channel": "mean over the window's patches of the patch embeddings of one channel",
}
#: Token order of ``last_hidden_state`` (after the cls token): channel-major.
TOKEN_ORDER = "channel-major: patch token c * A + a (after the cls token) is patch a of channel c"


def _embedding_table(results, level: str, window_seconds: float):
    """One row per window (``window``), per window and channel (``channel``) or per window, channel and patch
    (``patch``; rows in token order), with the ``embedding`` column holding float32 vectors."""
    import pandas as pd

    base = _window_columns(results)
    blocks = [out for _, out in results]
    if level == "window":
        data = dict(base)
        vectors = np.concatenate(blocks).astype(np.float32)  # [N, D]
    else:
        # rows of window i: its C channels (channel level) or C * A (channel, patch) pairs, channel-major
        reps = [out.shape[1] * (out.shape[2] if level == "patch" else 1) for out in blocks for _ in range(len(out))]
        data = {key: np.repeat(np.asarray(values, dtype=object if key in ("source", "event") else None), reps)
                for key, values in base.items()}  # fmt: skip
        channels, patches = [], []
        for windowed, out in results:
            n, c = out.shape[0], out.shape[1]
            a = out.shape[2] if level == "patch" else 1
            names = np.asarray(windowed.channel_names, dtype=object)
            channels.append(np.tile(np.repeat(names, a), n))  # [n * c * a]
            patches.append(np.tile(np.arange(a), n * c))
        data["channel"] = np.concatenate(channels)
        if level == "patch":
            data["patch"] = np.concatenate(patches).astype(np.int64)
        vectors = np.concatenate([out.reshape(-1, out.shape[-1]) for out in blocks]).astype(np.float32)  # [rows, D]
    data["embedding"] = list(vectors)
    table = pd.DataFrame(data)
    table.attrs.update(window_seconds=window_seconds, level=level, embedding=EMBEDDING_DESCRIPTIONS[level],
                       token_order=TOKEN_ORDER)  # fmt: skip
    return table


def _check_level(level: str) -> None:
    from .pipeline_labram import EMBEDDING_LEVELS

    if level not in EMBEDDING_LEVELS:
        raise InferenceError(f"unknown embedding level {level!r}", hint=f"use one of {', '.join(EMBEDDING_LEVELS)}")


def embed_files(
    files: Sequence[str | os.PathLike],
    model,
    feature_extractor,
    window_seconds: float | None = None,
    stride_seconds: float | None = None,
    batch_size: int = 32,
    progress=None,
    level: str = "window",
    interpolate_pos_encoding: bool = False,
):
    """Embeddings of EEG files as a pandas DataFrame, one row per window (``level="window"``: ``pooler_output``),
    per window and channel (``"channel"``) or per window, channel and patch (``"patch"``).

    Columns: ``source``, ``start``, ``end`` (the window, seconds), ``channel`` (vocabulary name; channel and patch
    levels), ``patch`` (index of the one-second patch in the window; patch level), ``embedding`` (a float32 vector
    of ``config.hidden_size`` values); Epochs files (``-epo.fif``) add ``trial`` and ``event``. Patch rows follow
    the token order: within a window, channel-major (row ``c * A + a`` is patch ``a`` of channel ``c``). The patch
    embedding is the pooler's LayerNorm (the original ``fc_norm``) applied to that patch token of
    ``last_hidden_state`` (the original's patch-token output); the channel embedding is the mean of a channel's
    patch embeddings in the window. ``DataFrame.attrs`` records ``skipped`` (files shorter than one window),
    ``window_seconds`` and ``level``.
    """
    _check_level(level)
    results, skipped, window = _collect(files, model, feature_extractor, level, window_seconds, stride_seconds,
                                        batch_size, progress, interpolate_pos_encoding)  # fmt: skip
    table = _embedding_table(results, level, window)
    table.attrs["skipped"] = skipped
    return table


def embed(
    model,
    feature_extractor,
    eeg,
    level: str = "window",
    *,
    window_seconds: float | None = None,
    stride_seconds: float | None = None,
    batch_size: int = 32,
    interpolate_pos_encoding: bool = False,
    **extractor_kwargs,
):
    """Embeddings of one in-memory recording (or file): the table of :func:`embed_files` for ``eeg``.

    ``eeg``: an ``mne.io.Raw``, an ``mne.Epochs`` (each trial preprocessed on its own and cut into windows; a trial
    shorter than a window is one window), a dict ``{"array": [channels, time], "sampling_rate": Hz,
    "channel_names": [...]}`` (optionally ``"unit"``), an array with ``sampling_rate=`` / ``channel_names=`` /
    ``unit=`` given here, or a file path. ``extractor_kwargs`` go to the feature extractor (those array arguments,
    or preprocessing overrides such as ``h_freq=45``). ``model``: a :class:`LaBraMModel` or a classifier (its
    backbone is used).

    >>> table = embed(model, fe, raw, level="patch")
    >>> np.stack(table["embedding"]).shape        # [windows * channels * patches, hidden_size]
    """
    _check_level(level)
    results, _, window = _collect([eeg], model, feature_extractor, level, window_seconds, stride_seconds, batch_size,
                                  None, interpolate_pos_encoding, **extractor_kwargs)  # fmt: skip
    return _embedding_table(results, level, window)


# ----------------------------------------------------------------------------------------------------------------------
# Predictions
# ----------------------------------------------------------------------------------------------------------------------


def predict_files(
    files: Sequence[str | os.PathLike],
    model,
    feature_extractor,
    window_seconds: float | None = None,
    stride_seconds: float | None = None,
    batch_size: int = 32,
    threshold: float = 0.5,
    progress=None,
    aggregate: str | None = None,
    interpolate_pos_encoding: bool = False,
):
    """Per-window predictions as a pandas DataFrame (and, with ``aggregate``, per recording).

    Columns: ``source``, ``start``, ``end`` (Epochs files add ``trial``, ``event``), ``label`` (predicted label
    name), ``label_id``, ``score`` (probability of the predicted label) and one ``prob_<name>`` column per class.
    Single-label models use the softmax; multi-label models (``problem_type="multi_label_classification"``, e.g. a
    converted one-logit TUAB model) use a sigmoid per label; a one-logit model predicts its label when the
    probability reaches ``threshold``, else ``not <label>`` (``label_id`` -1); several labels are joined with ``;``.
    Regression models give ``prediction``. Non-finite logits raise :class:`InferenceError`.

    ``aggregate`` (``"mean"``, ``"max"`` or ``"vote"``; see :func:`labram_hf.pipeline_labram.aggregate_scores`)
    pools the windows of each recording: ``DataFrame.attrs["recordings"]`` is then a DataFrame with one row per
    recording: ``source``, ``start`` (first window), ``end`` (last window), ``n_windows``, ``label``, ``label_id``,
    ``score`` and ``prob_<name>`` (the pooled probabilities: mean, max, or for ``vote`` the mean), plus
    ``votes_<name>`` (windows per label) for ``vote``; regression: ``prediction``.
    """
    import pandas as pd

    from .pipeline_labram import AGGREGATIONS, class_probabilities, label_names, problem_type, window_decisions

    if aggregate is not None and aggregate not in AGGREGATIONS:
        raise InferenceError(f"unknown aggregation {aggregate!r}", hint=f"use one of {', '.join(AGGREGATIONS)}")
    config = model.config
    problem, names = problem_type(config), label_names(config)
    if aggregate == "vote" and problem == "regression":
        raise InferenceError("--aggregate vote needs a classifier; this model is a regression model",
                             hint="use --aggregate mean or max")  # fmt: skip
    results, skipped, window = _collect(files, model, feature_extractor, "logits", window_seconds, stride_seconds,
                                        batch_size, progress, interpolate_pos_encoding)  # fmt: skip
    logits = np.concatenate([out for _, out in results]).astype(np.float64)
    data = _window_columns(results)
    if problem == "regression":
        data["prediction"] = logits[:, 0] if logits.shape[1] == 1 else list(logits)
    else:
        probs = class_probabilities(logits, problem)
        labels, ids, scores = window_decisions(probs, problem, names, threshold)
        data.update(label=labels, label_id=ids, score=scores)
        for i, name in enumerate(names):
            data[f"prob_{name}"] = probs[:, i]
    table = pd.DataFrame(data)
    table.attrs.update(skipped=skipped, window_seconds=window, problem_type=problem)
    if aggregate is not None:
        table.attrs["recordings"] = _recording_table(results, problem, names, aggregate, threshold)
    return table


def _recording_table(results, problem: str, names: list[str], how: str, threshold: float):
    """One row per recording: its windows' scores pooled by :func:`~labram_hf.pipeline_labram.aggregate_scores`."""
    import pandas as pd

    from .pipeline_labram import aggregate_scores, class_probabilities

    rows = []
    for windowed, logits in results:
        row: dict[str, Any] = {"source": windowed.source, "start": min(windowed.starts), "end": max(windowed.ends),
                               "n_windows": len(windowed)}  # fmt: skip
        logits = logits.astype(np.float64)
        if problem == "regression":
            pooled = aggregate_scores(logits, problem, names, how)["prediction"]
            row["prediction"] = float(pooled[0]) if len(pooled) == 1 else pooled.tolist()
        else:
            pooled = aggregate_scores(class_probabilities(logits, problem), problem, names, how, threshold)
            row.update(label=pooled["label"], label_id=pooled["label_id"], score=pooled["score"])
            row.update({f"prob_{name}": float(p) for name, p in zip(names, pooled["probs"])})
            if pooled["votes"] is not None:
                row.update({f"votes_{name}": int(v) for name, v in zip(names, pooled["votes"])})
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs.update(aggregate=how, problem_type=problem)
    return table
