"""Helpers that cut small fixture files out of the REAL sample recordings (used by the tests and benchmarks).

Nothing here fabricates EEG: every file is a crop (optionally relabelled, resampled or deliberately damaged) of one
of the recordings of :mod:`labram_hf.sample_data`, written with :func:`mne.export.export_raw` (EDF via edfio).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path

# The 21 electrodes of the eeghdf recordings that LaBraM knows (Pg1/Pg2, ECG and misc channels left out).
EEGHDF_KNOWN = [
    "EEG Fp1", "EEG Fp2", "EEG F3", "EEG F4", "EEG C3", "EEG C4", "EEG P3", "EEG P4", "EEG O1", "EEG O2",
    "EEG F7", "EEG F8", "EEG T3", "EEG T4", "EEG T5", "EEG T6", "EEG Fz", "EEG Cz", "EEG Pz", "EEG A1", "EEG A2",
]  # fmt: skip

_CACHE: dict[str, object] = {}


def write_edf_signals(dest: str | PathLike, data, sfreq: float, labels: Sequence[str]) -> Path:
    """Write ``data`` (volts, [channels, time]) with exactly these signal ``labels`` (duplicates allowed) via edfio."""
    import numpy as np
    from edfio import Edf, EdfSignal

    data = np.asarray(data)
    n = int(data.shape[1] // sfreq * sfreq)  # whole 1-s data records
    signals = []
    for row, label in zip(data[:, :n] * 1e6, labels):
        lo, hi = float(row.min()), float(row.max())
        signals.append(EdfSignal(row, sampling_frequency=sfreq, label=label, physical_dimension="uV",
                                 physical_range=(lo - 1.0, hi + 1.0)))  # fmt: skip
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    Edf(signals).write(dest)
    return dest


def sample_raw(name: str):
    """The sample recording ``name`` ("absence", "spasms", "tuh") as an unloaded Raw (cached per process)."""
    from ..io import read_raw
    from ..sample_data import fetch_sample_data

    if name not in _CACHE:
        _CACHE[name] = read_raw(fetch_sample_data()[name], preload=False)
    return _CACHE[name]


def export_crop(
    name: str,
    dest: str | PathLike,
    tmin: float = 0.0,
    tmax: float = 30.0,
    *,
    picks: Sequence[str] | None | str = "known",
    rename: dict[str, str] | None = None,
    resample: float | None = None,
    annotations: Sequence[tuple[float, float, str]] | None = None,
    modify: Callable[[object], None] | None = None,
) -> Path:
    """Export ``[tmin, tmax)`` seconds of a sample recording to ``dest`` (EDF; FIF when it ends in ``.fif``).

    Args:
        picks: ``"known"`` (default: the electrodes LaBraM knows; all EEG for "tuh" minus unknown ones), ``None``
            for every channel, or a list of channel names.
        rename: channel renames applied before export.
        resample: new sampling rate (Hz) before export.
        annotations: replace the annotations by ``(onset, duration, description)`` relative to the crop start.
        modify: callback receiving the loaded, cropped Raw (e.g. to write NaNs or flatten a channel).
    """
    import mne

    raw = sample_raw(name).copy()
    raw.crop(tmin, min(tmax, raw.times[-1]), include_tmax=False)
    if picks == "known":
        if name == "tuh":
            from ..channels import TUH_CHANNELS

            picks = [f"EEG {c}-REF" for c in TUH_CHANNELS]
        else:
            picks = EEGHDF_KNOWN
    if picks is not None:
        raw.pick(list(picks))
    raw.load_data(verbose="error")
    if annotations is not None:
        raw.set_annotations(
            mne.Annotations([raw.first_time + a[0] for a in annotations], [a[1] for a in annotations],
                            [a[2] for a in annotations], orig_time=raw.info["meas_date"])  # fmt: skip
        )
    else:
        raw.set_annotations(None)
    if resample is not None:
        raw.resample(resample, verbose="error")
    if rename:
        raw.rename_channels(rename)
    if modify is not None:
        modify(raw)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.name.endswith((".fif", ".fif.gz")):
        raw.save(dest, overwrite=True, verbose="error")  # float samples: NaN/Inf and any scale survive
    else:
        mne.export.export_raw(dest, raw, fmt="edf", overwrite=True, verbose="error")
    return dest
