"""Labels you can trust: label values, class order, label CSVs, label maps and saved label schemas.

Rules (every violation is a :class:`DatasetBuildError` naming the value, row or file):

* **Class ids** come from an explicit class-name order when one is given (``class_names=`` /
  ``--class-names a,b,c``, or ``label_schema=`` / ``--label-schema`` reusing the schema of another build, a model
  directory or a ``label_schema.json``); otherwise the class names are **sorted**, so that every build with the same
  classes gives the same ids whatever the order of files or rows. The order is saved with the dataset
  (``label_schema.json``). A class missing from a given schema is an error naming it and the known classes.
* **Label values**: integers and integer-valued numbers or strings (``1``, ``1.0``, ``"1"``, ``" 1 "``) are integer
  labels; other strings are class names. Non-integer numbers (``0.5``) are an error, and so is a mix of class names
  and integers.
* **Label CSVs** (columns ``path,label``): a path matches exactly (relative paths are relative to the CSV's
  directory, symbolic links resolved); a row holding a bare file name (no directory part) also matches a file of
  that name elsewhere, but only when no other row has that file name and only one input file has it; a row naming a
  directory never matches a file in another directory. Rows that give one file different labels are an error naming
  both lines; identical duplicate rows are fine.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .contract import LabelSchema
from .errors import DatasetBuildError, describe_error

__all__ = [
    "LabelCsv",
    "ResolvedLabels",
    "coerce_label",
    "fixed_label_schema",
    "label_feature",
    "norm_desc",
    "parse_class_names",
    "parse_label_map",
    "resolve_labels",
]

_BUILD_HINT = "pass --class-names / --label-schema with every class, or fix the labels"


def norm_desc(text: str) -> str:
    """An annotation description as the label map matches it: whitespace collapsed, lower case."""
    return " ".join(str(text).split()).lower()


# --------------------------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------------------------


def coerce_label(value: Any, where: str = "") -> int | str:
    """An integer label or a class name.

    ``True``/``1``/``1.0``/``"1"``/``" 1.0 "`` -> ``1``; other non-empty strings -> the stripped class name.

    Raises:
        DatasetBuildError: non-integer numbers (``0.5``, ``"0.5"``, NaN), empty strings and other types.
    """
    prefix = f"{where}: " if where else ""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return int(number)
        raise DatasetBuildError(f"{prefix}label {value!r} is a number but not an integer",
                                hint="labels are class names or integer class ids")  # fmt: skip
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise DatasetBuildError(f"{prefix}empty label")
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return text
        if math.isfinite(number) and number.is_integer():
            return int(number)
        raise DatasetBuildError(f"{prefix}label {value!r} is a number but not an integer",
                                hint="labels are class names or integer class ids")  # fmt: skip
    raise DatasetBuildError(f"{prefix}label {value!r} ({type(value).__name__}) is neither a class name nor an integer")


def parse_class_names(class_names: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Class names from a sequence or a comma-separated string (``"wake,sleep"``); ``None`` stays ``None``."""
    if class_names is None:
        return None
    names = class_names.split(",") if isinstance(class_names, str) else list(class_names)
    names = [str(n).strip() for n in names]
    if not names or any(not n for n in names):
        raise DatasetBuildError(f"class names must be non-empty, got {class_names!r}")
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise DatasetBuildError(f"class names must be unique; repeated: {dups}")
    return tuple(names)


def fixed_label_schema(
    class_names: Sequence[str] | str | None, label_schema: Any
) -> tuple[LabelSchema | None, str | None]:
    """The label schema fixed by ``class_names`` and/or ``label_schema`` (and where it comes from), or ``None``."""
    names = parse_class_names(class_names)
    from_names = LabelSchema("class", names) if names is not None else None
    if label_schema is None:
        return from_names, "class_names" if from_names else None
    if isinstance(label_schema, LabelSchema):
        loaded, origin = label_schema, "the given label schema"
    else:
        try:
            loaded = LabelSchema.load(label_schema)
        except (ValueError, TypeError) as err:
            text = str(err)
            if not text.startswith(str(label_schema)):
                text = f"{label_schema}: {text}"
            raise DatasetBuildError(f"label schema {text}", hint=getattr(err, "hint", None)) from None
        origin = f"label schema {os.fspath(label_schema) if not isinstance(label_schema, Mapping) else 'mapping'}"
    if from_names is not None and from_names != loaded:
        raise DatasetBuildError(
            f"class names {list(from_names.names)} differ from the {origin} ({json.dumps(loaded.to_dict())})",
            hint="pass one of --class-names and --label-schema",
        )
    return loaded, origin


