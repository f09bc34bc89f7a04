"""The TUAB and TUEV fine-tuning recipes of LaBraM (``dataset_maker/make_TUAB.py`` and ``make_TUEV.py``).

Running them (you need access to the TUH EEG corpora, https://isip.piconepress.com/projects/tuh_eeg/)
-------------------------------------------------------------------------------------------------------

1. Download **TUAB** (TUH Abnormal EEG, v3.0.x) and/or **TUEV** (TUH EEG Events, v2.0.x) with the rsync command the
   TUH team sends you. Keep their layout, e.g.::

       tuh_eeg_abnormal/v3.0.1/edf/train/normal/01_tcp_ar/aaaaamye_s001_t000.edf
       tuh_eeg_abnormal/v3.0.1/edf/eval/abnormal/01_tcp_ar/aaaaabdo_s003_t000.edf
       tuh_eeg_events/v2.0.1/edf/train/aaaaablw/aaaaablw_00000001.edf   (+ aaaaablw_00000001.rec)
       tuh_eeg_events/v2.0.1/edf/eval/000/bckg_000_a_.edf                (+ bckg_000_a_.rec)

2. Build the datasets (the directory given is the one holding ``train/`` and ``eval/``, or its parent ``edf/``)::

       from labram_hf.data.tuh import build_tuab, build_tuev
       tuab = build_tuab("tuh_eeg_abnormal/v3.0.1/edf", "data/tuab", num_proc=8)
       tuev = build_tuev("tuh_eeg_events/v2.0.1/edf", "data/tuev", num_proc=8)
       tuab["train"], tuab["validation"], tuab["test"]   # datasets.DatasetDict, saved with save_to_disk

   Later: ``datasets.load_from_disk("data/tuab")``. The output directory (and each split directory) also holds the
   preprocessing contract (``preprocessor_config.json``, ``label_schema.json``; :mod:`labram_hf.data.contract`).
   TUAB gives about 410k training windows (~60 GB of float32); use ``on_error="skip"`` to leave out the few files
   without the 23 channels (the original logs them as errors, issue #45) and read the reasons in
   ``data/tuab/skipped_files.csv``.

What the recipes do (as the original makers, with the differences listed):

* Channels: the 23 monopolar channels of :data:`labram_hf.channels.TUH_CHANNELS` in that order (EDF names
  ``EEG FP1-REF`` ...); other channels are ignored. (The original dropped a fixed list of non-EEG channels and then
  required exactly these 23, so it rejects a file with any other extra channel; here only missing channels fail.)
* Signal: band-pass 0.1-75 Hz, notch 50 Hz (the original uses 50 Hz on this US data too), resample to 200 Hz,
  microvolts / 100 (model units; the original stores microvolts and divides by 100 in its training engine).
* **TUAB**: non-overlapping 10-s windows (2000 samples, remainder dropped); label ``abnormal`` = 1, ``normal`` = 0
  from the directory name.
* **TUEV**: the signal is tiled three times along time; each row ``channel,start,stop,label`` of the same-stem
  ``.rec`` file becomes one 5-s sample (the 1-s event +- 2 s, [23, 1000]) with all channels, starting at the first
  sample at or after ``start`` (events near the edges wrap around, exactly as the original's tiling); labels 1-6 ->
  0-5 in the order :data:`TUEV_CLASSES` (SPSW, GPED, PLED, EYEM, ARTF, BCKG). The event's channel index is kept in
  the ``event_channel`` column. (The original takes ``stop`` + 2 s as the end and so fails on events that are not
  exactly 1 s long; here every sample is 5 s.)
* Split: subjects = the file-name prefix before the first ``_``; a **seeded** random 20 % of the official-train
  subjects form ``validation`` (``numpy.random.RandomState(seed).choice`` over the sorted subject list; the
  original's TUAB split had no seed and depended on Python's set order), official ``eval`` is ``test``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..channels import TUH_CHANNELS
from ..constants import SAMPLING_RATE
from .build import _Split, make_features, run_build
from .contract import LabelSchema
from .errors import DatasetBuildError
from .windows import WindowOptions, load_preprocessed

__all__ = ["TUAB_CLASSES", "TUEV_CLASSES", "build_tuab", "build_tuev", "find_split_dirs", "subject_of",
           "subject_split"]  # fmt: skip

TUAB_CLASSES: tuple[str, ...] = ("normal", "abnormal")
TUEV_CLASSES: tuple[str, ...] = ("spsw", "gped", "pled", "eyem", "artf", "bckg")
DEFAULT_SEED = 4523


def subject_of(path: str | os.PathLike) -> str:
    """The subject of a TUH file: its name up to the first ``_`` (``aaaaamye_s001_t000.edf`` -> ``aaaaamye``)."""
    return Path(path).name.split("_")[0]


def subject_split(
    files: Sequence[Path], val_fraction: float = 0.2, seed: int = DEFAULT_SEED
) -> tuple[list[Path], list[Path]]:
    """Split files into (train, validation) by subject, reproducibly.

    ``int(n_subjects * val_fraction)`` subjects (at least one when there are two or more subjects and
    ``val_fraction > 0``) are drawn without replacement with ``numpy.random.RandomState(seed)`` from the sorted
    subject list; all files of a subject land on the same side.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    subjects = sorted({subject_of(f) for f in files})
    n_val = int(len(subjects) * val_fraction)
    if val_fraction > 0 and n_val == 0 and len(subjects) >= 2:
        n_val = 1
    rng = np.random.RandomState(seed)
    val = set(rng.choice(subjects, size=n_val, replace=False).tolist()) if n_val else set()
    return [f for f in files if subject_of(f) not in val], [f for f in files if subject_of(f) in val]


