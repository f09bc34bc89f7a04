"""Building window datasets: multi-process generation, build reports, the preprocessing contract, safe output.

:func:`build_dataset` (``labram prepare``) and the TUH recipes (:mod:`labram_hf.data.tuh`) go through
:func:`run_build`:

1. the output is checked before any recording is read (:class:`labram_hf.outputs.OutputTarget`: not an input, does
   not contain one, an existing non-empty directory only with ``overwrite`` and only when labram-hf made it);
   a lock file keeps a second concurrent build of the same output out;
2. ``datasets.Dataset.from_generator`` runs the per-file work (:mod:`labram_hf.data.windows`) in ``num_proc``
   processes over contiguous runs of files balanced by size (row order = file order whatever ``num_proc``); its
   Arrow cache lives inside the hidden work directory beside the output;
3. the result is saved with ``save_to_disk`` into the work directory, next to ``build_report.json`` (every file's
   status, windows and warnings), ``skipped_files.csv`` (with ``on_error="skip"``) and the preprocessing contract
   (``preprocessor_config.json`` + ``label_schema.json``, :mod:`labram_hf.data.contract`; for a
   :class:`datasets.DatasetDict` at the top and in every split directory);
4. the work directory (cache removed) is renamed into place in one step; a failure or interruption leaves nothing.

With ``shard_size`` steps 2-3 write Parquet shards of bounded size per group of files instead, keeping finished
groups in a cache beside the output so that a killed build resumes (:mod:`labram_hf.data.shards`). With
``plot_channels`` the channel mapping of every distinct montage is drawn into ``channels.png``. ``max_tokens`` picks
the window length from the files' channel count (:func:`window_for_max_tokens`, the original's rule) and
:func:`preview_channels` shows every file's channel mapping without building anything (``labram prepare
--dry-run``).

A build that produces no window is a :class:`DatasetBuildError` that says why (no annotation matched the label map
and which descriptions the files have, every file shorter than a window, every window dropped by the straddle rule,
every file skipped).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import shutil
import tempfile
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..constants import DEFAULT_WINDOW_SECONDS, MAX_TIME_PATCHES, PATCH_SIZE, SAMPLING_RATE
from ..outputs import OutputTarget
from .contract import LabelSchema, save_dataset_contract
from .errors import DatasetBuildError, describe_error
from .labels import parse_label_map, resolve_labels
from .sources import file_size, input_roots, resolve_inputs
from .trials import TrialSpec, make_trial_spec, resolve_annotation_files, scan_trial_inputs, trial_window
from .windows import MARKER_MODES, STRADDLE_RULES, WindowOptions, channel_mapping, make_extractor, recipe_fn

logger = logging.getLogger("labram_hf.data")

__all__ = [
    "ChannelGroup",
    "build_dataset",
    "iter_dataset",
    "make_features",
    "preview_channels",
    "run_build",
    "validate_window",
    "window_for_max_tokens",
    "write_channel_plots",
]

ON_ERROR: tuple[str, ...] = ("fail", "skip")
_WINDOW_HINT = "use a whole number of seconds from 1 to 16, e.g. --window-seconds 10"


# --------------------------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------------------------


def make_features(window_samples: int, label_feature=None, trials: bool = False):
    """The :class:`datasets.Features` of a window dataset (``label_feature`` None: unlabelled; ``trials``: with the
    ``event`` and ``onset`` columns of trial rows)."""
    from datasets import Array2D, Features, Sequence, Value

    cols: dict[str, Any] = {
        "input_values": Array2D(shape=(None, window_samples), dtype="float32"),
        "channel_ids": Sequence(Value("int64")),
    }
    if label_feature is not None:
        cols["label"] = label_feature
    cols["source"] = Value("string")
    cols["start"] = Value("float32")
    if trials:
        cols["event"] = Value("string")
        cols["onset"] = Value("float64")
    return Features(cols)


def _seconds(name: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise DatasetBuildError(f"{name} must be a number of seconds, got {value!r}", hint=_WINDOW_HINT) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise DatasetBuildError(f"{name} must be a positive, finite number of seconds, got {value!r}",
                                hint=_WINDOW_HINT)  # fmt: skip
    return seconds


def validate_window(window_seconds: Any, stride_seconds: Any = None) -> tuple[float, float | None]:
    """Check the window and stride lengths; returns them as floats.

    The window must be a whole number (at least one) of 1-s patches; the stride a positive whole number of samples
    at 200 Hz. More than 16 patches warns (the original models' limit).

    Raises:
        DatasetBuildError: NaN, Inf, zero, negative, too small or fractional values (naming the value).
    """
    window = _seconds("window_seconds", window_seconds)
    patches = window * SAMPLING_RATE / PATCH_SIZE
    if abs(patches - round(patches)) > 1e-9 or round(patches) < 1:
        raise DatasetBuildError(
            f"window_seconds={window:g} is not a whole number of 1-s patches (LaBraM cuts every channel into "
            f"{PATCH_SIZE}-sample patches at {SAMPLING_RATE:g} Hz)",
            hint=_WINDOW_HINT,
        )
    if round(patches) > MAX_TIME_PATCHES:
        warnings.warn(
            f"window_seconds={window:g} gives {round(patches)} patches per channel; the original LaBraM has temporal "
            f"embeddings for {MAX_TIME_PATCHES}: run such windows with interpolate_pos_encoding=True (linear "
            "interpolation of the table, an extension of the original), which fine-tuning applies by itself",
            UserWarning,
            stacklevel=3,
        )
    if stride_seconds is None:
        return window, None
    stride = _seconds("stride_seconds", stride_seconds)
    samples = stride * SAMPLING_RATE
    if round(samples) < 1 or abs(samples - round(samples)) > 1e-6:
        raise DatasetBuildError(
            f"stride_seconds={stride:g} is not a whole number of samples at {SAMPLING_RATE:g} Hz (a multiple of "
            f"{1 / SAMPLING_RATE:g} s)",
            hint="e.g. --stride-seconds 5 for windows overlapping by half",
        )
    return window, stride


def _channel_policy(channel_policy: str | None, strict_channels: bool | None) -> str:
    from ..feature_extraction_labram import CHANNEL_POLICIES

    if strict_channels is not None:  # the older spelling
        policy = "strict" if strict_channels else "lenient"
        if channel_policy not in (None, policy):
            raise DatasetBuildError(f"strict_channels={strict_channels} contradicts channel_policy={channel_policy!r}")
        return policy
    policy = channel_policy or "strict"
    if policy not in CHANNEL_POLICIES:
        raise DatasetBuildError(f"channel_policy must be one of {list(CHANNEL_POLICIES)}, got {policy!r}")
    return policy


def _check_montage(montage: str | os.PathLike | None, channel_policy: str) -> str | None:
    """The montage as a string (an mne montage name or a file path), checked once before any file is read."""
    if montage is None:
        return None
    if not isinstance(montage, (str, os.PathLike)):
        raise DatasetBuildError(f"montage must be an mne montage name or a file path, got {type(montage).__name__}")
    if channel_policy not in ("nearest", "interpolate"):
        raise DatasetBuildError(
            f"montage={os.fspath(montage)!r} is only used with channel_policy 'nearest' or 'interpolate', not "
            f"{channel_policy!r}",
            hint="add --channel-policy nearest (or interpolate)",
        )
    from ..montage import load_montage

    load_montage(montage)  # an unknown name or unreadable file: a MontageError with the known names as hint
    return os.fspath(montage)


def build_options(
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    stride_seconds: float | None = None,
    *,
    l_freq: float | None = 0.1,
    h_freq: float | None = 75.0,
    notch: float | None = 50.0,
    channel_policy: str = "strict",
    channels: Sequence[str] | None = None,
    montage: str | os.PathLike | None = None,
    bipolar: str | None = None,
    straddle: str = "majority",
    markers: str = "point",
    on_error: str = "fail",
    allow_truncated: bool = False,
    progress: bool = False,
) -> WindowOptions:
    """Validated :class:`WindowOptions` (every problem is a :class:`DatasetBuildError` naming the value)."""
    window, stride = validate_window(window_seconds, stride_seconds)
    montage = _check_montage(montage, channel_policy)
    if bipolar not in (None, "anode", "drop"):
        raise DatasetBuildError(f"bipolar must be None, 'anode' or 'drop', got {bipolar!r}",
                                hint="--bipolar anode feeds Fpz-Cz to the Fpz row; --bipolar drop leaves it out")  # fmt: skip
    if straddle not in STRADDLE_RULES:
        raise DatasetBuildError(f"straddle must be one of {list(STRADDLE_RULES)}, got {straddle!r}")
    if markers not in MARKER_MODES:
        raise DatasetBuildError(f"markers must be one of {list(MARKER_MODES)}, got {markers!r}")
    if on_error not in ON_ERROR:
        raise DatasetBuildError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    if channels is not None and isinstance(channels, str):
        raise DatasetBuildError(f"channels must be a list of channel names, got the string {channels!r}")
    return WindowOptions(
        window_seconds=window,
        stride_seconds=stride,
        l_freq=l_freq,
        h_freq=h_freq,
        notch=notch,
        channel_policy=channel_policy,
        channels=tuple(channels) if channels is not None else None,
        montage=montage,
        bipolar=bipolar,
        allow_truncated=bool(allow_truncated),
        straddle=straddle,  # type: ignore[arg-type]
        markers=markers,  # type: ignore[arg-type]
        on_error=on_error,  # type: ignore[arg-type]
        progress=progress,
    )


# --------------------------------------------------------------------------------------------------------------------
# Generation (runs in worker processes)
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class _Split:
    files: list[Path]
    labels: list[Any]


def _record(opts: WindowOptions, rec: dict[str, Any]) -> None:
    if opts.report_dir is None:
        return
    path = Path(opts.report_dir) / f"{os.getpid()}.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, default=str) + "\n")


def _generate(files: list[str], labels: list[Any], opts: WindowOptions) -> Iterator[dict[str, Any]]:
    """The ``datasets`` generator: one shard = a list of files (with their per-file labels).

    Each file is processed completely (its windows are views of one preprocessed array) before any of its rows is
    yielded, so a file either contributes all its windows or none; its warnings are collected into the build
    report and re-emitted by the main process.
    """
    fn = recipe_fn(opts)
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
            msg = describe_error(path, error)
            _record(opts, {"file": fp, "status": "failed" if opts.on_error == "fail" else "skipped",
                           "reason": msg, "hint": getattr(error, "hint", None), "windows": 0,
                           "warnings": messages})  # fmt: skip
            if opts.on_error == "fail":
                raise DatasetBuildError(msg, hint=getattr(error, "hint", None)) from error
            continue
        _record(opts, {"file": fp, "status": "ok", "windows": len(rows), "warnings": messages, **info})
        yield from rows


def _generate_shards(shards: list[tuple[list[str], list[Any]]], opts: WindowOptions) -> Iterator[dict[str, Any]]:
    """The ``datasets`` generator over groups of files (``datasets`` hands each process a contiguous run of them)."""
    for files, labels in shards:
        yield from _generate(files, labels, opts)


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


def _generate_split(split: _Split, features, opts: WindowOptions, *, cache_dir: Path, num_proc: int,
                    keep_in_memory: bool = False):  # fmt: skip
    from datasets import Dataset
    from datasets.exceptions import DatasetGenerationError

    files = [str(f) for f in split.files]
    n_proc = max(1, min(int(num_proc or 1), len(files)))
    if n_proc > 1:
        # one shard per process, contiguous (row order = file order) and balanced by file size
        bounds = _balanced_bounds([file_size(f) for f in files], n_proc)
        gen_kwargs = {"shards": [(files[a:b], list(split.labels)[a:b]) for a, b in bounds], "opts": opts}
        n_proc = len(bounds)
    else:
        gen_kwargs = {"shards": [(files, list(split.labels))], "opts": opts}
    try:
        return Dataset.from_generator(
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
    except ValueError as err:
        if "corresponds to no data" not in str(err):  # datasets' way of saying: not a single row
            raise
        return Dataset.from_dict({name: [] for name in features}, features=features)


def _unwrap(err: BaseException, opts: WindowOptions) -> BaseException:
    cur: BaseException | None = err
    while cur is not None:
        if isinstance(cur, DatasetBuildError):
            return DatasetBuildError(str(cur), hint=cur.hint)
        cur = cur.__cause__ or cur.__context__
    if opts.report_dir is not None:
        for rec in _read_records(Path(opts.report_dir)):
            if rec.get("status") == "failed":
                return DatasetBuildError(rec["reason"], hint=rec.get("hint"))
    return DatasetBuildError(f"dataset generation failed: {err.__cause__ or err}")


# --------------------------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------------------------


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


def _no_windows_reason(records: list[dict[str, Any]], opts: WindowOptions) -> tuple[str, str | None]:
    """Why a build produced no window, from the per-file records: ``(reason, hint)``."""
    ok = [r for r in records if r.get("status") == "ok"]
    skipped = [r for r in records if r.get("status") == "skipped"]
    win = f"{opts.window_seconds:g}-s window"
    shorter = "use a shorter --window-seconds (window_seconds=)"
    if not ok:
        if skipped and all("too short" in r["reason"] for r in skipped):
            return f"all {len(skipped)} file(s) are shorter than one {win} (e.g. {skipped[0]['reason']})", shorter
        if skipped:
            return f"every file was skipped ({len(skipped)}), e.g. {skipped[0]['reason']}", None
        return "no file was read", None
    cut = sum(int(r.get("cut", 0)) for r in ok)
    tail = f"; {len(skipped)} file(s) skipped, e.g. {skipped[0]['reason']}" if skipped else ""
    if opts.trials is not None:
        reason = _no_trials_reason(ok, opts, tail)
        if reason is not None:
            return reason
    if "cut" in ok[0] and cut == 0:
        return f"every file is shorter than one {win}", shorter
    if opts.labels_from == "annotations":
        matched = sum(int(r.get("events_matched", 0)) for r in ok)
        if matched == 0:
            counts: Counter[str] = Counter()
            for r in ok:
                counts.update(r.get("descriptions", {}))
            found = ", ".join(f"{d!r} ({n})" for d, n in counts.most_common(10)) or "none (no annotations)"
            keys = sorted(opts.label_map or {})
            return (f"no annotation matched the label map {keys}; descriptions found: {found}{tail}",
                    "use the descriptions found as the label map's keys (matching ignores case and spaces)")  # fmt: skip
        markers = sum(int(r.get("markers_matched", 0)) for r in ok)
        if markers == matched and opts.markers == "point":
            return (f"{cut} window(s) were cut and {matched} annotation(s) matched the label map, but they are all "
                    f"markers of duration 0, which label no window with straddle={opts.straddle!r}{tail}",
                    "pass markers='span' (--markers span) to label the time from each marker to the next")  # fmt: skip
        return (f"{cut} window(s) were cut and {matched} annotation(s) matched the label map, but the straddle rule "
                f"{opts.straddle!r} labelled none of the windows{tail}",
                "try --straddle any, a shorter --window-seconds, or --background CLASS")  # fmt: skip
    return f"{cut} window(s) were cut but none was kept{tail}", None


def _no_trials_reason(ok: list[dict[str, Any]], opts: WindowOptions, tail: str) -> tuple[str, str | None] | None:
    """Why a trial build produced no row (``None``: not one of the trial-specific reasons)."""
    spec: TrialSpec = opts.trials
    trials = sum(int(r.get("trials", 0)) for r in ok)
    outside = sum(int(r.get("trials_outside", 0)) for r in ok)
    if trials == 0:
        counts: Counter[str] = Counter()
        for r in ok:
            counts.update(r.get("event_names", {}))
        found = ", ".join(f"{d!r} ({n})" for d, n in counts.most_common(10)) or "none"
        if opts.labels_from == "events" and opts.label_map:
            return (f"no event matched the label map {sorted(opts.label_map)}; events found: {found}{tail}",
                    "use the event names found as the label map's keys (matching ignores case and spaces)")  # fmt: skip
        return (f"no event to cut trials at (epochs_from={spec.events!r}); events found: {found}{tail}",
                "check --epochs-from (annotations, annotations:DESC1,DESC2, stim:CHANNEL)")  # fmt: skip
    if outside == trials:
        return (f"all {trials} trial(s) reach outside their recordings (tmin={spec.tmin:g} s, tmax={spec.tmax:g} s "
                f"around each event){tail}",
                "choose --tmin/--tmax so that the trials fit inside the recordings")  # fmt: skip
    return None


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


# --------------------------------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------------------------------


def _generate_all(splits: dict[str, _Split], features, opts: WindowOptions, scratch: Path, *, num_proc: int,
                  keep_in_memory: bool, pre_records: list[dict[str, Any]] | None):  # fmt: skip
    """Generate every split; returns ``(datasets by split, per-file records, report facts)``."""
    report_dir = scratch / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    opts.report_dir = str(report_dir)
    built: dict[str, Any] = {}
    for name, split in splits.items():
        built[name] = _generate_split(split, features, opts, cache_dir=scratch / "cache", num_proc=num_proc,
                                      keep_in_memory=keep_in_memory)  # fmt: skip
    records = list(pre_records or []) + _read_records(report_dir)
    extra = _announce(records)
    empty = [n for n, d in built.items() if len(d) == 0]
    if empty:
        which = "" if len(splits) == 1 else f" for split(s) {empty}"
        if len(splits) > 1:
            keep = {str(f) for n in empty for f in splits[n].files}
            records = [r for r in records if r.get("file") in keep]
        reason, hint = _no_windows_reason(records, opts)
        raise DatasetBuildError(f"no windows were produced{which}: {reason}", hint=hint)
    extra["rows"] = {n: len(d) for n, d in built.items()}
    return built, records, extra


def run_build(
    splits: dict[str, _Split],
    features,
    opts: WindowOptions,
    output: OutputTarget | str | os.PathLike | None,
    *,
    num_proc: int = 1,
    overwrite: bool = False,
    settings: dict[str, Any] | None = None,
    as_dict: bool = False,
    pre_records: list[dict[str, Any]] | None = None,
    extractor=None,
    schema: LabelSchema | None = None,
    inputs: Iterable[str | os.PathLike] = (),
    shard_size: int | str | None = None,
    plot_channels: bool = False,
):
    """Generate one or several splits and save them safely (see the module docstring).

    Args:
        splits: split name -> files and per-file labels.
        features: the ``datasets`` features of every split.
        opts: per-file settings.
        output: an :class:`~labram_hf.outputs.OutputTarget` (checked already), a directory path (checked here,
            against ``inputs`` and every split's files) or ``None`` (build in memory).
        extractor, schema: the preprocessing contract saved with the dataset (default: from ``opts`` and the
            ``label`` feature).
        as_dict: return (and save) a :class:`datasets.DatasetDict` even for one split.
        shard_size: write Parquet shards of at most this many bytes (an int or ``"500MB"``) instead of an Arrow
            dataset, resumably (:mod:`labram_hf.data.shards`); one split only, needs an output.
        plot_channels: also draw the channel mapping of every distinct montage into ``channels.png``
            (``channels-1.png``, ``channels-2.png``, ... when the files have several; needs matplotlib).

    Returns:
        The dataset (loaded back from the output directory when there is one); with ``shard_size`` a streaming
        :class:`datasets.IterableDataset` over the written shards.
    """
    import datasets
    from datasets import DatasetDict, load_from_disk

    if opts.on_error not in ON_ERROR:
        raise DatasetBuildError(f"on_error must be 'fail' or 'skip', got {opts.on_error!r}")
    for name, split in splits.items():
        if not split.files:
            raise DatasetBuildError(f"split {name!r} has no input files")
    max_shard_bytes = None
    if shard_size is not None:
        from .shards import parse_shard_size

        max_shard_bytes = parse_shard_size(shard_size)
        if output is None:
            raise DatasetBuildError("shard_size needs an output directory", hint="pass --output DIR (output_dir=)")
        if len(splits) != 1 or as_dict:
            raise DatasetBuildError(f"sharded builds write one split, got {sorted(splits)}",
                                    hint="build each split into its own output directory")  # fmt: skip
    target = output
    if output is not None and not isinstance(output, OutputTarget):
        all_inputs = [*inputs, *(f for split in splits.values() for f in split.files)]
        target = OutputTarget(output, inputs=all_inputs, overwrite=overwrite, kind="dir", command="prepare")
    extractor = extractor if extractor is not None else make_extractor(opts)
    schema = schema if schema is not None else LabelSchema.from_feature(features.get("label"))
    settings = {**(settings or {}), "on_error": opts.on_error}
    if max_shard_bytes is not None:
        settings["shard_size"] = max_shard_bytes

    bars_were_enabled = datasets.is_progress_bar_enabled()
    if not opts.progress:
        datasets.disable_progress_bars()
    try:
        if target is None:
            scratch = Path(tempfile.mkdtemp(prefix="labram-data-"))
            try:
                built, _, _ = _generate_all(splits, features, opts, scratch, num_proc=num_proc, keep_in_memory=True,
                                            pre_records=pre_records)  # fmt: skip
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return DatasetDict(built) if as_dict else built[next(iter(built))]
        with target as out:
            work = out.work
            if max_shard_bytes is not None:
                records, extra = _build_sharded(splits, features, opts, work, target.target, num_proc=num_proc,
                                                max_shard_bytes=max_shard_bytes, pre_records=pre_records)  # fmt: skip
            else:
                scratch = work / ".build"  # Arrow cache and per-process reports, removed before the commit
                built, records, extra = _generate_all(splits, features, opts, scratch, num_proc=num_proc,
                                                      keep_in_memory=False, pre_records=pre_records)  # fmt: skip
                result = DatasetDict(built) if as_dict else built[next(iter(built))]
                result.save_to_disk(str(work))
                del result, built
                shutil.rmtree(scratch)
            if plot_channels:
                extra["channel_plots"] = write_channel_plots(work, records, opts)
            _write_reports(work, records, settings, extra)
            save_dataset_contract(work, extractor, schema)
            if as_dict:
                for name in splits:
                    save_dataset_contract(work / name, extractor, schema)
            out.commit()
        from .shards import shard_cache_dir

        # finished file groups of an interrupted sharded build: in the output now, or made stale by this build
        shutil.rmtree(shard_cache_dir(target.target), ignore_errors=True)
    finally:
        if bars_were_enabled:
            datasets.enable_progress_bars()
    if max_shard_bytes is not None:
        from .shards import open_shards

        return open_shards(target.target, features=features)
    return load_from_disk(str(target.target))


def _build_sharded(splits: dict[str, _Split], features, opts: WindowOptions, work: Path, target: Path, *,
                   num_proc: int, max_shard_bytes: int, pre_records: list[dict[str, Any]] | None):  # fmt: skip
    """The sharded build of the only split into ``work`` (see :mod:`labram_hf.data.shards`): returns
    ``(records, report facts)``; no windows at all is a :class:`DatasetBuildError` saying why."""
    from .shards import build_shards, finish_shards, shard_cache_dir

    (name, split), = splits.items()
    cache = shard_cache_dir(target)
    built = build_shards(name, [str(f) for f in split.files], list(split.labels), features, opts, cache=cache,
                         max_shard_bytes=max_shard_bytes, num_proc=num_proc)  # fmt: skip
    records = list(pre_records or []) + built.records
    extra = _announce(records)
    if built.num_rows == 0:
        reason, hint = _no_windows_reason(records, opts)
        raise DatasetBuildError(f"no windows were produced: {reason}", hint=hint)
    extra["rows"] = {name: built.num_rows}
    extra.update(finish_shards(built, work, name, features, max_shard_bytes, cache))
    return records, extra


# --------------------------------------------------------------------------------------------------------------------
# Channels: previews, the token budget, mapping images
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class ChannelGroup:
    """Files whose channels map identically (one mapping table), or one file that cannot be mapped.

    ``mapping`` is a :class:`labram_hf.montage.ChannelMapping` (``None`` when the header is unreadable);
    ``problem`` the error preprocessing would raise for these files (``None``: they map fine).
    """

    files: list[str]
    mapping: Any
    problem: Exception | None = None

    @property
    def num_channels(self) -> int:
        """Model channels per window (0 when the files cannot be mapped)."""
        return 0 if self.mapping is None or self.problem is not None else len(self.mapping.ids)


def preview_channels(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    channel_policy: str | None = None,
    montage: str | os.PathLike | None = None,
    bipolar: str | None = None,
    channels: Sequence[str] | None = None,
    allow_truncated: bool = False,
) -> list[ChannelGroup]:
    """How every input's channels would map onto the vocabulary, from the headers alone (nothing is written):
    files with identical mapping tables are grouped, in input order (``labram prepare --dry-run``)."""
    files = resolve_inputs(inputs)
    opts = build_options(DEFAULT_WINDOW_SECONDS, channel_policy=_channel_policy(channel_policy, None), montage=montage,
                         bipolar=bipolar, channels=channels, allow_truncated=allow_truncated)  # fmt: skip
    return _channel_groups(files, opts)


def _channel_groups(files: Sequence[Path], opts: WindowOptions) -> list[ChannelGroup]:
    groups: dict[str, ChannelGroup] = {}
    for f in files:
        problem, mapping = None, None
        try:  # the mapping, checked as preprocessing checks it
            mapping = channel_mapping(f, opts, check=True)
        except Exception as err:  # noqa: BLE001 - reported with the file name
            problem = err
        if mapping is None:
            try:  # the table with the problems in it
                mapping = channel_mapping(f, opts, check=False)
            except Exception as err:  # noqa: BLE001 - an unreadable header
                error = DatasetBuildError(describe_error(f, err), hint=getattr(err, "hint", None))
                groups[f"error:{f}"] = ChannelGroup([str(f)], None, error)
                continue
        # files group by their table (and the same problem, whichever file it names)
        said = None if problem is None else str(problem).replace(str(f), "FILE")
        key = json.dumps([mapping.table(), mapping.ids, mapping.template, said], default=str)
        if key in groups:
            groups[key].files.append(str(f))
        else:
            groups[key] = ChannelGroup([str(f)], mapping, problem)
    return list(groups.values())


def window_for_max_tokens(groups: Sequence[ChannelGroup], max_tokens: int) -> tuple[int, int]:
    """The window length of a dataset under a token budget: ``(seconds, channels)``.

    The rule of the original pre-training (:func:`labram_hf.data.corpus.window_seconds_for_channels`): the most
    whole seconds with ``channels x seconds <= max_tokens``, at most 16 (the model's time patches) and at least 1.
    Every file must map to the same number of model channels (one window length per dataset); files that cannot
    be mapped are left out of the decision.

    Raises:
        DatasetBuildError: no file maps, or the files map to different channel counts (with a hint to prepare each
            montage into its own dataset).
    """
    from .corpus import window_seconds_for_channels

    counts: dict[int, list[str]] = {}
    for g in groups:
        if g.num_channels:
            counts.setdefault(g.num_channels, []).extend(g.files)
    if not counts:
        bad = next((g for g in groups if g.problem is not None), None)
        raise DatasetBuildError(f"max_tokens={max_tokens}: no input maps onto LaBraM's channels"
                                + (f" ({bad.problem})" if bad is not None else ""),
                                hint=getattr(bad.problem, "hint", None) if bad is not None else None)  # fmt: skip
    if len(counts) > 1:
        parts = "; ".join(f"{n} channels: {len(fs)} file(s), e.g. {Path(fs[0]).name}"
                          for n, fs in sorted(counts.items()))  # fmt: skip
        raise DatasetBuildError(
            f"max_tokens={max_tokens} picks the window from the channel count, but the inputs map to different "
            f"numbers of channels ({parts}) and a dataset has one window length",
            hint="prepare each montage into its own --output (a pre-training corpus mixes them, each with its own "
                 "window), select common electrodes with --channels, or give --window-seconds",
        )  # fmt: skip
    (n_channels,) = counts
    return window_seconds_for_channels(n_channels, tokens=int(max_tokens)), n_channels


def _check_max_tokens(max_tokens: Any, window_seconds: Any) -> int:
    if window_seconds is not None:
        raise DatasetBuildError(f"give window_seconds ({window_seconds}) or max_tokens ({max_tokens}), not both",
                                hint="--max-tokens 256 picks the window from the channel count; --window-seconds "
                                     "sets it")  # fmt: skip
    try:
        tokens = int(max_tokens)
    except (TypeError, ValueError):
        tokens = 0
    if isinstance(max_tokens, bool) or tokens < 1 or tokens != max_tokens:
        raise DatasetBuildError(f"max_tokens must be a positive whole number, got {max_tokens!r}",
                                hint="e.g. --max-tokens 256, the original pre-training budget")  # fmt: skip
    return tokens


#: At most this many channel images per build (one per distinct montage); further montages are only reported.
MAX_CHANNEL_PLOTS = 20


def write_channel_plots(directory: Path, records: list[dict[str, Any]], opts: WindowOptions) -> list[dict[str, Any]]:
    """Draw the channel mapping of every distinct montage among the files that were read (same model channels = same
    montage) with :func:`labram_hf.montage.plot_mapping`: ``channels.png`` for one, ``channels-1.png`` ... for
    several; returns what was drawn (image, files, channels, an example file). Missing matplotlib warns."""
    montages: dict[tuple[str, ...], list[str]] = {}
    for rec in records:
        if rec.get("status") == "ok" and rec.get("channels"):
            montages.setdefault(tuple(rec["channels"]), []).append(rec["file"])
    if not montages:
        return []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        warnings.warn("matplotlib is not installed: no channels.png written (pip install matplotlib)", UserWarning,
                      stacklevel=3)  # fmt: skip
        return []
    single = len(montages) == 1
    drawn = []
    for k, (names, files) in enumerate(montages.items(), start=1):
        entry: dict[str, Any] = {"channels": len(names), "files": len(files), "example": files[0]}
        if k <= MAX_CHANNEL_PLOTS:
            image = "channels.png" if single else f"channels-{k}.png"
            try:
                from ..montage import plot_mapping

                mapping = channel_mapping(files[0], opts, check=False)
                title = (f"channel_policy={mapping.policy!r}: {len(mapping.ids)} model channels, "
                         f"{len(files)} file(s) like {Path(files[0]).name}")  # fmt: skip
                plot_mapping(mapping, directory / image, title=title)
                entry["image"] = image
            except Exception as err:  # noqa: BLE001 - an image is a convenience, never a reason to fail a build
                warnings.warn(f"could not draw the channel mapping of {files[0]}: {err}", UserWarning, stacklevel=3)
        drawn.append(entry)
    return drawn


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------

LabelsSpec = None | str | os.PathLike | Mapping[str, Any] | Callable[[Path], Any]


def _settings(inputs, opts: WindowOptions, labels, label_map, class_names, label_schema, background,
              annotations=None) -> dict:  # fmt: skip
    def text(v):
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        if isinstance(v, os.PathLike):
            return os.fspath(v)
        return type(v).__name__

    return {
        "inputs": [os.fspath(i) for i in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)],
        "window_seconds": opts.window_seconds,
        "stride_seconds": opts.stride_seconds if opts.stride_seconds is not None else opts.window_seconds,
        "sampling_rate": SAMPLING_RATE,
        "l_freq": opts.l_freq,
        "h_freq": opts.h_freq,
        "notch": opts.notch,
        "channel_policy": opts.channel_policy,
        "strict_channels": opts.strict_channels,
        "channels": list(opts.channels) if opts.channels is not None else None,
        "montage": opts.montage,
        "bipolar": opts.bipolar,
        "allow_truncated": opts.allow_truncated,
        "labels": text(labels),
        "label_map": parse_label_map(label_map),
        "class_names": class_names if isinstance(class_names, (str, type(None))) else list(class_names),
        "label_schema": text(label_schema),
        "straddle": opts.straddle,
        "markers": opts.markers,
        "background": background,
        "trials": opts.trials is not None,
        "epochs_from": opts.trials.events if opts.trials is not None else None,
        "tmin": opts.trials.tmin if opts.trials is not None else None,
        "tmax": opts.trials.tmax if opts.trials is not None else None,
        "annotations": text(annotations) if not isinstance(annotations, Mapping) else "mapping",
    }


def _plan_trials(
    files: list[Path],
    *,
    labels: Any,
    label_map: Any,
    class_names: Any,
    label_schema: Any,
    window_seconds: Any,
    epochs_from: str | None,
    tmin: Any,
    tmax: Any,
    annotation_files: dict[str, str] | None,
    allow_truncated: bool,
    on_error: str,
) -> tuple[TrialSpec | None, list[Path], Any, list[str] | None, list[dict[str, Any]]]:
    """Decide whether this is a trial build and read what it needs from the inputs' headers.

    Returns ``(spec or None, files, window_seconds, event names for labels="events", skipped records)``.
    """
    from ..io import is_epochs_file

    spec = make_trial_spec(epochs_from, tmin, tmax)
    by_events = isinstance(labels, str) and labels.strip().lower() == "events"
    if spec.events is None and not any(is_epochs_file(f) for f in files):
        if spec.tmin is not None or spec.tmax is not None or by_events:
            what = "labels='events'" if by_events else "tmin/tmax"
            raise DatasetBuildError(f"{what} apply to trials, but no trials are cut: the inputs are continuous "
                                    "recordings and no epochs_from was given",
                                    hint="pass --epochs-from EVENTS --tmin S --tmax S, or epoch files")  # fmt: skip
        return None, files, DEFAULT_WINDOW_SECONDS if window_seconds is None else window_seconds, None, []
    need_names = by_events and parse_label_map(label_map) is None and class_names is None and label_schema is None
    scans, skipped = scan_trial_inputs(files, spec, annotation_files=annotation_files, need_names=need_names,
                                       allow_truncated=allow_truncated, on_error=on_error)  # fmt: skip
    if not scans:
        raise DatasetBuildError(f"no input file could be read ({len(skipped)} skipped)"
                                + (f", e.g. {skipped[0]['reason']}" if skipped else ""))  # fmt: skip
    names = sorted({n for s in scans for n in (s.names or {})}) if need_names else None
    return spec, [s.file for s in scans], trial_window(scans, spec, window_seconds), names, skipped


def build_dataset(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    output_dir: str | os.PathLike | None = None,
    *,
    window_seconds: float | None = None,
    stride_seconds: float | None = None,
    labels: LabelsSpec = None,
    label_map: Mapping[str, Any] | str | os.PathLike | None = None,
    class_names: Sequence[str] | str | None = None,
    label_schema: Any = None,
    straddle: str = "majority",
    markers: str = "point",
    background: Any = None,
    l_freq: float | None = 0.1,
    h_freq: float | None = 75.0,
    notch: float | None = 50.0,
    channel_policy: str | None = None,
    strict_channels: bool | None = None,
    channels: Sequence[str] | None = None,
    montage: str | os.PathLike | None = None,
    bipolar: str | None = None,
    allow_truncated: bool = False,
    epochs_from: str | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    annotations: str | os.PathLike | Mapping[str, Any] | None = None,
    max_tokens: int | None = None,
    shard_size: int | str | None = None,
    plot_channels: bool = False,
    num_proc: int = 1,
    on_error: str = "fail",
    overwrite: bool = False,
    progress: bool = True,
):
    """Build a window dataset from EEG recordings.

    Args:
        inputs: files, directories (searched recursively for :data:`EEG_FILE_SUFFIXES`) or glob patterns; a file
            reached twice (e.g. by a relative and an absolute path, or a symlink) is read once.
        output_dir: where to save (``datasets.load_from_disk`` format, plus ``preprocessor_config.json``,
            ``label_schema.json`` and ``build_report.json``). ``None`` builds in memory.
        window_seconds: window length (a whole number of seconds, at most 16 for LaBraM). Default 10; for trials
            the trial length (see :mod:`labram_hf.data.trials`), a shorter value cuts windows inside each trial.
        stride_seconds: hop between window starts (default: ``window_seconds``, non-overlapping).
        labels: ``None`` (unlabelled); a function ``path -> label``; a mapping path -> label; a CSV with columns
            ``path,label`` (``"csv:PATH"`` or a ``.csv`` path; see :mod:`labram_hf.data.labels` for the matching
            rules); ``"annotations"`` to label windows from the recordings' annotations with ``label_map``; or
            ``"events"`` to label trials by their event names (through ``label_map`` when given).
        label_map: annotation description -> class (dict, JSON string or JSON file); case- and
            whitespace-insensitive. Descriptions not in the map are ignored.
        class_names: explicit class order (a list or ``"a,b,c"``): class ``i`` is ``class_names[i]``; labels are
            names from it or indices into it. Without it (and without ``label_schema``) class names are sorted.
            Integer labels (``1``, ``1.0``, ``"1"``) make an ``int64`` column.
        label_schema: reuse the label schema of another build exactly: a dataset directory, a model directory
            (``config.id2label``), a ``label_schema.json`` file or a :class:`~labram_hf.data.contract.LabelSchema`.
            A class it does not know is an error.
        straddle: rule for annotation labels when a window straddles events: ``"majority"`` (default),
            ``"drop"`` or ``"any"`` (see :func:`labram_hf.data.windows.window_label`).
        markers: annotations of duration 0 (markers such as ``"eyes open"``): ``"point"`` (default) treats them as
            point events (they only label windows with ``straddle="any"``); ``"span"`` makes each mapped marker
            label the time until the next mapped annotation (the last one: until the end of the recording).
        background: class for windows touching no mapped annotation (default: such windows are dropped).
        l_freq, h_freq: band-pass edges (Hz). Recordings below 150 Hz need ``h_freq`` under their Nyquist (e.g. 45).
        notch: mains notch (50, 60 or ``None``).
        channel_policy: how recorded channels map onto the vocabulary (:mod:`labram_hf.channels`,
            :mod:`labram_hf.montage`): ``"strict"`` (default: unknown EEG channel names raise), ``"lenient"``
            (dropped with a warning), ``"aliases"`` (also synonyms), ``"nearest"`` (unknown names by electrode
            position) or ``"interpolate"`` (missing 10-20 electrodes by spherical splines).
        strict_channels: the older spelling of ``channel_policy`` (``True``: strict, ``False``: lenient).
        channels: optional fixed channel selection/order (e.g. :data:`labram_hf.channels.TUH_CHANNELS`); every file
            must have them all.
        montage: electrode positions for ``"nearest"``/``"interpolate"``: an mne montage name (``"biosemi64"``,
            ``"GSN-HydroCel-129"``, ...) or a montage file; default: each recording's own digitisation.
        bipolar: bipolar derivations such as ``"Fpz-Cz"``: an error (``None``), the anode's row (``"anode"``) or
            dropped (``"drop"``). Policy, montage and bipolar are saved in ``preprocessor_config.json``.
        allow_truncated: accept files whose data is shorter than their header declares (with a warning); by
            default they are an error.
        epochs_from: cut event-locked trials from continuous recordings: ``"annotations"``,
            ``"annotations:DESC1,DESC2"``, ``"stim"`` or ``"stim:CHANNEL"`` (:mod:`labram_hf.data.trials`); the
            recording is filtered before the trials are cut. Epoch files (``-epo.fif``, EEGLAB epoch ``.set``)
            among the inputs make a trial build by themselves (each trial filtered on its own). Trial rows carry
            ``event`` and ``onset`` columns.
        tmin, tmax: the trial ``[onset + tmin, onset + tmax)`` in seconds (for epoch files: an optional crop).
        max_tokens: pick the window length from the number of model channels, as the original pre-training did:
            ``floor(max_tokens / channels)`` seconds, at most 16, at least 1 (256 tokens: 64 channels -> 4 s, 19 ->
            13 s; :func:`window_for_max_tokens`). Excludes ``window_seconds``. The channel count comes from the
            files' headers; files mapping to different counts are an error (one window length per dataset:
            prepare each montage separately). The choice is recorded in ``build_report.json``
            (``settings.window_seconds``, ``settings.max_tokens``, ``settings.channels_per_window``).
        shard_size: write the dataset as Parquet shards of at most this many bytes (``"500MB"``, ``"1GiB"`` or an
            int) for :class:`~labram_hf.data.streaming.StreamingCorpus` and the Hub, built per group of files and
            resumable: a killed build of the same output reuses its finished groups (:mod:`labram_hf.data.shards`).
        plot_channels: draw the channel mapping of each distinct montage into ``channels.png`` in the output
            (``labram prepare`` does; needs matplotlib).
        annotations: annotations kept in separate files, attached to the recordings (replacing their own) before
            labelling and cutting: one file (with exactly one recording), ``"csv:PATH"`` with columns
            ``path,annotations``, or a mapping recording -> annotation file (EDF+/BDF+, mne .fif/.csv/.txt).
        num_proc: worker processes (files are split between them).
        on_error: ``"fail"`` stops at the first bad file; ``"skip"`` leaves it out and lists it in
            ``skipped_files.csv``.
        overwrite: replace an existing output directory made by labram-hf (only once the new dataset is
            complete); other non-empty directories are never replaced.
        progress: show tqdm progress bars.

    Returns:
        :class:`datasets.Dataset` (loaded back from ``output_dir`` when given); with ``shard_size`` a streaming
        :class:`datasets.IterableDataset` over the written shards.

    Raises:
        DatasetBuildError: bad settings, inputs or labels, a bad file (message names it), no windows produced
            (message says why), ``max_tokens`` over files with different channel counts.
        labram_hf.outputs.OutputError: an output that is an input, contains one, exists and is not empty (without
            ``overwrite``), was not made by labram-hf, or is being written by another process.
    """
    policy = _channel_policy(channel_policy, strict_channels)
    if max_tokens is not None:
        max_tokens = _check_max_tokens(max_tokens, window_seconds)
    if window_seconds is not None:
        validate_window(window_seconds, stride_seconds)
    if shard_size is not None:
        from .shards import parse_shard_size

        shard_size = parse_shard_size(shard_size)
        if output_dir is None:
            raise DatasetBuildError("shard_size needs an output directory", hint="pass --output DIR (output_dir=)")
    channel_opts = build_options(DEFAULT_WINDOW_SECONDS, channel_policy=policy, channels=channels, montage=montage,
                                 bipolar=bipolar, allow_truncated=allow_truncated)  # fmt: skip
    files = resolve_inputs(inputs)
    annotation_files = resolve_annotation_files(files, annotations)
    target = None
    if output_dir is not None:  # checked before anything is read
        target = OutputTarget(output_dir, inputs=[*input_roots(inputs), *files, *(annotation_files or {}).values()],
                              overwrite=overwrite, kind="dir", command="prepare")  # fmt: skip
    token_facts: dict[str, Any] = {}
    token_skipped: list[dict[str, Any]] = []
    if max_tokens is not None:
        window_seconds, files, token_skipped, token_facts = _plan_max_tokens(files, channel_opts, max_tokens,
                                                                             on_error)  # fmt: skip
        validate_window(window_seconds, stride_seconds)
    spec, files, window, event_names, scan_skipped = _plan_trials(
        files, labels=labels, label_map=label_map, class_names=class_names, label_schema=label_schema,
        window_seconds=window_seconds, epochs_from=epochs_from, tmin=tmin, tmax=tmax,
        annotation_files=annotation_files, allow_truncated=allow_truncated, on_error=on_error,
    )  # fmt: skip
    opts = build_options(window, stride_seconds, l_freq=l_freq, h_freq=h_freq, notch=notch,
                         channel_policy=policy, channels=channels, montage=montage, bipolar=bipolar,
                         straddle=straddle, markers=markers, on_error=on_error, allow_truncated=allow_truncated,
                         progress=progress)  # fmt: skip
    opts.trials, opts.annotation_files = spec, annotation_files
    resolved = resolve_labels(files, labels, label_map=label_map, class_names=class_names, label_schema=label_schema,
                              background=background, on_error=on_error, event_names=event_names)  # fmt: skip
    opts.labels_from = resolved.mode  # type: ignore[assignment]
    opts.label_map = resolved.label_map
    opts.background = resolved.background
    features = make_features(opts.window_samples, resolved.feature, trials=spec is not None)
    settings = _settings(inputs, opts, labels, label_map, class_names, label_schema, background, annotations)
    settings.update(token_facts)
    return run_build(
        {"train": _Split(resolved.files, resolved.labels)}, features, opts, target, num_proc=num_proc,
        settings=settings, pre_records=token_skipped + scan_skipped + resolved.skipped,
        extractor=make_extractor(opts), schema=resolved.schema, shard_size=shard_size, plot_channels=plot_channels,
    )  # fmt: skip


def _plan_max_tokens(files: list[Path], opts: WindowOptions, max_tokens: int, on_error: str):
    """Read the inputs' headers and pick the window for ``max_tokens``: returns ``(window_seconds, files that map,
    skipped records, settings facts)``. An unmappable file fails the build now (``on_error="fail"``) or is left
    out and reported (``"skip"``)."""
    groups = _channel_groups(files, opts)
    skipped: list[dict[str, Any]] = []
    bad = {f for g in groups if g.problem is not None for f in g.files}
    for g in groups:
        if g.problem is None:
            continue
        if on_error == "fail":
            msg = str(g.problem)
            raise DatasetBuildError(msg if g.files[0] in msg else f"{g.files[0]}: {msg}",
                                    hint=getattr(g.problem, "hint", None))  # fmt: skip
        msg = str(g.problem)
        skipped += [{"file": f, "status": "skipped", "reason": msg if f in msg else f"{f}: {msg}", "windows": 0}
                    for f in g.files]  # fmt: skip
    seconds, n_channels = window_for_max_tokens(groups, max_tokens)
    facts = {"max_tokens": max_tokens, "channels_per_window": n_channels,
             "window_rule": f"min(16, max(1, floor({max_tokens} / {n_channels}))) = {seconds} s"}  # fmt: skip
    logger.info("max_tokens=%d with %d channels: %d-s windows", max_tokens, n_channels, seconds)
    return float(seconds), [f for f in files if str(f) not in bad], skipped, facts


def iter_dataset(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    window_seconds: float | None = None,
    stride_seconds: float | None = None,
    labels: LabelsSpec = None,
    label_map: Mapping[str, Any] | str | os.PathLike | None = None,
    class_names: Sequence[str] | str | None = None,
    label_schema: Any = None,
    straddle: str = "majority",
    markers: str = "point",
    background: Any = None,
    l_freq: float | None = 0.1,
    h_freq: float | None = 75.0,
    notch: float | None = 50.0,
    channel_policy: str | None = None,
    strict_channels: bool | None = None,
    channels: Sequence[str] | None = None,
    montage: str | os.PathLike | None = None,
    bipolar: str | None = None,
    allow_truncated: bool = False,
    epochs_from: str | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    annotations: str | os.PathLike | Mapping[str, Any] | None = None,
    on_error: str = "fail",
):
    """The rows of :func:`build_dataset` as a streaming :class:`datasets.IterableDataset` (nothing written).

    Files are preprocessed lazily while iterating; the dataset has one shard per file, so a
    ``torch.utils.data.DataLoader(..., num_workers=N)`` spreads files over workers. With ``on_error="skip"``
    failing files are skipped with a warning naming them.
    """
    from datasets import IterableDataset

    policy = _channel_policy(channel_policy, strict_channels)
    if window_seconds is not None:
        validate_window(window_seconds, stride_seconds)
    files = resolve_inputs(inputs)
    annotation_files = resolve_annotation_files(files, annotations)
    spec, files, window, event_names, scan_skipped = _plan_trials(
        files, labels=labels, label_map=label_map, class_names=class_names, label_schema=label_schema,
        window_seconds=window_seconds, epochs_from=epochs_from, tmin=tmin, tmax=tmax,
        annotation_files=annotation_files, allow_truncated=allow_truncated, on_error=on_error,
    )  # fmt: skip
    opts = build_options(window, stride_seconds, l_freq=l_freq, h_freq=h_freq, notch=notch,
                         channel_policy=policy, channels=channels, montage=montage, bipolar=bipolar,
                         straddle=straddle, markers=markers, on_error=on_error,
                         allow_truncated=allow_truncated)  # fmt: skip
    opts.trials, opts.annotation_files = spec, annotation_files
    resolved = resolve_labels(files, labels, label_map=label_map, class_names=class_names, label_schema=label_schema,
                              background=background, on_error=on_error, event_names=event_names)  # fmt: skip
    for rec in scan_skipped + resolved.skipped:
        warnings.warn(f"skipping {rec['reason']}", UserWarning, stacklevel=2)
    opts.labels_from = resolved.mode  # type: ignore[assignment]
    opts.label_map = resolved.label_map
    opts.background = resolved.background
    features = make_features(opts.window_samples, resolved.feature, trials=spec is not None)
    return IterableDataset.from_generator(
        _stream, features=features, gen_kwargs={"files": [str(f) for f in resolved.files],
                                                "labels": resolved.labels, "opts": opts},  # fmt: skip
    )


def _stream(files: list[str], labels: list[Any], opts: WindowOptions) -> Iterator[dict[str, Any]]:
    fn = recipe_fn(opts)
    for fp, lab in zip(files, labels):
        path = Path(fp)
        try:
            rows = list(fn(path, lab, opts, {}))
        except Exception as err:  # noqa: BLE001
            msg = describe_error(path, err)
            if opts.on_error == "fail":
                raise DatasetBuildError(msg, hint=getattr(err, "hint", None)) from err
            warnings.warn(f"skipping {msg}", UserWarning, stacklevel=2)
            continue
        yield from rows
