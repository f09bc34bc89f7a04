"""The electrode vocabulary of LaBraM and the mapping from recorded channel names to vocabulary ids.

LaBraM learns one spatial (electrode) embedding per vocabulary entry. The vocabulary is the first 128 names of the
original code's ``standard_1020`` list, in that order; the id of a name is its position in :data:`LABRAM_CHANNELS`
(the model adds the offset of the cls row itself). The last eight names of the original list (bipolar pairs
``FP1-F3`` ... ``P4-O2``) have no embedding row and are therefore not part of the vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

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

# Names that are absent from the vocabulary but denote one of its electrodes. Consulted only after an exact
# (case-insensitive) vocabulary match failed, so no vocabulary name is ever re-routed.
CHANNEL_ALIASES: dict[str, str] = {
    "LM": "M1",  # left mastoid
    "RM": "M2",  # right mastoid
    "TP9'": "TP9",
    "TP10'": "TP10",
    "LPA": "A1",  # left pre-auricular point, recorded as the left ear electrode by some systems
    "RPA": "A2",
    "I1": "CB1",  # 10-5 inion-row names used by some caps for the cerebellar electrodes
    "I2": "CB2",
    "OI1": "O9",
    "OI2": "O10",
}

# Reference labels that recording software appends to a monopolar channel name ("EEG FP1-REF", "Fp1-LE").
REFERENCE_SUFFIXES: frozenset[str] = frozenset(
    {"REF", "LE", "RE", "AR", "AVG", "AV", "CAR", "REFERENCE", "A1", "A2", "M1", "M2", "A1A2", "M1M2", "LER", "CZ"}
)

_VOCAB_INDEX: dict[str, int] = {name.upper(): i for i, name in enumerate(LABRAM_CHANNELS)}
_ALIAS_INDEX: dict[str, int] = {alias.upper(): _VOCAB_INDEX[target] for alias, target in CHANNEL_ALIASES.items()}
_PREFIX = re.compile(r"^(EEG|EXG|EEG:)\s*[:_ ]?\s*", re.IGNORECASE)


def _candidates(name: str) -> list[str]:
    """Upper-cased spellings of ``name`` to look up, most literal first."""
    base = name.strip().upper()
    stripped = _PREFIX.sub("", base).strip().rstrip(".").strip()
    out = [base, stripped]
    if "-" in stripped:
        left, _, right = stripped.rpartition("-")
        if right.strip() in REFERENCE_SUFFIXES and left.strip():
            out.append(left.strip().rstrip("."))
    # de-duplicate, keep order
    return list(dict.fromkeys(out))


def channel_id(name: str) -> int | None:
    """Vocabulary id of one channel name, or ``None`` when it is not an electrode LaBraM knows.

    Matching is case-insensitive; the common decorations ``EEG `` (prefix), trailing dots and a reference suffix
    (``-REF``, ``-LE``, ``-AVG``, ...) are removed. A name that is itself in the vocabulary (``FP1-F7``) is matched
    before any suffix is stripped, and :data:`CHANNEL_ALIASES` is consulted only when no vocabulary name matched.
    """
    candidates = _candidates(name)
    for cand in candidates:
        if cand in _VOCAB_INDEX:
            return _VOCAB_INDEX[cand]
    for cand in candidates:
        if cand in _ALIAS_INDEX:
            return _ALIAS_INDEX[cand]
    return None


def channel_ids(names: Iterable[str] | str, *, strict: bool = True) -> list[int]:
    """Map recorded channel names to LaBraM vocabulary ids (positions in :data:`LABRAM_CHANNELS`).

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
