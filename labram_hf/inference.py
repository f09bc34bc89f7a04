"""Batch inference on EEG files: files -> preprocessed windows -> model -> one row per window.

Used by ``labram embed`` (per-window embeddings, the backbone's ``pooler_output``) and ``labram predict``
(per-window class probabilities and label names from ``config.id2label``).

>>> from labram_hf.inference import load_for_inference, embed_files, predict_files
>>> model, fe = load_for_inference("my-model", task="embed")
>>> table = embed_files(["a.edf", "b.edf"], model, fe, window_seconds=10)   # pandas DataFrame

Preprocessing is the model's own: the :class:`~labram_hf.LaBraMFeatureExtractor` saved next to it
(``preprocessor_config.json``) when present, else the extractor's defaults (the original recipe). Each recording is
preprocessed once, cut into non-overlapping windows (``stride_seconds`` for overlap) that lie fully inside it, and
the windows of one file are run in batches. Window length: ``window_seconds`` argument, else the extractor's
``window_seconds`` attribute when it has one, else 10 s (the dataset builder's default); it must be a whole number
of seconds (patches) and at most ``max_time_patches`` patches of both the extractor and the model.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "InferenceError",
    "Window",
    "embed_files",
    "iter_windows",
    "load_feature_extractor",
    "load_for_inference",
    "predict_files",
    "resolve_window_seconds",
]

DEFAULT_WINDOW_SECONDS = 10.0

Task = Literal["embed", "predict"]


class InferenceError(ValueError):
    """A user-facing inference problem (bad model directory, unreadable file, impossible window length)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


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


def load_feature_extractor(model_dir: str | os.PathLike, config=None):
    """The model's saved :class:`LaBraMFeatureExtractor` (``preprocessor_config.json``), else a default one."""
    from .feature_extraction_labram import LaBraMFeatureExtractor

    path = Path(model_dir)
    if (path / "preprocessor_config.json").is_file():
        return LaBraMFeatureExtractor.from_pretrained(str(path))
    if not path.exists():  # a Hub id (resolved from the local cache when offline)
        try:
            return LaBraMFeatureExtractor.from_pretrained(str(model_dir))
        except (OSError, ValueError):
            pass
    kwargs = {}
    if config is not None:
        kwargs = {
            "sampling_rate": int(config.sampling_rate),
            "patch_size": int(config.patch_size),
            "max_time_patches": int(config.max_time_patches),
        }
    return LaBraMFeatureExtractor(**kwargs)


def load_for_inference(model_dir: str | os.PathLike, task: Task = "embed", device: str | torch.device = "cpu"):
    """Load ``(model, feature_extractor)`` for ``task`` from a model directory (or a cached Hub id).

    ``embed`` loads the bare :class:`LaBraMModel` (a classifier's or a pre-training checkpoint's backbone; the
    pre-training head has no trained pooling norm, which is then fresh: a warning says so). ``predict`` needs a
    fine-tuned :class:`LaBraMForSequenceClassification` and refuses a checkpoint without a trained head.
    """
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

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
            f"cannot load a model config from {model_dir}: {' '.join(str(err).split())[:300]}",
            hint="pass a local model directory (or a Hub id already in the local cache)",
        ) from None
    if getattr(config, "model_type", None) != "labram":
        kind = getattr(config, "model_type", type(config).__name__)
        raise InferenceError(
            f"{model_dir} holds a {kind!r} model, not a LaBraM encoder",
            hint="the VQ-NSP tokenizer has no embeddings or predictions; use a LaBraM backbone or classifier",
        )
    if task == "predict":
        model, info = AutoModelForSequenceClassification.from_pretrained(str(model_dir), output_loading_info=True)
        if any(k.startswith("classifier.") for k in info["missing_keys"]) or not isinstance(
            model.classifier, torch.nn.Linear
        ):
            raise InferenceError(
                f"{model_dir} has no trained classification head",
                hint="fine-tune the model first, or use `labram embed` for embeddings",
            )
    elif task == "embed":
        model, info = AutoModel.from_pretrained(str(model_dir), output_loading_info=True)
        missing = [k for k in info["missing_keys"] if k.startswith("pooler.")]
        if missing:
            warnings.warn(
                f"{model_dir}: no trained pooling LayerNorm in the checkpoint (a pre-training checkpoint?); the "
                "embeddings are LayerNorm(mean of patch tokens) with unit scale and zero shift",
                stacklevel=2,
            )
    else:
        raise ValueError(f"unknown task {task!r}; expected 'embed' or 'predict'")
    model.to(device).eval()
    return model, load_feature_extractor(model_dir, config)


