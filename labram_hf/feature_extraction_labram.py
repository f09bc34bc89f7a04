"""Feature extractor for LaBraM: raw EEG (arrays or mne Raw) -> model inputs.

>>> from labram_hf.feature_extraction_labram import LaBraMFeatureExtractor
>>> fe = LaBraMFeatureExtractor()                                   # the original recipe: 0.1-75 Hz, 50 Hz notch
>>> batch = fe(raw)                                                 # an mne Raw; rate and names from raw.info
>>> batch = fe(array, sampling_rate=256, channel_names=names, unit="uV")
>>> batch["input_values"].shape, batch["channel_ids"].shape         # [B, C, T], [B, C]

Each recording is preprocessed with :func:`labram_hf.preprocessing.preprocess` (channel selection, band-pass,
notch, resampling to 200 Hz, microvolts / 100 as float32) and cut to whole 200-sample patches. Recordings with
different channel sets are padded along the channel axis (zeros, channel id 0) and a ``channel_mask`` (``True`` =
real channel) is returned.

Remote code: ``save_pretrained`` writes, next to ``preprocessor_config.json`` (which then carries an ``auto_map``),
this module and the modules it imports relatively (``preprocessing.py``, ``channels.py``, ``constants.py``,
``errors.py``), so ``AutoFeatureExtractor.from_pretrained(dir_or_repo, trust_remote_code=True)`` works where
labram_hf is not installed. These files therefore import only numpy, scipy, mne, transformers, the standard library
and each other; keep it that way (a relative import of any other module would ship it too).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers import BatchFeature, FeatureExtractionMixin

from .constants import MAX_TIME_PATCHES, PATCH_SIZE, SAMPLING_RATE
from .errors import LaBraMError
from .preprocessing import PreprocessedEEG, preprocess, preprocess_raw

__all__ = ["CHANNEL_POLICIES", "LaBraMFeatureExtractor", "register_feature_extractor"]

#: Values of ``channel_policy`` (what happens to EEG channels whose names are not in the vocabulary).
CHANNEL_POLICIES: tuple[str, ...] = ("strict", "lenient", "aliases", "nearest", "interpolate")


def _is_raw(obj: Any) -> bool:
    mne = sys.modules.get("mne")  # an mne Raw cannot exist before mne is imported
    return mne is not None and isinstance(obj, mne.io.BaseRaw)


def _seconds(name: str, value: float | None) -> float | None:
    """``value`` as a float of positive, finite seconds (or ``None``); anything else raises."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise LaBraMError(f"{name} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise LaBraMError(f"{name} must be a positive, finite number of seconds, got {value!r}",
                          hint=f"e.g. {name}=10.0")  # fmt: skip
    return seconds


