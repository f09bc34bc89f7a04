"""Trials (epoched EEG) as dataset rows: event-locked trials cut from continuous recordings, and epoch files.

Two kinds of input give trials:

* **continuous recordings with events** (``build_dataset(..., epochs_from=EVENTS, tmin=S, tmax=S)``, ``labram prepare
  FILES --epochs-from EVENTS --tmin S --tmax S``). The whole recording is preprocessed first (the same fused
  band-pass, notch and resampling as for windows: filtering is done on the continuous signal), then each trial
  ``[onset + tmin, onset + tmax)`` is cut at 200 Hz sample positions: it starts at sample
  ``round(onset * 200) + round(tmin * 200)`` and lasts ``round((tmax - tmin) * 200)`` samples. Trials that do not
  fit inside the recording are dropped with a warning counting them. ``EVENTS`` is one of

  - ``annotations``: every annotation onset (with ``--labels events`` and a ``--label-map``: only the mapped
    descriptions);
  - ``annotations:DESC1,DESC2``: only annotations with these descriptions (case and spaces ignored);
  - ``stim`` or ``stim:CHANNEL`` (or a bare channel name): the onsets of :func:`mne.find_events` on that stim
    channel (mne's default stim channels for ``stim``); the event name is the code (``"1"``, ``"2"``...).

* **epoch files**: FIF epoch files (``-epo.fif``) and EEGLAB ``.set`` files holding trials (and
  :class:`mne.Epochs` given to the feature extractor). Only the trials exist, so each is filtered on its own with
  the documented padding strategy of :func:`labram_hf.preprocessing.filter_trials` (mirror-periodic extension; a
  warning says when trials are shorter than the filters need). ``tmin`` / ``tmax``, when given, keep
  ``[tmin, tmax)`` seconds around each event, cut after filtering. A description list (``annotations:A,B``) selects
  trials by event name here too.

**Rows.** A trial must hold a whole number of 1-s patches. The row length (``window_seconds``) defaults to the trial
length: ``tmax - tmin``, which must then be a whole number of seconds, or, for epoch files without
``tmin``/``tmax``, the trial length at 200 Hz rounded down to whole seconds (an mne trial from -0.2 to 0.8 s has
201 samples: the last one is dropped). With a shorter ``window_seconds`` (and ``stride_seconds``), windows are cut
inside each trial, from its start. Every row carries ``event`` (the event name: the annotation description, the
stim code, or the epoch file's ``event_id`` name) and ``onset`` (the event time in seconds: from the first sample of
a continuous recording; for epoch files mne's event sample / sampling rate); ``start`` is the row's first sample in
the same time base.

**Labels.** ``labels="events"`` (``--labels events``) labels each trial by its event name, through ``label_map``
when one is given (events it does not map are dropped) -- the class-order rules of :mod:`labram_hf.data.labels`
apply (sorted class names unless ``class_names`` / ``label_schema``). File labels (a CSV, a mapping, a function)
label every trial of the file; ``labels="annotations"`` labels trials cut from continuous recordings by the
annotations they overlap (the ``straddle`` rule).
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import PATCH_SIZE, SAMPLING_RATE
from .errors import DatasetBuildError, describe_error
from .labels import norm_desc

__all__ = [
    "TrialSpec",
    "attach_annotation_file",
    "continuous_events",
    "epoch_event_names",
    "make_trial_spec",
    "resolve_annotation_files",
    "scan_trial_inputs",
    "trial_examples",
    "trial_window",
]

_EVENTS_HINT = "use --epochs-from annotations, annotations:DESC1,DESC2, stim or stim:CHANNEL"
#: Event names kept per file in the build report (to explain builds that produce no trial).
_MAX_NAMES = 20


@dataclass(frozen=True)
class TrialSpec:
    """How trials are cut (picklable; sent to the worker processes).

    Attributes:
        events: the ``--epochs-from`` value for continuous recordings (``None``: only epoch files are accepted).
        tmin, tmax: the trial ``[tmin, tmax)`` in seconds relative to its event (for epoch files: optional crop).
    """

    events: str | None = None
    tmin: float | None = None
    tmax: float | None = None

    @property
    def kind(self) -> str | None:
        """``"annotations"``, ``"stim"`` or ``None`` (no ``events``)."""
        if self.events is None:
            return None
        head = self.events.split(":", 1)[0].strip().lower()
        return "annotations" if head == "annotations" else "stim"

    @property
    def descriptions(self) -> frozenset[str] | None:
        """The normalised descriptions of ``annotations:A,B`` (``None``: every annotation)."""
        if self.kind != "annotations" or ":" not in self.events:
            return None
        return frozenset(norm_desc(d) for d in self.events.split(":", 1)[1].split(",") if d.strip())

    @property
    def stim_channel(self) -> str | None:
        """The stim channel of ``stim:NAME`` or a bare ``NAME`` (``None``: mne's default stim channels)."""
        if self.kind != "stim":
            return None
        text = self.events.strip()
        if text.lower() == "stim":
            return None
        return text.split(":", 1)[1].strip() if text.lower().startswith("stim:") else text

    @property
    def trial_seconds(self) -> float | None:
        """``tmax - tmin`` when both are given."""
        if self.tmin is None or self.tmax is None:
            return None
        return self.tmax - self.tmin

    @property
    def start_offset(self) -> int:
        """First sample of a trial relative to its event, at 200 Hz."""
        return int(round((self.tmin or 0.0) * SAMPLING_RATE))

    @property
    def trial_samples(self) -> int | None:
        return None if self.trial_seconds is None else int(round(self.trial_seconds * SAMPLING_RATE))


def make_trial_spec(epochs_from: str | None, tmin: Any, tmax: Any) -> TrialSpec:
    """A validated :class:`TrialSpec` (every problem is a :class:`DatasetBuildError` naming the value)."""

    def seconds(name: str, value: Any) -> float | None:
        if value is None:
            return None
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise DatasetBuildError(f"{name} must be a number of seconds, got {value!r}") from None
        if not math.isfinite(out):
            raise DatasetBuildError(f"{name} must be a finite number of seconds, got {value!r}")
        return out

    lo, hi = seconds("tmin", tmin), seconds("tmax", tmax)
    if epochs_from is not None:
        text = str(epochs_from).strip()
        if not text or text.lower() in ("annotations:", "stim:"):
            raise DatasetBuildError(f"epochs_from {epochs_from!r} names no events", hint=_EVENTS_HINT)
        if text.lower().startswith("annotations:") and not any(d.strip() for d in text.split(":", 1)[1].split(",")):
            raise DatasetBuildError(f"epochs_from {epochs_from!r} lists no annotation description", hint=_EVENTS_HINT)
        if lo is None or hi is None:
            raise DatasetBuildError(
                f"epochs_from={text!r} needs tmin and tmax: the trial is [onset + tmin, onset + tmax) seconds",
                hint="e.g. --epochs-from annotations --tmin 0 --tmax 4",
            )
        epochs_from = text
    if lo is not None and hi is not None and hi <= lo:
        raise DatasetBuildError(f"tmax ({hi:g} s) must be after tmin ({lo:g} s)")
    for name, value in (("tmin", lo), ("tmax", hi)):
        if value is not None and abs(value * SAMPLING_RATE - round(value * SAMPLING_RATE)) > 1e-6:
            raise DatasetBuildError(
                f"{name}={value:g} s is not a whole number of samples at {SAMPLING_RATE:g} Hz (a multiple of "
                f"{1 / SAMPLING_RATE:g} s)"
            )
    return TrialSpec(epochs_from, lo, hi)


# --------------------------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------------------------


def continuous_events(raw, spec: TrialSpec, *, source: str | os.PathLike | None = None) -> list[tuple[float, str]]:
    """The events ``(onset, name)`` of a continuous recording, onsets in seconds from its first sample.

    Annotations (``spec.kind == "annotations"``): each annotation onset, its description as the name, filtered by
    ``spec.descriptions``. Stim channels: :func:`mne.find_events` (codes as names).
    """
    import mne

    where = f"{source}: " if source is not None else ""
    if spec.kind == "annotations":
        ann = raw.annotations
        if ann is None or not len(ann):
            return []
        offset = raw.first_time if ann.orig_time is not None else 0.0
        keep = spec.descriptions
        out = []
        for on, desc in zip(ann.onset, ann.description):
            name = str(desc).strip()
            if keep is None or norm_desc(name) in keep:
                out.append((float(on) - offset, name))
        return out
    channel = spec.stim_channel
    if channel is not None and channel not in raw.ch_names:
        shown = ", ".join(raw.ch_names[:12]) + (" ..." if len(raw.ch_names) > 12 else "")
        raise DatasetBuildError(f"{where}no channel named {channel!r} for the events (channels: {shown})",
                                hint=_EVENTS_HINT)  # fmt: skip
    try:
        found = mne.find_events(raw, stim_channel=channel, shortest_event=1, initial_event=True, verbose="error")
    except ValueError as err:
        raise DatasetBuildError(f"{where}cannot read events from the stim channel: {err}", hint=_EVENTS_HINT) from err
    sfreq = float(raw.info["sfreq"])
    return [(float(s - raw.first_samp) / sfreq, str(int(code))) for s, _, code in found]


def epoch_event_names(epochs) -> list[str]:
    """The event name of every trial of ``epochs``: its ``event_id`` name, or the event code as text."""
    names: dict[int, str] = {}
    for name, code in (epochs.event_id or {}).items():
        names.setdefault(int(code), str(name))
    return [names.get(int(c), str(int(c))) for c in np.asarray(epochs.events)[:, 2]]


def _select(name: str, spec: TrialSpec, opts) -> tuple[bool, int | None]:
    """Whether the event ``name`` makes a trial, and its label for ``labels="events"``."""
    keep = spec.descriptions
    if keep is not None and norm_desc(name) not in keep:
        return False, None
    if opts.labels_from == "events":
        cls = (opts.label_map or {}).get(norm_desc(name))
        return cls is not None, cls
    return True, None


# --------------------------------------------------------------------------------------------------------------------
# Annotation files (--annotations)
# --------------------------------------------------------------------------------------------------------------------


def resolve_annotation_files(files: Sequence[Path], annotations: Any) -> dict[str, str] | None:
    """Recording (real path) -> annotation file, from ``annotations``: one file (exactly one input recording), a
    ``csv:PATH`` with columns ``path,annotations`` (relative paths from the CSV's directory) or a mapping
    recording -> annotation file. Every recording needs one; every annotation file must exist."""
    import csv

    if annotations is None:
        return None
    table: dict[str, str] = {}
    if isinstance(annotations, (str, os.PathLike)) and not os.fspath(annotations).startswith("csv:"):
        path = Path(annotations).expanduser()
        if len(files) != 1:
            raise DatasetBuildError(
                f"annotations={os.fspath(annotations)!r} is one annotation file, but there are {len(files)} input "
                "recordings",
                hint="give one recording, or --annotations csv:PATH with columns path,annotations",
            )
        table[os.path.realpath(files[0])] = str(path)
    elif isinstance(annotations, (str, os.PathLike)):
        sheet = Path(os.fspath(annotations)[4:]).expanduser()
        try:
            with open(sheet, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                cols = {c.strip().lower(): c for c in reader.fieldnames or []}
                if "path" not in cols or "annotations" not in cols:
                    raise DatasetBuildError(f"{sheet}: the annotation CSV needs columns 'path' and 'annotations' "
                                            f"(found {reader.fieldnames})")  # fmt: skip
                for row in reader:
                    rec, ann = (row[cols["path"]] or "").strip(), (row[cols["annotations"]] or "").strip()
                    if rec and ann:
                        rec_p, ann_p = Path(rec).expanduser(), Path(ann).expanduser()
                        rec_p = rec_p if rec_p.is_absolute() else sheet.parent / rec_p
                        ann_p = ann_p if ann_p.is_absolute() else sheet.parent / ann_p
                        table[os.path.realpath(rec_p)] = str(ann_p)
        except OSError as err:
            raise DatasetBuildError(f"{sheet}: cannot read the annotation CSV ({err})") from err
    else:
        table = {os.path.realpath(Path(k).expanduser()): os.fspath(v) for k, v in dict(annotations).items()}
    out: dict[str, str] = {}
    for f in files:
        key = os.path.realpath(f)
        if key not in table:
            raise DatasetBuildError(f"{f}: no annotation file given for this recording",
                                    hint="list every recording in the --annotations CSV")  # fmt: skip
        if not Path(table[key]).is_file():
            raise DatasetBuildError(f"{table[key]}: annotation file not found (for {f})")
        out[key] = table[key]
    return out


def attach_annotation_file(raw, path: Path, annotation_files: dict[str, str] | None) -> None:
    """Attach the annotation file of recording ``path`` (``annotation_files``: real path -> file), if it has one."""
    if not annotation_files:
        return
    ann = annotation_files.get(os.path.realpath(path))
    if ann is not None:
        from ..io import attach_annotations

        attach_annotations(raw, ann, source=str(path))


# --------------------------------------------------------------------------------------------------------------------
# Scanning the inputs (main process)
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class TrialScan:
    """What the main process learns about one input before the build: is it an epoch file, how long are its trials
    (at 200 Hz, after the optional crop) and which events does it hold."""

    file: Path
    epochs: bool
    seconds: float | None = None
    names: Counter | None = None


def _epoch_seconds(epochs, spec: TrialSpec, path: Path) -> float:
    """The length (s) of the part of each trial that is kept, at 200 Hz."""
    sfreq = float(epochs.info["sfreq"])
    n_out = int(round(len(epochs.times) * SAMPLING_RATE / sfreq))
    first = float(epochs.tmin)
    t0 = first if spec.tmin is None else spec.tmin
    t1 = first + n_out / SAMPLING_RATE if spec.tmax is None else spec.tmax
    a = int(round((t0 - first) * SAMPLING_RATE))
    b = a + int(round((t1 - t0) * SAMPLING_RATE))
    if a < 0 or b > n_out or b <= a:
        raise DatasetBuildError(
            f"{path}: tmin={t0:g} s / tmax={t1:g} s lie outside its trials, which run from {first:g} s to "
            f"{first + len(epochs.times) / sfreq:g} s around their events",
            hint="choose --tmin/--tmax inside the trials, or leave them out to keep whole trials",
        )
    return (b - a) / SAMPLING_RATE


def scan_trial_inputs(
    files: Sequence[Path],
    spec: TrialSpec,
    *,
    annotation_files: dict[str, str] | None = None,
    need_names: bool = False,
    allow_truncated: bool = False,
    on_error: str = "fail",
) -> tuple[list[TrialScan], list[dict[str, Any]]]:
    """Read the headers of the inputs of a trial build: ``(scans of the usable files, skipped records)``.

    Continuous recordings need ``spec.events``; their events are only read when ``need_names`` (the class names of
    ``labels="events"`` come from them). Epoch files are read for their trial length and event names.
    """
    from ..io import is_epochs_file, read_epochs, read_raw

    scans: list[TrialScan] = []
    skipped: list[dict[str, Any]] = []
    epoch_files = [f for f in files if is_epochs_file(f)]
    if spec.events is None and len(epoch_files) < len(files):
        cont = next(f for f in files if f not in epoch_files)
        raise DatasetBuildError(
            f"{cont}: a continuous recording, while {epoch_files[0]} holds trials: continuous recordings need "
            "--epochs-from EVENTS --tmin S --tmax S (epochs_from=, tmin=, tmax=) to be cut into trials",
            hint="pass --epochs-from, or prepare continuous recordings and epoch files separately",
        )
    for f in files:
        try:
            if f in epoch_files:
                epochs = read_epochs(f, preload=False)
                names = Counter(n for n in epoch_event_names(epochs)
                                if spec.descriptions is None or norm_desc(n) in spec.descriptions)  # fmt: skip
                scans.append(TrialScan(f, True, _epoch_seconds(epochs, spec, f), names))
                continue
            names = None
            if need_names:
                raw = read_raw(f, preload=False, allow_truncated=allow_truncated)
                attach_annotation_file(raw, f, annotation_files)
                names = Counter(name for _, name in continuous_events(raw, spec, source=f))
            scans.append(TrialScan(f, False, spec.trial_seconds, names))
        except Exception as err:  # noqa: BLE001 - every failure names the file
            msg = describe_error(f, err)
            if on_error == "fail":
                raise DatasetBuildError(msg, hint=getattr(err, "hint", None)) from err
            skipped.append({"file": str(f), "status": "skipped", "reason": msg, "windows": 0})
    return scans, skipped


def trial_window(scans: Sequence[TrialScan], spec: TrialSpec, window_seconds: Any) -> float:
    """The row length of a trial build: ``window_seconds`` when given (no longer than any trial), else the trial
    length (``tmax - tmin``, whole seconds) or, for epoch files, the shortest trial rounded down to whole seconds."""
    lengths = [(s.seconds, s.file) for s in scans if s.seconds is not None]
    shortest = min(lengths, key=lambda x: x[0]) if lengths else None
    if window_seconds is not None:
        window = float(window_seconds)
        if shortest is not None and window > shortest[0] + 1e-9:
            raise DatasetBuildError(
                f"window_seconds={window:g} is longer than the trials of {shortest[1]} ({shortest[0]:g} s)",
                hint="use a --window-seconds no longer than the trials, or longer trials (--tmin/--tmax)",
            )
        return window
    if shortest is None:
        raise DatasetBuildError("no trial length: give tmin and tmax")
    seconds, where = shortest
    if spec.trial_seconds is not None and all(s.seconds == spec.trial_seconds for s in scans):
        patches = seconds * SAMPLING_RATE / PATCH_SIZE
        if abs(patches - round(patches)) > 1e-9:
            raise DatasetBuildError(
                f"the trials are {seconds:g} s long (tmax - tmin), not a whole number of 1-s patches",
                hint="choose --tmin/--tmax a whole number of seconds apart (e.g. --tmin -1 --tmax 3), or pass "
                "--window-seconds to cut windows of whole seconds inside each trial",
            )
        return float(round(patches) * PATCH_SIZE / SAMPLING_RATE)
    whole = math.floor(seconds * SAMPLING_RATE / PATCH_SIZE + 1e-9)
    if whole < 1:
        raise DatasetBuildError(f"{where}: its trials are {seconds:g} s long, shorter than one 1-s patch",
                                hint="LaBraM needs trials of at least 1 s")  # fmt: skip
    return float(whole * PATCH_SIZE / SAMPLING_RATE)


# --------------------------------------------------------------------------------------------------------------------
# Rows (worker processes)
# --------------------------------------------------------------------------------------------------------------------


def _rows(values: np.ndarray, ids: np.ndarray, src: str, starts_s: float, event: str, onset: float, label: Any,
          opts, events=None) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The rows of one trial ``values`` ``[C, T]`` (200 Hz): windows of ``opts.window_samples`` from its start."""
    from ..preprocessing import window_starts
    from .windows import window_rows

    starts = window_starts(values.shape[1], opts.window_samples, opts.stride_samples)
    yield from window_rows(values, ids, src, starts, opts, events=events, label=label, offset_seconds=starts_s,
                           extra={"event": event, "onset": float(onset)})  # fmt: skip


def _continuous_trials(path: Path, label: Any, opts, info: dict[str, Any]) -> Iterator[dict[str, Any]]:
    from .windows import annotation_events, load_preprocessed

    spec: TrialSpec = opts.trials
    pre, raw, sfreq = load_preprocessed(path, opts, min_seconds=opts.window_seconds)
    info["sfreq"] = sfreq
    info["channels"] = list(pre.channel_names)
    found = continuous_events(raw, spec, source=path)
    info["event_names"] = dict(Counter(n for _, n in found).most_common(_MAX_NAMES))
    events = None
    if opts.labels_from == "annotations":
        events = annotation_events(raw, opts.label_map or {}, markers=opts.markers, stats=info)
    ids = np.asarray(pre.channel_ids, dtype=np.int64)
    length = spec.trial_samples
    trials = outside = cut = 0
    src = str(path)
    rows: list[dict[str, Any]] = []
    for onset, name in found:
        use, cls = _select(name, spec, opts)
        if not use:
            continue
        trials += 1
        first = int(round(onset * SAMPLING_RATE)) + spec.start_offset
        if first < 0 or first + length > pre.n_times:
            outside += 1
            continue
        values = pre.values[:, first : first + length]  # [C, trial samples]
        before = len(rows)
        rows.extend(_rows(values, ids, src, first / SAMPLING_RATE, name, onset,
                          cls if opts.labels_from == "events" else label, opts, events))  # fmt: skip
        cut += len(rows) - before
    info.update(trials=trials, trials_outside=outside, cut=cut)
    if outside:
        warnings.warn(
            f"{path}: {outside} of {trials} trial(s) do not fit inside the recording ([onset{spec.tmin:+g} s, "
            f"onset{spec.tmax:+g} s) reaches before its start or past its end) and were dropped",
            UserWarning,
            stacklevel=2,
        )
    yield from rows


def _epoch_trials(path: Path, label: Any, opts, info: dict[str, Any]) -> Iterator[dict[str, Any]]:
    from ..io import read_epochs
    from .windows import make_extractor

    spec: TrialSpec = opts.trials
    if opts.labels_from == "annotations":
        raise DatasetBuildError(f"{path}: an epoch file has no annotations to label its trials with",
                                hint="label trials by their event names with --labels events")  # fmt: skip
    epochs = read_epochs(path)
    info["sfreq"] = float(epochs.info["sfreq"])
    names = epoch_event_names(epochs)
    info["event_names"] = dict(Counter(names).most_common(_MAX_NAMES))
    chosen = [(i, n, c) for i, n in enumerate(names) for use, c in [_select(n, spec, opts)] if use]
    info.update(trials=len(chosen), trials_outside=0, cut=0)
    if not chosen:
        return
    keep = [i for i, _, _ in chosen]
    if len(keep) < len(epochs):
        epochs = epochs[np.asarray(keep)]
    pre = make_extractor(opts).preprocess_one(epochs, source=str(path))  # the epoch-only path
    info["channels"] = list(pre.channel_names)
    ids = np.asarray(pre.channel_ids, dtype=np.int64)
    src = str(path)
    rows: list[dict[str, Any]] = []
    for k, (_, name, cls) in enumerate(chosen):
        onset = float(pre.onsets[k])
        rows.extend(_rows(pre.values[k], ids, src, onset + pre.tmin, name, onset,
                          cls if opts.labels_from == "events" else label, opts))  # fmt: skip
    info["cut"] = len(rows)
    yield from rows


def trial_examples(path: Path, label: Any, opts, info: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of one input of a trial build (the ``recipe`` of :class:`~labram_hf.data.windows.WindowOptions`):
    trials cut from a continuous recording after preprocessing it, or the trials of an epoch file."""
    from ..io import is_epochs_file

    if is_epochs_file(path):
        yield from _epoch_trials(path, label, opts, info)
    else:
        yield from _continuous_trials(path, label, opts, info)
