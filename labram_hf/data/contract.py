"""How a prepared dataset was made, saved next to its Arrow files: the preprocessing contract.

Every dataset directory written by :func:`labram_hf.data.build_dataset` (``labram prepare``) holds, beside the
``datasets`` files:

* ``preprocessor_config.json`` -- the :class:`~labram_hf.LaBraMFeatureExtractor` that reproduces its preprocessing
  (filters, notch, channel policy and selection, window and stride, sampling rate): load it with
  ``LaBraMFeatureExtractor.from_pretrained(dataset_dir)``;
* ``label_schema.json`` -- the label schema: ``{"kind": "class", "names": [...]}`` (class names in id order),
  ``{"kind": "int"}`` or ``{"kind": "none"}``.

Training copies both into the model directory (the extractor as ``preprocessor_config.json``, the schema as
``config.id2label`` / ``label2id``), so inference preprocesses exactly as the training data was preprocessed, and
refuses a validation/test dataset whose contract differs (:func:`check_same_contract`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LaBraMError

__all__ = [
    "LABEL_SCHEMA_FILE",
    "PREPROCESSOR_FILE",
    "PREPROCESSING_KEYS",
    "DatasetContractError",
    "LabelSchema",
    "check_same_contract",
    "dataset_directory",
    "load_dataset_contract",
    "save_dataset_contract",
]

LABEL_SCHEMA_FILE = "label_schema.json"
PREPROCESSOR_FILE = "preprocessor_config.json"

#: Extractor settings that change what the model sees; two datasets used together must agree on all of them (a
#: setting an extractor does not have, e.g. the trial cut of a continuous-window dataset, counts as ``None``).
PREPROCESSING_KEYS: tuple[str, ...] = (
    "sampling_rate", "patch_size", "l_freq", "h_freq", "notch_freq", "channel_policy", "channels", "montage",
    "bipolar", "window_seconds", "epochs_from", "epochs_tmin", "epochs_tmax",
)  # fmt: skip


class DatasetContractError(LaBraMError):
    """A dataset without a readable contract, or two datasets whose contracts differ."""


@dataclass(frozen=True)
class LabelSchema:
    """The labels of a dataset: ``kind`` is ``"class"`` (``names`` in id order), ``"int"`` or ``"none"``."""

    kind: str = "none"
    names: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.kind not in ("class", "int", "none"):
            raise ValueError(f"label schema kind must be 'class', 'int' or 'none', got {self.kind!r}")
        if self.kind == "class":
            if not self.names:
                raise ValueError("a 'class' label schema needs class names")
            names = tuple(str(n) for n in self.names)
            if len(set(names)) != len(names):
                raise ValueError(f"class names must be unique, got {list(names)}")
            object.__setattr__(self, "names", names)
        elif self.names is not None:
            raise ValueError(f"a {self.kind!r} label schema has no class names")

    @property
    def num_classes(self) -> int | None:
        return len(self.names) if self.names else None

    @property
    def id2label(self) -> dict[int, str] | None:
        return dict(enumerate(self.names)) if self.names else None

    @property
    def label2id(self) -> dict[str, int] | None:
        return {n: i for i, n in enumerate(self.names)} if self.names else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.names is not None:
            out["names"] = list(self.names)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelSchema:
        names = data.get("names")
        return cls(kind=str(data.get("kind", "class" if names else "none")), names=tuple(names) if names else None)

    @classmethod
    def from_feature(cls, feature) -> LabelSchema:
        """The schema of a ``datasets`` label feature (``ClassLabel`` -> class names, integer ``Value`` -> int)."""
        if feature is None:
            return cls("none")
        names = getattr(feature, "names", None)
        if names:
            return cls("class", tuple(names))
        return cls("int")

    def save(self, directory: str | os.PathLike) -> Path:
        path = Path(directory) / LABEL_SCHEMA_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, source: str | os.PathLike | Mapping[str, Any]) -> LabelSchema:
        """From a mapping, a dataset or model directory, a ``label_schema.json`` file or a JSON string.

        A model directory (a ``config.json`` with ``id2label``) gives its classes in id order.
        """
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        text = os.fspath(source)
        path = Path(text).expanduser()
        try:
            if path.is_dir():
                if (path / LABEL_SCHEMA_FILE).is_file():
                    return cls.from_dict(json.loads((path / LABEL_SCHEMA_FILE).read_text(encoding="utf-8")))
                if (path / "config.json").is_file():
                    cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
                    id2label = cfg.get("id2label") or {}
                    if id2label:
                        return cls("class", tuple(id2label[k] for k in sorted(id2label, key=int)))
                raise DatasetContractError(
                    f"{path}: no {LABEL_SCHEMA_FILE} (and no config.json with id2label) in this directory",
                    hint="pass a dataset built by `labram prepare`, a model directory or a label_schema.json file",
                )
            if path.is_file():
                return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
            if text.lstrip().startswith("{"):
                return cls.from_dict(json.loads(text))
        except (OSError, json.JSONDecodeError, ValueError, TypeError) as err:
            if isinstance(err, DatasetContractError):
                raise
            raise DatasetContractError(f"{text}: not a readable label schema ({err})") from None
        raise DatasetContractError(f"{text}: no such label schema file or directory")


def dataset_directory(dataset: Any) -> Path:
    """The directory of a dataset given as a path, or as a :class:`datasets.Dataset` loaded from disk."""
    if isinstance(dataset, (str, os.PathLike)):
        return Path(dataset).expanduser()
    files = getattr(dataset, "cache_files", None) or []
    if files:
        return Path(files[0]["filename"]).parent
    raise DatasetContractError(
        "this dataset lives in memory, so it has no saved preprocessing contract",
        hint="build it with an output directory (build_dataset(..., output_dir) / labram prepare) and load_from_disk",
    )


def save_dataset_contract(directory: str | os.PathLike, extractor, schema: LabelSchema) -> None:
    """Write ``preprocessor_config.json`` and ``label_schema.json`` into ``directory``."""
    extractor.save_pretrained(str(directory))
    schema.save(directory)


def load_dataset_contract(dataset: Any):
    """``(LaBraMFeatureExtractor, LabelSchema)`` of a prepared dataset (directory or loaded ``Dataset``).

    The label schema falls back to the dataset's ``label`` feature when ``label_schema.json`` is absent.
    """
    from ..feature_extraction_labram import LaBraMFeatureExtractor

    directory = dataset_directory(dataset)
    if not (directory / PREPROCESSOR_FILE).is_file():
        raise DatasetContractError(
            f"{directory}: no {PREPROCESSOR_FILE}, so it is unknown how this dataset was preprocessed",
            hint="rebuild it with `labram prepare` (datasets built by labram-hf >= 0.2 record their preprocessing)",
        )
    extractor = LaBraMFeatureExtractor.from_pretrained(str(directory))
    if (directory / LABEL_SCHEMA_FILE).is_file():
        schema = LabelSchema.load(directory)
    else:
        features = getattr(dataset, "features", None)
        schema = LabelSchema.from_feature(features.get("label") if features else None)
    return extractor, schema


def _describe(value: Any) -> str:
    return "none" if value is None else json.dumps(value) if isinstance(value, (list, tuple)) else repr(value)


def check_same_contract(
    reference: tuple[Any, LabelSchema],
    other: tuple[Any, LabelSchema],
    names: Sequence[str] = ("training", "evaluation"),
    keys: Sequence[str] = PREPROCESSING_KEYS,
) -> None:
    """Raise :class:`DatasetContractError` naming every difference in preprocessing or label schema."""
    (fe_a, schema_a), (fe_b, schema_b) = reference, other
    diffs = []
    for key in keys:
        a, b = getattr(fe_a, key, None), getattr(fe_b, key, None)
        if a != b:
            diffs.append(f"{key}: {names[0]} {_describe(a)} vs {names[1]} {_describe(b)}")
    if schema_a != schema_b:
        diffs.append(
            f"label schema: {names[0]} {json.dumps(schema_a.to_dict())} vs {names[1]} {json.dumps(schema_b.to_dict())}"
        )
    if diffs:
        raise DatasetContractError(
            f"the {names[1]} data was prepared differently from the {names[0]} data: " + "; ".join(diffs),
            hint="prepare both with the same settings (for labels: --label-schema TRAIN_DIR when building the "
            "other split)",
        )
