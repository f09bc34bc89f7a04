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

Truncated files are an error: mne reads an EDF/BDF whose data is shorter (or longer) than its header declares by
inferring the length from the file size, with a warning that is easy to miss -- a copy cut in half silently gives
half the recording. :func:`read_raw` compares the header-declared size of EDF/BDF files with the file size and turns
mne's truncation warnings (any format) into :class:`EEGReadError`; ``allow_truncated=True`` accepts such files with
a :class:`UserWarning` naming the file and the problem.

Epoched data (trials): :func:`read_epochs` reads FIF epoch files (``-epo.fif``, ``_epo.fif``; any FIF file holding
epochs) with :func:`mne.read_epochs` and EEGLAB ``.set`` files holding more than one trial with
:func:`mne.read_epochs_eeglab`; :func:`is_epochs_file` tells the two kinds of file apart and :func:`read_eeg` reads
either (an :class:`mne.io.BaseRaw` or an :class:`mne.Epochs`). :func:`read_raw` refuses an epoch file with a message
that says so. Annotations kept in a separate file (an EDF+ hypnogram beside a polysomnogram, an mne ``.fif``/``.csv``
/``.txt`` annotation file) are read with :func:`read_annotations` and attached with :func:`attach_annotations`.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings
from os import PathLike
from pathlib import Path

import numpy as np

from .errors import LaBraMError

__all__ = [
    "EEGReadError",
    "EEGHDF_SUFFIXES",
    "EPOCHS_SUFFIXES",
    "attach_annotations",
    "edf_size_problem",
    "guess_channel_type",
    "is_epochs_file",
    "read_annotations",
    "read_eeg",
    "read_eeghdf",
    "read_epochs",
    "read_raw",
]

#: File suffixes read with the eeghdf reader.
EEGHDF_SUFFIXES: tuple[str, ...] = (".eeg.h5", ".eeghdf", ".h5", ".hdf5")
#: mne's names for FIF epoch files (other FIF files are inspected, see :func:`is_epochs_file`).
EPOCHS_SUFFIXES: tuple[str, ...] = ("-epo.fif", "_epo.fif", "-epo.fif.gz", "_epo.fif.gz")

_UNIT_TO_VOLT: dict[str, float] = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "nv": 1e-9}


class EEGReadError(LaBraMError):
    """A recording could not be read: unreadable, truncated, corrupt or unsupported file."""


#: mne warnings that mean the data on disk does not match what the header promises (truncated / cut copies).
_TRUNCATION_WARNING = re.compile(
    r"truncat|does not match the file size|not stopped before exiting|number of records",
    re.IGNORECASE,
)
_TRUNCATED_HINT = (
    "copy or export the file again; or pass --allow-truncated (allow_truncated=True) to use the part that is there"
)


