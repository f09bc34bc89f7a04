"""Build LaBraM window datasets (Arrow on disk, :mod:`datasets`) from EEG recordings.

:func:`build_dataset` reads files, directories or globs of anything :func:`labram_hf.io.read_raw` reads, runs the
original LaBraM preprocessing (:mod:`labram_hf.preprocessing`: EEG channels known to the vocabulary, band-pass
0.1-75 Hz, notch, resampling to 200 Hz, microvolts/100), cuts windows (default 10 s, non-overlapping) and writes a
:class:`datasets.Dataset` with these columns::

    input_values  Array2D(shape=(None, window_samples), float32)  # [channels, time], model units
    channel_ids   Sequence(int64)                                 # LaBraM vocabulary ids, one per row
    label         ClassLabel or int64                             # only when labelled
    source        string                                          # the recording's file
    start         float32                                         # window start, seconds from recording start

The result loads with ``datasets.load_from_disk(DIR)``; ``.with_format("torch")`` yields model-ready tensors, and
:class:`labram_hf.data.collators.LaBraMDataCollator` batches them (padding channel sets with a ``channel_mask``).
:func:`iter_dataset` produces the same rows as a streaming :class:`datasets.IterableDataset` for corpora larger than
disk or memory; :class:`ArrowWindowDataset` is a batched (``__getitems__``) torch view for fast loading.

Guarantees:

* nothing half-written: the dataset is built in a hidden ``.NAME.partial-XXXX`` directory beside ``output_dir`` and
  renamed into place when complete; an interrupted or failed build never leaves ``output_dir`` behind;
* every per-file failure names the file and the cause (:class:`DatasetBuildError`); by default the first failure
  stops the build (``on_error="fail"``), with ``on_error="skip"`` failing files are left out and listed with
  their reasons in ``skipped_files.csv`` (and ``build_report.json``) inside the output directory;
* mixed sampling rates are resampled to 200 Hz and reported (a warning naming the rates and files);
* ``num_proc`` processes work on disjoint, contiguous runs of files balanced by file size (row order is file order
  whatever ``num_proc``); progress bars use tqdm;
* the windows are written once: the Arrow files the generator writes are moved into ``output_dir`` (the
  ``save_to_disk`` layout) instead of being rewritten by ``save_to_disk``.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

logger = logging.getLogger("labram_hf.data")

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "EEG_FILE_SUFFIXES",
    "SAMPLING_RATE",
    "ArrowWindowDataset",
    "DatasetBuildError",
    "WindowOptions",
    "build_dataset",
    "iter_dataset",
    "make_features",
    "resolve_inputs",
    "window_label",
]

SAMPLING_RATE: float = 200.0
PATCH_SIZE: int = 200
MAX_PATCHES: int = 16
DEFAULT_WINDOW_SECONDS: float = 10.0

#: Suffixes picked up when a *directory* is given (explicit file paths may have any suffix).
EEG_FILE_SUFFIXES: tuple[str, ...] = (
    ".edf", ".bdf", ".gdf", ".fif", ".fif.gz", ".vhdr", ".ahdr", ".set", ".cnt", ".mff", ".nxe", ".lay", ".cdt",
    ".eeg.h5", ".eeghdf",
)  # fmt: skip

Straddle = Literal["majority", "drop", "any"]
OnError = Literal["fail", "skip"]


class DatasetBuildError(ValueError):
    """A dataset could not be built; the message names the offending file (or input) and the cause."""


# --------------------------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------------------------


def _has_eeg_suffix(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in EEG_FILE_SUFFIXES)


def resolve_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files, directories (recursively, EEG suffixes only) and glob patterns into a sorted file list.

    Raises:
        DatasetBuildError: a path that does not exist, a glob that matches nothing, or no EEG file at all.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files: list[Path] = []
    for item in inputs:
        s = os.fspath(item)
        p = Path(s).expanduser()
        if p.is_dir() and p.suffix.lower() != ".mff":
            found = sorted(q for q in p.rglob("*") if _has_eeg_suffix(q) and (q.is_file() or q.suffix == ".mff"))
            if not found:
                raise DatasetBuildError(
                    f"{p}: no EEG files found in this directory (looked recursively for "
                    f"{', '.join(EEG_FILE_SUFFIXES)})"
                )
            files.extend(found)
        elif p.exists():
            files.append(p)
        elif any(ch in s for ch in "*?["):
            found = sorted(Path(m) for m in glob.glob(os.path.expanduser(s), recursive=True))
            found = [q for q in found if q.is_file() or q.suffix.lower() == ".mff"]
            if not found:
                raise DatasetBuildError(f"{s}: the pattern matches no file")
            files.extend(found)
        else:
            raise DatasetBuildError(f"{s}: no such file or directory")
    files = list(dict.fromkeys(files))  # de-duplicate, keep order
    if not files:
        raise DatasetBuildError("no input files given")
    return files


# --------------------------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------------------------


def _read_label_csv(path: Path) -> dict[str, str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip().lower() for c in (reader.fieldnames or [])]
            if "path" not in cols or "label" not in cols:
                raise DatasetBuildError(
                    f"{path}: label CSV needs a header with columns 'path' and 'label' (found {reader.fieldnames})"
                )
            key = {c.strip().lower(): c for c in reader.fieldnames or []}
            out: dict[str, str] = {}
            for i, row in enumerate(reader, start=2):
                fp, lab = (row.get(key["path"]) or "").strip(), (row.get(key["label"]) or "").strip()
                if not fp or lab == "":
                    raise DatasetBuildError(f"{path}: line {i}: empty path or label")
                out[fp] = lab
    except OSError as err:
        raise DatasetBuildError(f"{path}: cannot read label CSV ({err})") from err
    if not out:
        raise DatasetBuildError(f"{path}: label CSV has no rows")
    return out


def _csv_lookup(table: dict[str, str], csv_path: Path) -> Callable[[Path], Any]:
    base = csv_path.parent
    by_full: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    for fp, lab in table.items():
        q = Path(fp).expanduser()
        q = q if q.is_absolute() else base / q
        by_full[os.path.normpath(str(q.resolve()))] = lab
        by_name.setdefault(Path(fp).name, []).append(lab)

    def lookup(path: Path) -> Any:
        full = os.path.normpath(str(Path(path).resolve()))
        if full in by_full:
            return by_full[full]
        cands = by_name.get(Path(path).name, [])
        if len(cands) == 1:
            return cands[0]
        if len(cands) > 1:
            raise DatasetBuildError(f"{path}: its file name matches several rows of {csv_path}; use full paths")
        raise DatasetBuildError(f"{path}: no label for this file in {csv_path}")

    return lookup


def _coerce_label(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s)
        except ValueError:
            return s
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise DatasetBuildError(f"label {value!r} is neither a class name nor an integer")


def _label_feature(values: Sequence[Any], class_names: Sequence[str] | None):
    from datasets import ClassLabel, Value

    if class_names is not None:
        return ClassLabel(names=list(class_names))
    if all(isinstance(v, int) for v in values):
        return Value("int64")
    if all(isinstance(v, str) for v in values):
        return ClassLabel(names=list(dict.fromkeys(values)))
    raise DatasetBuildError(f"labels mix class names and integers: {sorted(set(map(str, values)))[:10]}")


def _encode_label(value: Any, feature) -> int:
    from datasets import ClassLabel

    if isinstance(feature, ClassLabel):
        if isinstance(value, str):
            if value not in feature.names:
                raise DatasetBuildError(f"label {value!r} is not one of the classes {feature.names}")
            return feature.str2int(value)
        if not 0 <= int(value) < feature.num_classes:
            raise DatasetBuildError(f"label {value} is out of range for {feature.num_classes} classes")
        return int(value)
    return int(value)


def parse_label_map(label_map: Mapping[str, Any] | str | os.PathLike | None) -> dict[str, Any] | None:
    """A description -> class mapping from a dict, a JSON string or a JSON file."""
    if label_map is None or isinstance(label_map, Mapping):
        return None if label_map is None else dict(label_map)
    text = os.fspath(label_map)
    if not text.lstrip().startswith("{") and Path(text).exists():
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as err:
            raise DatasetBuildError(f"{label_map}: cannot read label map ({err})") from err
    try:
        out = json.loads(text)
    except json.JSONDecodeError as err:
        raise DatasetBuildError(f"label map is neither a JSON object nor a JSON file: {label_map!r} ({err})") from err
    if not isinstance(out, dict) or not out:
        raise DatasetBuildError(f"label map must be a non-empty JSON object description -> class, got {out!r}")
    return out


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

    Class indices are the order of the classes (e.g. of the label map's values).
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
    amount: dict[int, float] = {}
    for cls, spans in cover.items():
        spans.sort()
        total, cur_lo, cur_hi = 0.0, spans[0][0], spans[0][1]
        for lo, hi in spans[1:]:
            if lo > cur_hi:
                total += cur_hi - cur_lo
                cur_lo, cur_hi = lo, hi
            else:
                cur_hi = max(cur_hi, hi)
        amount[cls] = total + cur_hi - cur_lo
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
    raise ValueError(f"straddle must be 'majority', 'drop' or 'any', got {straddle!r}")


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


# --------------------------------------------------------------------------------------------------------------------
# Per-file work (runs in worker processes)
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class WindowOptions:
    """Everything a worker needs to turn one file into windows (picklable; not sharded by :mod:`datasets`)."""

    window_seconds: float = DEFAULT_WINDOW_SECONDS
    stride_seconds: float | None = None
    l_freq: float | None = 0.1
    h_freq: float | None = 75.0
    notch: float | None = 50.0
    strict_channels: bool = True
    channels: tuple[str, ...] | None = None
    labels_from: Literal["none", "file", "annotations"] = "none"
    label_map: dict[str, int] | None = None  # normalised description -> class index (annotations)
    straddle: Straddle = "majority"
    background: int | None = None
    on_error: OnError = "fail"
    report_dir: str | None = None
    progress: bool = False
    # recipe hook: "module:function" producing examples for a file, e.g. the TUEV event windows
    recipe: str | None = None
    recipe_options: dict[str, Any] = field(default_factory=dict)  # free-form settings for a custom recipe

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * SAMPLING_RATE))

    @property
    def stride_samples(self) -> int:
        return self.window_samples if self.stride_seconds is None else int(round(self.stride_seconds * SAMPLING_RATE))


def _norm_desc(text: str) -> str:
    return " ".join(str(text).split()).lower()


def _record(opts: WindowOptions, rec: dict[str, Any]) -> None:
    if opts.report_dir is None:
        return
    path = Path(opts.report_dir) / f"{os.getpid()}.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")


def load_preprocessed(path: Path, opts: WindowOptions, *, min_seconds: float | None = None):
    """Read and preprocess one file; returns ``(PreprocessedEEG, raw, input_sfreq)``.

    The duration is checked from the header before any sample is read, so a too-short file fails fast.
    """
    from ..io import read_raw
    from ..preprocessing import preprocess_raw

    raw = read_raw(path, preload=False)
    _check_renamed_duplicates(path, raw.ch_names)
    sfreq = float(raw.info["sfreq"])
    need = opts.window_seconds if min_seconds is None else min_seconds
    duration = raw.n_times / sfreq
    if duration * SAMPLING_RATE < round(need * SAMPLING_RATE) - 1e-6:
        raise ValueError(
            f"{path}: recording too short: {duration:.3g} s, shorter than one {need:g}-s window; "
            "use a shorter --window-seconds or leave the file out"
        )
    pre = preprocess_raw(
        raw,
        source=str(path),
        l_freq=opts.l_freq,
        h_freq=opts.h_freq,
        notch=opts.notch,
        strict=opts.strict_channels,
        channels=list(opts.channels) if opts.channels is not None else None,
        min_samples=PATCH_SIZE,
    )
    return pre, raw, sfreq


def _check_renamed_duplicates(path: Path, names: Sequence[str]) -> None:
    """mne renames repeated channel labels to ``NAME-0``, ``NAME-1``...; report repeated electrodes clearly."""
    import re

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


def _annotation_events(raw, label_map: dict[str, int]) -> list[tuple[float, float, int]]:
    ann = raw.annotations
    if ann is None or len(ann) == 0:
        return []
    offset = raw.first_time if ann.orig_time is not None else 0.0
    events = []
    for on, dur, desc in zip(ann.onset, ann.duration, ann.description):
        cls = label_map.get(_norm_desc(desc))
        if cls is None:
            continue
        start = float(on) - offset
        events.append((start, start + float(dur), int(cls)))
    return events


def _window_examples(
    path: Path, label: int | None, opts: WindowOptions, info: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Windows of one file (the default recipe); fills ``info`` with the input rate and channels."""
    pre, raw, sfreq = load_preprocessed(path, opts)
    info["sfreq"] = sfreq
    info["channels"] = list(pre.channel_names)
    win, stride = opts.window_samples, opts.stride_samples
    values = pre.values
    ids = np.asarray(pre.channel_ids, dtype=np.int64)
    events = _annotation_events(raw, opts.label_map or {}) if opts.labels_from == "annotations" else None
    src = str(path)
    for s in range(0, values.shape[1] - win + 1, stride):
        t0 = s / SAMPLING_RATE
        row: dict[str, Any] = {"input_values": values[:, s : s + win], "channel_ids": ids, "source": src,
                               "start": np.float32(t0)}  # fmt: skip
        if events is not None:
            cls = window_label(t0, t0 + win / SAMPLING_RATE, events, straddle=opts.straddle,
                               background=opts.background)  # fmt: skip
            if cls is None:
                continue
            row["label"] = cls
        elif label is not None:
            row["label"] = label
        yield row


