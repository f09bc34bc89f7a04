"""Per-file window generation: read and preprocess one recording, cut windows, label them.

Runs in the worker processes of :func:`labram_hf.data.build_dataset`. The preprocessing is that of the dataset's
:class:`~labram_hf.LaBraMFeatureExtractor` (:func:`make_extractor`): the extractor saved next to the dataset
reproduces its windows. Window positions come from :func:`labram_hf.preprocessing.window_starts`.

Annotation labels: an annotation whose description is in the label map is an event ``(onset, offset, class)``;
:func:`window_label` decides the class of each window from the events it overlaps (the ``straddle`` rule).
Annotations of duration 0 are *markers*; with ``markers="point"`` (default) they are point events (they only count
for ``straddle="any"``), with ``markers="span"`` each mapped marker labels the time from its onset until the onset
of the next mapped annotation (the last one: until the end of the recording), e.g. ``"eyes open"`` ...
``"eyes closed"`` (:func:`marker_spans`).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..constants import DEFAULT_WINDOW_SECONDS, PATCH_SIZE, SAMPLING_RATE
from .labels import norm_desc

__all__ = [
    "MARKER_MODES",
    "STRADDLE_RULES",
    "WindowOptions",
    "annotation_events",
    "channel_mapping",
    "load_preprocessed",
    "make_extractor",
    "marker_spans",
    "window_label",
]

Straddle = Literal["majority", "drop", "any"]
Markers = Literal["point", "span"]
OnError = Literal["fail", "skip"]

#: Values of ``straddle`` (see :func:`window_label`).
STRADDLE_RULES: tuple[str, ...] = ("majority", "drop", "any")
#: Values of ``markers`` (see the module docstring).
MARKER_MODES: tuple[str, ...] = ("point", "span")
#: Description counts kept per file in the build report (to explain builds that produce no windows).
_MAX_DESCRIPTIONS = 20


@dataclass
class WindowOptions:
    """Everything a worker needs to turn one file into windows (picklable; not sharded by :mod:`datasets`)."""

    window_seconds: float = DEFAULT_WINDOW_SECONDS
    stride_seconds: float | None = None
    l_freq: float | None = 0.1
    h_freq: float | None = 75.0
    notch: float | None = 50.0
    channel_policy: str = "strict"
    channels: tuple[str, ...] | None = None
    montage: str | None = None  # electrode positions for the "nearest"/"interpolate" policies (mne name or file)
    bipolar: str | None = None  # bipolar derivations: None (an error), "anode" or "drop"
    allow_truncated: bool = False
    labels_from: Literal["none", "file", "annotations", "events"] = "none"
    label_map: dict[str, int] | None = None  # normalised description / event name -> class index
    straddle: Straddle = "majority"
    markers: Markers = "point"
    background: int | None = None
    on_error: OnError = "fail"
    report_dir: str | None = None
    progress: bool = False
    # recipe hook: "module:function" producing examples for a file, e.g. the TUEV event windows
    recipe: str | None = None
    recipe_options: dict[str, Any] = field(default_factory=dict)  # free-form settings for a custom recipe
    # trials (labram_hf.data.trials): how they are cut; None for plain windows
    trials: Any = None
    # recording (real path) -> annotation file attached before labelling (--annotations)
    annotation_files: dict[str, str] | None = None

    @property
    def strict_channels(self) -> bool:
        """``True`` when unknown EEG channel names raise (``channel_policy == "strict"``)."""
        return self.channel_policy == "strict"

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * SAMPLING_RATE))

    @property
    def stride_samples(self) -> int:
        return self.window_samples if self.stride_seconds is None else int(round(self.stride_seconds * SAMPLING_RATE))


def make_extractor(opts: WindowOptions):
    """The :class:`~labram_hf.LaBraMFeatureExtractor` that preprocesses (and windows) exactly as ``opts``."""
    from ..feature_extraction_labram import LaBraMFeatureExtractor

    return LaBraMFeatureExtractor(
        sampling_rate=int(SAMPLING_RATE),
        patch_size=PATCH_SIZE,
        l_freq=opts.l_freq,
        h_freq=opts.h_freq,
        notch_freq=opts.notch,
        channel_policy=opts.channel_policy,
        channels=list(opts.channels) if opts.channels is not None else None,
        montage=opts.montage,
        bipolar=opts.bipolar,
        window_seconds=opts.window_seconds,
        stride_seconds=opts.stride_seconds if opts.stride_seconds is not None else opts.window_seconds,
        **_trial_settings(opts),
    )


def _trial_settings(opts: WindowOptions) -> dict[str, Any]:
    """Extra extractor attributes of a trial dataset (saved in preprocessor_config.json): the events trials were
    cut at and the part of each trial kept (seconds around its event; the extractor crops mne Epochs to it)."""
    spec = opts.trials
    if spec is None:
        return {}
    return {"epochs_from": spec.events, "epochs_tmin": spec.tmin, "epochs_tmax": spec.tmax}


# --------------------------------------------------------------------------------------------------------------------
# Labelling windows from events
# --------------------------------------------------------------------------------------------------------------------


def window_label(
    start: float,
    stop: float,
    events: Sequence[tuple[float, float, int]],
    *,
    straddle: Straddle = "majority",
    background: int | None = None,
) -> int | None:
    """The class of the window ``[start, stop)`` given events ``(onset, offset, class_index)`` in seconds.

    Rules for windows that straddle event boundaries:

    * ``"majority"``: the class covering more than half of the window (uncovered time counts for ``background``
      when it is given); ``None`` (window dropped) when no class does.
    * ``"drop"``: only windows lying entirely inside events of a single class keep that class; windows touching
      two classes or partly uncovered are dropped; windows touching no event get ``background`` (or are dropped).
    * ``"any"``: any overlap labels the window (point events count when their onset is inside); with several
      classes the one with the largest overlap wins, ties going to the lower class index.

    Class indices are the dataset's class ids.
    """
    length = stop - start
    cover: dict[int, list[tuple[float, float]]] = {}
    points: set[int] = set()
    for on, off, cls in events:
        if off <= on:  # point event
            if start <= on < stop:
                points.add(cls)
            continue
        lo, hi = max(on, start), min(off, stop)
        if hi > lo:
            cover.setdefault(cls, []).append((lo, hi))
    amount = {cls: _union_length(spans) for cls, spans in cover.items()}
    eps = 1e-9 * max(1.0, length)
    if straddle == "majority":
        cands = dict(amount)
        if background is not None:
            union = _union_length([s for spans in cover.values() for s in spans])
            cands[background] = cands.get(background, 0.0) + (length - union)
        best = sorted(cands.items(), key=lambda kv: (-kv[1], kv[0]))
        if best and best[0][1] > 0.5 * length + eps:
            return best[0][0]
        return None
    if straddle == "drop":
        if not amount and not points:
            return background
        classes = set(amount) | points
        if len(classes) == 1:
            (cls,) = classes
            if amount.get(cls, 0.0) >= length - eps:
                return cls
        return None
    if straddle == "any":
        if not amount and not points:
            return background
        ranked = sorted(set(amount) | points, key=lambda c: (-amount.get(c, 0.0), c))
        return ranked[0]
    raise ValueError(f"straddle must be one of {STRADDLE_RULES}, got {straddle!r}")


def _union_length(spans: list[tuple[float, float]]) -> float:
    if not spans:
        return 0.0
    spans = sorted(spans)
    total, lo, hi = 0.0, spans[0][0], spans[0][1]
    for a, b in spans[1:]:
        if a > hi:
            total += hi - lo
            lo, hi = a, b
        else:
            hi = max(hi, b)
    return total + hi - lo


def marker_spans(events: Sequence[tuple[float, float, int]], end: float) -> list[tuple[float, float, int]]:
    """Turn markers (events of duration 0) into spans: each lasts until the onset of the next event that starts
    later (marker or not), the last one until ``end`` (seconds). Events with a duration are kept as they are."""
    onsets = sorted({on for on, _, _ in events})
    out = []
    for on, off, cls in events:
        if off > on:
            out.append((on, off, cls))
            continue
        k = bisect.bisect_right(onsets, on)  # the first onset after this marker
        stop = onsets[k] if k < len(onsets) else end
        if stop > on:
            out.append((on, stop, cls))
    return out


def annotation_events(
    raw, label_map: dict[str, int], *, markers: Markers = "point", stats: dict[str, Any] | None = None
) -> list[tuple[float, float, int]]:
    """Events ``(onset, offset, class)`` in seconds from the first sample, for annotations in ``label_map``.

    ``stats`` (optional) receives ``descriptions`` (counts of the most common descriptions, for messages),
    ``events_matched`` and ``markers_matched`` (matched annotations of duration 0).
    """
    ann = raw.annotations
    events: list[tuple[float, float, int]] = []
    counts: Counter[str] = Counter()
    if ann is not None and len(ann):
        offset = raw.first_time if ann.orig_time is not None else 0.0
        for on, dur, desc in zip(ann.onset, ann.duration, ann.description):
            counts[str(desc).strip()] += 1
            cls = label_map.get(norm_desc(desc))
            if cls is None:
                continue
            start = float(on) - offset
            events.append((start, start + float(dur), int(cls)))
    if stats is not None:
        stats["descriptions"] = dict(counts.most_common(_MAX_DESCRIPTIONS))
        stats["events_matched"] = len(events)
        stats["markers_matched"] = sum(1 for on, off, _ in events if off <= on)
    if markers == "span":
        events = marker_spans(events, raw.n_times / float(raw.info["sfreq"]))
    return events


# --------------------------------------------------------------------------------------------------------------------
# Reading and windowing one file
# --------------------------------------------------------------------------------------------------------------------


def load_preprocessed(path: Path, opts: WindowOptions, *, min_seconds: float | None = None):
    """Read and preprocess one file as the dataset's feature extractor does; returns ``(PreprocessedEEG, raw,
    input_sfreq)``.

    The duration is checked from the header before any sample is read, so a too-short file fails fast. Truncated
    files raise unless ``opts.allow_truncated`` (:func:`labram_hf.io.read_raw`).
    """
    from ..io import read_raw

    raw = read_raw(path, preload=False, allow_truncated=opts.allow_truncated)
    if opts.annotation_files:
        from .trials import attach_annotation_file

        attach_annotation_file(raw, path, opts.annotation_files)
    _check_renamed_duplicates(path, raw.ch_names)
    sfreq = float(raw.info["sfreq"])
    need = opts.window_seconds if min_seconds is None else min_seconds
    duration = raw.n_times / sfreq
    if duration * SAMPLING_RATE < round(need * SAMPLING_RATE) - 1e-6:
        raise ValueError(
            f"{path}: recording too short: {duration:.3g} s, shorter than one {need:g}-s window; "
            "use a shorter --window-seconds or leave the file out"
        )
    pre = make_extractor(opts).preprocess_one(raw, source=str(path))
    return pre, raw, sfreq


def channel_mapping(path: str | Path, opts: WindowOptions, *, check: bool = True):
    """The channel mapping the preprocessing of ``path`` uses (:func:`labram_hf.montage.map_channels` with the
    channel settings of ``opts``), from the file's header alone: no sample is read.

    ``check=False`` reports unknown names, bipolar derivations and empty results in the mapping table instead of
    raising (as ``labram channels`` shows them). Returns a :class:`labram_hf.montage.ChannelMapping`.
    """
    from ..io import read_eeg
    from ..montage import map_channels

    rec = read_eeg(path, preload=False, allow_truncated=opts.allow_truncated)
    return map_channels(
        rec.ch_names, ch_types=rec.get_channel_types(), info=rec.info, channel_policy=opts.channel_policy,
        bipolar=opts.bipolar, montage=opts.montage, channels=list(opts.channels) if opts.channels else None,
        source=str(path), warn=False, check=check,
    )  # fmt: skip


def _check_renamed_duplicates(path: Path, names: Sequence[str]) -> None:
    """mne renames repeated channel labels to ``NAME-0``, ``NAME-1``...; report repeated electrodes clearly."""
    from ..channels import channel_id

    groups: dict[str, list[int]] = {}
    for n in names:
        m = re.match(r"^(.*)-(\d+)$", n)
        if m:
            groups.setdefault(m.group(1), []).append(int(m.group(2)))
    dups = [base for base, nums in groups.items()
            if len(nums) > 1 and 0 in nums and base not in names and channel_id(base) is not None]  # fmt: skip
    if dups:
        raise ValueError(
            f"{path}: duplicate channel names {dups}: each appears more than once in the file (read as "
            f"{[n for n in names if any(n.startswith(d + '-') for d in dups)]}); keep one of each"
        )


def _window_examples(
    path: Path, label: int | None, opts: WindowOptions, info: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Windows of one file (the default recipe); fills ``info`` with the input rate, the channels, the number of
    windows cut and, for annotation labels, the annotation statistics."""
    from ..preprocessing import window_starts

    pre, raw, sfreq = load_preprocessed(path, opts)
    info["sfreq"] = sfreq
    info["channels"] = list(pre.channel_names)
    starts = window_starts(pre.n_times, opts.window_samples, opts.stride_samples)
    info["cut"] = int(starts.size)
    ids = np.asarray(pre.channel_ids, dtype=np.int64)
    events = None
    if opts.labels_from == "annotations":
        events = annotation_events(raw, opts.label_map or {}, markers=opts.markers, stats=info)
    yield from window_rows(pre.values, ids, str(path), starts, opts, events=events, label=label)