def edf_size_problem(path: str | PathLike) -> str | None:
    """For an EDF/EDF+/BDF file: a description of how its size disagrees with its header, else ``None``.

    The header declares ``n_records`` data records of ``sum(samples per record)`` samples (2 bytes each in EDF,
    3 in BDF) after ``header_bytes``. A file holding fewer records (a cut copy, an interrupted download) or more
    complete records than declared is reported. ``n_records = -1`` (allowed while recording) and a partial record
    after the declared ones are not. Files that are not EDF/BDF give ``None``.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
            if len(head) < 256 or not (head[:8] == b"0       " or head[:8] == b"\xffBIOSEMI"):
                return None
            bytes_per_sample = 3 if head[:1] == b"\xff" else 2
            header_bytes = int(head[184:192].decode("ascii").strip())
            n_records = int(head[236:244].decode("ascii").strip())
            n_signals = int(head[252:256].decode("ascii").strip())
            if n_signals <= 0:
                return None
            fh.seek(256 + n_signals * 216)
            fields = fh.read(8 * n_signals)
            if len(fields) < 8 * n_signals:
                return f"the header is cut short ({path.stat().st_size} bytes)"
            per_record = sum(int(fields[8 * i : 8 * i + 8].decode("ascii").strip()) for i in range(n_signals))
        size = path.stat().st_size
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # not a parseable EDF header: left to mne, which reports unreadable files itself
    if n_records < 0 or per_record <= 0:
        return None
    record_bytes = per_record * bytes_per_sample
    declared = header_bytes + n_records * record_bytes
    present = max(size - header_bytes, 0) // record_bytes
    if size < declared:
        return (f"truncated: the header declares {n_records} data records ({declared} bytes) but the file has "
                f"{size} bytes, i.e. {present} complete record(s) ({present / max(n_records, 1):.0%} of the data)")
    if present > n_records:
        return (f"inconsistent header: it declares {n_records} data records but the file holds {present} complete "
                "records")
    return None


def _truncation(path: Path, problem: str, allow_truncated: bool) -> None:
    if not allow_truncated:
        raise EEGReadError(f"{path}: {problem}", hint=_TRUNCATED_HINT)
    warnings.warn(f"{path}: {problem}; reading what is there (allow_truncated=True)", UserWarning, stacklevel=3)


def guess_channel_type(name: str) -> str:
    """An mne channel type for a channel known only by its name.

    ECG/EKG -> ``"ecg"``, EOG -> ``"eog"``, EMG -> ``"emg"``, respiration -> ``"resp"``, event/marker/trigger
    channels -> ``"stim"``; other names carrying an ``EEG`` prefix or naming a LaBraM electrode -> ``"eeg"``;
    anything else (``"X2"``, ``"IBI"``, ``"BURSTS"``) -> ``"misc"``. Names such as ``"EEG Pg1"`` stay EEG, so that
    strict channel selection reports them instead of silently ignoring them.
    """
    from .channels import channel_id, is_eeg_name

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
    if is_eeg_name(name) or up.startswith("EEG"):  # an electrode, or a derivation such as "Fpz-Cz"
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
    allow_truncated: bool = False,
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
        allow_truncated: accept files whose data is shorter (or longer) than their header declares, with a
            :class:`UserWarning`; by default they raise :class:`EEGReadError`.
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
    if path.name.lower().endswith(EPOCHS_SUFFIXES):
        raise EEGReadError(f"{path}: holds epochs (trials), not a continuous recording", hint=_EPOCHS_HINT)
    problem = edf_size_problem(path) if path.is_file() else None
    if problem is not None:
        _truncation(path, problem, allow_truncated)
    quiet = verbose in ("error", "ERROR", "critical", "CRITICAL", False)
    try:
        # mne only says "inferring from the file size" as a warning: record its warnings to find such problems
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = mne.io.read_raw(path, preload=preload, verbose="warning" if quiet else verbose, **kwargs)
    except EEGReadError:
        raise
    except Exception as err:  # mne raises many types (ValueError, RuntimeError, struct.error, OSError, ...)
        cause = str(err) or type(err).__name__
        if _EPOCHS_IN_RAW_READER.search(cause):  # mne: "No raw data in ..." (FIF), "The number of trials is 4" (EEGLAB)
            raise EEGReadError(f"{path}: holds epochs (trials), not a continuous recording", hint=_EPOCHS_HINT) from err
        if "Unsupported file" in cause or "not supported" in cause.lower():
            raise EEGReadError(f"{path}: unsupported EEG file format ({cause})") from err
        raise EEGReadError(f"{path}: cannot read EEG file ({type(err).__name__}: {cause})") from err
    for w in caught:
        text = str(w.message)
        if _TRUNCATION_WARNING.search(text):
            if problem is None:  # the EDF check above already reported (and allowed) this one
                _truncation(path, text.strip(), allow_truncated)
        elif not quiet:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if raw.n_times == 0:
        raise EEGReadError(f"{path}: the file contains no samples (truncated?)")
    if infer_types and set(raw.get_channel_types()) <= {"eeg"}:
        mapping = {n: guess_channel_type(n) for n in raw.ch_names}
        mapping = {n: t for n, t in mapping.items() if t != "eeg"}
        if mapping:
            raw.set_channel_types(mapping, on_unit_change="ignore", verbose=verbose)
    return raw


# --------------------------------------------------------------------------------------------------------------------
# Epoched data (trials) and annotation files
# --------------------------------------------------------------------------------------------------------------------

#: What mne's raw readers say when given an epoch file.
_EPOCHS_IN_RAW_READER = re.compile(r"No raw data in|number of trials is \d+|read_epochs_eeglab", re.IGNORECASE)
_EPOCHS_HINT = (
    "read it with labram_hf.io.read_epochs (or read_eeg); labram prepare and LaBraMFeatureExtractor take epoch files "
    "and mne.Epochs directly"
)


def _eeglab_trials(path: Path) -> int:
    """The number of trials an EEGLAB ``.set`` file declares (``EEG.trials``); 1 when it cannot be told cheaply."""
    import scipy.io

    try:
        names = {name for name, _, _ in scipy.io.whosmat(str(path))}
        key = "trials" if "trials" in names else "EEG" if "EEG" in names else None
        if key is None:
            return 1
        mat = scipy.io.loadmat(str(path), variable_names=[key], squeeze_me=True, struct_as_record=False)
        value = mat[key] if key == "trials" else getattr(mat[key], "trials", 1)
        return int(np.asarray(value).ravel()[0])
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        import h5py

        try:
            with h5py.File(path, "r") as f:
                node = f["trials"] if "trials" in f else f["EEG"]["trials"] if "EEG" in f else None
                return 1 if node is None else int(np.asarray(node[()]).ravel()[0])
        except (OSError, KeyError, TypeError, ValueError):
            return 1
    except (OSError, ValueError, TypeError, AttributeError, IndexError, KeyError):
        return 1  # unreadable here: the reader reports it


def _eeglab_locking_events(path: Path) -> list[str] | None:
    """The time-locking event type of every trial of an EEGLAB epoch file (the event at latency 0 of
    ``EEG.epoch(i)``), or ``None`` when the file does not tell.

    mne names a trial that holds several events by all of them (``"eyes closed/eyes open"``); the trial belongs to
    the one it is locked to.
    """
    import scipy.io

    try:
        names = {name for name, _, _ in scipy.io.whosmat(str(path))}
        if "epoch" in names:
            trials = scipy.io.loadmat(str(path), variable_names=["epoch"], squeeze_me=True,
                                      struct_as_record=False)["epoch"]  # fmt: skip
        elif "EEG" in names:
            mat = scipy.io.loadmat(str(path), variable_names=["EEG"], squeeze_me=True, struct_as_record=False)
            trials = mat["EEG"].epoch
        else:
            return None
        out = []
        for trial in np.atleast_1d(trials):
            types = np.atleast_1d(trial.eventtype)
            latencies = np.atleast_1d(trial.eventlatency).astype(float)  # ms from the time-locking event
            if types.size == 0 or types.size != latencies.size:
                return None
            out.append(str(types[int(np.argmin(np.abs(latencies)))]))
        return out
    except Exception:  # noqa: BLE001 - v7.3 files, unusual layouts: keep mne's names
        return None


def _lock_eeglab_events(epochs, path: Path) -> None:
    """Name each trial of EEGLAB ``epochs`` by its time-locking event (see :func:`_eeglab_locking_events`)."""
    inverse = {code: name for name, code in epochs.event_id.items()}
    mne_names = [inverse.get(int(c), str(int(c))) for c in epochs.events[:, 2]]
    locked = _eeglab_locking_events(path)
    if locked is None or len(locked) != len(mne_names) or locked == mne_names:
        return
    event_id = {name: k + 1 for k, name in enumerate(dict.fromkeys(locked))}
    events = np.array(epochs.events, copy=True)
    events[:, 2] = [event_id[n] for n in locked]
    epochs.events = events
    epochs.event_id = event_id


def _fif_holds_epochs(path: Path) -> bool:
    """Whether a FIF file holds epochs rather than raw data (mne's raw reader says "No raw data")."""
    import mne

    try:
        mne.io.read_raw_fif(path, preload=False, verbose="error")
    except ValueError as err:
        return "No raw data" in str(err)
    except Exception:  # noqa: BLE001 - not readable as raw FIF for another reason: read_raw reports it
        return False
    return False


def is_epochs_file(path: str | PathLike) -> bool:
    """Whether ``path`` holds epoched data (trials) rather than a continuous recording.

    FIF files named ``*-epo.fif`` / ``*_epo.fif`` (mne's convention) or holding epochs, and EEGLAB ``.set`` files
    declaring more than one trial (``EEG.trials > 1``). Every other file is taken as continuous.
    """
    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        return False
    if name.endswith(EPOCHS_SUFFIXES):
        return True
    if name.endswith((".fif", ".fif.gz")):
        return _fif_holds_epochs(path)
    if name.endswith(".set"):
        return _eeglab_trials(path) > 1
    return False


def read_epochs(path: str | PathLike, *, preload: bool = True, verbose: str | bool | None = "error"):
    """Read an epoch file (trials) into an :class:`mne.Epochs`.

    Args:
        path: a FIF epoch file (``-epo.fif``, :func:`mne.read_epochs`) or an EEGLAB ``.set`` holding trials
            (:func:`mne.read_epochs_eeglab`).
        preload: load the samples into memory (EEGLAB epochs are always loaded).
        verbose: mne verbosity.

    Returns:
        The :class:`mne.Epochs` (data in volts; ``events`` / ``event_id`` name each trial's event).

    Raises:
        EEGReadError: missing, unreadable or continuous file, or a file without trials (the message names it).
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise EEGReadError(f"{path}: file not found")
    name = path.name.lower()
    if not is_epochs_file(path):
        kind = "" if name.endswith((".fif", ".fif.gz", ".set")) else " (epochs are read from FIF and EEGLAB files)"
        raise EEGReadError(f"{path}: holds a continuous recording, not epochs (trials){kind}",
                           hint="read it with labram_hf.io.read_raw (or read_eeg); labram prepare cuts trials from "
                                "it with --epochs-from EVENTS --tmin S --tmax S")  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # file-name convention and similar notes
            if name.endswith(".set"):
                epochs = mne.read_epochs_eeglab(path, verbose=verbose)
                _lock_eeglab_events(epochs, path)
            else:
                epochs = mne.read_epochs(path, preload=preload, verbose=verbose)
    except Exception as err:  # mne raises many types
        cause = str(err) or type(err).__name__
        raise EEGReadError(f"{path}: cannot read epochs ({type(err).__name__}: {cause})",
                           hint="check that the file is complete and was written by mne or EEGLAB") from err
    if len(epochs) == 0:
        raise EEGReadError(f"{path}: the epoch file holds no trials (all were dropped when it was made)")
    return epochs


def read_eeg(path: str | PathLike, *, preload: bool = True, allow_truncated: bool = False, **kwargs):
    """Read a recording or an epoch file: :func:`read_epochs` for epoch files (:func:`is_epochs_file`), else
    :func:`read_raw`. Returns an :class:`mne.io.BaseRaw` or an :class:`mne.Epochs`."""
    if is_epochs_file(path):
        return read_epochs(path, preload=preload, verbose=kwargs.get("verbose", "error"))
    return read_raw(path, preload=preload, allow_truncated=allow_truncated, **kwargs)


def read_annotations(path: str | PathLike):
    """Annotations stored in a file of their own: an EDF+/BDF+ annotation file (e.g. a sleep hypnogram), an mne
    ``.fif`` annotation file, or a ``.csv`` / ``.txt`` file written by :meth:`mne.Annotations.save`.

    Raises:
        EEGReadError: a missing or unreadable file, or one holding no annotation (the message names it).
    """
    import mne

    path = Path(path)
    if not path.is_file():
        raise EEGReadError(f"{path}: annotation file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            annotations = mne.read_annotations(path)
    except Exception as err:  # noqa: BLE001 - mne raises many types
        raise EEGReadError(
            f"{path}: cannot read annotations ({type(err).__name__}: {str(err) or type(err).__name__})",
            hint="give an EDF+/BDF+ annotation file (e.g. a hypnogram), or an mne .fif/.csv/.txt annotation file",
        ) from err
    if annotations is None or len(annotations) == 0:
        raise EEGReadError(f"{path}: the file holds no annotations")
    return annotations


def _edf_plus_start(path: Path) -> _dt.datetime | None:
    """The start (UTC) an EDF+/BDF+ file's header declares, or ``None`` when it is not EDF+ or anonymised
    (``Startdate X``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
        if len(head) < 256 or not (head[:8] == b"0       " or head[:8] == b"\xffBIOSEMI"):
            return None
        recording = head[88:168].decode("latin-1").strip()
        if not recording.startswith("Startdate ") or recording.startswith("Startdate X"):
            return None
        day, month, year = (int(v) for v in head[168:176].decode("ascii").split("."))
        hour, minute, second = (int(v) for v in head[176:184].decode("ascii").split("."))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    year += 1900 if year >= 85 else 2000
    try:
        return _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone.utc)
    except ValueError:
        return None


def attach_annotations(raw, annotations, *, source: str | PathLike | None = None):
    """Replace the annotations of ``raw`` by ``annotations`` (an :class:`mne.Annotations` or a file for
    :func:`read_annotations`); returns ``raw``.

    Annotations with a start time (``orig_time``: mne ``.fif``/``.csv`` files) are placed by absolute time. The
    onsets of an EDF+/BDF+ annotation file (e.g. a hypnogram) count from that file's start: when its header
    declares a start date (not anonymised) and the recording has one too, they are shifted by the difference of
    the two starts (a hypnogram starting 30 s after its polysomnogram lines up); otherwise, as for annotations
    without a start time, they count from the recording's first sample. Annotations outside the recording are
    dropped with a warning counting them.

    Raises:
        EEGReadError: an unreadable annotation file, a dated annotation file for a recording without a date, or
            annotations that all fall outside the recording (the message names both files).
    """
    where = Path(annotations) if isinstance(annotations, (str, PathLike)) else None
    ann = read_annotations(where) if where is not None else annotations
    label = str(where) if where is not None else "the annotations"
    rec = str(source) if source is not None else "the recording"
    if ann.orig_time is not None and raw.info["meas_date"] is None:
        raise EEGReadError(
            f"{label}: the annotations are dated ({ann.orig_time}) but {rec} has no start date, so they cannot be "
            "placed in it",
            hint="save the annotations without a date (onsets from the recording's first sample)",
        )
    start = _edf_plus_start(where) if where is not None and ann.orig_time is None else None
    if start is not None and raw.info["meas_date"] is not None:
        import mne

        # onsets counted from the annotation file's start -> from the recording's measurement date
        shift = (start - raw.info["meas_date"]).total_seconds()
        ann = mne.Annotations(ann.onset + shift, ann.duration, ann.description, orig_time=raw.info["meas_date"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw.set_annotations(ann, verbose="warning")
        except Exception as err:  # noqa: BLE001 - mne raises RuntimeError/ValueError for inconsistent times
            raise EEGReadError(f"{label}: cannot attach the annotations to {rec} ({err})") from err
    kept = len(raw.annotations)
    if kept == 0:
        start = raw.info["meas_date"]
        raise EEGReadError(
            f"{label}: none of its {len(ann)} annotation(s) fall inside {rec} "
            f"({raw.n_times / raw.info['sfreq']:.6g} s" + (f" from {start}" if start is not None else "") + ")",
            hint="check that the annotation file belongs to this recording (its start time and onsets)",
        )
    if kept < len(ann):
        warnings.warn(f"{rec}: {len(ann) - kept} of the {len(ann)} annotation(s) of {label} lie outside the "
                      "recording and were dropped", UserWarning, stacklevel=2)  # fmt: skip
    for w in caught:
        if "outside data range" not in str(w.message) and "Omitted" not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return raw