def _recipe_fn(opts: WindowOptions) -> Callable[..., Iterator[dict[str, Any]]]:
    if opts.recipe is None:
        return _window_examples
    import importlib

    mod, _, name = opts.recipe.partition(":")
    return getattr(importlib.import_module(mod), name)


def _generate(files: list[str], labels: list[Any], opts: WindowOptions) -> Iterator[dict[str, Any]]:
    """The ``datasets`` generator: one shard = a list of files (with their per-file labels).

    Each file is processed completely (its windows are views of one preprocessed array) before any of its rows is
    yielded, so a file either contributes all its windows or none; its warnings are collected into the build
    report and re-emitted by the main process.
    """
    fn = _recipe_fn(opts)
    it: Iterable[tuple[str, Any]] = zip(files, labels)
    if opts.progress and len(files) > 1:
        from tqdm.auto import tqdm

        it = tqdm(list(it), desc="EEG files", unit="file", leave=False)
    for fp, lab in it:
        path = Path(fp)
        info: dict[str, Any] = {}
        error: Exception | None = None
        rows: list[dict[str, Any]] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            try:
                rows = list(fn(path, lab, opts, info))
            except Exception as err:  # noqa: BLE001 - every failure is reported with the file name
                error = err
        messages = list(dict.fromkeys(str(w.message) for w in caught))
        if error is not None:
            msg = _describe_error(path, error)
            _record(opts, {"file": fp, "status": "failed" if opts.on_error == "fail" else "skipped",
                           "reason": msg, "windows": 0, "warnings": messages})  # fmt: skip
            if opts.on_error == "fail":
                raise DatasetBuildError(msg) from error
            continue
        _record(opts, {"file": fp, "status": "ok", "windows": len(rows), "sfreq": info.get("sfreq"),
                       "channels": info.get("channels"), "warnings": messages})  # fmt: skip
        yield from rows