# ----------------------------------------------------------------------------------------------------------------------
# Windows
# ----------------------------------------------------------------------------------------------------------------------


def resolve_window_seconds(feature_extractor, config=None, window_seconds: float | None = None) -> float:
    """The window length to use (see the module docstring); raises :class:`InferenceError` if impossible."""
    rate = float(feature_extractor.sampling_rate)
    patch = int(feature_extractor.patch_size)
    limit = int(feature_extractor.max_time_patches)
    if config is not None:
        limit = min(limit, int(config.max_time_patches))
    longest = limit * patch / rate
    if window_seconds is None:
        saved = getattr(feature_extractor, "window_seconds", None)
        window_seconds = float(saved) if saved else min(DEFAULT_WINDOW_SECONDS, longest)
    window_seconds = float(window_seconds)
    samples = window_seconds * rate
    if window_seconds <= 0 or abs(samples / patch - round(samples / patch)) > 1e-6:
        raise InferenceError(
            f"window length {window_seconds:g} s is not a positive whole number of {patch / rate:g}-s patches",
            hint=f"use e.g. --window-seconds {min(DEFAULT_WINDOW_SECONDS, longest):g}",
        )
    if window_seconds > longest + 1e-9:
        raise InferenceError(
            f"window length {window_seconds:g} s is longer than the model accepts ({limit} patches = {longest:g} s)",
            hint=f"use --window-seconds {longest:g} or less",
        )
    return window_seconds