def find_split_dirs(root: str | os.PathLike) -> tuple[Path, Path]:
    """Locate the official ``train`` and ``eval`` directories under ``root`` (``root`` or ``root/edf``)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetBuildError(f"{root}: no such directory")
    for base in (root, root / "edf"):
        if (base / "train").is_dir() and (base / "eval").is_dir():
            return base / "train", base / "eval"
    raise DatasetBuildError(
        f"{root}: expected the TUH layout with 'train/' and 'eval/' directories (or 'edf/train', 'edf/eval')"
    )


def _edf_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() == ".edf")
    if not files:
        raise DatasetBuildError(f"{directory}: no .edf files found")
    return files


def _tuab_label(path: Path, split_dir: Path) -> int:
    parts = [p.lower() for p in path.relative_to(split_dir).parts[:-1]]
    if "abnormal" in parts:
        return 1
    if "normal" in parts:
        return 0
    raise DatasetBuildError(f"{path}: neither in a 'normal' nor in an 'abnormal' directory")


def _options(notch, on_error, progress, window_seconds, recipe=None) -> WindowOptions:
    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    return WindowOptions(
        window_seconds=window_seconds,
        notch=notch,
        channels=tuple(TUH_CHANNELS),
        channel_policy="lenient",
        labels_from="file",
        on_error=on_error,
        progress=progress,
        recipe=recipe,
    )


def _settings(name: str, root, seed, val_fraction, notch) -> dict[str, Any]:
    return {"recipe": name, "root": os.fspath(root), "seed": seed, "val_fraction": val_fraction, "notch": notch,
            "channels": list(TUH_CHANNELS), "sampling_rate": SAMPLING_RATE, "l_freq": 0.1, "h_freq": 75.0}  # fmt: skip


def build_tuab(
    root: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    val_fraction: float = 0.2,
    seed: int = DEFAULT_SEED,
    notch: float | None = 50.0,
    num_proc: int = 1,
    on_error: str = "fail",
    overwrite: bool = False,
    progress: bool = True,
):
    """Build TUAB (normal/abnormal) as a :class:`datasets.DatasetDict` with train/validation/test splits.

    Args:
        root: directory holding ``train/`` and ``eval/`` (or their parent ``edf/``).
        output_dir: where to save (``datasets.load_from_disk``); ``None`` keeps it in memory.
        val_fraction, seed: subject-level validation split of the official training set.
        notch: mains notch (the original: 50 Hz).
        num_proc, on_error, overwrite, progress: as in :func:`labram_hf.data.build_dataset`.

    Rows: ``input_values`` [23, 2000], ``channel_ids`` (the 23 TUH electrodes), ``label`` (ClassLabel
    normal/abnormal), ``source``, ``start``.
    """
    from datasets import ClassLabel

    train_dir, eval_dir = find_split_dirs(root)
    train_files, test_files = _edf_files(train_dir), _edf_files(eval_dir)
    tr, va = subject_split(train_files, val_fraction, seed)
    splits = {
        "train": _Split(tr, [_tuab_label(f, train_dir) for f in tr]),
        "validation": _Split(va, [_tuab_label(f, train_dir) for f in va]),
        "test": _Split(test_files, [_tuab_label(f, eval_dir) for f in test_files]),
    }
    if not va:
        del splits["validation"]
    opts = _options(notch, on_error, progress, 10.0)
    features = make_features(opts.window_samples, ClassLabel(names=list(TUAB_CLASSES)))
    return run_build(splits, features, opts, output_dir, num_proc=num_proc, overwrite=overwrite,
                     settings=_settings("tuab", root, seed, val_fraction, notch), as_dict=True,
                     schema=LabelSchema("class", TUAB_CLASSES), inputs=[root])  # fmt: skip


def _read_rec(path: Path) -> np.ndarray:
    rec = path.with_suffix(".rec")
    if not rec.is_file():
        raise DatasetBuildError(f"{path}: no event file {rec.name} next to it (TUEV needs the same-stem .rec file)")
    try:
        with open(rec, encoding="utf-8") as fh:
            rows = [line.strip() for line in fh if line.strip()]
        data = np.array([[float(x) for x in line.split(",")] for line in rows], dtype=np.float64)
    except (OSError, ValueError) as err:
        raise DatasetBuildError(f"{rec}: cannot parse events ({err}); expected rows 'channel,start,stop,label'") from err
    if data.size == 0:
        raise DatasetBuildError(f"{rec}: no events")
    if data.ndim != 2 or data.shape[1] != 4:
        raise DatasetBuildError(f"{rec}: expected 4 comma-separated columns channel,start,stop,label")
    bad = sorted({int(v) for v in data[:, 3] if v not in (1, 2, 3, 4, 5, 6)})
    if bad:
        raise DatasetBuildError(f"{rec}: labels must be 1..6 (SPSW GPED PLED EYEM ARTF BCKG), found {bad}")
    return data


def tuev_examples(path: Path, label: Any, opts: WindowOptions, info: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """TUEV recipe for one file: one 5-s sample per ``.rec`` event row (see the module docstring)."""
    events = _read_rec(path)
    pre, _, sfreq = load_preprocessed(path, opts, min_seconds=1.0)
    info["sfreq"] = sfreq
    info["channels"] = list(pre.channel_names)
    fs = int(SAMPLING_RATE)
    signals = pre.values
    n = signals.shape[1]
    if n < 2 * fs:
        raise DatasetBuildError(f"{path}: recording shorter than 2 s cannot hold a 5-s event window")
    tiled = np.concatenate([signals, signals, signals], axis=1)
    times = np.arange(n) / SAMPLING_RATE
    ids = np.asarray(pre.channel_ids, dtype=np.int64)
    src = str(path)
    for chan, t_start, _t_stop, lab in events:
        hits = np.flatnonzero(times >= t_start)
        if hits.size == 0:
            raise DatasetBuildError(f"{path}: event at {t_start:g} s lies beyond the recording ({n / fs:g} s)")
        s = n + int(hits[0]) - 2 * fs
        yield {
            "input_values": tiled[:, s : s + 5 * fs],
            "channel_ids": ids,
            "label": int(lab) - 1,
            "event_channel": int(chan),
            "source": src,
            "start": np.float32(hits[0] / SAMPLING_RATE - 2.0),
        }


def build_tuev(
    root: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    val_fraction: float = 0.2,
    seed: int = DEFAULT_SEED,
    notch: float | None = 50.0,
    num_proc: int = 1,
    on_error: str = "fail",
    overwrite: bool = False,
    progress: bool = True,
):
    """Build TUEV (6 event classes) as a :class:`datasets.DatasetDict` with train/validation/test splits.

    Args: as :func:`build_tuab` (the original TUEV split uses seed 4523, the default).

    Rows: ``input_values`` [23, 1000] (5 s), ``channel_ids``, ``label`` (ClassLabel :data:`TUEV_CLASSES`),
    ``event_channel`` (channel index from the ``.rec`` row), ``source``, ``start`` (seconds; negative when the
    window wraps around the tiled signal).
    """
    from datasets import ClassLabel, Value

    train_dir, eval_dir = find_split_dirs(root)
    train_files, test_files = _edf_files(train_dir), _edf_files(eval_dir)
    tr, va = subject_split(train_files, val_fraction, seed)
    splits = {"train": _Split(tr, [None] * len(tr)), "validation": _Split(va, [None] * len(va)),
              "test": _Split(test_files, [None] * len(test_files))}  # fmt: skip
    if not va:
        del splits["validation"]
    opts = _options(notch, on_error, progress, 5.0, recipe="labram_hf.data.tuh:tuev_examples")
    base = make_features(opts.window_samples, ClassLabel(names=list(TUEV_CLASSES)))
    cols = dict(base)
    features = type(base)(
        {"input_values": cols["input_values"], "channel_ids": cols["channel_ids"], "label": cols["label"],
         "event_channel": Value("int64"), "source": cols["source"], "start": cols["start"]}  # fmt: skip
    )
    return run_build(splits, features, opts, output_dir, num_proc=num_proc, overwrite=overwrite,
                     settings=_settings("tuev", root, seed, val_fraction, notch), as_dict=True,
                     schema=LabelSchema("class", TUEV_CLASSES), inputs=[root])  # fmt: skip
