"""The electrode vocabulary of LaBraM and the rules that map recorded channel names onto it.

LaBraM learns one spatial (electrode) embedding per vocabulary entry. The vocabulary is the first 128 names of the
original code's ``standard_1020`` list, in that order; the id of a name is its position in :data:`LABRAM_CHANNELS`
(the model adds the offset of the cls row itself). The last eight names of the original list (bipolar pairs
``FP1-F3`` ... ``P4-O2``) have no embedding row and are therefore not part of the vocabulary.

Channel policy
--------------
One setting, ``channel_policy``, says how far the mapping from recorded names to vocabulary rows may go. Each level
accepts everything the previous one accepts:

``"strict"`` (default)
    Exact vocabulary names, case-insensitive, with the usual decorations removed: an ``EEG`` prefix, trailing dots
    and a reference suffix (``"EEG FP1-REF"``, ``"Fp1."``, ``"Fp1-LE"`` are all ``FP1``). Any other EEG channel
    raises.
``"lenient"``
    As strict, but EEG channels with unknown names are dropped with a warning that lists them.
``"aliases"``
    Also accepts the documented synonyms of :data:`CHANNEL_ALIASES` (``LM`` -> ``M1``, ``I1`` -> ``O9`` ...) and
    the old-name spellings of the vocabulary's bipolar rows (``"F7-T3"`` -> row ``F7-T7``), with a warning that
    names every such choice.
``"nearest"`` / ``"interpolate"``
    Use electrode positions for the channels whose names do not resolve; see :mod:`labram_hf.montage`.

Old and new 10-20 names
-----------------------
The vocabulary has separate rows for the old and new names of four electrodes: ``T3``/``T7``, ``T4``/``T8``,
``T5``/``P7`` and ``T6``/``P8`` (see :data:`OLD_NEW_1020`). A name that *is* a vocabulary row always maps to its own
row, in every policy: ``T7`` -> row ``T7``, ``T3`` -> row ``T3``, as in the original code (the TUH corpus -- the
largest part of LaBraM's pre-training data -- and the TUAB/TUEV fine-tuning use the ``T3``..``T6`` rows, other
corpora the ``T7``.. rows). Under ``"aliases"`` the warning points out the other row of such a name so that the
choice is visible. The synonyms only route names that are *not* rows: the bipolar rows exist with new names only
(``F7-T7``, ``T7-P7``, ...), so ``"F7-T3"``, ``"T3-T5"``, ``"T5-O1"`` ... all map to those rows.

Derivations ``X-Y``
-------------------
One rule for every name with a dash (after the ``EEG`` prefix is removed):

1. the whole name is a vocabulary row (``"FP1-F7"``): that row;
2. ``Y`` is a reference label (:data:`REFERENCE_SUFFIXES`: ``REF``, ``LE``, ``AR``, ``AVG``, ``A1``, ``A2``,
   ``M1``, ``M2``, ...): a monopolar channel ``X`` (``"EEG FP1-REF"``, ``"Fp1-LE"``, ``"C3-A2"`` -> ``X``);
3. (``"aliases"`` and above) the name is an old-name spelling of a bipolar row (``"F7-T3"`` -> ``F7-T7``);
4. ``Y`` is a scalp electrode (``"Fpz-Cz"``, ``"Pz-Oz"``, ``"C3-P3"``): a *bipolar derivation*. Its signal is the
   difference of two electrodes, which no vocabulary row was trained on. ``bipolar="anode"`` maps it to the row of
   ``X`` (the electrode with the positive sign), ``bipolar="drop"`` leaves it out with a warning, and the default
   (``bipolar=None``) raises an error that explains both choices.

``Cz`` is not a reference label: Cz-referenced montages exist (EGI), but a name ``"Fpz-Cz"`` is just as often a
deliberate bipolar derivation between two scalp electrodes (Sleep-EDF's ``"EEG Fpz-Cz"`` / ``"EEG Pz-Oz"``), and
treating it as monopolar ``Fpz`` would silently feed a difference signal into the ``FPZ`` row. Such names therefore
follow rule 4; for a Cz-referenced recording pass ``bipolar="anode"`` (or rename the channels).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import LaBraMError

__all__ = [
    "BIPOLAR_MODES",
    "CHANNEL_ALIASES",
    "CHANNEL_POLICIES",
    "ChannelMatch",
    "ChannelPolicyError",
    "LABRAM_CHANNELS",
    "OLD_NEW_1020",
    "REFERENCE_SUFFIXES",
    "TUH_CHANNELS",
    "channel_id",
    "channel_ids",
    "channel_names",
    "check_channel_policy",
    "is_eeg_name",
    "resolve_channel",
    "split_known_channels",
    "synonym_note",
]

LABRAM_CHANNELS: tuple[str, ...] = (
    "FP1", "FPZ", "FP2", "AF9", "AF7", "AF5", "AF3", "AF1",
    "AFZ", "AF2", "AF4", "AF6", "AF8", "AF10", "F9", "F7",
    "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8",
    "F10", "FT9", "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2",
    "FC4", "FC6", "FT8", "FT10", "T9", "T7", "C5", "C3",
    "C1", "CZ", "C2", "C4", "C6", "T8", "T10", "TP9",
    "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6",
    "TP8", "TP10", "P9", "P7", "P5", "P3", "P1", "PZ",
    "P2", "P4", "P6", "P8", "P10", "PO9", "PO7", "PO5",
    "PO3", "PO1", "POZ", "PO2", "PO4", "PO6", "PO8", "PO10",
    "O1", "OZ", "O2", "O9", "CB1", "CB2", "IZ", "O10",
    "T3", "T5", "T4", "T6", "M1", "M2", "A1", "A2",
    "CFC1", "CFC2", "CFC3", "CFC4", "CFC5", "CFC6", "CFC7", "CFC8",
    "CCP1", "CCP2", "CCP3", "CCP4", "CCP5", "CCP6", "CCP7", "CCP8",
    "T1", "T2", "FTT9h", "TTP7h", "TPP9h", "FTT10h", "TPP8h", "TPP10h",
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
)  # fmt: skip

# The 23 monopolar channels of the TUAB / TUEV recipes, in the order of the original fine-tuning script.
TUH_CHANNELS: tuple[str, ...] = (
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ", "T1", "T2",
)  # fmt: skip

#: Values of ``channel_policy``, from the most to the least conservative (each accepts what the previous accepts).
CHANNEL_POLICIES: tuple[str, ...] = ("strict", "lenient", "aliases", "nearest", "interpolate")

#: Values of ``bipolar`` (what a bipolar derivation ``X-Y`` between two scalp electrodes becomes): ``None`` raises,
#: ``"anode"`` uses the row of ``X``, ``"drop"`` leaves the channel out with a warning.
BIPOLAR_MODES: tuple[str | None, ...] = (None, "anode", "drop")

#: Old (Jasper 1958) and new (ACNS 1991 / 10-10) names of the same four electrodes. Both are vocabulary rows.
OLD_NEW_1020: dict[str, str] = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

# Names that are absent from the vocabulary but denote one of its electrodes, with the reason. Accepted from
# channel_policy="aliases" on, never consulted for a name that is a vocabulary row.
CHANNEL_ALIASES: dict[str, str] = {
    "LM": "M1",  # left mastoid
    "RM": "M2",  # right mastoid
    "TP9'": "TP9",  # primed mastoid-row names of some caps
    "TP10'": "TP10",
    "LPA": "A1",  # left pre-auricular point, recorded as the left ear electrode by some systems
    "RPA": "A2",
    "I1": "O9",  # 10-5 name; mne's 10-20 and 10-05 montages put O9/I1 (and O10/I2) at the same position
    "I2": "O10",
}
_ALIAS_REASONS: dict[str, str] = {
    "LM": "left mastoid",
    "RM": "right mastoid",
    "TP9'": "primed spelling of TP9",
    "TP10'": "primed spelling of TP10",
    "LPA": "left pre-auricular point, used as the left ear electrode",
    "RPA": "right pre-auricular point, used as the right ear electrode",
    "I1": "10-5 name of the O9 position",
    "I2": "10-5 name of the O10 position",
}

# Reference labels that recording software appends to a monopolar channel name ("EEG FP1-REF", "Fp1-LE"). CZ is
# deliberately absent: "Fpz-Cz" is a bipolar derivation (see the module docstring).
REFERENCE_SUFFIXES: frozenset[str] = frozenset(
    {"REF", "LE", "RE", "AR", "AVG", "AV", "CAR", "REFERENCE", "A1", "A2", "M1", "M2", "A1A2", "M1M2", "LER"}
)

_VOCAB_INDEX: dict[str, int] = {name.upper(): i for i, name in enumerate(LABRAM_CHANNELS)}
_ALIAS_INDEX: dict[str, int] = {alias.upper(): _VOCAB_INDEX[target] for alias, target in CHANNEL_ALIASES.items()}
_PREFIX = re.compile(r"^(EEG|EXG|EEG:)\s*[:_ ]?\s*", re.IGNORECASE)
_SYNONYM: dict[str, str] = {**OLD_NEW_1020, **{new: old for old, new in OLD_NEW_1020.items()}}


def _bipolar_spellings() -> dict[str, int]:
    """Every old/new-name spelling of the vocabulary's bipolar rows that is not itself a row ("F7-T3" -> F7-T7)."""
    out: dict[str, int] = {}
    for i, row in enumerate(LABRAM_CHANNELS):
        if "-" not in row:
            continue
        left, right = row.split("-")
        for a in {left, _SYNONYM.get(left, left)}:
            for b in {right, _SYNONYM.get(right, right)}:
                spelling = f"{a}-{b}"
                if spelling not in _VOCAB_INDEX:
                    out[spelling] = i
    return out