class LaBraMFeatureExtractor(FeatureExtractionMixin):
    r"""
    Turns EEG recordings into LaBraM inputs (`input_values`, `channel_ids` and, for padded batches, `channel_mask`).

    Args:
        sampling_rate (`int`, defaults to 200): rate the model expects (Hz); inputs are resampled to it.
        patch_size (`int`, defaults to 200): samples per patch; outputs are cut to a whole number of patches.
        max_time_patches (`int`, defaults to 16): longest input the model accepts, in patches. Longer recordings
            raise unless `truncation=True` (then the first `max_time_patches` patches are kept); to use a whole
            long recording, cut it into windows first (e.g. `PreprocessedEEG.windows`).
        l_freq (`float` or `None`, defaults to 0.1): high-pass edge of the band-pass (Hz).
        h_freq (`float` or `None`, defaults to 75.0): low-pass edge (Hz); must be below half the input rate
            (for a 128 Hz headset use e.g. 45).
        notch_freq (`float` or `None`, defaults to 50.0): mains notch (Hz); 60 in the Americas, `None` for none.
        unit (`str`, defaults to `"V"`): unit of array inputs (`"V"`, `"mV"`, `"uV"`); mne Raw inputs are volts.
        channel_policy (`str`, defaults to `"strict"`): how recorded channels map onto the LaBraM vocabulary:
            `"strict"` (exact names; others raise), `"lenient"` (unknown names dropped with a warning), `"aliases"`
            (also synonyms), `"nearest"` (unknown names mapped by electrode position), `"interpolate"` (missing
            10-20 electrodes interpolated); see `labram_hf.channels` / `labram_hf.montage`.
            (`strict_channels=True/False` is accepted as the older spelling of `"strict"`/`"lenient"`.)
        montage (`str`, *optional*): electrode positions for `"nearest"`/`"interpolate"`: an mne montage name
            (`"GSN-HydroCel-129"`, `"biosemi64"`, ...) or a montage file; `None` uses the recording's own.
        bipolar (`str`, *optional*): a bipolar derivation such as `"Fpz-Cz"` raises (`None`), uses the row of its
            first electrode (`"anode"`) or is dropped (`"drop"`).
        channels (`list[str]`, *optional*): explicit electrode selection and order (e.g. `TUH_CHANNELS`).
        window_seconds (`float`, *optional*): length of the windows the model was trained on (seconds, a whole
            number of patches). Datasets built by `labram prepare` / `build_dataset` record it, training copies it
            into the model directory, and `labram predict` / `labram embed` cut recordings into windows of this
            length. `None`: not fixed (inference then uses 10 s).
        stride_seconds (`float`, *optional*): hop between window starts (default: `window_seconds`, no overlap);
            used by `labram predict` / `labram embed` like `window_seconds`.
        do_preprocess (`bool`, defaults to `True`): with `False`, inputs are taken as already preprocessed (model
            units at `sampling_rate`) and are only validated, cut to patches and batched.
        padding_value (`float`, defaults to 0.0): value of padded channels.

    All of these are saved in `preprocessor_config.json` (`save_pretrained`) and are the preprocessing contract of a
    model: `labram predict` / `labram embed` apply them and warn when a command-line option overrides one. The file
    also carries an `auto_map`, and this module's code is saved beside it (see the module docstring), so the
    extractor loads with `trust_remote_code=True` where labram_hf is not installed (numpy, scipy and mne needed).
    """

    model_input_names = ["input_values", "channel_ids", "channel_mask"]

    def __init__(
        self,
        sampling_rate: int = int(SAMPLING_RATE),
        patch_size: int = PATCH_SIZE,
        max_time_patches: int = MAX_TIME_PATCHES,
        l_freq: float | None = 0.1,
        h_freq: float | None = 75.0,
        notch_freq: float | None = 50.0,
        unit: str = "V",
        channel_policy: str = "strict",
        channels: Sequence[str] | None = None,
        montage: str | None = None,
        bipolar: str | None = None,
        window_seconds: float | None = None,
        stride_seconds: float | None = None,
        do_preprocess: bool = True,
        padding_value: float = 0.0,
        **kwargs,
    ):
        kwargs.pop("feature_extractor_type", None)
        strict_channels = kwargs.pop("strict_channels", None)
        if strict_channels is not None:  # the older spelling (configs saved before channel_policy existed)
            channel_policy = "strict" if strict_channels else "lenient"
        super().__init__(**kwargs)
        self.sampling_rate = int(sampling_rate)
        self.patch_size = int(patch_size)
        self.max_time_patches = int(max_time_patches)
        self.l_freq = None if l_freq is None else float(l_freq)
        self.h_freq = None if h_freq is None else float(h_freq)
        self.notch_freq = None if notch_freq is None else float(notch_freq)
        self.unit = unit
        if channel_policy not in CHANNEL_POLICIES:
            raise LaBraMError(f"channel_policy must be one of {CHANNEL_POLICIES}, got {channel_policy!r}")
        self.channel_policy = channel_policy
        self.channels = None if channels is None else [str(c) for c in channels]
        if montage is not None and not isinstance(montage, str):
            raise LaBraMError(f"montage must be an mne montage name or a file path (a string), got {type(montage)}")
        if bipolar not in (None, "anode", "drop"):
            raise LaBraMError(f"bipolar must be None, 'anode' or 'drop', got {bipolar!r}")
        self.montage = montage
        self.bipolar = bipolar
        self.window_seconds = _seconds("window_seconds", window_seconds)
        self.stride_seconds = _seconds("stride_seconds", stride_seconds)
        self.do_preprocess = bool(do_preprocess)
        self.padding_value = float(padding_value)

    @property
    def strict_channels(self) -> bool:
        """``True`` when unknown channel names raise (``channel_policy == "strict"``)."""
        return self.channel_policy == "strict"

    # ----------------------------------------------------------------------------------------------------------
    def preprocess_one(
        self,
        eeg: Any,
        *,
        sampling_rate: float | None = None,
        channel_names: Sequence[str] | None = None,
        unit: str | None = None,
        source: str | None = None,
        **overrides,
    ) -> PreprocessedEEG:
        """Preprocess one recording (array ``[channels, time]`` or mne Raw) with this extractor's settings.

        An :class:`mne.Epochs` gives a :class:`~labram_hf.preprocessing.PreprocessedEpochs` (one entry per trial),
        filtered trial by trial (:func:`labram_hf.preprocessing.preprocess_epochs`; filter the continuous recording
        before cutting trials whenever it exists).
        """
        kwargs: dict[str, Any] = dict(
            l_freq=self.l_freq,
            h_freq=self.h_freq,
            notch=self.notch_freq,
            target_sfreq=float(self.sampling_rate),
            channel_policy=self.channel_policy,
            bipolar=self.bipolar,
            montage=self.montage,
            channels=self.channels,
            min_samples=self.patch_size,
        )
        if "strict" in overrides and "channel_policy" not in overrides:  # the old spelling overrides the policy
            kwargs.pop("channel_policy")
        kwargs.update(overrides)
        if _is_raw(eeg):
            if not self.do_preprocess:
                raise ValueError("do_preprocess=False expects arrays in model units, not mne Raw objects")
            return preprocess_raw(eeg, source=source, **kwargs)
        mne = sys.modules.get("mne")
        if mne is not None and isinstance(eeg, mne.epochs.BaseEpochs):  # trials: the epoch-only path, one per row
            from .preprocessing import preprocess_epochs

            if not self.do_preprocess:
                raise ValueError("do_preprocess=False expects arrays in model units, not mne Epochs objects")
            kwargs.pop("precision", None)
            # datasets of trials record the part of each trial they kept (seconds around the event)
            kwargs.setdefault("tmin", getattr(self, "epochs_tmin", None))
            kwargs.setdefault("tmax", getattr(self, "epochs_tmax", None))
            return preprocess_epochs(eeg, source=source, **kwargs)
        data = np.asarray(eeg.detach().cpu().numpy() if hasattr(eeg, "detach") else eeg)
        where = f"{source}: " if source else ""
        if channel_names is None:
            raise ValueError(f"{where}array input needs channel_names=[...] (one name per row)")
        if not self.do_preprocess:
            return self._wrap_preprocessed(data, sampling_rate, channel_names, kwargs, source)
        if sampling_rate is None:
            raise ValueError(
                f"{where}array input needs sampling_rate= (the rate of the recording in Hz); it is resampled to "
                f"{self.sampling_rate} Hz"
            )
        return preprocess(data, float(sampling_rate), list(channel_names), unit=unit or self.unit, source=source,
                          **kwargs)  # fmt: skip

    def _wrap_preprocessed(self, data, sampling_rate, channel_names, kwargs, source) -> PreprocessedEEG:
        from .preprocessing import select_channels

        where = f"{source}: " if source else ""
        if sampling_rate is not None and float(sampling_rate) != float(self.sampling_rate):
            raise ValueError(f"{where}do_preprocess=False needs data at {self.sampling_rate} Hz, got {sampling_rate}")
        if data.ndim != 2 or data.shape[0] != len(channel_names):
            raise ValueError(f"{where}expected [channels, time] with {len(channel_names)} channels, got {data.shape}")
        if not np.isfinite(data).all():
            raise ValueError(f"{where}NaN/Inf samples in the input")
        channel_args = ("channels", "channel_policy", "strict", "bipolar", "montage", "positions")
        selection = select_channels(list(channel_names), source=source,
                                    **{k: kwargs[k] for k in channel_args if k in kwargs})  # fmt: skip
        _, ids, dropped = selection
        return PreprocessedEEG(
            values=np.asarray(selection.apply(data), dtype=np.float32),
            channel_ids=ids,
            channel_names=selection.names,
            sfreq=float(self.sampling_rate),
            source=source,
            dropped_channels=dropped,
        )

    # ----------------------------------------------------------------------------------------------------------
    def __call__(
        self,
        eeg: Any,
        sampling_rate: float | None = None,
        channel_names: Sequence[str] | Sequence[Sequence[str]] | None = None,
        unit: str | None = None,
        return_tensors: str | None = "pt",
        truncation: bool = False,
        return_channel_mask: bool | None = None,
        **kwargs,
    ) -> BatchFeature:
        """Preprocess and batch one recording or a list of recordings.

        Args:
            eeg: an array ``[channels, time]`` (numpy or torch), an :class:`mne.io.BaseRaw`, an :class:`mne.Epochs`
                (one row per trial), a list of these, or a stacked array ``[batch, channels, time]`` (each row
                filtered as a recording of its own).
            sampling_rate: rate of array inputs in Hz (ignored for Raw inputs, which carry their own).
            channel_names: names of the rows of array inputs: one list for all recordings, or one list each.
            unit: unit of array inputs (default: the extractor's ``unit``).
            return_tensors: ``"pt"`` (default), ``"np"`` or ``None`` (numpy arrays as well).
            truncation: cut recordings longer than ``max_time_patches`` patches to that length, and recordings
                of different lengths to the shortest one; with ``False`` both cases raise.
            return_channel_mask: always (``True``) / never (``False``) return ``channel_mask``; by default it is
                returned only when channels were padded.
            **kwargs: overrides of :func:`labram_hf.preprocessing.preprocess` arguments (e.g. ``h_freq=45``).

        Returns:
            :class:`~transformers.BatchFeature` with ``input_values`` float32 ``[B, C, T]`` (model units,
            ``T = patches * patch_size``), ``channel_ids`` int64 ``[B, C]`` and possibly ``channel_mask`` bool
            ``[B, C]``.
        """
        if hasattr(eeg, "ndim") and eeg.ndim == 3:  # a stacked batch [B, C, T]
            eeg = list(eeg)
        batched = isinstance(eeg, list | tuple)
        items = list(eeg) if batched else [eeg]
        if not items:
            raise ValueError("no recording given")
        if channel_names is not None and len(channel_names) and not isinstance(channel_names[0], str):
            names_per = list(channel_names)
            if len(names_per) != len(items):
                raise ValueError(f"{len(names_per)} channel name lists for {len(items)} recordings")
        else:
            names_per = [channel_names] * len(items)
        rates = list(sampling_rate) if isinstance(sampling_rate, list | tuple) else [sampling_rate] * len(items)

        processed: list[PreprocessedEEG] = []
        for i, (item, names, rate) in enumerate(zip(items, names_per, rates)):
            source = None
            if _is_raw(item) and item.filenames and item.filenames[0] is not None:
                source = str(item.filenames[0])
            elif getattr(item, "filename", None) is not None and not isinstance(item, np.ndarray):  # mne Epochs
                source = str(item.filename)
            elif batched:
                source = f"recording {i}"
            one = self.preprocess_one(item, sampling_rate=rate, channel_names=names, unit=unit, source=source,
                                      **kwargs)  # fmt: skip
            processed.extend(one.trials() if hasattr(one, "trials") else [one])  # mne Epochs: one row per trial

        n_patches = [p.n_patches(self.patch_size) for p in processed]
        too_long = [i for i, n in enumerate(n_patches) if n > self.max_time_patches]
        if too_long and not truncation:
            raise ValueError(
                f"recording(s) {too_long} have {[n_patches[i] for i in too_long]} patches of {self.patch_size} "
                f"samples, but the model takes at most {self.max_time_patches} ({self.max_time_patches} s at "
                f"{self.sampling_rate} Hz). Cut long recordings into windows (e.g. PreprocessedEEG.windows) or pass "
                "truncation=True to keep only the beginning."
            )
        n_use = min(min(n_patches), self.max_time_patches)
        if len(set(min(n, self.max_time_patches) for n in n_patches)) > 1 and not truncation:
            raise ValueError(
                f"recordings have different lengths ({n_patches} patches); batch recordings of equal length or "
                "pass truncation=True to cut all of them to the shortest"
            )
        n_time = n_use * self.patch_size
        n_chan = max(p.n_channels for p in processed)
        batch_size = len(processed)
        values = np.full((batch_size, n_chan, n_time), self.padding_value, dtype=np.float32)
        ids = np.zeros((batch_size, n_chan), dtype=np.int64)
        mask = np.zeros((batch_size, n_chan), dtype=bool)
        for b, p in enumerate(processed):
            values[b, : p.n_channels] = p.values[:, :n_time]
            ids[b, : p.n_channels] = p.channel_ids
            mask[b, : p.n_channels] = True
        data: dict[str, Any] = {"input_values": values, "channel_ids": ids}
        padded = not mask.all()
        if return_channel_mask or (return_channel_mask is None and padded):
            data["channel_mask"] = mask
        return BatchFeature(data=data, tensor_type=return_tensors)


def register_feature_extractor() -> None:
    """Register the LaBraM classes (this extractor included) with the transformers Auto classes. Idempotent.

    ``import labram_hf`` already arranges this (on demand); kept for explicit calls. Only available with labram_hf
    installed, not in the remote-code copy of this module.
    """
    import importlib

    importlib.import_module("labram_hf._auto_registration").register_all()


# save_pretrained writes this module (and its relative imports) beside preprocessor_config.json, with an auto_map.
LaBraMFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
