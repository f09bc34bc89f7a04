"""The original LaBraM signal preprocessing, as pure functions.

LaBraM was pre-trained and fine-tuned on EEG prepared the same way for every corpus (``make_TUAB.py``,
``make_TUEV.py``, ``make_h5dataset_for_pretrain.py``)::

    raw.filter(l_freq=0.1, h_freq=75.0)   # zero-phase FIR band-pass (mne defaults)
    raw.notch_filter(50.0)                # zero-phase FIR notch at the mains frequency
    raw.resample(200)                     # FFT resampling to 200 Hz
    x = raw.get_data(units="uV")          # microvolts
    x = torch.FloatTensor(x) / 100        # model units (0.1 mV), float32

This module reproduces that chain with mne's own low-level functions (:func:`mne.filter.filter_data`,
:func:`mne.filter.notch_filter`, :func:`mne.filter.resample`) called with the defaults of the corresponding
``Raw`` methods, so the result equals the original pipeline up to float64 round-off. It only touches the channels
that are kept, which is what makes it fast on recordings with many auxiliary channels.

Public API (stable; the feature extractor and the dataset builders rely on it):

* :func:`preprocess` -- numpy array ``[channels, time]`` + sampling rate + channel names -> :class:`PreprocessedEEG`.
* :func:`preprocess_raw` -- the same for an :class:`mne.io.BaseRaw` (reads only the selected channels).
* :func:`preprocess_file` -- the same for a file path (anything :func:`labram_hf.io.read_raw` reads).
* :func:`select_channels` -- which channels LaBraM can use and their vocabulary ids.
* :func:`to_model_units` -- microvolts -> model units (``float32(uV) / 100``).
* :class:`PreprocessedEEG` -- the result: ``values`` float32 ``[C, T]`` in model units, ``channel_ids``,
  ``channel_names``, ``sfreq``; ``crop_to_patches()`` and ``windows()`` cut it into model-sized pieces.

Every input problem raises :class:`ValueError` (or warns) with a message naming the file (``source``) and the
cause: no recognised EEG channel, unknown channel names in strict mode, duplicate channel names, NaN/Inf samples,
flat channels, a recording shorter than one patch, a sampling rate too low for the low-pass, and (warning) an
amplitude that is implausible for the declared unit.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING

import numpy as np

from .channels import LABRAM_CHANNELS, channel_id

if TYPE_CHECKING:  # pragma: no cover
    import mne

__all__ = [
    "DEFAULT_H_FREQ",
    "DEFAULT_L_FREQ",
    "DEFAULT_NOTCH",
    "MODEL_SCALE",
    "PATCH_SIZE",
    "TARGET_SFREQ",
    "UNIT_TO_UV",
    "PreprocessedEEG",
    "check_signal",
    "filter_and_resample",
    "preprocess",
    "preprocess_file",
    "preprocess_raw",
    "select_channels",
    "to_model_units",
    "unit_scale_to_uv",
]

#: Sampling rate LaBraM was trained at (Hz).
TARGET_SFREQ: float = 200.0
#: Samples per patch (one second at :data:`TARGET_SFREQ`).
PATCH_SIZE: int = 200
#: Default band-pass edges (Hz) and mains notch (Hz) of the original recipes.
DEFAULT_L_FREQ: float = 0.1
DEFAULT_H_FREQ: float = 75.0
DEFAULT_NOTCH: float = 50.0
#: Model units are microvolts divided by this number (float32 division, as in the original engines).
MODEL_SCALE: float = 100.0

#: Multiplicative factor from a unit to microvolts.
UNIT_TO_UV: dict[str, float] = {
    "V": 1e6,
    "mV": 1e3,
    "uV": 1.0,
    "µV": 1.0,
    "μV": 1.0,  # Greek mu
    "nV": 1e-3,
}

# Robust amplitude (median over channels of the per-channel standard deviation, in uV) outside this range makes
# the declared unit suspicious. Scalp EEG is tens of uV; 0.05 uV would be a flat-lined amplifier, a median of 5 mV is
# far beyond scalp EEG even with artefacts.
_PLAUSIBLE_STD_UV: tuple[float, float] = (0.05, 5e3)
# A channel whose peak-to-peak is zero or below this fraction of the median peak-to-peak counts as flat.
_FLAT_RELATIVE: float = 1e-4


def _where(source: str | PathLike | None) -> str:
    return f"{source}: " if source is not None else ""


def unit_scale_to_uv(unit: str) -> float:
    """Factor that converts values in ``unit`` (``"V"``, ``"mV"``, ``"uV"``/``"µV"``, ``"nV"``) to microvolts."""
    key = unit.strip()
    if key.lower() == "v":
        key = "V"
    elif key.lower() in ("uv", "microvolt", "microvolts"):
        key = "uV"
    elif key.lower() == "mv":
        key = "mV"
    elif key.lower() == "nv":
        key = "nV"
    if key not in UNIT_TO_UV:
        raise ValueError(f"Unknown unit {unit!r}; expected one of {sorted(UNIT_TO_UV)}")
    return UNIT_TO_UV[key]


def to_model_units(data_uv: np.ndarray) -> np.ndarray:
    """Microvolts -> model units: cast to float32 first, then a float32 division by 100 (as the original code)."""
    return np.asarray(data_uv, dtype=np.float32) / np.float32(MODEL_SCALE)


@dataclass
class PreprocessedEEG:
    """A preprocessed recording, ready for LaBraM.

    Attributes:
        values: float32 array ``[channels, time]`` in model units (microvolts / 100) at :attr:`sfreq`.
        channel_ids: vocabulary id (position in :data:`labram_hf.channels.LABRAM_CHANNELS`) of each row.
        channel_names: the channel names as recorded, one per row.
        sfreq: sampling rate of :attr:`values` (Hz), normally 200.
        source: file name or description of the recording, used in error messages.
        dropped_channels: input channels that were left out (non-EEG or unknown to the vocabulary).
    """

    values: np.ndarray
    channel_ids: list[int]
    channel_names: list[str]
    sfreq: float
    source: str | None = None
    dropped_channels: list[str] = field(default_factory=list)

    @property
    def n_channels(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_times(self) -> int:
        return int(self.values.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_times / self.sfreq

    @property
    def vocabulary_names(self) -> list[str]:
        """The vocabulary spelling of each row's electrode (``"FP1"`` for ``"EEG Fp1-REF"``)."""
        return [LABRAM_CHANNELS[i] for i in self.channel_ids]

    def n_patches(self, patch_size: int = PATCH_SIZE) -> int:
        """Number of whole patches in the recording."""
        return self.n_times // patch_size

    def crop_to_patches(self, patch_size: int = PATCH_SIZE, max_patches: int | None = None) -> np.ndarray:
        """``values`` cut to a whole number of patches (the remainder is dropped), at most ``max_patches``."""
        n = self.n_patches(patch_size)
        if max_patches is not None:
            n = min(n, max_patches)
        return self.values[:, : n * patch_size]

    def windows(
        self, window_seconds: float, stride_seconds: float | None = None
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(start_seconds, values[:, start:start + window])`` for windows that lie fully inside the recording.

        ``stride_seconds`` defaults to ``window_seconds`` (non-overlapping windows, remainder dropped, as in the
        original TUAB maker).
        """
        win = int(round(window_seconds * self.sfreq))
        stride = win if stride_seconds is None else int(round(stride_seconds * self.sfreq))
        if win <= 0 or stride <= 0:
            raise ValueError("window_seconds and stride_seconds must be positive")
        for start in range(0, self.n_times - win + 1, stride):
            yield start / self.sfreq, self.values[:, start : start + win]


def select_channels(
    ch_names: Sequence[str],
    *,
    ch_types: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    strict: bool = True,
    source: str | PathLike | None = None,
) -> tuple[list[int], list[int], list[str]]:
    """Choose the channels LaBraM can use.

    Only channels of type ``"eeg"`` are considered when ``ch_types`` is given (ECG, EOG, stim, misc ... are
    silently left out). Each EEG channel name is looked up in the vocabulary with
    :func:`labram_hf.channels.channel_id` (case-insensitive, ``EEG ``/``-REF`` decorations ignored).

    Args:
        ch_names: channel names as recorded.
        ch_types: mne channel type of each channel, or ``None`` to treat all channels as EEG.
        channels: optional explicit selection (any spelling the vocabulary understands, e.g.
            :data:`labram_hf.channels.TUH_CHANNELS`); the output then follows this order and every requested
            electrode must be present. Unknown recorded channels outside the selection are then ignored.
        strict: with ``True`` an EEG channel whose name is not in the vocabulary raises :class:`ValueError`;
            with ``False`` it is dropped with a warning that lists the dropped names.
        source: file name for messages.

    Returns:
        ``(positions, ids, dropped)``: indices into ``ch_names`` of the kept channels, their vocabulary ids, and
        the names of all channels that were left out.

    Raises:
        ValueError: duplicate channel names, unknown names (strict), two names for the same electrode, a requested
            channel that is missing, or no recognised EEG channel at all.
    """
    where = _where(source)
    names = [str(n) for n in ch_names]
    if ch_types is not None and len(ch_types) != len(names):
        raise ValueError(f"{where}{len(ch_types)} channel types for {len(names)} channel names")
    seen: set[str] = set()
    dups = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dups:
        raise ValueError(f"{where}duplicate channel names: {dups}. Each channel must appear once.")

    is_eeg = [True] * len(names) if ch_types is None else [t == "eeg" for t in ch_types]
    ids_all = [channel_id(n) if e else None for n, e in zip(names, is_eeg)]

    if channels is not None:
        wanted: list[int] = []
        for c in channels:
            cid = channel_id(c)
            if cid is None:
                raise ValueError(f"Requested channel {c!r} is not an electrode of the LaBraM vocabulary")
            wanted.append(cid)
        pos_of: dict[int, int] = {}
        for pos, cid in enumerate(ids_all):
            if cid is not None and cid in wanted:
                if cid in pos_of:
                    raise ValueError(
                        f"{where}channels {names[pos_of[cid]]!r} and {names[pos]!r} are the same electrode "
                        f"({LABRAM_CHANNELS[cid]})"
                    )
                pos_of[cid] = pos
        missing = [c for c, cid in zip(channels, wanted) if cid not in pos_of]
        if missing:
            raise ValueError(f"{where}requested channel(s) {missing} not found among {names}")
        positions = [pos_of[cid] for cid in wanted]
        dropped = [n for i, n in enumerate(names) if i not in set(positions)]
        return positions, wanted, dropped

    unknown = [n for n, e, cid in zip(names, is_eeg, ids_all) if e and cid is None]
    if unknown and strict:
        raise ValueError(
            f"{where}unknown EEG channel name(s) {unknown}: they are not electrodes of the LaBraM vocabulary "
            "(labram_hf.LABRAM_CHANNELS). Rename them, set their type to non-EEG, select channels explicitly "
            "(channels=...), or pass strict=False (--no-strict) to drop them."
        )
    if unknown:
        warnings.warn(f"{where}dropping EEG channel(s) unknown to LaBraM: {unknown}", UserWarning, stacklevel=3)
    positions, ids = [], []
    first: dict[int, int] = {}
    for pos, cid in enumerate(ids_all):
        if cid is None:
            continue
        if cid in first:
            raise ValueError(
                f"{where}channels {names[first[cid]]!r} and {names[pos]!r} are the same electrode "
                f"({LABRAM_CHANNELS[cid]}); drop one of them"
            )
        first[cid] = pos
        positions.append(pos)
        ids.append(cid)
    if not positions:
        raise ValueError(
            f"{where}no EEG channel recognised among {names}. LaBraM needs channels named after 10-20/10-10 "
            "electrodes (e.g. 'Fp1', 'EEG CZ-REF'); see labram_hf.LABRAM_CHANNELS."
        )
    kept = set(positions)
    dropped = [n for i, n in enumerate(names) if i not in kept]
    return positions, ids, dropped


def check_signal(
    data_uv: np.ndarray,
    ch_names: Sequence[str],
    *,
    unit: str = "V",
    source: str | PathLike | None = None,
) -> None:
    """Validate raw samples (already converted to microvolts) of the selected channels.

    Raises :class:`ValueError` for NaN/Inf samples or flat channels (naming them) and warns when the amplitude is
    implausible for the declared ``unit`` (values around 1e-5 declared as uV, or around 50 declared as V): the
    median over channels of the standard deviation must lie within 0.05-5000 uV.
    """
    where = _where(source)
    finite = np.isfinite(data_uv)
    if not finite.all():
        bad = [ch_names[i] for i in np.flatnonzero(~finite.all(axis=1))]
        n_bad = int((~finite).sum())
        raise ValueError(f"{where}{n_bad} NaN/Inf sample(s) in channel(s) {bad}; repair or drop them first")
    std = float(np.median(np.std(data_uv, axis=1)))
    lo, hi = _PLAUSIBLE_STD_UV
    if std > 0 and not lo <= std <= hi:
        guess = ""
        for cand in ("V", "mV", "uV", "nV"):
            if 1.0 <= std / unit_scale_to_uv(unit) * unit_scale_to_uv(cand) <= 1e3:
                guess = f"; the values look like {cand}, pass unit={cand!r}"
                break
        warnings.warn(
            f"{where}median channel standard deviation is {std:.3g} uV with unit={unit!r}, implausible for scalp "
            f"EEG (expected roughly {lo}-{hi:g} uV): wrong unit suspected{guess}",
            UserWarning,
            stacklevel=3,
        )
    ptp = np.ptp(data_uv, axis=1) if data_uv.shape[1] else np.zeros(data_uv.shape[0])
    threshold = _FLAT_RELATIVE * float(np.median(ptp))
    flat = [ch_names[i] for i in np.flatnonzero((ptp == 0) | (ptp < threshold))]
    if flat:
        raise ValueError(
            f"{where}flat channel(s) {flat} (constant, or peak-to-peak below {_FLAT_RELATIVE:g} x the median of "
            "the other channels); drop them or mark them bad"
        )


def filter_and_resample(
    data: np.ndarray,
    sfreq: float,
    *,
    l_freq: float | None = DEFAULT_L_FREQ,
    h_freq: float | None = DEFAULT_H_FREQ,
    notch: float | Sequence[float] | None = DEFAULT_NOTCH,
    target_sfreq: float = TARGET_SFREQ,
    n_jobs: int | None = None,
    source: str | PathLike | None = None,
) -> np.ndarray:
    """Band-pass, notch and resample ``data`` (float64 ``[C, T]``, any unit) exactly as the original Raw methods.

    Equivalent to ``raw.filter(l_freq, h_freq); raw.notch_filter(notch); raw.resample(target_sfreq)`` with mne
    defaults (zero-phase firwin FIR, ``reflect_limited`` padding, FFT resampling with ``npad="auto"``). The low-pass
    is *not* folded into the resampling step: FFT resampling cuts at the new Nyquist (100 Hz), not at 75 Hz, so
    fusing would change the result.

    Raises:
        ValueError: when ``h_freq`` (or the notch) is not below the Nyquist frequency of ``sfreq``.
    """
    import mne

    where = _where(source)
    nyq = sfreq / 2.0
    if h_freq is not None and h_freq >= nyq:
        raise ValueError(
            f"{where}sampling rate {sfreq:g} Hz is too low for a {h_freq:g} Hz low-pass (Nyquist {nyq:g} Hz). "
            f"Pass a lower low-pass below the Nyquist frequency, e.g. lowpass={0.9 * nyq:g} in Python or "
            f"--lowpass {0.9 * nyq:g} on the command line (LaBraM was trained with 75 Hz, which needs >= 150 Hz)."
        )
    if l_freq is not None and h_freq is not None and l_freq >= h_freq:
        raise ValueError(f"{where}high-pass {l_freq:g} Hz must be below low-pass {h_freq:g} Hz")
    notches = [] if notch is None else [float(f) for f in np.atleast_1d(notch)]
    too_high = [f for f in notches if f >= nyq]
    if too_high:
        raise ValueError(
            f"{where}notch frequency {too_high} Hz is not below the Nyquist frequency {nyq:g} Hz; pass notch=None"
        )
    x = np.ascontiguousarray(data, dtype=np.float64)
    if l_freq is not None or h_freq is not None:
        x = mne.filter.filter_data(x, sfreq, l_freq, h_freq, n_jobs=n_jobs, copy=False, verbose="error")
    if notches:
        x = mne.filter.notch_filter(x, sfreq, np.array(notches), n_jobs=n_jobs, copy=False, verbose="error")
    if abs(sfreq - target_sfreq) > 1e-9:
        x = mne.filter.resample(
            x, up=target_sfreq, down=sfreq, npad="auto", window="auto", pad="auto", n_jobs=n_jobs, verbose="error"
        )
    return x


def preprocess(
    data: np.ndarray,
    sfreq: float,
    ch_names: Sequence[str],
    *,
    unit: str = "V",
    l_freq: float | None = DEFAULT_L_FREQ,
    h_freq: float | None = DEFAULT_H_FREQ,
    notch: float | Sequence[float] | None = DEFAULT_NOTCH,
    target_sfreq: float = TARGET_SFREQ,
    strict: bool = True,
    channels: Sequence[str] | None = None,
    ch_types: Sequence[str] | None = None,
    min_samples: int = PATCH_SIZE,
    n_jobs: int | None = None,
    source: str | PathLike | None = None,
) -> PreprocessedEEG:
    """Preprocess one recording given as an array, the way LaBraM's data was prepared.

    Steps: keep EEG channels known to the vocabulary (:func:`select_channels`), convert to microvolts, validate
    (:func:`check_signal`), band-pass ``l_freq``-``h_freq``, notch ``notch``, resample to ``target_sfreq``
    (:func:`filter_and_resample`), then ``float32(uV) / 100`` (:func:`to_model_units`).

    Args:
        data: ``[channels, time]`` samples in ``unit``.
        sfreq: sampling rate of ``data`` (Hz).
        ch_names: one name per row of ``data``.
        unit: unit of ``data``: ``"V"`` (mne's convention, default), ``"mV"``, ``"uV"``/``"µV"`` or ``"nV"``.
        l_freq, h_freq: band-pass edges in Hz (``None`` disables that side). ``h_freq`` must be below
            ``sfreq / 2``; for a 128 Hz headset pass e.g. ``h_freq=45``.
        notch: mains frequency to remove (50, 60, a list, or ``None`` for no notch).
        target_sfreq: output rate (LaBraM: 200 Hz).
        strict: unknown EEG channel names raise (``True``) or are dropped with a warning (``False``).
        channels: optional explicit channel selection/order (see :func:`select_channels`).
        ch_types: mne channel types; non-``"eeg"`` channels are ignored. ``None``: all channels are EEG.
        min_samples: minimum output length in samples (default: one patch); shorter recordings raise.
        n_jobs: parallel jobs for mne's filters.
        source: file name (or description) used in error messages.

    Returns:
        :class:`PreprocessedEEG` with float32 ``values`` in model units.
    """
    where = _where(source)
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"{where}expected data of shape [channels, time], got shape {data.shape}")
    if len(ch_names) != data.shape[0]:
        raise ValueError(f"{where}{len(ch_names)} channel names for {data.shape[0]} channels in the data")
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise ValueError(f"{where}expected real numeric samples, got dtype {data.dtype}")
    if not sfreq or sfreq <= 0 or not np.isfinite(sfreq):
        raise ValueError(f"{where}invalid sampling rate {sfreq!r}")
    positions, ids, dropped = select_channels(ch_names, ch_types=ch_types, channels=channels, strict=strict,
                                              source=source)  # fmt: skip
    names = [str(ch_names[p]) for p in positions]
    n_out = int(round(data.shape[1] * target_sfreq / sfreq))
    if n_out < min_samples:
        raise ValueError(
            f"{where}recording too short: {data.shape[1]} samples at {sfreq:g} Hz = {data.shape[1] / sfreq:.3g} s, "
            f"but at least {min_samples} samples at {target_sfreq:g} Hz ({min_samples / target_sfreq:g} s, one "
            "patch) are needed"
        )
    x = np.asarray(data[positions], dtype=np.float64) * unit_scale_to_uv(unit)
    check_signal(x, names, unit=unit, source=source)
    x = filter_and_resample(x, float(sfreq), l_freq=l_freq, h_freq=h_freq, notch=notch, target_sfreq=target_sfreq,
                            n_jobs=n_jobs, source=source)  # fmt: skip
    return PreprocessedEEG(
        values=to_model_units(x),
        channel_ids=list(ids),
        channel_names=names,
        sfreq=float(target_sfreq),
        source=None if source is None else str(source),
        dropped_channels=list(dropped),
    )


def preprocess_raw(raw: mne.io.BaseRaw, *, source: str | PathLike | None = None, **kwargs) -> PreprocessedEEG:
    """:func:`preprocess` for an mne Raw: names, types and rate come from ``raw.info``; only kept channels are read.

    Data is taken in volts (mne's unit), so ``unit`` must not be passed. ``source`` defaults to the Raw's file name.
    Other keyword arguments are those of :func:`preprocess`.
    """
    if "unit" in kwargs:
        raise TypeError("preprocess_raw reads data in volts from mne; do not pass unit=")
    if source is None:
        fnames = getattr(raw, "filenames", None) or []
        source = str(fnames[0]) if fnames and fnames[0] is not None else None
    ch_types = raw.get_channel_types()
    positions, _, _ = select_channels(
        raw.ch_names, ch_types=ch_types, channels=kwargs.get("channels"), strict=kwargs.get("strict", True),
        source=source,
    )  # fmt: skip
    # Read only the kept channels (an unloaded Raw reads just these rows from disk).
    data = raw.get_data(picks=positions)
    names = [raw.ch_names[p] for p in positions]
    kwargs.pop("ch_types", None)
    kwargs.pop("channels", None)
    with warnings.catch_warnings():
        # the selection above already warned about dropped channels
        warnings.filterwarnings("ignore", message=".*dropping EEG channel", category=UserWarning)
        out = preprocess(data, raw.info["sfreq"], names, unit="V", source=source, **kwargs)
    kept = set(positions)
    out.dropped_channels = [n for i, n in enumerate(raw.ch_names) if i not in kept]
    return out


def preprocess_file(path: str | PathLike, **kwargs) -> PreprocessedEEG:
    """Read ``path`` with :func:`labram_hf.io.read_raw` and :func:`preprocess_raw` it (only kept channels loaded)."""
    from .io import read_raw

    raw = read_raw(path, preload=False)
    return preprocess_raw(raw, source=str(path), **kwargs)