_BIPOLAR_SPELLINGS: dict[str, int] = _bipolar_spellings()


class ChannelPolicyError(LaBraMError):
    """A recorded channel cannot be mapped under the chosen ``channel_policy`` / ``bipolar`` setting."""


@dataclass(frozen=True)
class ChannelMatch:
    """How one recorded channel name maps onto the vocabulary.

    Attributes:
        name: the name as recorded.
        id: vocabulary id (position in :data:`LABRAM_CHANNELS`), or ``None``.
        how: ``"exact"`` (a vocabulary name, decorations removed), ``"alias"`` (:data:`CHANNEL_ALIASES` or an
            old-name bipolar spelling), ``"anode"`` (bipolar derivation mapped to its first electrode),
            ``"bipolar"`` (a bipolar derivation left unmapped), ``"unknown"`` (no rule applies).
        note: a human-readable explanation (empty for a plain exact match).
        alias_id: for ``"unknown"`` names that an alias would resolve under ``channel_policy="aliases"``, the id
            that policy would give (used in error hints).
    """

    name: str
    id: int | None
    how: str
    note: str = ""
    alias_id: int | None = None

    @property
    def row(self) -> str | None:
        """The vocabulary name of :attr:`id`."""
        return None if self.id is None else LABRAM_CHANNELS[self.id]