def iter_windows(
    files: Sequence[str | os.PathLike],
    feature_extractor,
    window_seconds: float,
    stride_seconds: float | None = None,
) -> Iterator[list[Window]]:
    """Yield, per file, the list of its windows (possibly empty when the recording is shorter than a window)."""
    from .io import EEGReadError, read_raw

    for path in files:
        source = str(path)
        try:
            raw = read_raw(path, preload=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                pre = feature_extractor.preprocess_one(raw, source=source)
        except EEGReadError as err:
            raise InferenceError(str(err), hint="pass EEG files mne can read (EDF, BDF, FIF, ...) or .eeg.h5") from None
        except ValueError as err:
            raise InferenceError(
                " ".join(str(err).split()) if source in str(err) else f"{source}: {' '.join(str(err).split())}",
                hint="check the file's channels and length (see `labram prepare --help` for the preprocessing)",
            ) from None
        ids = np.asarray(pre.channel_ids, dtype=np.int64)
        windows = [
            Window(source, float(start), float(start) + window_seconds, np.ascontiguousarray(values), ids)
            for start, values in pre.windows(window_seconds, stride_seconds)
        ]
        yield windows


def _batches(windows: list[Window], batch_size: int) -> Iterator[list[Window]]:
    for i in range(0, len(windows), batch_size):
        yield windows[i : i + batch_size]


def _run(model, windows: list[Window], batch_size: int, head) -> Iterator[tuple[list[Window], np.ndarray]]:
    device = next(model.parameters()).device
    with torch.inference_mode():
        for batch in _batches(windows, batch_size):
            values = torch.from_numpy(np.stack([w.values for w in batch])).to(device)
            ids = torch.from_numpy(np.stack([w.channel_ids for w in batch])).to(device)
            yield batch, head(model(input_values=values, channel_ids=ids)).float().cpu().numpy()


def _collect(
    files, model, feature_extractor, window_seconds, stride_seconds, batch_size, head, progress
) -> tuple[list[Window], list[np.ndarray], list[str]]:
    window_seconds = resolve_window_seconds(feature_extractor, model.config, window_seconds)
    rows: list[Window] = []
    outputs: list[np.ndarray] = []
    skipped: list[str] = []
    for windows in iter_windows(files, feature_extractor, window_seconds, stride_seconds):
        if not windows:
            continue
        for batch, out in _run(model, windows, batch_size, head):
            rows.extend(batch)
            outputs.append(out)
        if progress:
            progress(windows[0].source, len(windows))
    sources = {w.source for w in rows}
    skipped = [str(f) for f in files if str(f) not in sources]
    if not rows:
        raise InferenceError(
            f"no {window_seconds:g}-s window fits in any input recording",
            hint="use a shorter --window-seconds",
        )
    return rows, outputs, skipped


# ----------------------------------------------------------------------------------------------------------------------
# Tasks
# ----------------------------------------------------------------------------------------------------------------------


def embed_files(
    files: Sequence[str | os.PathLike],
    model,
    feature_extractor,
    window_seconds: float | None = None,
    stride_seconds: float | None = None,
    batch_size: int = 32,
    progress=None,
):
    """Per-window embeddings (``pooler_output``) as a pandas DataFrame: source, start, end, embedding.

    ``embedding`` holds one float32 vector (``config.hidden_size`` values) per row. ``DataFrame.attrs`` records
    ``skipped`` (files shorter than one window) and ``window_seconds``.
    """
    import pandas as pd

    rows, outputs, skipped = _collect(
        files, model, feature_extractor, window_seconds, stride_seconds, batch_size, lambda o: o.pooler_output, progress
    )
    vectors = np.concatenate(outputs).astype(np.float32)
    table = pd.DataFrame(
        {
            "source": [w.source for w in rows],
            "start": np.array([w.start for w in rows], dtype=np.float64),
            "end": np.array([w.end for w in rows], dtype=np.float64),
            "embedding": list(vectors),
        }
    )
    table.attrs.update(skipped=skipped, window_seconds=rows[0].end - rows[0].start)
    return table


def _label_names(config) -> list[str]:
    id2label = getattr(config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(config.num_labels)]


def predict_files(
    files: Sequence[str | os.PathLike],
    model,
    feature_extractor,
    window_seconds: float | None = None,
    stride_seconds: float | None = None,
    batch_size: int = 32,
    threshold: float = 0.5,
    progress=None,
):
    """Per-window predictions as a pandas DataFrame.

    Columns: ``source``, ``start``, ``end``, ``label`` (predicted label name), ``label_id``, ``score`` (probability
    of the predicted label) and one ``prob_<name>`` column per class. Single-label models use the softmax;
    multi-label models (``problem_type="multi_label_classification"``, e.g. a converted one-logit TUAB model) use a
    sigmoid per label; a one-logit model predicts its label when the probability reaches ``threshold``, else
    ``not <label>`` (``label_id`` -1); several labels are joined with ``;``. Regression models give ``prediction``.
    """
    import pandas as pd

    rows, outputs, skipped = _collect(
        files, model, feature_extractor, window_seconds, stride_seconds, batch_size, lambda o: o.logits, progress
    )
    logits = np.concatenate(outputs).astype(np.float64)
    config = model.config
    names = _label_names(config)
    data: dict[str, object] = {
        "source": [w.source for w in rows],
        "start": [w.start for w in rows],
        "end": [w.end for w in rows],
    }
    problem = config.problem_type or ("regression" if config.num_labels == 1 else "single_label_classification")
    if problem == "regression":
        data["prediction"] = logits[:, 0] if logits.shape[1] == 1 else list(logits)
    elif problem == "multi_label_classification":
        probs = 1.0 / (1.0 + np.exp(-logits))
        if len(names) == 1:
            positive = probs[:, 0] >= threshold
            data["label"] = [names[0] if p else f"not {names[0]}" for p in positive]
            data["label_id"] = np.where(positive, 0, -1)
            data["score"] = np.where(positive, probs[:, 0], 1.0 - probs[:, 0])
        else:
            data["label"] = [";".join(n for n, p in zip(names, row) if p >= threshold) for row in probs]
            data["label_id"] = probs.argmax(axis=1)
            data["score"] = probs.max(axis=1)
        for i, name in enumerate(names):
            data[f"prob_{name}"] = probs[:, i]
    else:
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        best = probs.argmax(axis=1)
        data["label"] = [names[i] for i in best]
        data["label_id"] = best
        data["score"] = probs[np.arange(len(best)), best]
        for i, name in enumerate(names):
            data[f"prob_{name}"] = probs[:, i]
    table = pd.DataFrame(data)
    table.attrs.update(skipped=skipped, window_seconds=rows[0].end - rows[0].start)
    return table
