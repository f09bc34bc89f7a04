"""transformers pipelines for LaBraM: ``eeg-classification`` and ``eeg-feature-extraction``.

>>> import labram_hf                                      # registers both tasks with transformers
>>> from transformers import pipeline
>>> classify = pipeline("eeg-classification", model="my-finetuned-labram")
>>> result = classify("recording.edf", aggregate="mean")  # a path, an mne Raw/Epochs or a dict (see below)
>>> result["label"], result["score"]                      # the recording: mean of the window probabilities
>>> result["windows"][0]                                  # {"start": 0.0, "end": 10.0, "label": ..., "score": ..., ...}
>>> embed = pipeline("eeg-feature-extraction", model="labram-base-hf")
>>> embed(raw, level="patch")["embeddings"].shape         # [windows, channels, patches, hidden_size]

Each input is one recording: a file path (anything mne reads; with labram_hf installed also ``.eeg.h5``), an
``mne.io.Raw``, an ``mne.Epochs`` (every trial is cut separately), or ``{"array": [channels, time], "sampling_rate":
Hz, "channel_names": [...], "unit": "V"}`` (``unit`` optional, default: the extractor's); a list of inputs gives a
list of results. The model's saved feature extractor (``preprocessor_config.json``) preprocesses the recording once
(filters, channel policy, 200 Hz, microvolts / 100), the recording is cut into windows of its saved
``window_seconds`` / ``stride_seconds`` (10 s without overlap when absent) that lie fully inside it, and the windows
run through the model ``batch_size`` at a time (32), with a tqdm progress bar on long recordings. A trial of an
Epochs object shorter than a window is one window of its own (cut to whole seconds).

Parameters (at ``pipeline(...)`` or per call): ``window_seconds``, ``stride_seconds``, ``batch_size``,
``interpolate_pos_encoding`` (accept windows longer than the model's ``max_time_patches`` seconds by interpolating
the temporal embeddings, with a warning: an extension of the original model), ``progress`` (``None``: a bar on long
inputs in a terminal), and for arrays ``sampling_rate`` / ``channel_names`` / ``unit``.
``eeg-classification`` also takes ``aggregate`` (``"mean"``, ``"max"`` or ``"vote"``, see :func:`aggregate_scores`)
and ``threshold`` (multi-label models); ``eeg-feature-extraction`` takes ``level``: ``"window"`` (the pooled vector,
``pooler_output``), ``"patch"`` (one vector per channel and second: the pooler's LayerNorm -- the original
``fc_norm`` -- applied to each patch token of ``last_hidden_state``, the original's patch-token output) or
``"channel"`` (the mean over the window's patches of those vectors, per channel). Patch tokens are channel-major:
token ``c * A + a`` of a window with ``A`` patches is patch ``a`` of channel ``c``.

Task names: ``"feature-extraction"`` is transformers' built-in (text) task; registering LaBraM under it would replace
it for every other model in the process, so this package registers ``"eeg-feature-extraction"``. A model published
with labram-hf (``labram push``, :func:`labram_hf.hub.add_remote_code`) lists ``eeg-classification``,
``eeg-feature-extraction`` and ``feature-extraction`` in its ``config.json`` ``custom_pipelines``, so
``pipeline("feature-extraction", model=repo, trust_remote_code=True)`` picks this implementation for that model only.

Remote code: this file is shipped beside the modeling and feature-extractor files, so ``pipeline(task, model=dir_or_repo,
trust_remote_code=True)`` works where labram_hf is not installed. It imports only torch, numpy, transformers, tqdm
(a transformers dependency), mne (for file paths) and the relative modules of the feature extractor; keep it so.
transformers requires ``trust_remote_code=True`` for every model whose config lists ``custom_pipelines`` (also when
labram_hf is installed); a model directory without them works with labram_hf and no flag.
"""

from __future__ import annotations

import importlib
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, Pipeline

from .channels import LABRAM_CHANNELS
from .constants import DEFAULT_WINDOW_SECONDS
from .errors import LaBraMError
from .feature_extraction_labram import LaBraMFeatureExtractor

__all__ = [
    "AGGREGATIONS",
    "CLASSIFICATION_TASK",
    "EMBEDDING_LEVELS",
    "FEATURE_EXTRACTION_TASK",
    "PIPELINE_TASKS",
    "EEGClassificationPipeline",
    "EEGFeatureExtractionPipeline",
    "LongWindowWarning",
    "WindowedEEG",
    "aggregate_scores",
    "class_probabilities",
    "register_pipelines",
    "resolve_stride_seconds",
    "resolve_window_seconds",
    "window_decisions",
    "window_recording",
]