def check_channel_policy(
    channel_policy: str | None = None, strict: bool | None = None, *, bipolar: str | None = None
) -> str:
    """Validate ``channel_policy`` (and the older boolean spelling ``strict``) and return the policy.

    ``strict=True`` is ``"strict"``, ``strict=False`` is ``"lenient"``; passing both with different meanings raises.
    """
    if channel_policy is not None and channel_policy not in CHANNEL_POLICIES:
        raise ChannelPolicyError(
            f"unknown channel_policy {channel_policy!r}", hint=f"use one of {', '.join(CHANNEL_POLICIES)}"
        )
    if bipolar not in BIPOLAR_MODES:
        raise ChannelPolicyError(f"unknown bipolar mode {bipolar!r}", hint="use None (raise), 'anode' or 'drop'")
    if strict is not None:
        old = "strict" if strict else "lenient"
        if channel_policy is not None and channel_policy != old:
            raise ChannelPolicyError(
                f"strict={strict} (channel_policy={old!r}) contradicts channel_policy={channel_policy!r}",
                hint="pass only channel_policy=; strict= is its older spelling",
            )
        return old
    return channel_policy or "strict"


def _clean(name: str) -> str:
    """Upper-case ``name`` without ``EEG`` prefix, surrounding spaces and trailing dots."""
    base = name.strip().upper()
    return _PREFIX.sub("", base).strip().rstrip(".").strip()