def window_rows(
    values: np.ndarray,
    ids: np.ndarray,
    source: str,
    starts: np.ndarray,
    opts: WindowOptions,
    *,
    events=None,
    label: Any = None,
    offset_seconds: float = 0.0,
    extra: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Dataset rows of the windows of ``values`` ``[C, T]`` (200 Hz) that begin at the sample ``starts``:
    ``input_values`` (a view), ``channel_ids``, ``source``, ``start`` (seconds, plus ``offset_seconds``), the
    ``extra`` columns, and ``label`` -- from the annotation ``events`` (windows they leave unlabelled are skipped)
    or the file's ``label``."""
    win = opts.window_samples
    for s in starts.tolist():
        t0 = offset_seconds + s / SAMPLING_RATE
        row: dict[str, Any] = {"input_values": values[:, s : s + win], "channel_ids": ids, "source": source,
                               "start": np.float32(t0), **(extra or {})}  # fmt: skip
        if events is not None:
            cls = window_label(t0, t0 + win / SAMPLING_RATE, events, straddle=opts.straddle,
                               background=opts.background)  # fmt: skip
            if cls is None:
                continue
            row["label"] = cls
        elif label is not None:
            row["label"] = label
        yield row


def recipe_fn(opts: WindowOptions) -> Callable[..., Iterator[dict[str, Any]]]:
    """The per-file example function: ``opts.recipe`` (``"module:function"``), the trials of a trial build
    (:func:`labram_hf.data.trials.trial_examples`) or the plain windows."""
    if opts.recipe is None and opts.trials is not None:
        from .trials import trial_examples

        return trial_examples
    if opts.recipe is None:
        import sys

        return sys.modules[__name__]._window_examples  # looked up at call time (tests may replace it)
    import importlib

    mod, _, name = opts.recipe.partition(":")
    return getattr(importlib.import_module(mod), name)