CLASSIFICATION_TASK = "eeg-classification"
FEATURE_EXTRACTION_TASK = "eeg-feature-extraction"
#: How window scores are pooled into one result per recording.
AGGREGATIONS: tuple[str, ...] = ("mean", "max", "vote")
#: What ``eeg-feature-extraction`` / ``labram embed --level`` return.
EMBEDDING_LEVELS: tuple[str, ...] = ("window", "patch", "channel")
_EPOCHS_SUFFIXES = ("-epo.fif", "_epo.fif", "-epo.fif.gz", "_epo.fif.gz")


class LongWindowWarning(UserWarning):
    """Windows longer than the model's temporal embeddings are used through ``interpolate_pos_encoding``."""


# ----------------------------------------------------------------------------------------------------------------------
# Window length and stride
# ----------------------------------------------------------------------------------------------------------------------


def _seconds(value, what: str, example: str, error: type[LaBraMError]) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise error(f"{what} {value!r} is not a number of seconds", hint=f"e.g. {example}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise error(f"{what} must be a positive, finite number of seconds, got {value!r}", hint=f"e.g. {example}")
    return seconds


def resolve_window_seconds(
    feature_extractor,
    config=None,
    window_seconds: float | None = None,
    interpolate_pos_encoding: bool = False,
    error: type[LaBraMError] = LaBraMError,
) -> float:
    """The window length to use: ``window_seconds``, else the extractor's saved ``window_seconds``, else 10 s.

    It must be a whole number of patches. Without ``interpolate_pos_encoding`` it may not exceed ``max_time_patches``
    patches (of the extractor and of ``config``); with it, a longer window is accepted and a
    :class:`LongWindowWarning` says that the temporal embeddings are interpolated (the original model stops there).
    Problems raise ``error`` (a :class:`LaBraMError` subclass).
    """
    rate = float(feature_extractor.sampling_rate)
    patch = int(feature_extractor.patch_size)
    limit = int(feature_extractor.max_time_patches)
    if config is not None:
        limit = min(limit, int(config.max_time_patches))
    longest = limit * patch / rate
    if window_seconds is None:
        saved = getattr(feature_extractor, "window_seconds", None)
        window_seconds = float(saved) if saved else min(DEFAULT_WINDOW_SECONDS, longest)
    window_seconds = _seconds(window_seconds, "window length", "--window-seconds 10", error)
    patches = window_seconds * rate / patch
    if abs(patches - round(patches)) > 1e-6 or round(patches) < 1:
        raise error(
            f"window length {window_seconds:g} s is not a positive whole number of {patch / rate:g}-s patches",
            hint=f"use e.g. --window-seconds {min(DEFAULT_WINDOW_SECONDS, longest):g}",
        )
    if window_seconds > longest + 1e-9:
        if not interpolate_pos_encoding:
            raise error(
                f"window length {window_seconds:g} s is longer than the model accepts ({limit} patches = "
                f"{longest:g} s)",
                hint=f"use --window-seconds {longest:g} or less, or --interpolate-pos-encoding "
                "(interpolate_pos_encoding=True) to interpolate the temporal embeddings (an extension of the "
                "original model)",
            )
        warnings.warn(
            f"{window_seconds:g}-s windows are longer than the model's {limit} temporal embeddings ({longest:g} s): "
            f"interpolate_pos_encoding interpolates them linearly to {round(patches)} patches. This extends the "
            f"original LaBraM, which stops at {longest:g} s; the model was not trained on such windows",
            LongWindowWarning,
            stacklevel=2,
        )
    return window_seconds


def resolve_stride_seconds(
    feature_extractor, window_seconds: float, stride_seconds: float | None = None, error=LaBraMError
) -> float:
    """The hop between window starts: ``stride_seconds``, else the extractor's, else ``window_seconds``; it must be
    a positive whole number of samples at the extractor's rate."""
    if stride_seconds is None:
        stride_seconds = getattr(feature_extractor, "stride_seconds", None) or window_seconds
    stride_seconds = _seconds(stride_seconds, "stride", "--stride-seconds 5", error)
    samples = stride_seconds * float(feature_extractor.sampling_rate)
    if samples < 1 - 1e-6 or abs(samples - round(samples)) > 1e-6:
        raise error(
            f"stride {stride_seconds:g} s is not a whole number of samples at {feature_extractor.sampling_rate} Hz",
            hint=f"use e.g. --stride-seconds {window_seconds / 2:g} (half a window)",
        )
    return stride_seconds


# ----------------------------------------------------------------------------------------------------------------------
# Inputs -> windows
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class WindowedEEG:
    """The windows of one input recording, in model units, ready for the model.

    ``windows[i]`` is a float32 view ``[channels, samples]`` of the preprocessed recording; ``starts`` / ``ends`` are
    seconds from the start of the recording (of the trial, for Epochs, whose windows also carry ``trials`` and
    ``events``). All windows of one input share the channels: ``channel_ids`` (vocabulary positions) and
    ``channel_names`` (their vocabulary spelling, e.g. ``"FP1"``).
    """

    source: str
    windows: list[np.ndarray]
    starts: list[float]
    ends: list[float]
    channel_ids: np.ndarray
    channel_names: list[str]
    trials: list[int] | None = None
    events: list[str] | None = None
    dropped_channels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.windows)

    def batches(self, batch_size: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """Yield ``(first index, values [B, C, T], channel_ids [B, C])`` of consecutive windows (CPU tensors)."""
        ids = torch.from_numpy(np.asarray(self.channel_ids, dtype=np.int64))
        for first in range(0, len(self.windows), batch_size):
            chunk = self.windows[first : first + batch_size]
            values = torch.from_numpy(np.stack(chunk))  # [B, C, T]
            yield first, values, ids.unsqueeze(0).expand(len(chunk), -1)  # [B, C]


def _is_instance(obj, module: str, attribute: str) -> bool:
    """``isinstance(obj, mne.<attribute>)`` without importing mne when it is not imported yet."""
    import sys

    mne = sys.modules.get("mne")
    if mne is None:
        return False
    cls = mne
    for part in attribute.split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            return False
    return isinstance(obj, cls)


def read_eeg(path: str | os.PathLike):
    """An ``mne.io.Raw`` (not preloaded) or, for epoch files, an ``mne.Epochs`` of ``path``.

    With labram_hf installed its reader is used (``labram_hf.io.read_eeg``: also ``.eeg.h5`` and EEGLAB epoch files,
    channel types guessed from EDF names, errors naming the file); without it mne's (``-epo.fif`` files are read
    as epochs).
    """
    import mne

    name = os.fspath(path)
    try:  # labram_hf's reader; the remote-code copy of this module has no sibling `io` module
        io = importlib.import_module(".io", __package__)
    except ImportError:
        io = None
    if io is not None and hasattr(io, "read_eeg"):
        return io.read_eeg(name, preload=False)
    if io is not None and hasattr(io, "read_raw"):
        return io.read_raw(name, preload=False)
    if not os.path.exists(name):
        raise LaBraMError(f"{name}: no such file", hint="check the path")
    if name.lower().endswith(_EPOCHS_SUFFIXES):
        return mne.read_epochs(name, preload=True, verbose="error")
    return mne.io.read_raw(name, preload=False, verbose="error")


def _window_starts(n_samples: int, window: int, stride: int) -> list[int]:
    if n_samples < window:
        return []
    return list(range(0, n_samples - window + 1, stride))


def window_recording(
    eeg: Any,
    feature_extractor,
    window_seconds: float,
    stride_seconds: float | None = None,
    *,
    source: str | None = None,
    sampling_rate: float | None = None,
    channel_names: Sequence[str] | None = None,
    unit: str | None = None,
    **extractor_kwargs,
) -> WindowedEEG:
    """Preprocess one input with ``feature_extractor`` and cut it into windows (see the module docstring).

    ``eeg``: a path, an ``mne.io.BaseRaw``, an ``mne.BaseEpochs``, a dict ``{"array", "sampling_rate",
    "channel_names"[, "unit"]}`` or an array ``[channels, time]`` with ``sampling_rate`` and ``channel_names``.
    ``extractor_kwargs`` override the extractor's preprocessing (arguments of
    :func:`labram_hf.preprocessing.preprocess`). Input problems raise ``ValueError`` (mostly :class:`LaBraMError`)
    naming the source. A recording shorter than one window gives no windows.
    """
    if isinstance(eeg, (str, os.PathLike)):
        source = source or os.fspath(eeg)
        eeg = read_eeg(eeg)
    if isinstance(eeg, dict):
        unknown = set(eeg) - {"array", "sampling_rate", "channel_names", "unit", "source"}
        if "array" not in eeg or unknown:
            raise LaBraMError(
                f"a dict input needs the keys 'array', 'sampling_rate' and 'channel_names' (and optionally 'unit'), "
                f"got {sorted(eeg)}",
                hint="pass {'array': data[channels, time], 'sampling_rate': 256, 'channel_names': [...]}",
            )
        sampling_rate = eeg.get("sampling_rate", sampling_rate)
        channel_names = eeg.get("channel_names", channel_names)
        unit = eeg.get("unit", unit)
        source = source or eeg.get("source") or "array"
        eeg = eeg["array"]
    rate = float(feature_extractor.sampling_rate)
    window = int(round(window_seconds * rate))
    stride = window if stride_seconds is None else int(round(stride_seconds * rate))
    if _is_instance(eeg, "mne", "BaseEpochs"):
        return _window_epochs(eeg, feature_extractor, window, stride, source, extractor_kwargs)
    if _is_instance(eeg, "mne", "io.BaseRaw"):
        fnames = getattr(eeg, "filenames", None) or []
        source = source or (str(fnames[0]) if fnames and fnames[0] is not None else "raw")
        pre = feature_extractor.preprocess_one(eeg, source=source, **extractor_kwargs)
    else:
        source = source or "array"
        pre = feature_extractor.preprocess_one(eeg, sampling_rate=sampling_rate, channel_names=channel_names,
                                               unit=unit, source=source, **extractor_kwargs)  # fmt: skip
    starts = _window_starts(pre.n_times, window, stride)
    return WindowedEEG(
        source=source,
        windows=[pre.values[:, s : s + window] for s in starts],  # views [C, window]
        starts=[s / rate for s in starts],
        ends=[(s + window) / rate for s in starts],
        channel_ids=np.asarray(pre.channel_ids, dtype=np.int64),
        channel_names=[LABRAM_CHANNELS[i] for i in pre.channel_ids],
        dropped_channels=list(pre.dropped_channels),
    )


def _window_epochs(epochs, feature_extractor, window: int, stride: int, source, extractor_kwargs) -> WindowedEEG:
    """The trials, preprocessed, each cut into windows; a trial shorter than a window is one window (whole patches).

    Starts and ends are seconds relative to each trial's event. The extractor filters the trials with its padding
    strategy (``labram_hf.preprocessing.preprocess_epochs``, which warns about trials shorter than the filters).
    """
    fname = getattr(epochs, "filename", None)
    source = source or (str(fname) if fname is not None else "epochs")
    package = type(feature_extractor).__module__.rpartition(".")[0]
    try:
        native = hasattr(importlib.import_module(".preprocessing", package), "preprocess_epochs")
    except ImportError:
        native = False
    if not native:
        raise LaBraMError(
            f"{source}: this feature extractor ({type(feature_extractor).__module__}) cannot preprocess mne.Epochs",
            hint="use a current labram-hf feature extractor, or filter the continuous recording and pass it",
        )
    pre = feature_extractor.preprocess_one(epochs, source=source, **extractor_kwargs)
    values, ids = pre.values, list(pre.channel_ids)  # [trials, C, T]
    events, tmin = list(pre.events), float(pre.tmin)
    rate = float(feature_extractor.sampling_rate)
    patch = int(feature_extractor.patch_size)
    length = values.shape[-1]
    if length >= window:
        cuts = [(s, s + window) for s in _window_starts(length, window, stride)]
    else:  # the whole trial, cut to whole patches
        cuts = [(0, (length // patch) * patch)] if length >= patch else []
    out = WindowedEEG(source=source, windows=[], starts=[], ends=[], channel_ids=np.asarray(ids, dtype=np.int64),
                      channel_names=[LABRAM_CHANNELS[c] for c in ids], trials=[], events=[],
                      dropped_channels=list(pre.dropped_channels))  # fmt: skip
    for i in range(len(values)):
        out.windows.extend(values[i, :, a:b] for a, b in cuts)  # views [C, window]
        out.starts.extend(tmin + a / rate for a, _ in cuts)
        out.ends.extend(tmin + b / rate for _, b in cuts)
        out.trials.extend([i] * len(cuts))
        out.events.extend([events[i] if i < len(events) else ""] * len(cuts))
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Model outputs
# ----------------------------------------------------------------------------------------------------------------------


def backbone_of(model) -> torch.nn.Module:
    """The bare ``LaBraMModel`` of ``model`` (the model itself, or the backbone of a classifier / MEM model)."""
    base = getattr(model, "base_model", model)
    return base if isinstance(base, torch.nn.Module) else model


def run_model(
    model,
    windowed: WindowedEEG,
    output: str,
    batch_size: int = 32,
    interpolate_pos_encoding: bool = False,
    progress=None,
    error: type[LaBraMError] = LaBraMError,
) -> np.ndarray:
    """Run ``model`` on every window of ``windowed``; returns float32 numpy outputs, one row per window.

    ``output``: ``"logits"`` (a classifier: [N, num_labels]), ``"window"`` (``pooler_output``: [N, D]),
    ``"patch"`` (the pooler's LayerNorm on each patch token: [N, C, A, D]) or ``"channel"`` (their mean over the
    patches: [N, C, D]). ``progress``: ``None`` (nothing), ``True`` / ``"auto"`` (a tqdm bar; ``"auto"`` only in a
    terminal) or a callable ``progress(n_windows_done)``. Non-finite outputs raise ``error``.
    """
    if batch_size < 1:
        raise error(f"batch_size must be positive, got {batch_size}", hint="e.g. batch_size=32")
    net = model if output == "logits" else backbone_of(model)
    norm = None
    if output in ("patch", "channel"):
        pooler = getattr(net, "pooler", None)
        norm = getattr(pooler, "layernorm", None)
        if norm is None:
            raise error(f"{type(net).__name__} has no pooling LayerNorm (fc_norm) for patch embeddings",
                        hint="load the model with its pooling layer (LaBraMModel(config, add_pooling_layer=True))")  # fmt: skip
    device = next(net.parameters()).device
    bar = _progress_bar(progress, len(windowed), windowed.source)
    results: list[np.ndarray] = []
    try:
        with torch.inference_mode():
            for first, values, ids in windowed.batches(batch_size):
                try:
                    out = net(input_values=values.to(device), channel_ids=ids.to(device),
                              interpolate_pos_encoding=interpolate_pos_encoding)  # fmt: skip
                except ValueError as err:  # the model's input checks (shapes, ids, non-finite values)
                    message = " ".join(str(err).split())
                    raise error(f"{windowed.source}: {message}",
                                hint=getattr(err, "hint", None) or "check the recording") from None  # fmt: skip
                if output == "logits":
                    result = out.logits
                elif output == "window":
                    result = out.pooler_output
                else:
                    tokens = out.last_hidden_state[:, 1:]  # [B, C * A, D], channel-major, cls dropped
                    batch, channels = values.shape[0], values.shape[1]
                    result = norm(tokens).reshape(batch, channels, -1, tokens.shape[-1])  # [B, C, A, D]
                    if output == "channel":
                        result = result.mean(dim=2)  # [B, C, D]
                result = result.float().cpu().numpy()
                _check_finite(result, windowed, first, output, error)
                results.append(result)
                if callable(bar):
                    bar(first + len(result))
                elif bar is not None:
                    bar.update(len(result))
    finally:
        if bar is not None and not callable(bar):
            bar.close()
    return np.concatenate(results) if results else np.zeros((0,), dtype=np.float32)


def _progress_bar(progress, total: int, source: str):
    if progress is None or progress is False or total == 0:
        return None
    if callable(progress):
        return progress
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=os.path.basename(str(source)) or "windows", unit="window",
                disable=None if progress == "auto" else False, leave=False)  # fmt: skip


def _check_finite(result: np.ndarray, windowed: WindowedEEG, first: int, output: str, error) -> None:
    finite = np.isfinite(result.reshape(len(result), -1)).all(axis=1)
    if finite.all():
        return
    starts = ", ".join(f"{windowed.starts[first + i]:g}" for i in np.flatnonzero(~finite))
    what = "logits" if output == "logits" else "embeddings"
    raise error(
        f"{windowed.source}: the model's {what} are not finite (NaN/Inf) for the window(s) starting at {starts} s; "
        "no output was written",
        hint="the model's weights hold NaN/Inf or overflow on this input: check the checkpoint "
        "(e.g. all(p.isfinite().all() for p in model.parameters())) and the recording",
    )


# ----------------------------------------------------------------------------------------------------------------------
# Scores: windows and recordings
# ----------------------------------------------------------------------------------------------------------------------


def problem_type(config) -> str:
    """``config.problem_type``, else regression for one label and single-label classification otherwise."""
    return config.problem_type or ("regression" if config.num_labels == 1 else "single_label_classification")


def label_names(config) -> list[str]:
    id2label = getattr(config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(config.num_labels)]


def class_probabilities(logits: np.ndarray, problem: str) -> np.ndarray:
    """Softmax over the classes (single-label) or a sigmoid per label (multi-label) of ``logits`` [N, L]."""
    logits = np.asarray(logits, dtype=np.float64)
    if problem == "multi_label_classification":
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    return probs / probs.sum(axis=1, keepdims=True)


def _decide(probs: np.ndarray, problem: str, names: Sequence[str], threshold: float):
    """Label, label id and score of each row of ``probs`` [N, L] (see :func:`window_decisions`)."""
    rows = np.arange(len(probs))
    if problem != "multi_label_classification":
        best = probs.argmax(axis=1)
        return [names[i] for i in best], best, probs[rows, best]
    if len(names) == 1:
        positive = probs[:, 0] >= threshold
        labels = [names[0] if p else f"not {names[0]}" for p in positive]
        return labels, np.where(positive, 0, -1), np.where(positive, probs[:, 0], 1.0 - probs[:, 0])
    labels = [";".join(n for n, p in zip(names, row) if p >= threshold) for row in probs]
    best = probs.argmax(axis=1)
    return labels, best, probs[rows, best]


def window_decisions(probs: np.ndarray, problem: str, names: Sequence[str], threshold: float = 0.5):
    """Per window: ``(labels, label_ids, scores)``.

    Single-label: the most probable class and its probability. Multi-label: the labels whose probability reaches
    ``threshold`` joined by ``;`` (``label_id`` the most probable label); a one-label model predicts ``<label>`` or
    ``not <label>`` (``label_id`` -1) with the probability of that decision.
    """
    return _decide(np.asarray(probs, dtype=np.float64), problem, names, threshold)


def aggregate_scores(
    probs: np.ndarray, problem: str, names: Sequence[str], how: str = "mean", threshold: float = 0.5
) -> dict[str, Any]:
    """Pool the window probabilities ``probs`` [N, L] of one recording (regression: the predictions [N, L]).

    * ``mean``: the mean probability per class; the label is the argmax (multi-label: each label whose mean reaches
      ``threshold``); ``score`` is its mean probability.
    * ``max``: the maximum probability per class over the windows, then as ``mean``.
    * ``vote``: the majority of the window labels (single-label: the class most windows predict, ties broken by
      the higher mean probability; multi-label: per label, positive when more windows are positive than not, ties
      by the mean probability against ``threshold``); ``score`` is the fraction of windows that voted for the
      label, ``probs`` the mean probabilities and ``votes`` the number of windows per class (multi-label: positive
      windows per label).

    Returns ``{"label", "label_id", "score", "probs", "votes", "n_windows"}`` (regression: ``{"prediction",
    "n_windows"}``; ``vote`` is refused for regression).
    """
    if how not in AGGREGATIONS:
        raise LaBraMError(f"unknown aggregation {how!r}", hint=f"use one of {', '.join(AGGREGATIONS)}")
    probs = np.asarray(probs, dtype=np.float64)
    n = len(probs)
    if n == 0:
        raise LaBraMError("no window to aggregate")
    if problem == "regression":
        if how == "vote":
            raise LaBraMError("--aggregate vote needs a classifier; this model is a regression model",
                              hint="use --aggregate mean or max")  # fmt: skip
        pooled = probs.mean(axis=0) if how == "mean" else probs.max(axis=0)
        return {"prediction": pooled, "n_windows": n}
    mean = probs.mean(axis=0)
    if how in ("mean", "max"):
        pooled = mean if how == "mean" else probs.max(axis=0)
        labels, ids, scores = _decide(pooled[None], problem, names, threshold)
        return {"label": labels[0], "label_id": int(ids[0]), "score": float(scores[0]), "probs": pooled,
                "votes": None, "n_windows": n}  # fmt: skip
    if problem != "multi_label_classification":
        votes = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
        tied = np.flatnonzero(votes == votes.max())
        best = int(tied[np.argmax(mean[tied])])
        return {"label": names[best], "label_id": best, "score": float(votes[best] / n), "probs": mean, "votes": votes,
                "n_windows": n}  # fmt: skip
    positive_votes = (probs >= threshold).sum(axis=0)
    positive = (positive_votes > n - positive_votes) | ((positive_votes == n - positive_votes) & (mean >= threshold))
    # the decision as pseudo-probabilities (1 / 0) so that _decide names the labels as for mean/max
    labels, ids, _ = _decide(positive[None].astype(np.float64), problem, names, 0.5)
    share = positive_votes / n
    if len(names) == 1:
        score = share[0] if positive[0] else 1.0 - share[0]
        label_id = 0 if positive[0] else -1
    else:
        label_id = int(np.lexsort((mean, positive_votes))[-1])  # most positive windows, ties by the mean
        score = share[label_id]
    return {"label": labels[0], "label_id": label_id, "score": float(score), "probs": mean,
            "votes": positive_votes, "n_windows": n}  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------------
# Pipelines
# ----------------------------------------------------------------------------------------------------------------------


class _EEGPipeline(Pipeline):
    """What both LaBraM pipelines share: inputs -> windows -> batched forward passes (see the module docstring)."""

    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = None  # the model's preprocessor_config.json when present
    _load_tokenizer = False

    #: The task, for messages.
    task_name = "eeg"
    #: Arguments that go to `postprocess`.
    _postprocess_names: tuple[str, ...] = ()
    #: What `run_model` computes by default: a classifier's logits, or an embedding level.
    _output = "logits"

    def __init__(self, model, feature_extractor=None, **kwargs):
        # `batch_size` is the number of windows per forward pass here, not the number of inputs per DataLoader batch
        # (one input already makes many windows): keep it away from Pipeline's own batching.
        self._window_batch_size = int(kwargs.pop("batch_size", None) or 32)
        config = getattr(model, "config", None)
        if getattr(config, "model_type", None) != "labram":
            raise LaBraMError(
                f"the {self.task_name} pipeline needs a LaBraM model, got {type(model).__name__} "
                f"(model_type {getattr(config, 'model_type', None)!r})",
                hint="pass a LaBraM model directory or Hub id",
            )
        if feature_extractor is None:
            warnings.warn(
                "no feature extractor (preprocessor_config.json) with the model: the original LaBraM preprocessing "
                "is assumed (0.1-75 Hz band-pass, 50 Hz notch, 200 Hz, unknown channels refused)",
                UserWarning,
                stacklevel=2,
            )
            feature_extractor = LaBraMFeatureExtractor(
                sampling_rate=int(config.sampling_rate), patch_size=int(config.patch_size),
                max_time_patches=int(config.max_time_patches),
            )  # fmt: skip
        super().__init__(model=model, feature_extractor=feature_extractor, **kwargs)
        self.model.eval()

    def __call__(self, inputs, **kwargs):
        """Run the pipeline on one input (a path, an mne Raw/Epochs or a dict) or a list of them."""
        if "batch_size" in kwargs:
            kwargs["window_batch_size"] = kwargs.pop("batch_size")
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(
        self,
        window_seconds=None,
        stride_seconds=None,
        interpolate_pos_encoding=None,
        sampling_rate=None,
        channel_names=None,
        unit=None,
        window_batch_size=None,
        progress=None,
        **postprocess,
    ):
        preprocess: dict[str, Any] = {}
        for name, value in (("window_seconds", window_seconds), ("stride_seconds", stride_seconds),
                            ("interpolate_pos_encoding", interpolate_pos_encoding),
                            ("sampling_rate", sampling_rate), ("channel_names", channel_names), ("unit", unit)):
            if value is not None:
                preprocess[name] = value  # fmt: skip
        forward: dict[str, Any] = {}
        if window_batch_size is not None:
            forward["batch_size"] = int(window_batch_size)
        if interpolate_pos_encoding is not None:
            forward["interpolate_pos_encoding"] = bool(interpolate_pos_encoding)
        if progress is not None:
            forward["progress"] = progress
        unknown = set(postprocess) - set(self._postprocess_names)
        if unknown:
            raise TypeError(f"unknown {self.task_name} pipeline argument(s): {sorted(unknown)}")
        return preprocess, forward, {k: v for k, v in postprocess.items() if v is not None}

    def preprocess(
        self,
        inputs,
        window_seconds=None,
        stride_seconds=None,
        interpolate_pos_encoding=False,
        sampling_rate=None,
        channel_names=None,
        unit=None,
    ):
        fe = self.feature_extractor
        window = resolve_window_seconds(fe, self.model.config, window_seconds, interpolate_pos_encoding)
        stride = resolve_stride_seconds(fe, window, stride_seconds)
        windowed = window_recording(inputs, fe, window, stride, sampling_rate=sampling_rate,
                                    channel_names=channel_names, unit=unit)  # fmt: skip
        if not len(windowed):
            raise LaBraMError(f"{windowed.source}: no {window:g}-s window fits in the recording",
                              hint="pass a longer recording or a shorter window_seconds")  # fmt: skip
        return {"windowed": windowed}

    def _forward(self, model_inputs, batch_size=None, interpolate_pos_encoding=False, progress="auto", level=None):
        windowed = model_inputs["windowed"]
        outputs = run_model(self.model, windowed, level or self._output, batch_size or self._window_batch_size,
                            interpolate_pos_encoding, progress)  # fmt: skip
        return {"windowed": windowed, "outputs": outputs}

    @staticmethod
    def _window_rows(windowed: WindowedEEG) -> list[dict[str, Any]]:
        rows = []
        for i in range(len(windowed)):
            row: dict[str, Any] = {"start": windowed.starts[i], "end": windowed.ends[i]}
            if windowed.trials is not None:
                row.update(trial=windowed.trials[i], event=windowed.events[i])
            rows.append(row)
        return rows


class EEGClassificationPipeline(_EEGPipeline):
    """``pipeline("eeg-classification")``: per-window and per-recording predictions of a fine-tuned LaBraM classifier.

    Returns, per input::

        {"source": str, "label": str, "score": float,          # the recording (see `aggregate`)
         "scores": [{"label": str, "score": float}, ...],        # pooled probability per class, best first
         "aggregate": "mean" | "max" | "vote", "n_windows": int,
         "windows": [{"start": s, "end": s, "label": str, "label_id": int, "score": float,
                      "scores": {label: probability}}, ...]}

    (``"votes": {label: count}`` as well for ``aggregate="vote"``; Epochs windows carry ``trial`` and ``event``.)
    Regression models give ``"prediction"`` (pooled, a list of ``num_labels`` values) and per-window
    ``"prediction"``. Non-finite logits raise: no label is ever given for them.
    """

    task_name = CLASSIFICATION_TASK
    _postprocess_names = ("aggregate", "threshold", "return_windows")
    _output = "logits"

    def postprocess(self, model_outputs, aggregate="mean", threshold=0.5, return_windows=True):
        windowed, logits = model_outputs["windowed"], model_outputs["outputs"]
        config = self.model.config
        problem, names = problem_type(config), label_names(config)
        if not (0.0 < float(threshold) < 1.0):
            raise LaBraMError(f"threshold must lie in (0, 1), got {threshold}", hint="e.g. threshold=0.5")
        result: dict[str, Any] = {"source": windowed.source}
        rows = self._window_rows(windowed)
        if problem == "regression":
            pooled = aggregate_scores(logits, problem, names, aggregate)
            result.update(prediction=pooled["prediction"].tolist(), aggregate=aggregate, n_windows=len(windowed))
            for row, values in zip(rows, logits):
                row["prediction"] = values.tolist()
        else:
            probs = class_probabilities(logits, problem)
            pooled = aggregate_scores(probs, problem, names, aggregate, threshold)
            order = np.argsort(-pooled["probs"], kind="stable")
            result.update(label=pooled["label"], label_id=pooled["label_id"], score=pooled["score"],
                          scores=[{"label": names[i], "score": float(pooled["probs"][i])} for i in order])  # fmt: skip
            result.update(aggregate=aggregate, n_windows=len(windowed))
            if pooled["votes"] is not None:
                result["votes"] = {names[i]: int(v) for i, v in enumerate(pooled["votes"])}
            labels, ids, scores = window_decisions(probs, problem, names, threshold)
            for i, row in enumerate(rows):
                row.update(label=labels[i], label_id=int(ids[i]), score=float(scores[i]),
                           scores={name: float(p) for name, p in zip(names, probs[i])})  # fmt: skip
        if return_windows:
            result["windows"] = rows
        return result


class EEGFeatureExtractionPipeline(_EEGPipeline):
    """``pipeline("eeg-feature-extraction")``: LaBraM embeddings of every window of a recording.

    Returns, per input::

        {"source": str, "level": "window" | "patch" | "channel",
         "embeddings": float32 array [N, D] (window) | [N, C, A, D] (patch) | [N, C, D] (channel),
         "embedding": the mean over the N windows (the recording), "channels": [C vocabulary names],
         "windows": [{"start": s, "end": s}, ...]}

    ``level="patch"``: the pooler's LayerNorm (the original ``fc_norm``) on each patch token of
    ``last_hidden_state`` (cls excluded), patch ``a`` of channel ``c`` at ``[:, c, a]`` (token ``c * A + a``);
    ``"channel"``: their mean over the ``A`` patches; ``"window"``: ``pooler_output`` (fc_norm of the mean patch token).
    """

    task_name = FEATURE_EXTRACTION_TASK
    _postprocess_names = ("level",)
    _output = "window"

    def _sanitize_parameters(self, level=None, **kwargs):
        preprocess, forward, postprocess = super()._sanitize_parameters(**kwargs)
        if level is not None:
            if level not in EMBEDDING_LEVELS:
                raise LaBraMError(f"unknown level {level!r}", hint=f"use one of {', '.join(EMBEDDING_LEVELS)}")
            forward["level"] = level
            postprocess["level"] = level
        return preprocess, forward, postprocess

    def postprocess(self, model_outputs, level="window"):
        windowed, embeddings = model_outputs["windowed"], model_outputs["outputs"]
        return {
            "source": windowed.source,
            "level": level,
            "embeddings": embeddings,
            "embedding": embeddings.mean(axis=0),
            "channels": list(windowed.channel_names),
            "windows": self._window_rows(windowed),
        }


# ----------------------------------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------------------------------

#: task -> (pipeline class, the transformers Auto class that loads its model)
PIPELINE_TASKS: dict[str, tuple[type, type]] = {
    CLASSIFICATION_TASK: (EEGClassificationPipeline, AutoModelForSequenceClassification),
    FEATURE_EXTRACTION_TASK: (EEGFeatureExtractionPipeline, AutoModel),
}

# What Pipeline.save_pretrained writes into config.custom_pipelines (and why it copies this file beside the model).
for _task, (_cls, _auto) in PIPELINE_TASKS.items():
    _cls._registered_impl = {_task: {"impl": _cls, "pt": (_auto,)}}


def register_pipelines() -> None:
    """Register both tasks with transformers' ``PIPELINE_REGISTRY`` (idempotent). ``import labram_hf`` arranges this
    lazily; only needed for the remote-code copy of this module (e.g. ``pipeline_class=`` is an alternative)."""
    from transformers.pipelines import PIPELINE_REGISTRY

    for task, (cls, auto) in PIPELINE_TASKS.items():
        current = PIPELINE_REGISTRY.supported_tasks.get(task)
        if current is None or current.get("impl") not in (cls, f"{cls.__module__}.{cls.__name__}"):
            PIPELINE_REGISTRY.register_pipeline(task, pipeline_class=cls, pt_model=auto, type="multimodal")