def _generate_shards(shards: list[tuple[list[str], list[Any]]], opts: WindowOptions) -> Iterator[dict[str, Any]]:
    """The ``datasets`` generator over groups of files (``datasets`` hands each process a contiguous run of them)."""
    for files, labels in shards:
        yield from _generate(files, labels, opts)


def _file_size(path: str) -> int:
    try:
        p = Path(path)
        return sum(q.stat().st_size for q in p.rglob("*") if q.is_file()) if p.is_dir() else p.stat().st_size
    except OSError:
        return 0


def _balanced_bounds(sizes: Sequence[int], parts: int) -> list[tuple[int, int]]:
    """Split ``sizes`` into at most ``parts`` non-empty contiguous runs with a small largest total (greedy on the
    ideal share, at least one item per run)."""
    n = len(sizes)
    parts = max(1, min(parts, n))
    weights = [max(int(s), 1) for s in sizes]
    total = float(sum(weights))
    bounds, start, acc = [], 0, 0.0
    for k in range(1, parts):
        goal = total * k / parts
        stop = start + 1
        acc += weights[start]
        # extend while that brings the cumulative size closer to this run's ideal end, leaving items for later runs
        while stop < n - (parts - k) and abs(acc + weights[stop] - goal) <= abs(acc - goal):
            acc += weights[stop]
            stop += 1
        bounds.append((start, stop))
        start = stop
    bounds.append((start, n))
    return bounds


