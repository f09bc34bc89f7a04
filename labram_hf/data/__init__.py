"""EEG datasets for LaBraM: Arrow window datasets, streaming, collators and the TUAB/TUEV recipes.

* :func:`build_dataset` / :func:`iter_dataset` — files, directories or globs of recordings -> windows
  (:mod:`labram_hf.data.builder`); every saved dataset records its preprocessing and label schema
  (:func:`load_dataset_contract`, :mod:`labram_hf.data.contract`).
* :class:`LaBraMDataCollator`, :class:`LaBraMMaskingCollator` — batches for classification and masked-EEG
  pre-training (:mod:`labram_hf.data.collators`).
* :class:`PretrainingCorpus` — several prepared datasets (montages and window lengths may differ) mixed by weight,
  one dataset per batch, resumable (:mod:`labram_hf.data.corpus`); :class:`StreamingCorpus` and
  :func:`write_shards` — the same from Parquet shards on any fsspec path, with ``datasets`` streaming
  (:mod:`labram_hf.data.streaming`).
* :func:`build_tuab`, :func:`build_tuev` — the original fine-tuning recipes on the TUH corpora
  (:mod:`labram_hf.data.tuh`).
"""

from .builder import (
    DEFAULT_WINDOW_SECONDS,
    EEG_FILE_SUFFIXES,
    ArrowWindowDataset,
    DatasetBuildError,
    build_dataset,
    iter_dataset,
    make_features,
    parse_label_map,
    resolve_inputs,
    window_label,
)
from .contract import LabelSchema, load_dataset_contract

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "EEG_FILE_SUFFIXES",
    "ArrowWindowDataset",
    "CorpusBatchSampler",
    "CorpusError",
    "DatasetBuildError",
    "LaBraMDataCollator",
    "LaBraMMaskingCollator",
    "LabelSchema",
    "PretrainingCorpus",
    "StreamingCorpus",
    "TUEV_CLASSES",
    "build_dataset",
    "build_tuab",
    "build_tuev",
    "iter_dataset",
    "load_dataset_contract",
    "make_features",
    "parse_label_map",
    "random_masking",
    "resolve_inputs",
    "window_label",
    "write_shards",
]

_CORPUS_NAMES = ("PretrainingCorpus", "CorpusBatchSampler", "CorpusError", "parse_corpus_spec",
                 "window_seconds_for_channels")  # fmt: skip
_STREAMING_NAMES = ("StreamingCorpus", "write_shards", "resolve_shards", "read_shard_contract")


def __getattr__(name):  # the collators (torch) and the TUH recipes are imported on first use
    if name in ("LaBraMDataCollator", "LaBraMMaskingCollator", "random_masking"):
        from . import collators

        return getattr(collators, name)
    if name in _CORPUS_NAMES:
        from . import corpus

        return getattr(corpus, name)
    if name in _STREAMING_NAMES:
        from . import streaming

        return getattr(streaming, name)
    if name in ("build_tuab", "build_tuev", "TUEV_CLASSES", "subject_split"):
        from . import tuh

        return getattr(tuh, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