def _split_derivation(clean: str) -> tuple[str, str] | None:
    """``("X", "Y")`` for a name ``X-Y`` (split at the last dash), else ``None``."""
    if "-" not in clean:
        return None
    left, _, right = clean.rpartition("-")
    left, right = left.strip().rstrip(".").strip(), right.strip()
    if not left or not right:
        return None
    return left, right


def _electrode(token: str) -> int | None:
    """Vocabulary id of a monopolar electrode token (a row name or an alias), else ``None``."""
    if "-" in token:
        return None
    if token in _VOCAB_INDEX:
        return _VOCAB_INDEX[token]
    return _ALIAS_INDEX.get(token)


def resolve_channel(name: str, *, aliases: bool = False, bipolar: str | None = None) -> ChannelMatch:
    """Map one recorded channel name onto the vocabulary with the rules of the module docstring.

    Args:
        name: the name as recorded (``"EEG FP1-REF"``, ``"Fp1."``, ``"Fpz-Cz"``, ...).
        aliases: accept :data:`CHANNEL_ALIASES` and old-name bipolar spellings (``channel_policy="aliases"`` and
            above). Without it such names come back as ``"unknown"`` with :attr:`ChannelMatch.alias_id` set.
        bipolar: ``None``, ``"anode"`` or ``"drop"`` (see :data:`BIPOLAR_MODES`).

    Returns:
        A :class:`ChannelMatch`; it never raises for a bad name (the caller decides, knowing the policy).
    """
    raw_upper = name.strip().upper()
    clean = _clean(name)
    # 1. a vocabulary row, as written or without the decorations
    for cand in dict.fromkeys((raw_upper, clean)):
        if cand in _VOCAB_INDEX:
            return ChannelMatch(name, _VOCAB_INDEX[cand], "exact")
    parts = _split_derivation(clean)
    # 2. a monopolar channel with a reference label
    if parts is not None and parts[1] in REFERENCE_SUFFIXES:
        left = parts[0]
        if left in _VOCAB_INDEX:
            return ChannelMatch(name, _VOCAB_INDEX[left], "exact", f"reference label '-{parts[1]}' removed")
        if left in _ALIAS_INDEX:
            return _alias_match(name, left, _ALIAS_INDEX[left], aliases, f"reference label '-{parts[1]}' removed; ")
    # 3. aliases: monopolar synonyms and old-name spellings of the bipolar rows
    if clean in _ALIAS_INDEX:
        return _alias_match(name, clean, _ALIAS_INDEX[clean], aliases)
    if clean in _BIPOLAR_SPELLINGS:
        return _alias_match(name, clean, _BIPOLAR_SPELLINGS[clean], aliases)
    # 4. a derivation between two scalp electrodes
    if parts is not None:
        anode, cathode = _electrode(parts[0]), _electrode(parts[1])
        if anode is not None and cathode is not None:
            what = (f"bipolar derivation {LABRAM_CHANNELS[anode]} - {LABRAM_CHANNELS[cathode]} (difference of two "
                    "scalp electrodes; no vocabulary row was trained on it)")  # fmt: skip
            if bipolar == "anode":
                return ChannelMatch(name, anode, "anode", f"{what}; bipolar='anode' uses the row of its first electrode")
            return ChannelMatch(name, None, "bipolar", what)
    return ChannelMatch(name, None, "unknown")


def _alias_match(name: str, key: str, idx: int, aliases: bool, prefix: str = "") -> ChannelMatch:
    row = LABRAM_CHANNELS[idx]
    if key in _ALIAS_REASONS:
        why = f"alias: {_ALIAS_REASONS[key]}"
    else:  # an old-name spelling of a bipolar row
        olds = [f"{o} = {n}" for o, n in OLD_NEW_1020.items() if o in key.split("-")]
        why = f"old 10-20 name{'s' if len(olds) > 1 else ''} {', '.join(olds)}; the vocabulary's bipolar rows use the new names"
    if aliases:
        return ChannelMatch(name, idx, "alias", f"{prefix}{why}")
    return ChannelMatch(name, None, "unknown", f"{prefix}{why} (accepted with channel_policy='aliases')", alias_id=idx)


