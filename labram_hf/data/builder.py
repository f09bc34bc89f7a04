"""Build LaBraM window datasets (Arrow on disk, :mod:`datasets`) from EEG recordings -- the public entry points.

:func:`build_dataset` reads files, directories or globs of anything :func:`labram_hf.io.read_raw` reads, runs the
original LaBraM preprocessing (:mod:`labram_hf.preprocessing`: EEG channels known to the vocabulary, band-pass
0.1-75 Hz, notch, resampling to 200 Hz, microvolts/100), cuts windows (default 10 s, non-overlapping) and writes a
:class:`datasets.Dataset` with these columns::

    input_values  Array2D(shape=(None, window_samples), float32)  # [channels, time], model units
    channel_ids   Sequence(int64)                                 # LaBraM vocabulary ids, one per row
    label         ClassLabel or int64                             # only when labelled
    source        string                                          # the recording's file
    start         float32                                         # window start, seconds from recording start
    event         string                                          # trials only: the trial's event name
    onset         float64                                         # trials only: the event time in seconds

Trials (epoched EEG, :mod:`labram_hf.data.trials`): ``epochs_from=`` / ``tmin=`` / ``tmax=`` cut event-locked trials
from continuous recordings after filtering them; epoch files (``-epo.fif``, EEGLAB epoch ``.set``) give one row per
trial (each filtered on its own); ``labels="events"`` labels trials by their event names; ``annotations=`` attaches
annotations kept in separate files (e.g. an EDF+ hypnogram) before labelling.

Next to the Arrow files it saves how the dataset was made: ``preprocessor_config.json`` (the
:class:`~labram_hf.LaBraMFeatureExtractor` that reproduces the windows) and ``label_schema.json`` (the class names
in id order), see :mod:`labram_hf.data.contract`, plus ``build_report.json``.

The result loads with ``datasets.load_from_disk(DIR)``; ``.with_format("torch")`` yields model-ready tensors, and
:class:`labram_hf.data.collators.LaBraMDataCollator` batches them (padding channel sets with a ``channel_mask``).
:func:`iter_dataset` produces the same rows as a streaming :class:`datasets.IterableDataset`;
:class:`ArrowWindowDataset` is a batched (``__getitems__``) torch view for fast loading.

The implementation is split by concern; this module re-exports it:

* :mod:`labram_hf.data.sources` -- input resolution (:func:`resolve_inputs`);
* :mod:`labram_hf.data.labels` -- label values, class order, label CSVs, label maps, label schemas;
* :mod:`labram_hf.data.windows` -- per-file preprocessing, windows and their labels (:func:`window_label`);
* :mod:`labram_hf.data.trials` -- trials: events, epoch files, annotation files, trial rows;
* :mod:`labram_hf.data.build` -- multi-process generation, reports, contract, safe output (:func:`build_dataset`,
  :func:`iter_dataset`, :func:`run_build`);
* :mod:`labram_hf.data.reader` -- :class:`ArrowWindowDataset`.
"""

from __future__ import annotations

from ..constants import DEFAULT_WINDOW_SECONDS, MAX_TIME_PATCHES, PATCH_SIZE, SAMPLING_RATE
from .build import (
    ON_ERROR,
    _balanced_bounds,
    _Split,
    build_dataset,
    build_options,
    iter_dataset,
    make_features,
    run_build,
    validate_window,
)
from .errors import DatasetBuildError, describe_error
from .labels import LabelCsv, coerce_label, parse_class_names, parse_label_map, resolve_labels
from .reader import ArrowWindowDataset, _RowViews
from .sources import EEG_FILE_SUFFIXES, input_roots, resolve_inputs
from .windows import (
    MARKER_MODES,
    STRADDLE_RULES,
    Markers,
    OnError,
    Straddle,
    WindowOptions,
    _window_examples,
    annotation_events,
    load_preprocessed,
    make_extractor,
    marker_spans,
    window_label,
)

#: The original name of :data:`labram_hf.constants.MAX_TIME_PATCHES` here.
MAX_PATCHES = MAX_TIME_PATCHES

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "EEG_FILE_SUFFIXES",
    "MARKER_MODES",
    "ON_ERROR",
    "PATCH_SIZE",
    "SAMPLING_RATE",
    "STRADDLE_RULES",
    "ArrowWindowDataset",
    "DatasetBuildError",
    "LabelCsv",
    "Markers",
    "OnError",
    "Straddle",
    "WindowOptions",
    "annotation_events",
    "build_dataset",
    "build_options",
    "coerce_label",
    "describe_error",
    "input_roots",
    "iter_dataset",
    "load_preprocessed",
    "make_extractor",
    "make_features",
    "marker_spans",
    "parse_class_names",
    "parse_label_map",
    "resolve_inputs",
    "resolve_labels",
    "run_build",
    "validate_window",
    "window_label",
]

# Private helpers that other modules and tests import from here.
_ = (_balanced_bounds, _Split, _RowViews, _window_examples)