def label_feature(schema: LabelSchema):
    """The ``datasets`` feature of the ``label`` column for ``schema`` (``None`` for an unlabelled schema)."""
    from datasets import ClassLabel, Value

    if schema.kind == "class":
        return ClassLabel(names=list(schema.names))
    if schema.kind == "int":
        return Value("int64")
    return None


def _schema_for(values: Sequence[tuple[int | str, str]], fixed: LabelSchema | None, origin: str | None) -> LabelSchema:
    """The label schema of ``values`` (``(value, where)`` pairs), checked against ``fixed`` when given."""
    ints = [(v, w) for v, w in values if isinstance(v, int)]
    strs = [(v, w) for v, w in values if isinstance(v, str)]
    if ints and strs:
        raise DatasetBuildError(
            f"labels mix class names and integers: e.g. {strs[0][0]!r} ({strs[0][1]}) and {ints[0][0]!r} "
            f"({ints[0][1]})",
            hint="use class names everywhere or integer ids everywhere",
        )
    if fixed is None:
        if strs:
            return LabelSchema("class", tuple(sorted({v for v, _ in strs})))
        return LabelSchema("int")
    if fixed.kind == "none":
        raise DatasetBuildError(f"the {origin} says the data has no labels, but labels were given")
    if fixed.kind == "int":
        if strs:
            raise DatasetBuildError(
                f"label {strs[0][0]!r} ({strs[0][1]}) is a class name, but the {origin} has integer labels",
                hint=_BUILD_HINT,
            )
        return fixed
    known = list(fixed.names)
    for v, w in strs:
        if v not in known:
            raise DatasetBuildError(f"class {v!r} ({w}) is not one of the known classes {known} (from the {origin})",
                                    hint=_BUILD_HINT)  # fmt: skip
    for v, w in ints:
        if not 0 <= v < len(known):
            raise DatasetBuildError(
                f"label {v} ({w}) is not a class id of the {origin}: it has {len(known)} classes {known}",
                hint=_BUILD_HINT,
            )
    return fixed


def _encode(value: int | str, schema: LabelSchema) -> int:
    if schema.kind == "class" and isinstance(value, str):
        return schema.label2id[value]
    return int(value)


# --------------------------------------------------------------------------------------------------------------------
# Label maps (annotation description -> class)
# --------------------------------------------------------------------------------------------------------------------


def parse_label_map(label_map: Mapping[str, Any] | str | os.PathLike | None) -> dict[str, Any] | None:
    """A description -> class mapping from a dict, a JSON string or a JSON file."""
    if label_map is None or isinstance(label_map, Mapping):
        return None if label_map is None else dict(label_map)
    text = os.fspath(label_map)
    if not text.lstrip().startswith("{") and Path(text).exists():
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as err:
            raise DatasetBuildError(f"{label_map}: cannot read label map ({err})") from err
    try:
        out = json.loads(text)
    except json.JSONDecodeError as err:
        raise DatasetBuildError(f"label map is neither a JSON object nor a JSON file: {label_map!r} ({err})",
                                hint="pass a JSON object or the path of a JSON file") from err  # fmt: skip
    if not isinstance(out, dict) or not out:
        raise DatasetBuildError(f"label map must be a non-empty JSON object description -> class, got {out!r}")
    return out


# --------------------------------------------------------------------------------------------------------------------
# Label CSVs
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CsvRow:
    line: int
    text: str  # the path as written
    label: int | str
    resolved: str  # real path, relative to the CSV's directory
    bare: bool  # no directory part


