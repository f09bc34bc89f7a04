"""Reading EEG recordings into :class:`mne.io.BaseRaw`.

:func:`read_raw` opens everything :func:`mne.io.read_raw` understands (EDF, BDF, GDF, FIF, BrainVision ``.vhdr``,
EEGLAB ``.set``, ...) plus the *eeghdf* HDF5 format (``*.eeg.h5``) used by the sample recordings of
:mod:`labram_hf.sample_data`. Any failure is raised as :class:`EEGReadError`, a :class:`ValueError` whose message
names the file and the cause.

eeghdf layout (one recording per file)::

    record-0/                     attrs: sample_frequency, number_channels, start_isodatetime, ...
        signals                   int16 [channels, samples] (digital values)
        signal_labels             bytes [channels]
        physical_dimensions       bytes [channels] (e.g. b"uV", b"mV")
        signal_digital_mins/maxs  int [channels]
        signal_physical_mins/maxs float [channels]
        edf_annotations/
            starts_100ns          int64 [n] onsets in units of 100 ns
            durations_char16      bytes [n] durations in seconds as text (may be empty)
            texts                 bytes [n]

Digital values are mapped to physical values linearly per channel, exactly like EDF:
``physical = (digital - dmin) * (pmax - pmin) / (dmax - dmin) + pmin``.
"""

from __future__ import annotations

import datetime as _dt
import re
from os import PathLike
from pathlib import Path

import numpy as np

__all__ = ["EEGReadError", "EEGHDF_SUFFIXES", "guess_channel_type", "read_eeghdf", "read_raw"]

#: File suffixes read with the eeghdf reader.
EEGHDF_SUFFIXES: tuple[str, ...] = (".eeg.h5", ".eeghdf", ".h5", ".hdf5")

_UNIT_TO_VOLT: dict[str, float] = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "nv": 1e-9}


class EEGReadError(ValueError):
    """A recording could not be read: unreadable, truncated, corrupt or unsupported file."""


def guess_channel_type(name: str) -> str:
    """An mne channel type for a channel known only by its name.

    ECG/EKG -> ``"ecg"``, EOG -> ``"eog"``, EMG -> ``"emg"``, respiration -> ``"resp"``, event/marker/trigger
    channels -> ``"stim"``; other names carrying an ``EEG`` prefix or naming a LaBraM electrode -> ``"eeg"``;
    anything else (``"X2"``, ``"IBI"``, ``"BURSTS"``) -> ``"misc"``. Names such as ``"EEG Pg1"`` stay EEG, so that
    strict channel selection reports them instead of silently ignoring them.
    """
    from .channels import channel_id

    up = name.strip().upper()
    if re.search(r"ECG|EKG", up):
        return "ecg"
    if re.search(r"EOG|LOC|ROC", up) and channel_id(name) is None:
        return "eog"
    if "EMG" in up:
        return "emg"
    if re.search(r"RESP|THOR|ABDO|AIRFLOW", up):
        return "resp"
    if re.search(r"EVENT|MARKER|MARK\d|TRIG|STATUS|STI\b|ANNOT", up):
        return "stim" if "EVENT" in up or "TRIG" in up or up.startswith("STI") or up == "STATUS" else "misc"
    if channel_id(name) is not None or up.startswith("EEG"):
        return "eeg"
    return "misc"


def _decode(values) -> list[str]:
    return [v.decode("utf-8", "replace") if isinstance(v, bytes | np.bytes_) else str(v) for v in values]