def _describe_error(path: Path, err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if str(path) in text or path.name in text:
        return text
    return f"{path}: {text}"


# --------------------------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------------------------


def make_features(window_samples: int, label_feature=None):
    """The :class:`datasets.Features` of a window dataset (``label_feature`` None: unlabelled)."""
    from datasets import Array2D, Features, Sequence, Value

    cols: dict[str, Any] = {
        "input_values": Array2D(shape=(None, window_samples), dtype="float32"),
        "channel_ids": Sequence(Value("int64")),
    }
    if label_feature is not None:
        cols["label"] = label_feature
    cols["source"] = Value("string")
    cols["start"] = Value("float32")
    return Features(cols)


# --------------------------------------------------------------------------------------------------------------------
# Build machinery (shared with labram_hf.data.tuh)
# --------------------------------------------------------------------------------------------------------------------


def _validate_window(window_seconds: float, stride_seconds: float | None) -> None:
    if not window_seconds or window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    samples = window_seconds * SAMPLING_RATE
    if abs(samples / PATCH_SIZE - round(samples / PATCH_SIZE)) > 1e-9:
        raise ValueError(
            f"window_seconds={window_seconds:g} is not a whole number of 1-s patches (LaBraM cuts every channel "
            "into 200-sample patches)"
        )
    if round(samples / PATCH_SIZE) > MAX_PATCHES:
        warnings.warn(
            f"window_seconds={window_seconds:g} gives {round(samples / PATCH_SIZE)} patches per channel; LaBraM "
            f"models accept at most {MAX_PATCHES}",
            UserWarning,
            stacklevel=3,
        )
    if stride_seconds is not None and (stride_seconds <= 0 or round(stride_seconds * SAMPLING_RATE) < 1):
        raise ValueError(f"stride_seconds must be positive, got {stride_seconds}")


@dataclass
class _Split:
    files: list[Path]
    labels: list[Any]


def _read_records(report_dir: Path) -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = []
    for p in sorted(report_dir.glob("*.jsonl")):
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                recs.append(json.loads(line))
    return recs


def _announce(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Emit the per-file warnings and the sampling-rate summary in the main process; return report facts."""
    for rec in records:
        for msg in rec.get("warnings", []):
            warnings.warn(msg if rec["file"] in msg else f"{rec['file']}: {msg}", UserWarning, stacklevel=4)
    rates: dict[float, list[str]] = {}
    for rec in records:
        if rec.get("status") == "ok" and rec.get("sfreq") is not None:
            rates.setdefault(float(rec["sfreq"]), []).append(rec["file"])
    if len(rates) > 1:
        parts = []
        for r, fs in sorted(rates.items()):
            names = ", ".join(Path(f).name for f in fs[:3]) + (f" and {len(fs) - 3} more" if len(fs) > 3 else "")
            parts.append(f"{r:g} Hz: {len(fs)} file(s) ({names})")
        msg = f"input files have mixed sampling rates ({'; '.join(parts)}); all were resampled to {SAMPLING_RATE:g} Hz"
        logger.warning(msg)
        warnings.warn(msg, UserWarning, stacklevel=4)
    elif rates:
        (r,) = rates
        if abs(r - SAMPLING_RATE) > 1e-9:
            logger.info("resampled all files from %g Hz to %g Hz", r, SAMPLING_RATE)
    return {"sampling_rates": {f"{r:g}": fs for r, fs in sorted(rates.items())}}


def _generate_split(
    split: _Split,
    features,
    opts: WindowOptions,
    *,
    cache_dir: Path,
    num_proc: int,
    keep_in_memory: bool = False,
):
    from datasets import Dataset
    from datasets.exceptions import DatasetGenerationError

    files = [str(f) for f in split.files]
    n_proc = max(1, min(int(num_proc or 1), len(files)))
    if n_proc > 1:
        # one shard per process, contiguous (row order = file order) and balanced by file size
        bounds = _balanced_bounds([_file_size(f) for f in files], n_proc)
        gen_kwargs = {"shards": [(files[a:b], list(split.labels)[a:b]) for a, b in bounds], "opts": opts}
        n_proc = len(bounds)
    else:
        gen_kwargs = {"shards": [(files, list(split.labels))], "opts": opts}
    try:
        ds = Dataset.from_generator(
            _generate_shards,
            features=features,
            cache_dir=str(cache_dir),
            keep_in_memory=keep_in_memory,
            gen_kwargs=gen_kwargs,
            num_proc=n_proc if n_proc > 1 else None,
            fingerprint=uuid.uuid4().hex,
        )
    except DatasetGenerationError as err:
        raise _unwrap(err, opts) from err
    return ds


def _unwrap(err: BaseException, opts: WindowOptions) -> BaseException:
    cur: BaseException | None = err
    while cur is not None:
        if isinstance(cur, DatasetBuildError):
            return DatasetBuildError(str(cur))
        cur = cur.__cause__ or cur.__context__
    if opts.report_dir is not None:
        for rec in _read_records(Path(opts.report_dir)):
            if rec.get("status") == "failed":
                return DatasetBuildError(rec["reason"])
    return DatasetBuildError(f"dataset generation failed: {err.__cause__ or err}")


def _write_reports(target: Path, records: list[dict[str, Any]], settings: dict[str, Any], extra: dict[str, Any]):
    skipped = [r for r in records if r.get("status") == "skipped"]
    report = {
        "settings": settings,
        "files_ok": sum(1 for r in records if r.get("status") == "ok"),
        "files_skipped": len(skipped),
        "windows": sum(int(r.get("windows", 0)) for r in records if r.get("status") == "ok"),
        "skipped": [{"file": r["file"], "reason": r["reason"]} for r in skipped],
        "files": records,
        **extra,
    }
    (target / "build_report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    if settings.get("on_error") == "skip":
        with open(target / "skipped_files.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "reason"])
            for r in skipped:
                w.writerow([r["file"], r["reason"]])


def _arrow_rows(path: Path) -> int | None:
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_stream(source).read_all().num_rows
    except (OSError, pa.ArrowInvalid):
        return None


def _save_by_moving(ds, path: Path, work: Path) -> bool:
    """``ds.save_to_disk(path)`` without rewriting the data: the Arrow files that ``Dataset.from_generator`` wrote
    under ``work`` (the same IPC stream format) are moved into ``path`` under save_to_disk's names, next to the same
    ``state.json`` and ``dataset_info.json``. Returns ``False`` (nothing done) when ``ds`` is not exactly those
    files."""
    from datasets import config
    from datasets.utils.py_utils import asdict  # the one save_to_disk uses (knows Features)

    files = [Path(f["filename"]) for f in ds.cache_files]
    root = work.resolve()
    if not files or ds._indices is not None or ds.list_indexes() or len(set(files)) != len(files):
        return False
    if not all(f.resolve().is_relative_to(root) and f.is_file() for f in files):
        return False
    rows = [_arrow_rows(f) for f in files]
    if any(r is None for r in rows) or sum(rows) != len(ds) or ds.data.num_rows != len(ds):
        return False
    path.mkdir(parents=True, exist_ok=False)
    names = [f"data-{i:05d}-of-{len(files):05d}.arrow" for i in range(len(files))]
    for f, name in zip(files, names):
        os.replace(f, path / name)  # memory maps of the moved files stay valid
    state = {key: ds.__dict__[key] for key in ("_fingerprint", "_format_columns", "_format_kwargs", "_format_type",
                                               "_output_all_columns")}  # fmt: skip
    state["_split"] = str(ds.split) if ds.split is not None else None
    state["_data_files"] = [{"filename": name} for name in names]
    (path / config.DATASET_STATE_JSON_FILENAME).write_text(json.dumps(state, indent=2, sort_keys=True),
                                                            encoding="utf-8")  # fmt: skip
    info = asdict(ds.info)
    (path / config.DATASET_INFO_FILENAME).write_text(json.dumps({k: info[k] for k in sorted(info)}, indent=2),
                                                      encoding="utf-8")  # fmt: skip
    return True


def _save(result, target: Path, work: Path) -> None:
    """Save a Dataset or DatasetDict like ``save_to_disk``, moving freshly generated Arrow files where possible
    (the data is written once, not twice)."""
    from datasets import DatasetDict, config

    if isinstance(result, DatasetDict):
        target.mkdir(parents=True, exist_ok=True)
        (target / config.DATASETDICT_JSON_FILENAME).write_text(json.dumps({"splits": list(result)}), encoding="utf-8")
        for name, ds in result.items():
            if not _save_by_moving(ds, target / name, work):
                ds.save_to_disk(str(target / name))
    elif not _save_by_moving(result, target, work):
        result.save_to_disk(str(target))


def _prepare_output(output_dir: Path, overwrite: bool) -> None:
    if output_dir.exists():
        if output_dir.is_file():
            raise DatasetBuildError(f"{output_dir}: output exists and is a file")
        if any(output_dir.iterdir()) and not overwrite:
            raise DatasetBuildError(f"{output_dir}: output directory exists and is not empty (pass overwrite=True)")
    output_dir.parent.mkdir(parents=True, exist_ok=True)


def _commit(built: Path, output_dir: Path) -> None:
    """Atomically move the finished dataset into place (replacing an old one only now)."""
    trash = None
    if output_dir.exists():
        trash = output_dir.parent / f".{output_dir.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(output_dir, trash)
    os.replace(built, output_dir)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def run_build(
    splits: dict[str, _Split],
    features,
    opts: WindowOptions,
    output_dir: str | os.PathLike | None,
    *,
    num_proc: int = 1,
    overwrite: bool = False,
    settings: dict[str, Any] | None = None,
    as_dict: bool = False,
    pre_records: list[dict[str, Any]] | None = None,
):
    """Generate one or several splits into a temp dir beside ``output_dir`` and commit them atomically."""
    import datasets
    from datasets import DatasetDict, load_from_disk

    if opts.on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip', got {opts.on_error!r}")
    out = Path(output_dir).expanduser() if output_dir is not None else None
    if out is not None:
        _prepare_output(out, overwrite)
        work = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    else:
        import tempfile

        work = Path(tempfile.mkdtemp(prefix="labram-data-"))
    report_dir = work / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    opts.report_dir = str(report_dir)
    bars_were_disabled = datasets.is_progress_bar_enabled() is False
    if not opts.progress:
        datasets.disable_progress_bars()
    try:
        built: dict[str, Any] = {}
        for name, split in splits.items():
            if not split.files:
                raise DatasetBuildError(f"split {name!r} has no input files")
            built[name] = _generate_split(split, features, opts, cache_dir=work / "cache", num_proc=num_proc,
                                          keep_in_memory=out is None)  # fmt: skip
        records = list(pre_records or []) + _read_records(report_dir)
        extra = _announce(records)
        empty = [n for n, d in built.items() if len(d) == 0]
        if empty:
            skipped = [r for r in records if r.get("status") == "skipped"]
            why = f"; {len(skipped)} file(s) skipped, e.g. {skipped[0]['reason']}" if skipped else ""
            raise DatasetBuildError(f"no windows were produced for split(s) {empty}{why}")
        result = DatasetDict(built) if as_dict else built[next(iter(built))]
        extra["rows"] = {n: len(d) for n, d in built.items()}
        if out is None:
            return result
        target = work / "dataset"
        _save(result, target, work)
        del result, built
        _write_reports(target, records, {**(settings or {}), "on_error": opts.on_error}, extra)
        _commit(target, out)
    finally:
        if not bars_were_disabled:
            datasets.enable_progress_bars()
        shutil.rmtree(work, ignore_errors=True)
    return load_from_disk(str(out))


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------


def _resolve_labels(
    files: list[Path],
    labels: Any,
    label_map: Any,
    class_names: Sequence[str] | None,
    background: Any,
    on_error: OnError,
) -> tuple[list[Path], list[Any], Any, str, dict[str, int] | None, int | None, list[dict[str, str]]]:
    """Returns (files, per-file labels, label feature, mode, annotation map, background index, pre-skipped)."""
    skipped: list[dict[str, str]] = []
    if labels is None or labels == "none":
        return files, [None] * len(files), None, "none", None, None, skipped
    if labels == "annotations":
        mapping = parse_label_map(label_map)
        if not mapping:
            raise DatasetBuildError(
                "labels='annotations' needs a label map: annotation description -> class, "
                "e.g. {\"asleep\": \"sleep\", \"awake\": \"wake\"}"
            )
        values = [_coerce_label(v) for v in mapping.values()]
        if background is not None:
            values.append(_coerce_label(background))
        feature = _label_feature(values, class_names)
        amap = {_norm_desc(k): _encode_label(v, feature) for k, v in zip(mapping, values)}
        bg = _encode_label(_coerce_label(background), feature) if background is not None else None
        return files, [None] * len(files), feature, "annotations", amap, bg, skipped
    if isinstance(labels, str) and labels.startswith("csv:"):
        labels = Path(labels[4:])
    if isinstance(labels, Path) or (isinstance(labels, str) and labels.lower().endswith(".csv")):
        csv_path = Path(labels)
        fn: Callable[[Path], Any] = _csv_lookup(_read_label_csv(csv_path), csv_path)
    elif isinstance(labels, Mapping):
        table = {os.path.normpath(str(Path(k).resolve())): v for k, v in labels.items()}

        def fn(p: Path) -> Any:
            key = os.path.normpath(str(Path(p).resolve()))
            if key not in table:
                raise DatasetBuildError(f"{p}: no label for this file in the labels mapping")
            return table[key]
    elif callable(labels):
        fn = labels
    else:
        raise DatasetBuildError(
            f"labels must be None, 'annotations', 'csv:PATH', a mapping or a function path -> label; got {labels!r}"
        )
    kept_files, raw_labels = [], []
    for f in files:
        try:
            value = fn(f)
            if value is None:
                raise DatasetBuildError(f"{f}: the label function returned None")
            raw_labels.append(_coerce_label(value))
            kept_files.append(f)
        except Exception as err:  # noqa: BLE001
            msg = _describe_error(f, err)
            if on_error == "fail":
                raise DatasetBuildError(msg) from err
            skipped.append({"file": str(f), "status": "skipped", "reason": msg, "windows": 0})
    if not kept_files:
        raise DatasetBuildError(f"no input file has a label ({len(skipped)} skipped)")
    feature = _label_feature(raw_labels, class_names)
    enc = [_encode_label(v, feature) for v in raw_labels]
    return kept_files, enc, feature, "file", None, None, skipped


def _options(
    window_seconds, stride_seconds, l_freq, h_freq, notch, strict_channels, channels, straddle, on_error, progress
) -> WindowOptions:
    _validate_window(window_seconds, stride_seconds)
    if straddle not in ("majority", "drop", "any"):
        raise ValueError(f"straddle must be 'majority', 'drop' or 'any', got {straddle!r}")
    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    return WindowOptions(
        window_seconds=float(window_seconds),
        stride_seconds=None if stride_seconds is None else float(stride_seconds),
        l_freq=l_freq,
        h_freq=h_freq,
        notch=notch,
        strict_channels=strict_channels,
        channels=tuple(channels) if channels is not None else None,
        straddle=straddle,
        on_error=on_error,
        progress=progress,
    )


def build_dataset(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    output_dir: str | os.PathLike | None = None,
    *,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    stride_seconds: float | None = None,
    labels: None | str | os.PathLike | Mapping[str, Any] | Callable[[Path], Any] = None,
    label_map: Mapping[str, Any] | str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
    straddle: Straddle = "majority",
    background: Any = None,
    l_freq: float | None = 0.1,
    h_freq: float | None = 75.0,
    notch: float | None = 50.0,
    strict_channels: bool = True,
    channels: Sequence[str] | None = None,
    num_proc: int = 1,
    on_error: OnError = "fail",
    overwrite: bool = False,
    progress: bool = True,
):
    """Build a window dataset from EEG recordings.

    Args:
        inputs: files, directories (searched recursively for :data:`EEG_FILE_SUFFIXES`) or glob patterns.
        output_dir: where to save (``datasets.load_from_disk`` format). ``None`` builds in memory.
        window_seconds: window length (a whole number of seconds, at most 16 for LaBraM). Default 10.
        stride_seconds: hop between window starts (default: ``window_seconds``, non-overlapping).
        labels: ``None`` (unlabelled); a function ``path -> label``; a mapping path -> label; a CSV with columns
            ``path,label`` (``"csv:PATH"`` or a ``.csv`` path; relative paths are relative to the CSV, or bare
            file names); or ``"annotations"`` to label windows from the recordings' annotations with ``label_map``.
        label_map: annotation description -> class (dict, JSON string or JSON file); case- and
            whitespace-insensitive. Descriptions not in the map are ignored.
        class_names: explicit class order (labels then are names from it, or indices into it). Otherwise string
            labels become a ``ClassLabel`` (label-map order for annotations, first-seen order for files), integer
            labels an ``int64`` column.
        straddle: rule for annotation labels when a window straddles events: ``"majority"`` (default),
            ``"drop"`` or ``"any"`` (see :func:`window_label`).
        background: class for windows touching no mapped annotation (default: such windows are dropped).
        l_freq, h_freq: band-pass edges (Hz). Recordings below 150 Hz need ``h_freq`` under their Nyquist (e.g. 45).
        notch: mains notch (50, 60 or ``None``).
        strict_channels: unknown EEG channel names raise (``True``) or are dropped with a warning (``False``).
        channels: optional fixed channel selection/order (e.g. :data:`labram_hf.channels.TUH_CHANNELS`); every file
            must have them all.
        num_proc: worker processes (files are split between them).
        on_error: ``"fail"`` stops at the first bad file; ``"skip"`` leaves it out and lists it in
            ``skipped_files.csv``.
        overwrite: replace an existing non-empty ``output_dir`` (only once the new dataset is complete).
        progress: show tqdm progress bars.

    Returns:
        :class:`datasets.Dataset` (loaded back from ``output_dir`` when given).

    Raises:
        DatasetBuildError: bad inputs or a bad file (message names it), no windows produced, output not empty.
        ValueError: invalid settings.
    """
    opts = _options(window_seconds, stride_seconds, l_freq, h_freq, notch, strict_channels, channels, straddle,
                    on_error, progress)  # fmt: skip
    files = resolve_inputs(inputs)
    files, file_labels, label_feature, mode, amap, bg, pre_skipped = _resolve_labels(
        files, labels, label_map, class_names, background, on_error
    )
    opts.labels_from = mode  # type: ignore[assignment]
    opts.label_map = amap
    opts.background = bg
    features = make_features(opts.window_samples, label_feature)
    settings = {
        "inputs": [os.fspath(i) for i in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)],
        "window_seconds": opts.window_seconds,
        "stride_seconds": opts.stride_seconds if opts.stride_seconds is not None else opts.window_seconds,
        "sampling_rate": SAMPLING_RATE,
        "l_freq": l_freq,
        "h_freq": h_freq,
        "notch": notch,
        "strict_channels": strict_channels,
        "channels": list(channels) if channels is not None else None,
        "labels": (labels if isinstance(labels, (str, type(None))) else os.fspath(labels)
                   if isinstance(labels, os.PathLike) else type(labels).__name__),
        "label_map": parse_label_map(label_map),
        "straddle": straddle,
        "background": background,
    }
    return run_build(
        {"train": _Split(files, file_labels)}, features, opts, output_dir, num_proc=num_proc, overwrite=overwrite,
        settings=settings, pre_records=pre_skipped,
    )


def iter_dataset(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    stride_seconds: float | None = None,
    labels: None | str | os.PathLike | Mapping[str, Any] | Callable[[Path], Any] = None,
    label_map: Mapping[str, Any] | str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
    straddle: Straddle = "majority",
    background: Any = None,
    l_freq: float | None = 0.1,
    h_freq: float | None = 75.0,
    notch: float | None = 50.0,
    strict_channels: bool = True,
    channels: Sequence[str] | None = None,
    on_error: OnError = "fail",
):
    """The rows of :func:`build_dataset` as a streaming :class:`datasets.IterableDataset` (nothing written).

    Files are preprocessed lazily while iterating; the dataset has one shard per file, so a
    ``torch.utils.data.DataLoader(..., num_workers=N)`` spreads files over workers. With ``on_error="skip"``
    failing files are skipped with a warning naming them.
    """
    from datasets import IterableDataset

    opts = _options(window_seconds, stride_seconds, l_freq, h_freq, notch, strict_channels, channels, straddle,
                    on_error, False)  # fmt: skip
    files = resolve_inputs(inputs)
    files, file_labels, label_feature, mode, amap, bg, pre_skipped = _resolve_labels(
        files, labels, label_map, class_names, background, on_error
    )
    for rec in pre_skipped:
        warnings.warn(f"skipping {rec['reason']}", UserWarning, stacklevel=2)
    opts.labels_from = mode  # type: ignore[assignment]
    opts.label_map = amap
    opts.background = bg
    features = make_features(opts.window_samples, label_feature)
    return IterableDataset.from_generator(
        _stream, features=features, gen_kwargs={"files": [str(f) for f in files], "labels": file_labels,
                                                "opts": opts},  # fmt: skip
    )


def _stream(files: list[str], labels: list[Any], opts: WindowOptions) -> Iterator[dict[str, Any]]:
    fn = _recipe_fn(opts)
    for fp, lab in zip(files, labels):
        path = Path(fp)
        try:
            rows = list(fn(path, lab, opts, {}))
        except Exception as err:  # noqa: BLE001
            msg = _describe_error(path, err)
            if opts.on_error == "fail":
                raise DatasetBuildError(msg) from err
            warnings.warn(f"skipping {msg}", UserWarning, stacklevel=2)
            continue
        yield from rows


# --------------------------------------------------------------------------------------------------------------------
# Fast torch loading
# --------------------------------------------------------------------------------------------------------------------


class ArrowWindowDataset:
    """A ``torch.utils.data.Dataset`` over a window dataset with zero-copy, batched reads.

    At construction the memory-mapped Arrow buffers of ``input_values`` and ``channel_ids`` are wrapped as NumPy
    views (no data is read); a row is then a slice of that view. ``DataLoader`` calls :meth:`__getitems__` with
    all indices of a batch, which returns the rows as read-only NumPy views in one Python call, and
    :class:`labram_hf.data.collators.LaBraMDataCollator` copies them once, straight into the batch tensor. Labels
    (column ``label``) come out as ``labels``.

    Args:
        dataset: a :class:`datasets.Dataset` built by :func:`build_dataset` (or ``load_from_disk``); ``select`` /
            ``shuffle`` index mappings are honoured.
        columns: columns to return (default: ``input_values``, ``channel_ids`` and ``label`` when present);
            other columns are read with ``dataset[index]`` semantics.
    """

    def __init__(self, dataset, columns: Sequence[str] | None = None):
        if columns is None:
            columns = [c for c in ("input_values", "channel_ids", "label") if c in dataset.column_names]
        self.dataset = dataset
        self.columns = list(columns)
        table = dataset.with_format(None).data  # memory-mapped pyarrow table
        n_rows = table.num_rows
        if dataset._indices is not None:
            self._index = np.asarray(dataset._indices.column(0).to_numpy(), dtype=np.int64)
        else:
            self._index = None
        self._values = self._channels = None
        if "input_values" in self.columns:
            self._values = _RowViews(table.column("input_values"), two_d=True)
        if "channel_ids" in self.columns:
            self._channels = _RowViews(table.column("channel_ids"), two_d=False)
        self._scalars: dict[str, list[Any] | np.ndarray] = {}
        for col in self.columns:
            if col in ("input_values", "channel_ids"):
                continue
            arr = table.column(col)
            try:
                self._scalars[col] = arr.to_numpy()
            except Exception:  # noqa: BLE001 - non-numeric columns
                self._scalars[col] = arr.to_pylist()
        self._n = n_rows if self._index is None else len(self._index)

    def __len__(self) -> int:
        return self._n

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers (spawn) get the dataset by file reference and rebuild the views, never the data
        return {"dataset": self.dataset, "columns": self.columns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["dataset"], state["columns"])

    def _rows(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
            raise IndexError(f"index out of range for {self._n} rows")
        idx = np.where(idx < 0, idx + self._n, idx)
        if self._index is not None:
            idx = self._index[idx]
        out: list[dict[str, Any]] = [{} for _ in range(len(idx))]
        if self._values is not None:
            for row, v in zip(out, self._values.get(idx)):
                row["input_values"] = v
        if self._channels is not None:
            for row, v in zip(out, self._channels.get(idx)):
                row["channel_ids"] = v
        for col, values in self._scalars.items():
            key = "labels" if col == "label" else col
            for row, i in zip(out, idx):
                row[key] = values[i]
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._rows([int(index)])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        return self._rows(indices)


class _RowViews:
    """Zero-copy NumPy views of the rows of a (chunked) list column: list<list<float32>> or list<int64>."""

    def __init__(self, column, two_d: bool):
        import pyarrow as pa

        self.views: list[np.ndarray] = []  # per chunk: [n_inner, T] (2-D column) or flat values
        starts: list[np.ndarray] = []
        stops: list[np.ndarray] = []
        chunk_ids: list[np.ndarray] = []
        for k, chunk in enumerate(column.chunks):
            storage = chunk.storage if isinstance(chunk, pa.ExtensionArray) else chunk
            outer = storage.offsets.to_numpy().astype(np.int64)
            child = storage.values
            if two_d:
                inner = child.offsets.to_numpy().astype(np.int64)
                flat = child.values.to_numpy(zero_copy_only=False)
                lengths = np.diff(inner[outer[0] : outer[-1] + 1])
                t = int(lengths[0]) if lengths.size else 0
                if lengths.size and not np.all(lengths == t):  # pragma: no cover - not produced by build_dataset
                    raise ValueError("input_values rows have channels of different lengths")
                lo = int(inner[outer[0]]) if lengths.size else 0
                n_inner = int(outer[-1] - outer[0])
                self.views.append(flat[lo : lo + n_inner * t].reshape(n_inner, t) if t else np.zeros((0, 0), "f4"))
                base = outer[0]
            else:
                self.views.append(child.to_numpy(zero_copy_only=False))
                base = 0
            starts.append(outer[:-1] - base)
            stops.append(outer[1:] - base)
            chunk_ids.append(np.full(len(outer) - 1, k, dtype=np.int64))
        self.starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        self.stops = np.concatenate(stops) if stops else np.zeros(0, np.int64)
        self.chunk = np.concatenate(chunk_ids) if chunk_ids else np.zeros(0, np.int64)
        self.single = len(self.views) == 1

    def get(self, idx: np.ndarray) -> list[np.ndarray]:
        starts, stops = self.starts[idx].tolist(), self.stops[idx].tolist()
        if self.single:
            view = self.views[0]
            return [view[a:b] for a, b in zip(starts, stops)]
        chunks = self.chunk[idx].tolist()
        return [self.views[c][a:b] for c, a, b in zip(chunks, starts, stops)]
