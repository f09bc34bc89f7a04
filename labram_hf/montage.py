"""Electrode positions: map recorded channels onto LaBraM's vocabulary by position, interpolate, and show the result.

:mod:`labram_hf.channels` maps channels by *name*. This module adds the two position-based levels of
``channel_policy`` and the tools to look at any mapping:

``"nearest"``
    Channels whose names do not resolve, but whose positions are known (the recording's digitisation, a
    ``montage=`` such as ``"GSN-HydroCel-129"`` / ``"biosemi64"`` / a montage file, or ``positions={name: xyz}``),
    are mapped to the nearest vocabulary electrode within :data:`NEAREST_MAX_DISTANCE_MM`, one-to-one.
``"interpolate"``
    Channels whose names resolve are kept; the 10-20 electrodes of :data:`INTERPOLATION_TARGETS` that the recording
    lacks but covers (inside the convex hull of its electrodes, or within 14 mm of one) are computed with mne's spherical splines
    (:meth:`mne.io.Raw.interpolate_to`) from all positioned EEG channels. ``channels=`` replaces the target set.

How positions are compared
--------------------------
Heads and caps differ in size and shape, so positions are compared as *directions*: each set of positions is
centred on its least-squares sphere and scaled to mne's standard head radius (95 mm); a distance is the chord
between two directions on that sphere, in mm. The vocabulary's positions come from a template of the 10-05 system.
mne ships the 10-05 positions in two shapes that disagree by up to 26 mm on this sphere: the realistic head of
``standard_1005`` (colin27: measured heads, digitisations and EGI nets look like it; its occipital ring sits higher
than its temporal ring) and idealised spheres (the ``biosemi*`` and ``easycap-M*`` montages put the 10-20 ring 2
degrees below the equator; mne's ``spherical_1005`` puts it 18 degrees above). Each recording is compared with all
three templates (:data:`TEMPLATES`) and the one whose electrodes lie closest to the recording's (median distance
from each recorded electrode to its nearest vocabulary electrode) is used; the choice is reported.

Targets and the distance limit
------------------------------
Targets are the vocabulary rows with a position in the template, except the six mixed-case rows (``FTT9h`` ...,
never selected in pre-training, see LABRAM_REFERENCE.md) and the new names ``T7``/``T8``/``P7``/``P8``, whose
positions are those of ``T3``/``T4``/``T5``/``T6``: a position-only channel maps to the old-name row, which the TUH
corpus (the largest part of the pre-training data) and the TUAB/TUEV fine-tuning trained. A *named* ``T7`` keeps its
own row. ``T1``/``T2``, ``CFC*``, ``CCP7``/``CCP8`` and the bipolar rows have no 10-05 position and are no targets.

:data:`NEAREST_MAX_DISTANCE_MM` (14 mm) is half the median distance between neighbouring 10-10 electrodes on the
standard sphere (28.0 mm for the 10-10 electrodes of ``spherical_1005`` -- recomputed by the tests): a channel
farther than that from every free vocabulary electrode is closer to the midpoint between two 10-10 positions than
to any of them, so no single row describes it; it is dropped (reported as unmapped). Each vocabulary electrode is
used at most once: candidate pairs are assigned closest first; a channel that lost its nearest electrode to a
closer one is reported as *ambiguous* (it gets its next free electrode within the limit, or none).

A name that is a vocabulary row keeps its row, unless the recording's own positions contradict it: a channel named
like a vocabulary electrode but positioned more than :data:`NAME_CONTRADICTION_MM` from it (BioSemi's ``A1``/``A2``
amplifier labels sit at Fp1/AF7, not on the ears) is mapped by position, with a warning. Without positions, a
recording labelled like a BioSemi amplifier (``A1`` ... ``A16`` and more) never has its ``A1``/``A2`` taken for the
ear electrodes: they are reported as unknown, with a hint to pass the cap's montage. Named channels without a
recorded position take their row's template position (interpolation sources, plots).

What to expect: mne's ``biosemi64``, ``biosemi32`` and ``easycap-M1`` caps with generic labels map back to all their
electrodes; a 10-20 recording renamed ``EEG 001`` ... with ``standard_1020`` positions maps back exactly; the EGI
``GSN-HydroCel-129`` net maps 81 of its 129 electrodes (``Cz`` by name, 80 by position; 5 ambiguous, 43 farther
than 14 mm from every free vocabulary electrode) -- ``"interpolate"`` serves such nets better.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .channels import (
    LABRAM_CHANNELS,
    OLD_NEW_1020,
    ChannelPolicyError,
    _clean,
    check_channel_policy,
    resolve_channel,
    synonym_note,
)

if TYPE_CHECKING:  # pragma: no cover
    import mne

__all__ = [
    "INTERPOLATION_TARGETS",
    "NAME_CONTRADICTION_MM",
    "NEAREST_MAX_DISTANCE_MM",
    "SPLINE_REGULARISATION",
    "STANDARD_HEAD_RADIUS_MM",
    "TEMPLATES",
    "ChannelMapping",
    "describe_mapping",
    "format_mapping",
    "load_montage",
    "map_channels",
    "nearest_targets",
    "plot_mapping",
    "template_directions",
]

#: Radius of mne's standard head sphere (mm); distances between directions are chords on this sphere.
STANDARD_HEAD_RADIUS_MM: float = 95.0
#: Largest distance (mm, on the standard sphere) between a channel and the vocabulary electrode ``nearest`` maps it
#: to: half the median neighbour distance of the 10-10 electrodes (28.0 mm), see the module docstring.
NEAREST_MAX_DISTANCE_MM: float = 14.0
#: A channel named like a vocabulary electrode but positioned farther than this (mm) from it is mapped by position
#: (about 1.5 inter-electrode distances: far beyond digitisation error, far below a BioSemi label's 150 mm).
NAME_CONTRADICTION_MM: float = 40.0
#: The interpolation targets of ``channel_policy="interpolate"``: the 19 electrodes of the 10-20 system, in the
#: old-name spelling of the TUH recordings (see the module docstring for ``T3`` vs ``T7``).
INTERPOLATION_TARGETS: tuple[str, ...] = (
    "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T3", "C3", "CZ", "C4", "T4", "T5", "P3", "PZ", "P4", "T6", "O1", "O2",
)  # fmt: skip
#: Regularisation of the spherical-spline interpolation (that of mne's ``interpolate_bads``).
SPLINE_REGULARISATION: float = 1e-5
#: The templates of the 10-05 system a recording is compared with (see the module docstring).
TEMPLATES: tuple[str, ...] = ("standard_1005", "spherical_besa", "spherical_1005")

# vocabulary rows that are never targets of a position match (see the module docstring)
_NOT_TARGETS = frozenset({"T7", "T8", "P7", "P8", "FTT9h", "TTP7h", "TPP9h", "FTT10h", "TPP8h", "TPP10h"})
# mne >= 1.13 renamed the colin27-based montages; older names are translated to avoid its deprecation warning
_RENAMED = {"standard_1005": "colin27_1005", "standard_1020": "colin27_1020", "standard_alphabetic": "colin27_alphabetic",
            "standard_postfixed": "colin27_postfixed", "standard_prefixed": "colin27_prefixed",
            "standard_primed": "colin27_primed"}  # fmt: skip


class MontageError(ChannelPolicyError):
    """Electrode positions are missing, unreadable or inconsistent."""


# ----------------------------------------------------------------------------------------------------------------
# Montages and templates
# ----------------------------------------------------------------------------------------------------------------
def _builtin(name: str) -> str | None:
    import mne

    names = mne.channels.get_builtin_montages()
    lower = {n.lower(): n for n in names}
    key = _RENAMED.get(name.lower(), name).lower()
    if key in lower:
        return lower[key]
    back = {v.lower(): k for k, v in _RENAMED.items()}  # an mne older than the rename
    if key in back and back[key] in lower:
        return lower[back[key]]
    return None


def load_montage(montage: str | PathLike | mne.channels.DigMontage) -> mne.channels.DigMontage:
    """A :class:`mne.channels.DigMontage` from an mne montage name (``"standard_1005"``, ``"GSN-HydroCel-129"``,
    ``"biosemi64"``, ... see :func:`mne.channels.get_builtin_montages`), a montage file (anything
    :func:`mne.channels.read_custom_montage` reads, or a ``.fif`` digitisation) or a DigMontage (returned as is)."""
    import mne

    if isinstance(montage, mne.channels.DigMontage):
        return montage
    text = str(montage)
    name = _builtin(text)
    if name is not None:
        return mne.channels.make_standard_montage(name)
    path = Path(text).expanduser()
    if path.is_file():
        try:
            if path.suffix.lower() == ".fif":
                return mne.channels.read_dig_fif(path)
            return mne.channels.read_custom_montage(path)
        except Exception as err:  # mne raises many types for a bad file
            raise MontageError(f"{path}: cannot read the montage file ({type(err).__name__}: {err})") from err
    raise MontageError(
        f"unknown montage {text!r}: neither an mne montage name nor an existing file",
        hint=f"use one of {', '.join(mne.channels.get_builtin_montages())}, or a montage file "
        "(.elc, .sfp, .loc, .locs, .eloc, .csd, .elp, .hpts, .bvef, .fif)",
    )


def _head_positions(montage: mne.channels.DigMontage) -> dict[str, np.ndarray]:
    """Positions (m, mne's head frame, i.e. after the fiducial transform) of every channel of ``montage``."""
    import mne

    names = list(montage.ch_names)
    if not names:
        return {}
    info = mne.create_info(names, 100.0, "eeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info.set_montage(montage, on_missing="ignore", verbose="error")
    out = {}
    for ch in info["chs"]:
        xyz = np.asarray(ch["loc"][:3], dtype=float)
        if np.isfinite(xyz).all() and np.abs(xyz).sum() > 0:
            out[ch["ch_name"]] = xyz
    return out


def _fit_sphere(xyz: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares sphere through the points ``xyz`` [n, 3]: ``(centre, radius)``.

    Solves ``|x|^2 = 2 c.x + (r^2 - |c|^2)`` (linear in ``c`` and the constant). With fewer than 6 points, or a fit
    that is not a head-sized sphere around the points, the centre falls back to the centroid moved 4 cm down
    (mne's default head origin is 4 cm above the fiducial plane).
    """
    xyz = np.asarray(xyz, dtype=float)
    fallback = xyz.mean(axis=0) - np.array([0.0, 0.0, 0.04])
    if len(xyz) >= 6:
        a = np.c_[2.0 * xyz, np.ones(len(xyz))]  # [n, 4]
        b = (xyz**2).sum(axis=1)
        sol, *_ = np.linalg.lstsq(a, b, rcond=None)
        centre = sol[:3]
        radius2 = sol[3] + centre @ centre
        if radius2 > 0:
            radius = float(np.sqrt(radius2))
            dist = np.linalg.norm(xyz - centre, axis=1)
            if 0.03 <= radius <= 0.3 and np.all(np.abs(dist - radius) < 0.5 * radius):
                return centre, radius
    return fallback, float(np.linalg.norm(xyz - fallback, axis=1).mean())


def _directions(xyz: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Unit vectors from ``centre`` to each point: [n, 3]."""
    d = np.asarray(xyz, dtype=float) - centre
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _chord_mm(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Chord distances (mm, on the standard sphere) between direction sets ``u`` [n, 3] and ``v`` [m, 3]: [n, m]."""
    return STANDARD_HEAD_RADIUS_MM * np.linalg.norm(u[:, None, :] - v[None, :, :], axis=-1)


@dataclass(frozen=True)
class _Template:
    name: str
    ids: tuple[int, ...]  # vocabulary ids with a position
    directions: np.ndarray  # [len(ids), 3]

    def direction(self, idx: int) -> np.ndarray | None:
        try:
            return self.directions[self.ids.index(idx)]
        except ValueError:
            return None


@functools.lru_cache(maxsize=None)
def _template(name: str) -> _Template:
    """Directions of the vocabulary electrodes in one 10-05 template (cached)."""
    import mne

    vocab = {n.upper(): i for i, n in enumerate(LABRAM_CHANNELS)}
    if name == "standard_1005":
        pos = _head_positions(mne.channels.make_standard_montage(_builtin("standard_1005")))
        centre, _ = _fit_sphere(np.array(list(pos.values())))
        extra: dict[str, np.ndarray] = {}
        for other, names in (("standard_1020", ("O9", "O10")), ("standard_postfixed", ("CB1", "CB2"))):
            found = _builtin(other)
            if found is not None:  # the same colin27 head, so the same frame
                more = {k.upper(): v for k, v in _head_positions(mne.channels.make_standard_montage(found)).items()}
                extra.update({n: more[n] for n in names if n in more})
        upper = {k.upper(): v for k, v in pos.items()}
        upper.update({k: v for k, v in extra.items() if k not in upper})
        ids = [i for n, i in vocab.items() if n in upper]
        dirs = _directions(np.array([upper[LABRAM_CHANNELS[i].upper()] for i in ids]), centre)
        return _Template(name, tuple(ids), dirs)
    if name in ("spherical_1005", "spherical_besa"):
        found = _builtin("spherical_1005")
        if found is None:  # mne < 1.13: only the realistic template
            return _Template(name, (), np.zeros((0, 3)))
        raw = {k.upper(): np.asarray(v, float) for k, v in
               mne.channels.make_standard_montage(found).get_positions()["ch_pos"].items()}  # fmt: skip
        raw.setdefault("O9", raw.get("I1"))  # same position in mne's 10-20 and 10-05 montages
        raw.setdefault("O10", raw.get("I2"))
        for old, new in OLD_NEW_1020.items():  # this montage has only the new names
            raw.setdefault(old, raw.get(new))
        ids = [i for n, i in vocab.items() if raw.get(n) is not None]
        xyz = np.array([raw[LABRAM_CHANNELS[i].upper()] for i in ids])
        dirs = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)  # this montage is a sphere around the origin
        if name == "spherical_besa":  # 10-20 ring at 92 degrees from the vertex instead of 72 (biosemi, easycap)
            theta = np.arccos(np.clip(dirs[:, 2], -1, 1)) * (92.0 / 72.0)
            phi = np.arctan2(dirs[:, 1], dirs[:, 0])
            dirs = np.c_[np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]
        return _Template(name, tuple(ids), dirs)
    raise ValueError(f"unknown template {name!r}; expected one of {TEMPLATES}")


def template_directions(name: str = "standard_1005") -> dict[str, np.ndarray]:
    """Unit direction of each vocabulary electrode with a position in template ``name`` (see :data:`TEMPLATES`)."""
    t = _template(name)
    return {LABRAM_CHANNELS[i]: t.directions[k] for k, i in enumerate(t.ids)}


def nearest_targets(template: str = "standard_1005") -> tuple[str, ...]:
    """The vocabulary rows ``channel_policy="nearest"`` may map a position to (see the module docstring)."""
    return tuple(LABRAM_CHANNELS[i] for i in _template(template).ids if LABRAM_CHANNELS[i] not in _NOT_TARGETS)


# ----------------------------------------------------------------------------------------------------------------
# The mapping
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class MappingRow:
    """One line of the mapping table: what happened to one recorded channel (or one interpolated electrode)."""

    channel: str  # as recorded; "" for an interpolated electrode
    row: str | None  # vocabulary row, or None
    how: str  # exact | alias | anode | nearest | interpolated | source | dropped
    distance_mm: float | None = None
    note: str = ""
    id: int | None = None
    direction: np.ndarray | None = field(default=None, repr=False)  # on the standard sphere, for plots

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "row": self.row, "id": self.id, "how": self.how,
                "distance_mm": None if self.distance_mm is None else round(float(self.distance_mm), 1),
                "note": self.note}  # fmt: skip


@dataclass
class ChannelMapping:
    """The result of :func:`map_channels`.

    The model input is ``matrix @ data[positions]`` (or just ``data[positions]`` when ``matrix`` is ``None``): one
    row per entry of ``ids`` / ``names``.

    Attributes:
        positions: input rows the output reads, in output order (with ``matrix``: the interpolation sources).
        ids: vocabulary id of each output row.
        names: name of each output row (the recorded name; the vocabulary name for an interpolated electrode).
        matrix: ``[len(ids), len(positions)]`` linear map for ``"interpolate"``, else ``None``.
        dropped: input channels that contribute nothing.
        rows: the mapping table (one :class:`MappingRow` per input channel, then one per interpolated electrode).
        template: the 10-05 template positions were compared with (``None`` when no positions were used).
        messages: the warnings issued (also emitted as :class:`UserWarning` unless ``warn=False``).
    """

    positions: list[int]
    ids: list[int]
    names: list[str]
    matrix: np.ndarray | None
    dropped: list[str]
    rows: list[MappingRow]
    policy: str
    template: str | None = None
    messages: list[str] = field(default_factory=list)

    def apply(self, data: np.ndarray) -> np.ndarray:
        """The output rows for ``data`` ``[input channels, time]``: ``[len(ids), time]``."""
        picked = np.asarray(data)[self.positions]  # [len(positions), T]
        return picked if self.matrix is None else self.matrix @ picked

    def table(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rows]


def _where(source) -> str:
    return f"{source}: " if source is not None else ""


def _lookup_positions(
    names: Sequence[str],
    eeg: Sequence[bool],
    *,
    montage=None,
    positions: Mapping[str, Sequence[float]] | None = None,
    info=None,
    source=None,
) -> tuple[dict[int, np.ndarray], str]:
    """Head-frame positions (m) of the input channels, by index, and where they came from."""
    out: dict[int, np.ndarray] = {}
    if positions is not None:
        table = {str(k): np.asarray(v, dtype=float) for k, v in positions.items()}
        for k, v in table.items():
            if v.shape != (3,) or not np.isfinite(v).all():
                raise MontageError(f"{_where(source)}positions[{k!r}] must be three finite numbers (x, y, z in m)")
        found = _match_names(names, list(table))
        out = {i: table[key] for i, key in found.items()}
        origin = "positions="
    elif montage is not None:
        mont = load_montage(montage)
        table = _head_positions(mont)
        found = _match_names(names, list(table))
        if not any(found.get(i) is not None for i, e in enumerate(eeg) if e):
            labels = _biosemi_labels(len(mont.ch_names))
            eeg_names = [n for n, e in zip(names, eeg) if e]
            if labels and [_clean(n) for n in eeg_names[: len(labels)]] == labels:
                # BioSemi amplifier labels A1..B32 in the cap's electrode order
                eeg_idx = [i for i, e in enumerate(eeg) if e]
                found = {eeg_idx[k]: mont.ch_names[k] for k in range(len(labels)) if mont.ch_names[k] in table}
        out = {i: table[key] for i, key in found.items()}
        origin = f"montage {montage if isinstance(montage, str | PathLike) else 'DigMontage'}"
    elif info is not None:
        for i, ch in enumerate(info["chs"]):
            xyz = np.asarray(ch["loc"][:3], dtype=float)
            if np.isfinite(xyz).all() and np.abs(xyz).sum() > 0:
                out[i] = xyz
        origin = "the recording's digitisation"
    else:
        origin = ""
    if out:
        radius = _fit_sphere(np.array(list(out.values())))[1] if len(out) >= 6 else 0.1
        if not 0.03 <= radius <= 0.3:
            raise MontageError(
                f"{_where(source)}electrode positions from {origin} span a sphere of radius {radius:g}, not a head "
                "in metres", hint="give positions in metres in mne's head frame (x right, y nose, z up)"
            )
    return out, origin


def _biosemi_labels(n: int) -> list[str]:
    """BioSemi's amplifier labels for an ``n``-electrode cap: A1..A32, B1..B32, ... (16: A1..A16)."""
    if n not in (16, 32, 64, 128, 160, 256):
        return []
    if n == 16:
        return [f"A{k}" for k in range(1, 17)]
    return [f"{chr(ord('A') + b)}{k}" for b in range(n // 32) for k in range(1, 33)]


def _biosemi_like(names: Sequence[str]) -> str:
    """``"A1..B32"`` when the names include BioSemi's amplifier labels A1..A16 (of which only A1/A2 look like
    electrode names), else ``""``."""
    labels = {_clean(n) for n in names}
    if not {f"A{k}" for k in range(1, 17)} <= labels:
        return ""
    last = max((n for n in labels if len(n) <= 3 and n[:1] in "ABCDEFGH" and n[1:].isdigit()),
               key=lambda n: (n[0], int(n[1:])))  # fmt: skip
    return f"A1..{last}"


def _match_names(names: Sequence[str], keys: Sequence[str]) -> dict[int, str]:
    """Index of each input name -> the key (montage channel name) it denotes: exact, then case-insensitive, then
    without decorations (``EEG `` prefix, trailing dots, reference suffix)."""
    exact = set(keys)
    upper = {k.upper(): k for k in keys}
    cleaned = {_strip_ref(_clean(k)): k for k in keys}
    out: dict[int, str] = {}
    for i, n in enumerate(names):
        if n in exact:
            out[i] = n
        elif n.upper() in upper:
            out[i] = upper[n.upper()]
        elif _strip_ref(_clean(n)) in cleaned:
            out[i] = cleaned[_strip_ref(_clean(n))]
    return out


def _strip_ref(clean: str) -> str:
    from .channels import REFERENCE_SUFFIXES

    left, dash, right = clean.rpartition("-")
    return left if dash and left and right in REFERENCE_SUFFIXES else clean


def _choose_template(dirs: np.ndarray) -> _Template:
    """The template whose target electrodes lie closest to the recorded directions (median nearest distance)."""
    best, best_score = None, np.inf
    for name in TEMPLATES:
        t = _template(name)
        if not t.ids:
            continue
        keep = [k for k, i in enumerate(t.ids) if LABRAM_CHANNELS[i] not in _NOT_TARGETS]
        score = float(np.median(_chord_mm(dirs, t.directions[keep]).min(axis=1)))
        if score < best_score - 1e-9:
            best, best_score = t, score
    assert best is not None
    return best


def map_channels(
    ch_names: Sequence[str],
    *,
    ch_types: Sequence[str] | None = None,
    channel_policy: str | None = None,
    strict: bool | None = None,
    bipolar: str | None = None,
    channels: Sequence[str] | None = None,
    montage: str | PathLike | mne.channels.DigMontage | None = None,
    positions: Mapping[str, Sequence[float]] | None = None,
    info: mne.Info | None = None,
    source: str | PathLike | None = None,
    warn: bool = True,
    check: bool = True,
) -> ChannelMapping:
    """Map recorded channels onto the vocabulary under ``channel_policy`` (see :mod:`labram_hf.channels`).

    Args:
        ch_names: channel names as recorded.
        ch_types: mne channel type of each channel (only ``"eeg"`` channels are mapped; with positions, ``"misc"``
            channels that have one count as EEG, since readers type unknown names such as BioSemi's ``"B7"`` as
            misc). ``None``: all channels are EEG.
        channel_policy: ``"strict"`` (default), ``"lenient"``, ``"aliases"``, ``"nearest"`` or ``"interpolate"``.
        strict: the older spelling (``True`` = ``"strict"``, ``False`` = ``"lenient"``).
        bipolar: ``None`` (a bipolar derivation raises), ``"anode"`` or ``"drop"``.
        channels: explicit selection and order of vocabulary electrodes; channels outside it are ignored. With
            ``"interpolate"`` it is the set of electrodes to provide (recorded or interpolated).
        montage, positions, info: where positions come from (``"nearest"`` / ``"interpolate"`` only): an mne
            montage name, file or DigMontage (channels looked up by name; BioSemi ``A1..B32`` labels by order), a
            dict name -> xyz in metres (mne's head frame), or an :class:`mne.Info` with digitised positions.
        source: file name for messages.
        warn: emit :attr:`ChannelMapping.messages` as :class:`UserWarning`.
        check: raise for unknown names (strict), bipolar derivations without ``bipolar=`` and an empty result;
            ``False`` only reports them in the table (used by ``labram channels``).

    Raises:
        ChannelPolicyError: with a message naming the channels and a hint, for every case above.
    """
    policy = check_channel_policy(channel_policy, strict, bipolar=bipolar)
    where = _where(source)
    names = [str(n) for n in ch_names]
    if ch_types is not None and len(ch_types) != len(names):
        raise ChannelPolicyError(f"{where}{len(ch_types)} channel types for {len(names)} channel names")
    seen: set[str] = set()
    dups = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dups:
        raise ChannelPolicyError(f"{where}duplicate channel names: {dups}. Each channel must appear once.")
    use_positions = policy in ("nearest", "interpolate")
    if not use_positions and (montage is not None or positions is not None):
        raise ChannelPolicyError(
            f"{where}montage=/positions= are only used by channel_policy 'nearest' or 'interpolate' (got {policy!r})",
            hint="pass channel_policy='nearest' (--channel-policy nearest) or leave the montage out",
        )

    types = ["eeg"] * len(names) if ch_types is None else [str(t) for t in ch_types]
    aliases = policy in ("aliases", "nearest", "interpolate")
    matches = [resolve_channel(n, aliases=aliases, bipolar=bipolar) for n in names]
    pos: dict[int, np.ndarray] = {}
    if use_positions:
        pos, _ = _lookup_positions(names, [t in ("eeg", "misc") for t in types], montage=montage,
                                        positions=positions, info=info, source=source)  # fmt: skip
        pos = {i: p for i, p in pos.items() if types[i] in ("eeg", "misc")}
    is_eeg = [t == "eeg" or (t == "misc" and i in pos) for i, t in enumerate(types)]

    rows: list[MappingRow] = [MappingRow(n, None, "dropped", note=f"not EEG (type {t})") for n, t in zip(names, types)]
    messages: list[str] = []
    kept: dict[int, int] = {}  # input index -> vocabulary id
    template: _Template | None = None
    dirs: dict[int, np.ndarray] = {}
    if pos:
        idx = sorted(i for i in pos if is_eeg[i])
        if idx:
            xyz = np.array([pos[i] for i in idx])
            centre, _ = _fit_sphere(xyz)
            dirs = dict(zip(idx, _directions(xyz, centre)))
            template = _choose_template(np.array([dirs[i] for i in idx]))
    # 1. names
    contradicted: dict[int, tuple[str, float]] = {}  # input index -> (named row, distance from it)
    for i, m in enumerate(matches):
        if not is_eeg[i]:
            continue
        row = rows[i]
        row.id, row.row, row.note = m.id, m.row, m.note
        if m.id is not None:
            std = None
            if template is not None:  # a row the chosen template lacks (ears): the realistic template's position
                std = template.direction(m.id)
                std = _template("standard_1005").direction(m.id) if std is None else std
            if std is not None and i in dirs:
                dist = float(_chord_mm(dirs[i][None], std[None])[0, 0])
                row.distance_mm = dist
                if use_positions and dist > NAME_CONTRADICTION_MM:
                    contradicted[i] = (LABRAM_CHANNELS[m.id], dist)
                    row.id = row.row = None
                    row.note = (f"named like the vocabulary electrode {LABRAM_CHANNELS[m.id]} but positioned "
                                f"{dist:.0f} mm from it: mapped by position")  # fmt: skip
                    continue
            row.how = m.how
            kept[i] = m.id
        elif m.how == "bipolar":
            row.how = "dropped" if bipolar == "drop" else "bipolar"
        else:
            row.how = "unknown"
    # BioSemi amplifier labels: "A1"/"A2" are the cap's first electrodes there, not the ear electrodes
    biosemi = _biosemi_like(names)
    if biosemi:
        for i in list(kept):
            if _clean(names[i]) in ("A1", "A2") and i not in dirs:
                del kept[i]
                rows[i].how, rows[i].id, rows[i].row = "unknown", None, None
                rows[i].note = ("a BioSemi amplifier label (the recording is labelled A1..B32), not the ear "
                                "electrode: needs positions (montage='biosemi64', ...)")  # fmt: skip
    # 2. positions
    if use_positions:  # named channels without a recorded position sit at their row's standard position
        if template is None:
            template = _template("standard_1005")
        for i, cid in kept.items():
            if i not in dirs:
                d = template.direction(cid)
                d = _template("standard_1005").direction(cid) if d is None else d
                if d is not None:
                    dirs[i] = d
    unresolved = [i for i in range(len(names)) if is_eeg[i] and i not in kept]
    if policy == "nearest" and template is not None:
        _assign_nearest(rows, [i for i in unresolved if i in dirs and rows[i].how != "bipolar"], dirs, template,
                        set(kept.values()), kept)  # fmt: skip
    for i, (named, dist) in contradicted.items():
        got = rows[i].row if rows[i].how == "nearest" else "no row"
        messages.append(f"{where}channel {names[i]!r} is named like the vocabulary electrode {named} but positioned "
                        f"{dist:.0f} mm from it (an amplifier label such as BioSemi's A1/A2?): mapped by position "
                        f"to {got}")  # fmt: skip
    # 3. interpolation
    matrix = None
    out_positions: list[int]
    out_ids: list[int]
    out_names: list[str]
    order = [i for i in range(len(names)) if i in kept]
    if policy == "interpolate":
        derivations = {i for i, m in enumerate(matches) if m.how in ("bipolar", "anode")}
        out_positions, out_ids, out_names, matrix = _plan_interpolation(
            rows, names, kept, order, {i: d for i, d in dirs.items() if i not in derivations},
            template, channels, where, messages,
        )  # fmt: skip
    else:
        out_positions = order
        out_ids = [kept[i] for i in order]
        out_names = [names[i] for i in order]

    # duplicates: two channels on one electrode (names, or a name and a position); with channels=, only the
    # requested electrodes matter
    wanted = None if channels is None else {resolve_channel(str(c), aliases=True).id for c in channels}
    first: dict[int, int] = {}
    for i in order:
        cid = kept[i]
        if wanted is not None and cid not in wanted:
            continue
        if cid in first:
            raise ChannelPolicyError(
                f"{where}channels {names[first[cid]]!r} and {names[i]!r} are the same electrode "
                f"({LABRAM_CHANNELS[cid]}); drop one of them"
            )
        first[cid] = i

    # explicit selection
    if channels is not None and policy != "interpolate":
        out_positions, out_ids, out_names = _select(channels, out_positions, out_ids, out_names, rows, names, where)

    # notes for names with an old/new twin row, aliases, unknowns
    if aliases:
        chosen = [f"{names[i]!r} mapped to the vocabulary row {LABRAM_CHANNELS[kept[i]]} ({rows[i].note})"
                  for i in order if rows[i].how == "alias"]  # fmt: skip
        chosen += [f"{names[i]!r} mapped to the vocabulary row {LABRAM_CHANNELS[kept[i]]}; {synonym_note(kept[i])}"
                   for i in order if rows[i].how == "exact" and synonym_note(kept[i])]  # fmt: skip
        if chosen:
            messages.append(f"{where}channel_policy={policy!r}: " + "; ".join(chosen))
    bipolar_rows = [i for i in range(len(names)) if rows[i].how == "bipolar"]
    dropped_bipolar = [i for i in range(len(names)) if is_eeg[i] and matches[i].how == "bipolar" and bipolar == "drop"]
    if dropped_bipolar:
        messages.append(f"{where}bipolar='drop': leaving out the bipolar derivation(s) "
                        f"{[names[i] for i in dropped_bipolar]}")  # fmt: skip
    if bipolar == "anode":
        anodes = [f"{names[i]!r} -> {rows[i].row}" for i in order if rows[i].how == "anode"]
        if anodes:
            messages.append(f"{where}bipolar='anode': bipolar derivation(s) fed to the row of their first electrode: "
                            f"{', '.join(anodes)}")  # fmt: skip
    unknown = [i for i in range(len(names)) if rows[i].how == "unknown"]
    for i in unknown:
        rows[i].how = "dropped"
        if use_positions and i not in pos:
            rows[i].note = ("unknown name and no position" + (f"; {rows[i].note}" if rows[i].note else "")).strip()
        elif not rows[i].note:
            rows[i].note = "unknown name"
    for i in bipolar_rows:
        rows[i].how = "dropped"

    if check and channels is None:
        if bipolar_rows:
            listed = ", ".join(f"{names[i]!r} ({matches[i].note.split(' (')[0].replace('bipolar derivation ', '')})"
                               for i in bipolar_rows)  # fmt: skip
            raise ChannelPolicyError(
                f"{where}bipolar derivation(s) {listed}: each channel is the difference of two scalp electrodes, "
                "while every LaBraM row was trained on one electrode against a reference",
                hint="pass bipolar='anode' (--bipolar anode) to feed each derivation to the row of its first "
                "electrode (an approximation), bipolar='drop' (--bipolar drop) to leave them out, or select "
                "channels explicitly",
            )
        if unknown and policy == "strict":
            aliased = [f"{names[i]!r} -> {LABRAM_CHANNELS[matches[i].alias_id]}" for i in unknown
                       if matches[i].alias_id is not None]  # fmt: skip
            extra = (f" ({', '.join(aliased)} are aliases, accepted with channel_policy='aliases')"
                     if aliased else "")  # fmt: skip
            hint = ("rename them, set their type to non-EEG, select channels explicitly (channels=...), pass "
                    "channel_policy='lenient' (--channel-policy lenient) to drop them, or 'aliases' to accept "
                    "synonyms; with electrode positions, 'nearest' maps them by position")  # fmt: skip
            if biosemi:
                extra += (f"; the channels are labelled like a BioSemi amplifier ({biosemi}), whose 'A1'/'A2' are "
                          "cap electrodes, not the ear electrodes A1/A2")  # fmt: skip
                hint = ("pass channel_policy='nearest' (or 'interpolate') with the cap's montage, e.g. "
                        "montage='biosemi64' (--channel-policy nearest --montage biosemi64)")  # fmt: skip
            raise ChannelPolicyError(
                f"{where}unknown EEG channel name(s) {[names[i] for i in unknown]}: they are not electrodes of the "
                f"LaBraM vocabulary (labram_hf.LABRAM_CHANNELS){extra}",
                hint=hint,
            )
    if unknown and not (check and policy == "strict") and channels is None:
        if not use_positions:
            messages.append(f"{where}dropping EEG channel(s) unknown to LaBraM: {[names[i] for i in unknown]}")
        else:
            groups = {"ambiguous": [], "far": [], "nopos": []}
            for i in unknown:
                key = "ambiguous" if rows[i].note.startswith("ambiguous") else ("far" if i in dirs else "nopos")
                groups[key].append(names[i])
            parts = []
            if groups["far"]:
                parts.append(f"no vocabulary electrode within {NEAREST_MAX_DISTANCE_MM:g} mm: {groups['far']}")
            if groups["ambiguous"]:
                parts.append(f"ambiguous (their nearest electrode went to a closer channel): {groups['ambiguous']}")
            if groups["nopos"]:
                parts.append(f"unknown name and no position: {groups['nopos']}")
            if policy == "nearest":
                n_pos = sum(1 for r in rows if r.how == "nearest")
                messages.append(f"{where}channel_policy='nearest' mapped {n_pos} channel(s) by position; dropping "
                                f"EEG channel(s) left unmapped: " + "; ".join(parts))  # fmt: skip
            elif groups["nopos"]:
                messages.append(f"{where}dropping EEG channel(s) left unmapped: " + "; ".join(parts[-1:]))
    if policy == "nearest":
        mapped_ambiguous = [f"{r.channel!r} -> {r.row}" for r in rows if r.how == "nearest" and r.note]
        if mapped_ambiguous:
            messages.append(f"{where}ambiguous position match(es), each got its next free electrode: "
                            f"{', '.join(mapped_ambiguous)}")  # fmt: skip
    if warn:
        for msg in messages:
            warnings.warn(msg, UserWarning, stacklevel=3)
    if check and not out_ids:
        hint = "name channels after 10-20/10-10 electrodes (e.g. 'Fp1', 'EEG CZ-REF'); see labram_hf.LABRAM_CHANNELS"
        if use_positions and not pos:
            hint = ("no electrode positions were found: pass montage= (e.g. 'GSN-HydroCel-129', 'biosemi64') or "
                    "positions=, or set a montage on the recording")  # fmt: skip
        raise ChannelPolicyError(f"{where}no EEG channel recognised among {names}", hint=hint)

    used = set(out_positions)
    dropped = [n for i, n in enumerate(names) if i not in used]
    return ChannelMapping(
        positions=list(out_positions), ids=list(out_ids), names=list(out_names), matrix=matrix, dropped=dropped,
        rows=rows, policy=policy, template=None if template is None else template.name, messages=messages,
    )  # fmt: skip


def _select(channels, out_positions, out_ids, out_names, rows, names, where):
    """Reorder the outputs to follow ``channels``; every requested electrode must be there."""
    wanted: list[int] = []
    for c in channels:
        m = resolve_channel(str(c), aliases=True)
        if m.id is None:
            raise ChannelPolicyError(f"{where}requested channel {c!r} is not an electrode of the LaBraM vocabulary")
        wanted.append(m.id)
    at = {cid: k for k, cid in enumerate(out_ids)}
    missing = [c for c, cid in zip(channels, wanted) if cid not in at]
    if missing:
        near = [f"{r.channel!r} ({r.note})" for r in rows if r.how in ("bipolar", "unknown") and r.note]
        raise ChannelPolicyError(
            f"{where}requested channel(s) {list(missing)} not found among {list(names)}"
            + (f"; unmapped: {', '.join(near)}" if near else "")
        )
    picked = [at[cid] for cid in wanted]
    keep = set(picked)
    for k, cid in enumerate(out_ids):  # the table says which recorded channels the selection left out
        if k not in keep:
            for r in rows:
                if r.id == cid and r.how not in ("dropped",):
                    r.how, r.note = "dropped", f"not among channels= ({r.how} {r.row})"
    return [out_positions[k] for k in picked], wanted, [out_names[k] for k in picked]


def _assign_nearest(rows, candidates, dirs, template, taken_ids, kept) -> None:
    """One-to-one nearest assignment of ``candidates`` (input indices) to free target electrodes, closest first."""
    targets = [i for i in template.ids if LABRAM_CHANNELS[i] not in _NOT_TARGETS and i not in taken_ids]
    if not candidates or not targets:
        for i in candidates:
            rows[i].how, rows[i].note = "unknown", "no free vocabulary electrode"
        return
    tdirs = np.array([template.direction(i) for i in targets])
    dist = _chord_mm(np.array([dirs[i] for i in candidates]), tdirs)  # [n_candidates, n_targets]
    pairs = np.argwhere(dist <= NEAREST_MAX_DISTANCE_MM)
    pairs = pairs[np.argsort(dist[pairs[:, 0], pairs[:, 1]], kind="stable")]
    owner: dict[int, int] = {}  # target column -> candidate row
    assigned: dict[int, int] = {}
    for a, t in pairs:
        if a in assigned or t in owner:
            continue
        assigned[a], owner[t] = t, a
    for a, i in enumerate(candidates):
        best = int(np.argmin(dist[a]))
        best_name, best_d = LABRAM_CHANNELS[targets[best]], float(dist[a, best])
        r = rows[i]
        r.direction = dirs[i]
        lost = best in owner and owner[best] != a and best_d <= NEAREST_MAX_DISTANCE_MM
        rival = f"its nearest electrode {best_name} ({best_d:.1f} mm) went to the closer {rows[candidates[owner[best]]].channel!r}" if lost else ""  # noqa: E501
        if a in assigned:
            t = assigned[a]
            r.how, r.id, r.row, r.distance_mm = "nearest", targets[t], LABRAM_CHANNELS[targets[t]], float(dist[a, t])
            r.note = f"ambiguous: {rival}" if lost else ""
            kept[i] = targets[t]
        else:
            r.how, r.id, r.row, r.distance_mm = "unknown", None, None, best_d
            r.note = (f"ambiguous: {rival}, no other free electrode within {NEAREST_MAX_DISTANCE_MM:g} mm" if lost
                      else f"unmapped: nearest vocabulary electrode {best_name} is {best_d:.1f} mm away "
                      f"(limit {NEAREST_MAX_DISTANCE_MM:g} mm)")  # fmt: skip


def _plan_interpolation(rows, names, kept, order, dirs, template, channels, where, messages):
    """Outputs of ``"interpolate"``: the named channels, then spline-interpolated electrodes."""
    present = {kept[i] for i in order}
    if channels is not None:
        targets = []
        for c in channels:
            m = resolve_channel(str(c), aliases=True)
            if m.id is None:
                raise ChannelPolicyError(f"{where}requested channel {c!r} is not an electrode of the LaBraM vocabulary")
            targets.append(m.id)
    else:
        targets = [LABRAM_CHANNELS.index(n) for n in INTERPOLATION_TARGETS]
    missing = [t for t in targets if t not in present]
    sources = sorted(dirs)  # positioned EEG channels; never a bipolar derivation (a difference signal)
    if template is None or len(sources) < 3:
        raise MontageError(
            f"{where}channel_policy='interpolate' needs electrode positions of at least 3 EEG channels "
            f"(found {len(sources)})",
            hint="pass montage= (e.g. 'GSN-HydroCel-129', 'biosemi64', a montage file) or positions=, or set a "
            "montage on the recording",
        )
    no_pos = [LABRAM_CHANNELS[t] for t in missing if template.direction(t) is None]
    if no_pos and channels is not None:
        raise MontageError(f"{where}cannot interpolate {no_pos}: they have no position in the 10-05 system")
    missing = [t for t in missing if template.direction(t) is not None]
    src_dirs = np.array([dirs[i] for i in sources])
    inside = _inside_hull(src_dirs, np.array([template.direction(t) for t in missing])) if missing else []
    outside = [LABRAM_CHANNELS[t] for t, ok in zip(missing, inside) if not ok]
    if outside:
        if channels is not None:
            messages.append(f"{where}extrapolating {outside}: outside the area the recording's electrodes cover")
        else:
            missing = [t for t, ok in zip(missing, inside) if ok]
    matrix_interp = _spline_matrix(src_dirs, [template.direction(t) for t in missing]) if missing else None

    for i in sources:
        if i not in kept:
            rows[i].how, rows[i].note = "source", "used for the spherical-spline interpolation"
            rows[i].direction = dirs[i]
    for i in order:
        rows[i].direction = dirs.get(i)
    nearest_src = _chord_mm(np.array([template.direction(t) for t in missing]), src_dirs) if missing else None
    for k, t in enumerate(missing):
        j = int(np.argmin(nearest_src[k]))
        rows.append(MappingRow("", LABRAM_CHANNELS[t], "interpolated", float(nearest_src[k, j]),
                               f"spherical spline from {len(sources)} channels; nearest recorded electrode "
                               f"{names[sources[j]]!r} ({nearest_src[k, j]:.1f} mm)", t,
                               template.direction(t)))  # fmt: skip
    if channels is None and outside:
        for t in outside:
            rows.append(MappingRow("", t, "dropped", None, "10-20 electrode outside the recording's coverage: not "
                                   "interpolated", LABRAM_CHANNELS.index(t), template.direction(LABRAM_CHANNELS.index(t))))  # fmt: skip
    # output = [named channels..., interpolated...] = matrix @ data[all_inputs]
    inputs = sorted(set(order) | set(sources))
    col = {i: k for k, i in enumerate(inputs)}
    n_out = len(order) + len(missing)
    matrix = np.zeros((n_out, len(inputs)))
    for k, i in enumerate(order):
        matrix[k, col[i]] = 1.0
    if matrix_interp is not None:
        for k in range(len(missing)):
            for s, i in enumerate(sources):
                matrix[len(order) + k, col[i]] = matrix_interp[k, s]
    ids = [kept[i] for i in order] + missing
    out_names = [names[i] for i in order] + [LABRAM_CHANNELS[t] for t in missing]
    if channels is not None:  # follow the requested order
        at = {cid: k for k, cid in enumerate(ids)}
        picked = [at[t] for t in targets if t in at]
        matrix, ids, out_names = matrix[picked], [ids[k] for k in picked], [out_names[k] for k in picked]
        used_cols = np.flatnonzero(np.abs(matrix).sum(axis=0) > 0)
        matrix, inputs = matrix[:, used_cols], [inputs[c] for c in used_cols]
    return inputs, ids, out_names, matrix


def _azimuthal(u: np.ndarray) -> np.ndarray:
    """Azimuthal equidistant projection about the vertex (+z): [n, 3] unit vectors -> [n, 2]."""
    theta = np.arccos(np.clip(u[:, 2], -1.0, 1.0))
    phi = np.arctan2(u[:, 1], u[:, 0])
    return np.c_[theta * np.cos(phi), theta * np.sin(phi)]


def _inside_hull(src: np.ndarray, targets: np.ndarray) -> list[bool]:
    """Whether each target direction is covered by the source directions: inside their convex hull (projected
    flat about the vertex), or within :data:`NEAREST_MAX_DISTANCE_MM` of one of them (a target on the edge of the
    cap, such as Fp1 of a cap whose lowest front electrode is Fp1, is then essentially measured)."""
    from scipy.spatial import Delaunay, QhullError

    near = (_chord_mm(targets, src) <= NEAREST_MAX_DISTANCE_MM).any(axis=1)
    try:
        inside = Delaunay(_azimuthal(src)).find_simplex(_azimuthal(targets)) >= 0
    except QhullError:  # fewer than 3 distinct, non-collinear electrodes
        inside = np.zeros(len(targets), dtype=bool)
    return [bool(a or b) for a, b in zip(inside, near)]


def _spline_matrix(src_dirs: np.ndarray, target_dirs: Sequence[np.ndarray]) -> np.ndarray:
    """``[n_targets, n_sources]`` spherical-spline interpolation matrix, computed by mne's public
    :meth:`mne.io.Raw.interpolate_to` applied to the identity signal (the map is linear, so sample ``k`` of the
    result is column ``k`` of the matrix)."""
    import mne

    n = len(src_dirs)
    r = STANDARD_HEAD_RADIUS_MM / 1000.0
    src_names = [f"src{k}" for k in range(n)]
    info = mne.create_info(src_names, 100.0, "eeg")
    src_mont = mne.channels.make_dig_montage(dict(zip(src_names, src_dirs * r)), coord_frame="head")
    info.set_montage(src_mont, verbose="error")
    raw = mne.io.RawArray(np.eye(n), info, verbose="error")  # [sources, time = sources]
    tgt_names = [f"tgt{k}" for k in range(len(target_dirs))]
    tgt_mont = mne.channels.make_dig_montage(dict(zip(tgt_names, np.asarray(target_dirs) * r)), coord_frame="head")
    with warnings.catch_warnings(), mne.utils.use_log_level("error"):
        warnings.simplefilter("ignore")
        # reg: the regularisation mne's own bad-channel interpolation (interpolate_bads) uses
        out = raw.interpolate_to(tgt_mont, origin=(0.0, 0.0, 0.0), method="spline", reg=SPLINE_REGULARISATION)
    return out.get_data(picks=tgt_names)  # [targets, sources]


# ----------------------------------------------------------------------------------------------------------------
# Looking at a mapping
# ----------------------------------------------------------------------------------------------------------------
def _mapping_for(obj, kwargs) -> ChannelMapping:
    if isinstance(obj, ChannelMapping):
        return obj
    try:
        import mne

        is_raw = isinstance(obj, mne.io.BaseRaw)
    except ImportError:  # pragma: no cover
        is_raw = False
    kwargs = dict(kwargs)
    kwargs.setdefault("check", False)
    kwargs.setdefault("warn", False)
    if is_raw:
        kwargs.setdefault("ch_types", obj.get_channel_types())
        kwargs.setdefault("info", obj.info)
        return map_channels(obj.ch_names, **kwargs)
    return map_channels(list(obj), **kwargs)


def describe_mapping(recording: Any, **kwargs) -> list[dict[str, Any]]:
    """The mapping table of a recording: one dict per recorded channel (then one per interpolated electrode).

    Args:
        recording: an :class:`mne.io.BaseRaw` (names, types and digitised positions are used), a list of channel
            names, or a :class:`ChannelMapping`.
        **kwargs: those of :func:`map_channels` (``channel_policy``, ``bipolar``, ``montage``, ``positions``,
            ``channels``, ``ch_types``, ``source``). Problems are reported in the table, not raised
            (``check=False``), unless ``check=True`` is passed.

    Returns:
        ``[{"channel", "row", "id", "how", "distance_mm", "note"}, ...]``; ``how`` is ``"exact"``, ``"alias"``,
        ``"anode"``, ``"nearest"``, ``"interpolated"``, ``"source"`` (used only for the interpolation) or
        ``"dropped"`` (the note says why). ``distance_mm`` (on the standard sphere): for ``"nearest"`` the distance
        to the row's electrode, for ``"interpolated"`` to the nearest recorded electrode, for a named channel with
        a recorded position the distance between that position and its row's standard position.
    """
    return _mapping_for(recording, kwargs).table()


def format_mapping(mapping: ChannelMapping | list[dict[str, Any]]) -> str:
    """The mapping table as aligned text (what ``labram channels`` prints)."""
    table = mapping.table() if isinstance(mapping, ChannelMapping) else mapping
    head = ("recorded", "vocabulary row", "how", "note")
    lines = []
    for r in table:
        how = r["how"]
        if r["distance_mm"] is not None and how == "nearest":
            how = f"{how} ({r['distance_mm']:.1f} mm)"
        lines.append((r["channel"] or "-", r["row"] or "-", how, r["note"]))
    widths = [max(len(h), *(len(x[k]) for x in lines)) if lines else len(h) for k, h in enumerate(head[:3])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths), "-" * 4)]
    out += [fmt.format(*line).rstrip() for line in lines]
    return "\n".join(out)


def plot_mapping(
    recording: Any, path: str | PathLike, *, title: str | None = None, format: str | None = None, **kwargs
) -> Path:
    """Draw the mapping on a head (top view) and save it as an image (PNG by the file suffix).

    Mapped channels are drawn at their recorded position (or, without positions, at their row's standard
    position) and labelled ``recorded -> ROW``; interpolated electrodes as squares; unmapped channels in grey
    (with positions) or listed below the head. Vocabulary electrodes of the template are faint dots.

    Args:
        recording, **kwargs: as for :func:`describe_mapping`.
        path: output image file.
        title: figure title (default: the policy and counts).
        format: image format (default: from the file suffix, else PNG).
    """
    try:  # optional: this module is also shipped as the feature extractor's remote code, which must not need it
        from matplotlib.figure import Figure  # no pyplot: no global backend state is touched
        from matplotlib.lines import Line2D
        from matplotlib.patches import Circle, Polygon
    except ImportError as err:
        raise MontageError("plot_mapping needs matplotlib", hint="pip install matplotlib") from err

    mapping = _mapping_for(recording, kwargs)
    template = _template(mapping.template or "standard_1005")
    fig = Figure(figsize=(9, 9.6), dpi=110)
    ax = fig.subplots()
    scale = 1.0 / np.deg2rad(115.0)  # radius 1 = 115 degrees from the vertex (the lowest 10-10 ring)
    head_r = np.deg2rad(92.0) * scale  # the 10-20 ring
    ax.add_patch(Circle((0, 0), head_r, fill=False, lw=2, color="0.3"))
    ax.add_patch(Polygon([(-0.09, head_r - 0.005), (0, head_r + 0.09), (0.09, head_r - 0.005)], closed=False,
                         fill=False, lw=2, color="0.3"))  # fmt: skip
    for side in (-1, 1):
        ax.add_patch(Polygon([(side * head_r, 0.1), (side * (head_r + 0.05), 0.08), (side * (head_r + 0.06), -0.1),
                              (side * head_r, -0.12)], closed=False, fill=False, lw=2, color="0.3"))  # fmt: skip
    tgt = [i for i in template.ids if LABRAM_CHANNELS[i] not in _NOT_TARGETS]
    txy = _azimuthal(np.array([template.direction(i) for i in tgt])) * scale
    ax.scatter(txy[:, 0], txy[:, 1], s=10, color="0.82", zorder=1)

    colours = {"exact": "tab:green", "alias": "tab:olive", "anode": "tab:orange", "nearest": "tab:blue",
               "interpolated": "tab:purple", "source": "0.4", "dropped": "tab:red"}  # fmt: skip
    unplaced = []
    dense = sum(1 for r in mapping.rows if r.direction is not None) > 40
    for r in mapping.rows:
        d = r.direction
        if d is None and r.id is not None and r.how != "dropped":
            d = template.direction(r.id)
        if d is None:
            if r.how == "dropped" and r.note[:7] != "not EEG":
                unplaced.append(r.channel)
            continue
        x, y = _azimuthal(d[None])[0] * scale
        marker = "s" if r.how == "interpolated" else ("x" if r.how == "dropped" else "o")
        size = 22 if (dense and r.how in ("source", "dropped")) else 60
        ax.scatter([x], [y], s=size, marker=marker, color=colours.get(r.how, "k"), zorder=3,
                   edgecolors="white" if marker != "x" else None, linewidths=0.5)  # fmt: skip
        if r.how in ("source",) or (r.how == "dropped" and dense):
            continue
        if r.how == "interpolated":
            label = r.row
        elif r.row and r.channel and _clean(r.channel) != r.row.upper():
            label = f"{r.channel}\u2192{r.row}"
        else:
            label = r.channel or r.row
        ax.annotate(label, (x, y), xytext=(0, 6), textcoords="offset points", ha="center", va="bottom",
                    fontsize=7 if dense else 8, zorder=4,
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.75))  # fmt: skip
    eeg_rows = [r for r in mapping.rows if r.note[:7] != "not EEG"]  # non-EEG channels are not drawn
    counts = {k: sum(1 for r in eeg_rows if r.how == k) for k in colours}
    handles = [Line2D([], [], marker="s" if k == "interpolated" else ("x" if k == "dropped" else "o"), ls="",
                      color=c, label=f"{k} ({counts[k]})") for k, c in colours.items() if counts[k]]  # fmt: skip
    handles.append(Line2D([], [], marker="o", ls="", color="0.8", label="vocabulary electrode"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(-0.02, -0.04), fontsize=8, frameon=False)
    if unplaced:
        shown = ", ".join(unplaced[:12]) + (f" (+{len(unplaced) - 12} more)" if len(unplaced) > 12 else "")
        ax.text(0.5, -0.02, f"unmapped, no position: {shown}", transform=ax.transAxes, ha="center", fontsize=8,
                color="tab:red", wrap=True)  # fmt: skip
    n_out = len(mapping.ids)
    tmpl = f", template {mapping.template}" if mapping.template else ""
    ax.set_title(title or f"channel_policy={mapping.policy!r}: {n_out} model channels{tmpl}", fontsize=11)
    ax.set_xlim(-1.08, 1.08)
    ax.set_ylim(-1.08, 1.12)
    ax.set_aspect("equal")
    ax.axis("off")
    path = Path(path)
    suffix = path.suffix[1:].lower()
    fig.savefig(path, bbox_inches="tight", format=format or (suffix if suffix in ("png", "svg", "pdf") else "png"))
    return path