def read_eeghdf(path: str | PathLike, *, infer_types: bool = True, verbose: str | bool | None = "error"):
    """Read an eeghdf ``*.eeg.h5`` file into an :class:`mne.io.RawArray` (data in volts, annotations attached)."""
    import h5py
    import mne

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if "record-0" not in f:
                raise EEGReadError(f"{path}: not an eeghdf file (no 'record-0' group; found {list(f.keys())})")
            rec = f["record-0"]
            for key in ("signals", "signal_labels", "physical_dimensions"):
                if key not in rec:
                    raise EEGReadError(f"{path}: eeghdf record-0 lacks the {key!r} dataset")
            sfreq = float(rec.attrs["sample_frequency"])
            # stored as 200.00000000000003: round to the nearest 1e-6 Hz
            sfreq = round(sfreq) if abs(sfreq - round(sfreq)) < 1e-6 else round(sfreq, 6)
            labels = _decode(rec["signal_labels"][()])
            dims = _decode(rec["physical_dimensions"][()])
            dmin = rec["signal_digital_mins"][()].astype(np.float64)
            dmax = rec["signal_digital_maxs"][()].astype(np.float64)
            pmin = rec["signal_physical_mins"][()].astype(np.float64)
            pmax = rec["signal_physical_maxs"][()].astype(np.float64)
            digital = rec["signals"][()]
            start = rec.attrs.get("start_isodatetime")
            ann = None
            if "edf_annotations" in rec:
                a = rec["edf_annotations"]
                onsets = a["starts_100ns"][()].astype(np.float64) * 1e-7
                texts = _decode(a["texts"][()])
                durs_txt = _decode(a["durations_char16"][()]) if "durations_char16" in a else [""] * len(texts)
                durs = [float(d) if d.strip() else 0.0 for d in durs_txt]
                ann = (onsets, np.asarray(durs, dtype=np.float64), texts)
    except EEGReadError:
        raise
    except FileNotFoundError as err:
        raise EEGReadError(f"{path}: file not found") from err
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise EEGReadError(f"{path}: cannot read eeghdf HDF5 file ({type(err).__name__}: {err})") from err

    n_ch = digital.shape[0]
    if not (len(labels) == len(dims) == len(dmin) == len(pmin) == n_ch):
        raise EEGReadError(f"{path}: eeghdf metadata lists {len(labels)} labels for {n_ch} signals")
    span = np.where(dmax - dmin == 0, 1.0, dmax - dmin)
    gain = (pmax - pmin) / span
    to_volt = np.array([_UNIT_TO_VOLT.get(d.strip().lower(), 1.0) for d in dims])
    data = ((digital.astype(np.float64) - dmin[:, None]) * gain[:, None] + pmin[:, None]) * to_volt[:, None]

    # Labels may repeat in principle; mne needs unique names.
    names: list[str] = []
    for lab in labels:
        name, k = lab.strip() or "CH", 1
        while name in names:
            k += 1
            name = f"{lab.strip()}-{k}"
        names.append(name)
    types = [guess_channel_type(n) for n in names] if infer_types else ["eeg"] * n_ch
    # channels in non-voltage units (e.g. b"" for the event channel) cannot be EEG
    types = [t if d.strip().lower() in _UNIT_TO_VOLT else ("stim" if t == "stim" else "misc")
             for t, d in zip(types, dims)]  # fmt: skip
    info = mne.create_info(names, sfreq, types, verbose=verbose)
    raw = mne.io.RawArray(data, info, verbose=verbose)
    if isinstance(start, bytes):
        start = start.decode()
    if start:
        try:
            meas = _dt.datetime.fromisoformat(str(start)).replace(tzinfo=_dt.timezone.utc)
            raw.set_meas_date(meas)
        except ValueError:
            pass
    if ann is not None and len(ann[2]):
        onsets, durs, texts = ann
        raw.set_annotations(mne.Annotations(onsets, durs, texts, orig_time=raw.info["meas_date"]))
    raw._filenames = [path]  # so preprocessing errors can name the file
    return raw


def _is_eeghdf(path: Path) -> bool:
    name = path.name.lower()
    if any(name.endswith(s) for s in EEGHDF_SUFFIXES):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def read_raw(
    path: str | PathLike,
    preload: bool = True,
    *,
    infer_types: bool = True,
    verbose: str | bool | None = "error",
    **kwargs,
):
    """Read an EEG recording of any supported format.

    Args:
        path: the recording. eeghdf files (``*.eeg.h5``, HDF5) are read with :func:`read_eeghdf`; everything else
            goes to :func:`mne.io.read_raw` (EDF, BDF, GDF, FIF, BrainVision ``.vhdr``, EEGLAB ``.set``, CNT, ...).
        preload: load the samples into memory (eeghdf files are always loaded). With ``False``, later
            ``raw.get_data(picks)`` reads only the picked channels.
        infer_types: for formats without channel types (EDF/BDF/GDF/BrainVision, where mne makes every channel
            EEG), guess types from names with :func:`guess_channel_type` (``"EEG EKG1-REF"`` -> ECG ...). Files
            that already carry several channel types (FIF, EEGLAB with types) are left alone.
        verbose: mne verbosity.
        **kwargs: passed to the mne reader.

    Returns:
        An :class:`mne.io.BaseRaw` with data in volts and the file's annotations.

    Raises:
        EEGReadError: missing, unreadable, truncated, corrupt or unsupported file (message names file and cause).
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise EEGReadError(f"{path}: file not found")
    if path.is_dir() and path.suffix.lower() not in (".ds", ".mff"):
        raise EEGReadError(f"{path}: is a directory, not an EEG file")
    if _is_eeghdf(path):
        return read_eeghdf(path, infer_types=infer_types, verbose=verbose)
    try:
        raw = mne.io.read_raw(path, preload=preload, verbose=verbose, **kwargs)
    except EEGReadError:
        raise
    except Exception as err:  # mne raises many types (ValueError, RuntimeError, struct.error, OSError, ...)
        cause = str(err) or type(err).__name__
        if "Unsupported file" in cause or "not supported" in cause.lower():
            raise EEGReadError(f"{path}: unsupported EEG file format ({cause})") from err
        raise EEGReadError(f"{path}: cannot read EEG file ({type(err).__name__}: {cause})") from err
    if raw.n_times == 0:
        raise EEGReadError(f"{path}: the file contains no samples (truncated?)")
    if infer_types and set(raw.get_channel_types()) <= {"eeg"}:
        mapping = {n: guess_channel_type(n) for n in raw.ch_names}
        mapping = {n: t for n, t in mapping.items() if t != "eeg"}
        if mapping:
            raw.set_channel_types(mapping, on_unit_change="ignore", verbose=verbose)
    return raw