class LabelCsv:
    """A ``path,label`` CSV and its lookup rules (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.rows = self._read()
        self.by_path: dict[str, _CsvRow] = {}
        for row in self.rows:
            prev = self.by_path.get(row.resolved)
            if prev is None:
                self.by_path[row.resolved] = row
            elif prev.label != row.label:
                raise DatasetBuildError(
                    f"{self.path}: lines {prev.line} and {row.line} give the same file {row.resolved} different "
                    f"labels ({prev.label!r} and {row.label!r})",
                    hint="keep one row per file",
                )
        self.by_name: dict[str, list[_CsvRow]] = {}
        for row in self.by_path.values():  # identical duplicates count once
            self.by_name.setdefault(Path(row.text).name, []).append(row)
        self._bare_matches: dict[int, list[Path]] = {}

    def _read(self) -> list[_CsvRow]:
        base = self.path.parent
        rows: list[_CsvRow] = []
        try:
            with open(self.path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                key = {c.strip().lower(): c for c in reader.fieldnames or []}
                if "path" not in key or "label" not in key:
                    raise DatasetBuildError(
                        f"{self.path}: label CSV needs a header with columns 'path' and 'label' "
                        f"(found {reader.fieldnames})"
                    )
                for line, row in enumerate(reader, start=2):
                    text = (row.get(key["path"]) or "").strip()
                    raw_label = (row.get(key["label"]) or "").strip()
                    if not text or raw_label == "":
                        raise DatasetBuildError(f"{self.path}: line {line}: empty path or label")
                    label = coerce_label(raw_label, f"{self.path}: line {line}")
                    p = Path(text).expanduser()
                    bare = not p.is_absolute() and p.name == text
                    resolved = os.path.realpath(p if p.is_absolute() else base / p)
                    rows.append(_CsvRow(line, text, label, resolved, bare))
        except OSError as err:
            raise DatasetBuildError(f"{self.path}: cannot read label CSV ({err})") from err
        if not rows:
            raise DatasetBuildError(f"{self.path}: label CSV has no rows")
        return rows

    def lookup(self, path: Path) -> int | str:
        """The label of ``path``; :class:`DatasetBuildError` when it has none or it is ambiguous."""
        row = self.by_path.get(os.path.realpath(path))
        if row is not None:
            return row.label
        same_name = self.by_name.get(Path(path).name, [])
        bare = [r for r in same_name if r.bare]
        if len(same_name) > 1 and bare:
            lines = ", ".join(f"line {r.line} ({r.text})" for r in same_name)
            raise DatasetBuildError(f"{path}: its file name matches several rows of {self.path}: {lines}",
                                    hint="write the files' paths in the CSV instead of bare names")  # fmt: skip
        if bare:
            self._bare_matches.setdefault(bare[0].line, []).append(Path(path))
            return bare[0].label
        if same_name:
            where = ", ".join(f"line {r.line}: {r.text}" for r in same_name)
            raise DatasetBuildError(f"{path}: no label for this file in {self.path} (its name appears only with "
                                    f"other directories: {where})")  # fmt: skip
        raise DatasetBuildError(f"{path}: no label for this file in {self.path}")

    def check_bare_names(self) -> None:
        """A bare-name row that matched several input files is ambiguous: raise naming the row and the files."""
        for line, files in self._bare_matches.items():
            if len(files) > 1:
                names = ", ".join(str(f) for f in files[:5]) + (" ..." if len(files) > 5 else "")
                raise DatasetBuildError(
                    f"{self.path}: line {line} names a bare file name that matches {len(files)} input files ({names})",
                    hint="write the files' paths in the CSV instead of bare names",
                )


# --------------------------------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class ResolvedLabels:
    """How each file is labelled: ``mode`` ``"none"``, ``"file"`` (one encoded label per file) or
    ``"annotations"`` (``label_map``: normalised description -> class id; ``background``: id of uncovered time)."""

    files: list[Path]
    labels: list[int | None]
    schema: LabelSchema
    mode: str = "none"
    label_map: dict[str, int] | None = None
    background: int | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def feature(self):
        return label_feature(self.schema)


def resolve_labels(
    files: list[Path],
    labels: Any,
    *,
    label_map: Any = None,
    class_names: Sequence[str] | str | None = None,
    label_schema: Any = None,
    background: Any = None,
    on_error: str = "fail",
    event_names: Sequence[str] | None = None,
) -> ResolvedLabels:
    """Decide the label of every file (or the annotation map), the class order and the label schema.

    ``labels``: ``None``/``"none"``; ``"annotations"`` (with ``label_map``); ``"events"`` (trials labelled by their
    event names, through ``label_map`` when given, else the names in ``event_names`` are the classes);
    ``"csv:PATH"`` or a ``.csv`` path; a mapping path -> label; or a function ``path -> label``. With
    ``on_error="skip"`` files whose label cannot be found are left out (and listed in ``skipped``); schema
    violations always raise.
    """
    fixed, origin = fixed_label_schema(class_names, label_schema)
    if isinstance(labels, str) and labels.strip().lower() == "events":
        return _event_labels(files, label_map, event_names, fixed, origin)
    if labels is None or (isinstance(labels, str) and labels.strip().lower() == "none"):
        if fixed is not None and fixed.kind != "none":
            raise DatasetBuildError(f"{origin} given, but no labels (labels=None)",
                                    hint="pass --labels annotations or --labels csv:PATH")  # fmt: skip
        return ResolvedLabels(files, [None] * len(files), LabelSchema("none"))
    if isinstance(labels, str) and labels.strip().lower() == "annotations":
        mapping = parse_label_map(label_map)
        if not mapping:
            raise DatasetBuildError(
                "labels='annotations' needs a label map: annotation description -> class, "
                'e.g. {"asleep": "sleep", "awake": "wake"}'
            )
        values = [(coerce_label(v, f"label map entry {k!r}"), f"label map entry {k!r}") for k, v in mapping.items()]
        if background is not None:
            values.append((coerce_label(background, "background"), "background class"))
        schema = _schema_for(values, fixed, origin)
        amap: dict[str, int] = {}
        for (key, _), (value, _) in zip(mapping.items(), values):
            desc = norm_desc(key)
            cls = _encode(value, schema)
            if desc in amap and amap[desc] != cls:
                raise DatasetBuildError(f"label map: descriptions equal up to case/spaces map to different classes "
                                        f"({desc!r})")  # fmt: skip
            amap[desc] = cls
        bg = _encode(values[-1][0], schema) if background is not None else None
        return ResolvedLabels(files, [None] * len(files), schema, "annotations", amap, bg)

    csv_table: LabelCsv | None = None
    if isinstance(labels, str) and labels.startswith("csv:"):
        labels = Path(labels[4:])
    if isinstance(labels, Path) or (isinstance(labels, str) and labels.lower().endswith(".csv")):
        csv_table = LabelCsv(Path(labels).expanduser())
        fn: Callable[[Path], Any] = csv_table.lookup
        source = str(csv_table.path)
    elif isinstance(labels, Mapping):
        table = {os.path.realpath(Path(k).expanduser()): v for k, v in labels.items()}

        def fn(p: Path) -> Any:
            key = os.path.realpath(p)
            if key not in table:
                raise DatasetBuildError(f"{p}: no label for this file in the labels mapping")
            return table[key]

        source = "the labels mapping"
    elif callable(labels):
        fn = labels
        source = "the label function"
    else:
        raise DatasetBuildError(
            f"labels must be None, 'annotations', 'csv:PATH', a mapping or a function path -> label; got {labels!r}"
        )
    kept: list[Path] = []
    values: list[tuple[int | str, str]] = []
    skipped: list[dict[str, Any]] = []
    for f in files:
        try:
            value = fn(f)
            if value is None:
                raise DatasetBuildError(f"{f}: {source} returned no label")
            values.append((coerce_label(value, str(f)), str(f)))
            kept.append(f)
        except Exception as err:  # noqa: BLE001 - every failure names the file
            msg = describe_error(f, err)
            if on_error == "fail":
                raise DatasetBuildError(msg, hint=getattr(err, "hint", None)) from err
            skipped.append({"file": str(f), "status": "skipped", "reason": msg, "windows": 0})
    if csv_table is not None:
        csv_table.check_bare_names()
    if not kept:
        raise DatasetBuildError(f"no input file has a label in {source} ({len(skipped)} skipped)"
                                + (f", e.g. {skipped[0]['reason']}" if skipped else ""))  # fmt: skip
    schema = _schema_for(values, fixed, origin)
    return ResolvedLabels(kept, [_encode(v, schema) for v, _ in values], schema, "file", skipped=skipped)


def _event_labels(files: list[Path], label_map: Any, event_names: Sequence[str] | None, fixed: LabelSchema | None,
                  origin: str | None) -> ResolvedLabels:  # fmt: skip
    """``labels="events"``: the classes of a label map (event name -> class), or the event names themselves."""
    mapping = parse_label_map(label_map)
    if mapping:
        pairs = list(mapping.items())
        where = [f"label map entry {k!r}" for k, _ in pairs]
    else:
        if fixed is None and not event_names:
            raise DatasetBuildError("labels='events' found no events to take the class names from",
                                    hint="check --epochs-from, or pass --label-map / --class-names")  # fmt: skip
        names = sorted({str(n).strip() for n in event_names or ()}) if event_names else list(fixed.names or ())
        pairs = [(n, n) for n in names]
        where = [f"event {n!r}" for n in names]
    values = [(coerce_label(v, w), w) for (_, v), w in zip(pairs, where)]
    schema = _schema_for(values, fixed, origin)
    emap: dict[str, int] = {}
    for (key, _), (value, _) in zip(pairs, values):
        name = norm_desc(key)
        cls = _encode(value, schema)
        if name in emap and emap[name] != cls:
            raise DatasetBuildError(f"event names equal up to case/spaces map to different classes ({name!r})",
                                    hint="map them explicitly with --label-map")  # fmt: skip
        emap[name] = cls
    return ResolvedLabels(files, [None] * len(files), schema, "events", emap)