def synonym_note(idx: int) -> str:
    """For a row with an old/new-name twin (``T7`` <-> ``T3``), a sentence naming the other row; else ``""``."""
    row = LABRAM_CHANNELS[idx]
    other = _SYNONYM.get(row)
    if other is None:
        return ""
    kind = "old" if row in OLD_NEW_1020.values() else "new"
    tuh = " (the row TUH recordings and the TUAB/TUEV fine-tuning use)" if kind == "old" else ""
    return (f"the vocabulary also has the {kind}-name row {other} for the same electrode{tuh}; a name that is a "
            f"vocabulary row always keeps its own row")  # fmt: skip


def is_eeg_name(name: str) -> bool:
    """``True`` when ``name`` denotes scalp EEG: a vocabulary electrode (any spelling, aliases included) or a
    derivation between two of them. Used to guess channel types from names."""
    match = resolve_channel(name, aliases=True)
    return match.id is not None or match.how == "bipolar"


def channel_id(name: str, *, aliases: bool = True) -> int | None:
    """Vocabulary id of one channel name, or ``None`` when it is not an electrode LaBraM knows.

    Matching is case-insensitive; the common decorations ``EEG `` (prefix), trailing dots and a reference suffix
    (``-REF``, ``-LE``, ``-AVG``, ...) are removed. A name that is itself in the vocabulary (``FP1-F7``) is matched
    before any suffix is stripped, and :data:`CHANNEL_ALIASES` (plus the old-name spellings of the bipolar rows) are
    consulted only when no vocabulary name matched (``aliases=False`` skips them). A bipolar derivation between two
    scalp electrodes (``"Fpz-Cz"``) has no id.
    """
    return resolve_channel(name, aliases=aliases).id


def channel_ids(names: Iterable[str] | str, *, strict: bool = True) -> list[int]:
    """Map recorded channel names to LaBraM vocabulary ids (positions in :data:`LABRAM_CHANNELS`).

    A plain name lookup (:func:`channel_id`, aliases included). Recordings go through
    :func:`labram_hf.preprocessing.select_channels`, which applies a ``channel_policy``.

    Args:
        names: channel names as a recording stores them, e.g. ``["EEG FP1-REF", "Fp2.", "Cz"]``.
        strict: when ``True`` (default) any unknown name raises. When ``False`` unknown names are left out of the
            result (use :func:`split_known_channels` to learn which ones).

    Raises:
        ValueError: listing every name that is not in the vocabulary (strict mode), or naming duplicates, i.e. two
            names that map to the same electrode.
    """
    if isinstance(names, str):
        names = [names]
    names = list(names)
    ids: list[int] = []
    unknown: list[str] = []
    seen: dict[int, str] = {}
    duplicates: list[str] = []
    for name in names:
        idx = channel_id(name)
        if idx is None:
            unknown.append(name)
            continue
        if idx in seen:
            duplicates.append(f"{seen[idx]!r} and {name!r} -> {LABRAM_CHANNELS[idx]}")
            continue
        seen[idx] = name
        ids.append(idx)
    if unknown and strict:
        raise ValueError(
            f"Unknown EEG channel name(s): {unknown}. LaBraM knows the 128 electrodes in labram_hf.LABRAM_CHANNELS "
            "(10-20/10-10 names; decorations like 'EEG ', '-REF', '-LE' and trailing dots are ignored). Drop or "
            "rename these channels, or pass strict=False to skip them."
        )
    if duplicates:
        raise ValueError(f"Duplicate channels map to the same electrode: {'; '.join(duplicates)}")
    return ids


def split_known_channels(names: Sequence[str]) -> tuple[list[int], list[int], list[str]]:
    """Return (positions of known names in ``names``, their vocabulary ids, unknown names)."""
    positions, ids, unknown = [], [], []
    for pos, name in enumerate(names):
        idx = channel_id(name)
        if idx is None:
            unknown.append(name)
        else:
            positions.append(pos)
            ids.append(idx)
    return positions, ids, unknown


def channel_names(ids: Iterable[int]) -> list[str]:
    """Inverse of :func:`channel_ids`: the vocabulary names of the given ids."""
    return [LABRAM_CHANNELS[int(i)] for i in ids]
