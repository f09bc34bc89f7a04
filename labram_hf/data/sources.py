"""Input resolution: files, directories and glob patterns -> the list of recordings to read.

Every recording is read once, however it is reached: the same file given twice, as a relative and an absolute path,
through a symbolic link, or both inside a given directory and by name, is kept at its first position only
(:func:`resolve_inputs` compares real paths).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from .errors import DatasetBuildError

__all__ = ["EEG_FILE_SUFFIXES", "file_size", "input_roots", "resolve_inputs"]

#: Suffixes picked up when a *directory* is given (explicit file paths may have any suffix).
EEG_FILE_SUFFIXES: tuple[str, ...] = (
    ".edf", ".bdf", ".gdf", ".fif", ".fif.gz", ".vhdr", ".ahdr", ".set", ".cnt", ".mff", ".nxe", ".lay", ".cdt",
    ".eeg.h5", ".eeghdf",
)  # fmt: skip

_GLOB_CHARS = "*?["

InputSpec = str | os.PathLike | Iterable[str | os.PathLike]


def _has_eeg_suffix(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in EEG_FILE_SUFFIXES)


def _as_list(inputs: InputSpec) -> list[str]:
    if isinstance(inputs, (str, os.PathLike)):
        return [os.fspath(inputs)]
    return [os.fspath(i) for i in inputs]


def resolve_inputs(inputs: InputSpec) -> list[Path]:
    """Expand files, directories (recursively, EEG suffixes only) and glob patterns into a file list.

    Directories and patterns are expanded in sorted order; the result keeps the order of ``inputs``. A file reached
    more than once (same real path) is listed once, at its first position.

    Raises:
        DatasetBuildError: a path that does not exist, a glob that matches nothing, or no EEG file at all.
    """
    files: list[Path] = []
    for s in _as_list(inputs):
        p = Path(s).expanduser()
        if p.is_dir() and p.suffix.lower() != ".mff":
            found = sorted(q for q in p.rglob("*") if _has_eeg_suffix(q) and (q.is_file() or q.suffix == ".mff"))
            if not found:
                raise DatasetBuildError(
                    f"{p}: no EEG files found in this directory (looked recursively for "
                    f"{', '.join(EEG_FILE_SUFFIXES)})",
                    hint="give EEG files, directories containing them, or a quoted glob such as 'data/**/*.edf'",
                )
            files.extend(found)
        elif p.exists():
            files.append(p)
        elif any(ch in s for ch in _GLOB_CHARS):
            found = sorted(Path(m) for m in glob.glob(os.path.expanduser(s), recursive=True))
            found = [q for q in found if q.is_file() or q.suffix.lower() == ".mff"]
            if not found:
                raise DatasetBuildError(f"{s}: the pattern matches no file",
                                        hint="check the pattern; quote it so the shell does not expand it")  # fmt: skip
            files.extend(found)
        else:
            raise DatasetBuildError(f"{s}: no such file or directory")
    seen: set[str] = set()
    unique: list[Path] = []
    for f in files:
        key = os.path.realpath(f)  # relative vs absolute, symlinks, a file given alone and inside its directory
        if key not in seen:
            seen.add(key)
            unique.append(f)
    if not unique:
        raise DatasetBuildError("no input files given")
    return unique


def input_roots(inputs: InputSpec) -> list[Path]:
    """The paths the inputs name: each existing file or directory, and for a glob its fixed leading directory
    (``raw/**/*.edf`` -> ``raw``). Used to keep the output away from the inputs."""
    roots: list[Path] = []
    for s in _as_list(inputs):
        p = Path(s).expanduser()
        if p.exists() or not any(ch in s for ch in _GLOB_CHARS):
            roots.append(p)
            continue
        fixed: list[str] = []
        for part in Path(os.path.expanduser(s)).parts:
            if any(ch in part for ch in _GLOB_CHARS):
                break
            fixed.append(part)
        roots.append(Path(*fixed) if fixed else Path("."))
    return roots


def file_size(path: str | os.PathLike) -> int:
    """Size in bytes of a file, or of all files under a directory recording (``.mff``); 0 when unreadable."""
    try:
        p = Path(path)
        return sum(q.stat().st_size for q in p.rglob("*") if q.is_file()) if p.is_dir() else p.stat().st_size
    except OSError:
        return 0
