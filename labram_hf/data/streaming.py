"""Pre-training corpora beyond one disk: Parquet shards streamed from any fsspec path, mixed, exactly resumable.

A prepared window dataset (``labram prepare`` / :func:`labram_hf.data.build_dataset`) is written as Parquet shards
of bounded size with :func:`write_shards`; the shards can live anywhere ``fsspec`` reaches (a local directory,
``file://``, ``memory://``, ``s3://``, ``hf://datasets/ORG/NAME/...``). :class:`StreamingCorpus` reads several such
datasets with ``datasets.load_dataset("parquet", data_files=..., streaming=True)`` and yields shape-homogeneous
global batches, mixed by weight, like :class:`labram_hf.data.corpus.CorpusBatchSampler` does for datasets on disk.

The pipeline, per epoch ``e`` (every step is a ``datasets.IterableDataset`` operation)::

    source i:  shard files in an order seeded by (seed, e, i)
               -> load_dataset("parquet", streaming=True).select_columns(input_values, channel_ids)
               -> block shuffle: .map(batched, batch_size=shuffle_buffer) permuting each block of rows with a
                  generator seeded by (seed, e, i, block start)
               -> batching: .map(batched, batch_size=B, drop_last_batch=True) turning B rows into ONE example
                  (a global batch; its columns become lists of B rows) -- so batches never mix sources
    interleave_datasets([source batches...], probabilities=weights, seed=(seed, e), stopping_strategy=...)

Batching each source *before* interleaving is what makes every batch shape-homogeneous: the interleaved stream's
examples are whole batches, each from one source (one window length and, typically, one montage; channel counts
that vary within a source are padded by the collator with a ``channel_mask``).

Why a block shuffle and not ``IterableDataset.shuffle(buffer_size=...)``: ``datasets`` cannot restore a rolling
shuffle buffer -- its ``load_state_dict`` documents that "examples from shuffle buffers are lost when resuming and
the buffers are refilled with new data", so a resumed run would see different batches (and skip windows). A block
shuffle permutes each block of ``shuffle_buffer`` consecutive rows (the buffer) and its state is the position in
the underlying stream, which ``datasets`` restores exactly: on resume the current block is re-read from its first
row and permuted again by the same seed. Files are shuffled per epoch too, so blocks differ between epochs.

Resumption: :meth:`StreamingCorpus.state_dict` is ``{"epoch", "step", "stream": IterableDataset.state_dict()}``
after the last batch yielded, and every :class:`StreamBatch` carries the state that resumes right after it
(``batch.state``), so a loop that prefetches still saves the state of the batch it *used*. A new
:class:`StreamingCorpus` with the same sources and settings continues with exactly the next batch after
:meth:`~StreamingCorpus.load_state_dict` (``torchdata``'s ``StatefulDataLoader`` is not needed and not installed).

Processes: every process reads the whole global batch and keeps its contiguous slice of ``B / W`` rows, so the
batches are the same for any number of processes ``W`` (at the cost of each process reading every batch; for
corpora where reading dominates, use ``datasets.distributed.split_dataset_by_node`` on :meth:`epoch_stream`
instead and accept batches that depend on ``W``). Iterate a :class:`StreamingCorpus` directly, or in a
``DataLoader(stream, batch_size=None, num_workers=0 or 1)``; more workers would each read the whole stream.

Cost to know about: ``interleave_datasets`` pauses ``datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN`` (5 s) whenever
an interleaved stream ends or is abandoned (once per epoch and per resumption here), to let PyArrow threads close.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .corpus import CorpusError, _parse_weight, parse_corpus_spec

logger = logging.getLogger("labram_hf.data")

__all__ = [
    "DEFAULT_MAX_SHARD_BYTES",
    "SHARDS_MANIFEST",
    "StreamBatch",
    "StreamingCorpus",
    "read_shard_contract",
    "resolve_shards",
    "write_shards",
]

#: Default upper bound of one Parquet shard (the Hub's own default shard size for ``push_to_hub``).
DEFAULT_MAX_SHARD_BYTES: int = 500 * 2**20
#: The manifest :func:`write_shards` writes next to the shards (file names, rows and bytes of every shard).
SHARDS_MANIFEST = "shards.json"
#: Bytes of Arrow data per Parquet row group (the unit ``datasets`` reads while streaming).
_ROW_GROUP_BYTES = 32 * 2**20
_COLUMNS = ("input_values", "channel_ids")


# ----------------------------------------------------------------------------------------------------------------------
# Writing shards
# ----------------------------------------------------------------------------------------------------------------------


def _load_split(dataset_dir: str | os.PathLike, split: str | None):
    import datasets

    path = Path(os.fspath(dataset_dir)).expanduser()
    if not path.is_dir():
        raise CorpusError(f"{path}: no such dataset directory", hint="pass a directory written by `labram prepare`")
    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as err:
        raise CorpusError(f"{path}: not a saved dataset ({err})",
                          hint="pass a directory written by `labram prepare` / build_dataset") from None  # fmt: skip
    if isinstance(ds, datasets.DatasetDict):
        name = split or ("train" if "train" in ds else None)
        if name not in ds:
            raise CorpusError(f"{path}: has splits {list(ds)}, not {split or 'train'!r}", hint="pass split=")
        return ds[name], name
    return ds, split or "train"


def write_shards(
    dataset_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    split: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write a prepared window dataset as Parquet shards of at most ``max_shard_bytes`` each.

    Layout of ``out_dir`` (``datasets.load_dataset("parquet", data_dir=out_dir)`` or :class:`StreamingCorpus`
    read it; upload the directory to the Hub as is)::

        data/SPLIT-00000-of-00012.parquet ...   contiguous runs of rows, in dataset order, features kept
        shards.json                             {"split", "num_rows", "window_samples", "shards": [{"file",
                                                "num_rows", "num_bytes"}, ...]}
        preprocessor_config.json, label_schema.json   the dataset's contract, copied

    The directory is written aside and moved into place when complete (:class:`labram_hf.outputs.OutputTarget`:
    an existing non-empty ``out_dir`` needs ``overwrite`` and must have been written by labram).

    Returns the shard paths. Raises :class:`~labram_hf.data.corpus.CorpusError` when one window alone exceeds
    ``max_shard_bytes``.
    """
    import datasets

    from ..outputs import OutputTarget
    from .contract import LABEL_SCHEMA_FILE, PREPROCESSOR_FILE

    max_shard_bytes = int(max_shard_bytes)
    if max_shard_bytes < 1:
        raise CorpusError(f"max_shard_bytes must be positive, got {max_shard_bytes}")
    ds, split_name = _load_split(dataset_dir, split)
    n = len(ds)
    if n == 0:
        raise CorpusError(f"{dataset_dir}: the dataset has no windows to write")
    table = ds.with_format(None).data
    row_bytes = max(1, math.ceil(table.nbytes / table.num_rows))
    if row_bytes > max_shard_bytes:
        raise CorpusError(
            f"{dataset_dir}: one window takes about {row_bytes} bytes, more than max_shard_bytes={max_shard_bytes}",
            hint="raise the shard size",
        )
    rows_per_group = max(1, _ROW_GROUP_BYTES // row_bytes)
    rows_per_shard = max(1, max_shard_bytes // row_bytes)
    source = Path(os.fspath(dataset_dir)).expanduser()
    was_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        with OutputTarget(out_dir, inputs=[source], overwrite=overwrite, kind="dir", what="shard directory",
                          command="write_shards") as out:  # fmt: skip
            (out.work / "data").mkdir()
            while True:
                num_shards = math.ceil(n / rows_per_shard)
                records = []
                for k in range(num_shards):
                    name = f"data/{split_name}-{k:05d}-of-{num_shards:05d}.parquet"
                    part = ds.select(range(k * rows_per_shard, min(n, (k + 1) * rows_per_shard)))
                    part.to_parquet(str(out.work / name), batch_size=min(rows_per_group, len(part)))
                    records.append({"file": name, "num_rows": len(part),
                                    "num_bytes": (out.work / name).stat().st_size})  # fmt: skip
                largest = max(r["num_bytes"] for r in records)
                if largest <= max_shard_bytes:
                    break
                # Parquet metadata (or an incompressible encoding) made a shard too big: fewer rows, write again
                for r in records:
                    (out.work / r["file"]).unlink()
                smaller = max(1, int(rows_per_shard * max_shard_bytes / largest) - 1)
                if rows_per_shard == 1:
                    raise CorpusError(f"{dataset_dir}: a single window needs {largest} bytes as Parquet, more than "
                                      f"max_shard_bytes={max_shard_bytes}", hint="raise the shard size")  # fmt: skip
                rows_per_shard = min(smaller, rows_per_shard - 1)
            feature = ds.features["input_values"]
            manifest = {
                "split": split_name,
                "num_rows": n,
                "window_samples": getattr(feature, "shape", (None, None))[-1],
                "max_shard_bytes": max_shard_bytes,
                "shards": records,
            }
            (out.work / SHARDS_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            for name in (PREPROCESSOR_FILE, LABEL_SCHEMA_FILE):
                if (source / name).is_file():
                    shutil.copy2(source / name, out.work / name)
            target = out.commit()
    finally:
        if not was_disabled:
            datasets.utils.enable_progress_bars()
    return [target / r["file"] for r in records]


# ----------------------------------------------------------------------------------------------------------------------
# Finding shards
# ----------------------------------------------------------------------------------------------------------------------


def resolve_shards(location: str | os.PathLike | Sequence[str], storage_options: Mapping[str, Any] | None = None
                   ) -> tuple[list[str], list[int]]:  # fmt: skip
    """The Parquet files of one source and their row counts.

    ``location``: a directory or URL written by :func:`write_shards` (its ``shards.json`` lists the files; without
    it every ``*.parquet`` below is used, sorted), a glob (``hf://datasets/org/name/data/train-*.parquet``), one
    Parquet file, or a list of files. Row counts come from ``shards.json`` or the Parquet footers.
    """
    import fsspec
    import pyarrow.parquet as pq

    options = dict(storage_options or {})
    if isinstance(location, (list, tuple)):
        files = [os.fspath(f) for f in location]
    else:
        text = os.fspath(location)
        fs, root = fsspec.core.url_to_fs(text, **options)
        if any(ch in root for ch in "*?["):
            files = [fs.unstrip_protocol(p) for p in sorted(fs.glob(root))]
        elif fs.isdir(root):
            manifest = root.rstrip("/") + "/" + SHARDS_MANIFEST
            if fs.isfile(manifest):
                with fs.open(manifest, "r", encoding="utf-8") as fh:
                    info = json.load(fh)
                files = [fs.unstrip_protocol(root.rstrip("/") + "/" + r["file"]) for r in info["shards"]]
                return files, [int(r["num_rows"]) for r in info["shards"]]
            files = [fs.unstrip_protocol(p) for p in sorted(fs.glob(root.rstrip("/") + "/**/*.parquet"))]
        elif fs.isfile(root):
            files = [fs.unstrip_protocol(root)]
        else:
            raise CorpusError(f"{text}: no such Parquet file, directory or pattern",
                              hint="write shards with write_shards() / `labram prepare --shard-size`")  # fmt: skip
    if not files:
        raise CorpusError(f"{location}: no Parquet shards found", hint="write them with write_shards()")
    counts = []
    for f in files:
        fs, path = fsspec.core.url_to_fs(f, **options)
        try:
            with fs.open(path, "rb") as fh:
                counts.append(pq.ParquetFile(fh).metadata.num_rows)
        except (OSError, ValueError) as err:
            raise CorpusError(f"{f}: not a readable Parquet file ({err})") from None
    return files, counts


def read_shard_contract(location: str | os.PathLike | Sequence[str], storage_options: Mapping[str, Any] | None = None):
    """The :class:`~labram_hf.LaBraMFeatureExtractor` recorded beside a source's shards (``preprocessor_config.json``
    in the directory :func:`write_shards` wrote, on any fsspec path), or ``None`` when there is none (a glob, a
    single Parquet file, a list of files, or a directory without it)."""
    import fsspec

    from ..feature_extraction_labram import LaBraMFeatureExtractor
    from .contract import PREPROCESSOR_FILE

    if isinstance(location, (list, tuple)):
        return None
    text = os.fspath(location)
    fs, root = fsspec.core.url_to_fs(text, **dict(storage_options or {}))
    if any(ch in root for ch in "*?[") or not fs.isdir(root):
        return None
    config = root.rstrip("/") + "/" + PREPROCESSOR_FILE
    if not fs.isfile(config):
        return None
    try:
        with fs.open(config, "r", encoding="utf-8") as fh:
            settings = json.load(fh)
        return LaBraMFeatureExtractor.from_dict(settings)
    except (OSError, ValueError, TypeError) as err:
        raise CorpusError(f"{text}: unreadable {PREPROCESSOR_FILE} beside the shards ({err})",
                          hint="write the shards again with write_shards()") from None  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------------
# Streaming
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class StreamBatch:
    """One global batch of the stream (this process's slice of it).

    ``rows``: dicts with read-only NumPy ``input_values`` [C, T] and ``channel_ids`` [C] (ready for
    :class:`~labram_hf.data.LaBraMDataCollator`); ``sample_keys``: ``step * B + position in the global batch``
    (unique, the same for any number of processes); ``state``: resumes right after this batch.
    """

    step: int
    epoch: int
    dataset_index: int
    rows: list[dict[str, np.ndarray]]
    sample_keys: list[int]
    state: dict[str, Any] = field(repr=False)


def _seed(*key: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1, dtype=np.uint32)[0])


def _block_shuffler(seed: int, epoch: int, source: int):
    def permute(table, indices):  # table: one block of rows (Arrow); indices: their positions in the source stream
        order = np.random.default_rng([seed, epoch, source, int(indices[0])]).permutation(table.num_rows)
        return table.take(order)

    return permute


def _batcher(source: int):
    def to_batch(table):  # table: B rows -> one row whose cells are the lists of the B values
        import pyarrow as pa

        out = {}
        for name in _COLUMNS:
            column = table.column(name).combine_chunks()
            if isinstance(column, pa.ExtensionArray):  # Array2D -> its list<list<float>> storage
                column = column.storage
            out[name] = pa.ListArray.from_arrays(pa.array([0, len(column)], pa.int32()), column)
        out["dataset_index"] = pa.array([source], pa.int64())
        return pa.table(out)

    return to_batch


def _batch_features():
    from datasets import Features, List, Value

    return Features({
        "input_values": List(List(List(Value("float32")))),  # [B][C][T]
        "channel_ids": List(List(Value("int64"))),  # [B][C]
        "dataset_index": Value("int64"),
    })  # fmt: skip


def _rows_of(table, lo: int, hi: int) -> list[dict[str, np.ndarray]]:
    """Rows ``lo:hi`` of a one-example batch table as zero-copy NumPy views."""
    values = table.column("input_values").combine_chunks().flatten()  # B rows of list<list<float>>
    ids = table.column("channel_ids").combine_chunks().flatten()  # B rows of list<int64>
    row_offsets = values.offsets.to_numpy()  # [B + 1], into the channel list
    channels = values.flatten()  # all channels of the batch, list<float>
    channel_offsets = channels.offsets.to_numpy()  # [sum C + 1], into the float values
    flat = channels.flatten().to_numpy(zero_copy_only=False)
    id_offsets = ids.offsets.to_numpy()
    id_values = ids.flatten().to_numpy(zero_copy_only=False)
    base_c, base_f, base_i = row_offsets[0], channel_offsets[0], id_offsets[0]
    rows = []
    for r in range(lo, hi):
        c0, c1 = row_offsets[r] - base_c, row_offsets[r + 1] - base_c
        f0 = channel_offsets[c0] - base_f
        t = int(channel_offsets[c0 + 1] - channel_offsets[c0]) if c1 > c0 else 0
        view = flat[f0 : f0 + (c1 - c0) * t].reshape(c1 - c0, t)  # [C, T]
        rows.append({"input_values": view,
                     "channel_ids": id_values[id_offsets[r] - base_i : id_offsets[r + 1] - base_i]})  # fmt: skip
    return rows


class StreamingCorpus(torch.utils.data.IterableDataset):
    """Shape-homogeneous, weighted, exactly resumable global batches streamed from Parquet shards.

    Args:
        sources: the datasets, as for :func:`~labram_hf.data.corpus.parse_corpus_spec` (``"dirA:2,dirB"``, a
            list file, paths or ``(path, weight)`` pairs); a path may be any fsspec URL, directory of
            :func:`write_shards`, glob or Parquet file (:func:`resolve_shards`).
        global_batch_size: ``B`` rows per batch (all processes together).
        seed: seeds the file order, the block shuffles and the mixing (per epoch).
        shuffle_buffer: rows per shuffle block (``<= 1``: no shuffling within files).
        weighting: ``"windows"`` (default: a source is drawn in proportion to ``weight x its rows``; a missing
            weight is 1) or ``"absolute"`` (in proportion to the weights alone). See :class:`PretrainingCorpus`.
        stopping_strategy: of ``datasets.interleave_datasets``: ``"all_exhausted"`` (default; an epoch ends when
            every source has been read once, sources that run out earlier start again, so the mix keeps the
            weights), ``"first_exhausted"`` or ``"all_exhausted_without_replacement"`` (every batch once; the mix
            drifts when a source runs out).
        num_processes, process_index: this process keeps rows ``[r * B / W, (r + 1) * B / W)`` of every batch.
        num_epochs: stop after this many epochs (``None``: endless).
        collate_fn: turns a batch's rows into the dict yielded by ``__iter__`` (default:
            :class:`~labram_hf.data.LaBraMDataCollator`); ``batch["sample_keys"]`` (int64 [B / W]) is added.
        storage_options: passed to fsspec (credentials, endpoints).
        yield_state: ``__iter__`` also puts the state that resumes right after each batch into
            ``batch["stream_state"]`` (what a training loop saves when the stream runs in a DataLoader worker,
            whose own copy of the corpus the loop cannot see).
        check_contract: refuse sources whose ``preprocessor_config.json`` (copied beside the shards by
            :func:`write_shards`) records other filters or sampling rates
            (:data:`~labram_hf.data.corpus.CORPUS_CONTRACT_KEYS`); sources without one are not compared.
    """

    def __init__(
        self,
        sources: Any,
        global_batch_size: int,
        *,
        seed: int = 0,
        shuffle_buffer: int = 1024,
        weights: Sequence[float | None] | None = None,
        weighting: str = "windows",
        stopping_strategy: str = "all_exhausted",
        num_processes: int = 1,
        process_index: int = 0,
        num_epochs: int | None = None,
        collate_fn: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
        storage_options: Mapping[str, Any] | None = None,
        yield_state: bool = False,
        check_contract: bool = True,
    ):
        super().__init__()
        parsed = parse_corpus_spec(sources)
        self.paths = [s.path for s in parsed]
        given = [s.weight for s in parsed]
        if weights is not None:
            if len(weights) != len(parsed):
                raise CorpusError(f"{len(weights)} weights for {len(parsed)} sources")
            given = [None if w is None else _parse_weight(str(w), f"{p}:{w}") for p, w in zip(self.paths, weights)]
        if weighting not in ("windows", "absolute"):
            raise CorpusError(f"weighting must be 'windows' or 'absolute', got {weighting!r}")
        if stopping_strategy not in ("all_exhausted", "first_exhausted", "all_exhausted_without_replacement"):
            raise CorpusError(f"unknown stopping_strategy {stopping_strategy!r}")
        self.global_batch_size = int(global_batch_size)
        self.num_processes, self.process_index = int(num_processes), int(process_index)
        if self.global_batch_size < 1:
            raise CorpusError(f"global_batch_size must be >= 1, got {global_batch_size}")
        if self.num_processes < 1 or not 0 <= self.process_index < self.num_processes:
            raise CorpusError(f"process_index {process_index} is not in [0, num_processes={num_processes})")
        if self.global_batch_size % self.num_processes:
            raise CorpusError(
                f"the global batch of {self.global_batch_size} rows does not split evenly over "
                f"{self.num_processes} processes",
                hint="choose a global batch size that is a multiple of the number of processes",
            )
        self.seed = int(seed)
        self.shuffle_buffer = int(shuffle_buffer)
        self.stopping_strategy = stopping_strategy
        self.num_epochs = None if num_epochs is None else int(num_epochs)
        self.storage_options = dict(storage_options or {})
        self.collate_fn = collate_fn
        self.yield_state = bool(yield_state)
        self.files, self.num_rows = [], []
        for path in self.paths:
            files, counts = resolve_shards(path, self.storage_options)
            self.files.append(files)
            self.num_rows.append(int(sum(counts)))
        factors = [1.0 if w is None else float(w) for w in given]
        b = self.global_batch_size
        raw = factors if weighting == "absolute" else [f * (n // b) for f, n in zip(factors, self.num_rows)]
        for path, f, n in zip(self.paths, factors, self.num_rows):
            if f > 0 and n < b:
                raise CorpusError(f"{path}: {n} windows, fewer than one global batch of {b}",
                                  hint="give it weight 0, use a smaller batch, or prepare more windows")  # fmt: skip
        if not any(w > 0 for w in raw):
            raise CorpusError(f"every source has weight 0: {dict(zip(self.paths, factors))}")
        self.weights = [float(w) for w in raw]
        self.active = [i for i, w in enumerate(self.weights) if w > 0]
        total = sum(self.weights[i] for i in self.active)
        self.probabilities = [self.weights[i] / total for i in self.active]
        self._state: dict[str, Any] = {"epoch": 0, "step": 0, "stream": None}
        self._extractors: list[Any] | None = None
        if check_contract:
            self._check_contracts()

    # -- contract ------------------------------------------------------------------------------------------------------
    def feature_extractors(self) -> list[Any]:
        """Every source's :class:`~labram_hf.LaBraMFeatureExtractor` (from the ``preprocessor_config.json`` beside
        its shards; ``None`` for a source without one, e.g. a glob or a single Parquet file)."""
        if self._extractors is None:
            self._extractors = [read_shard_contract(p, self.storage_options) for p in self.paths]
        return list(self._extractors)

    def _check_contracts(self) -> None:
        from .contract import DatasetContractError, LabelSchema, check_same_contract
        from .corpus import CORPUS_CONTRACT_KEYS

        known = [(p, fe) for p, fe in zip(self.paths, self.feature_extractors()) if fe is not None]
        for path, extractor in known[1:]:
            try:
                check_same_contract((known[0][1], LabelSchema()), (extractor, LabelSchema()),
                                    names=(known[0][0], path), keys=CORPUS_CONTRACT_KEYS)  # fmt: skip
            except DatasetContractError as err:
                raise CorpusError(f"the streamed corpus mixes differently preprocessed datasets: {err}",
                                  hint="prepare every dataset with the same filters and sampling rate") from None

    # -- the datasets pipeline -----------------------------------------------------------------------------------------
    def _source_stream(self, epoch: int, i: int):
        import datasets

        files = self.files[i]
        order = np.random.default_rng([self.seed, epoch, i, 0]).permutation(len(files))
        ds = datasets.load_dataset("parquet", data_files=[files[j] for j in order], split="train", streaming=True,
                                   storage_options=self.storage_options or None)  # fmt: skip
        missing = [c for c in _COLUMNS if ds.column_names is not None and c not in ds.column_names]
        if missing:
            raise CorpusError(f"{self.paths[i]}: the shards have no column {', '.join(missing)}",
                              hint="write them with write_shards() from a prepared window dataset")  # fmt: skip
        ds = ds.select_columns(list(_COLUMNS)).with_format("arrow")
        if self.shuffle_buffer > 1:
            ds = ds.map(_block_shuffler(self.seed, epoch, i), batched=True, batch_size=self.shuffle_buffer,
                        with_indices=True)  # fmt: skip
        return ds.map(_batcher(i), batched=True, batch_size=self.global_batch_size, drop_last_batch=True,
                      features=_batch_features())  # fmt: skip

    def epoch_stream(self, epoch: int):
        """The ``datasets.IterableDataset`` of epoch ``epoch``: one example per global batch (Arrow format)."""
        import datasets

        streams = [self._source_stream(epoch, i) for i in self.active]
        if len(streams) == 1:
            return streams[0]
        return datasets.interleave_datasets(streams, probabilities=self.probabilities, seed=_seed(self.seed, epoch),
                                            stopping_strategy=self.stopping_strategy).with_format("arrow")  # fmt: skip

    # -- iteration -----------------------------------------------------------------------------------------------------
    def iter_batches(self) -> Iterator[StreamBatch]:
        """This process's :class:`StreamBatch` es, from the current state on (updating it as it goes)."""
        info = torch.utils.data.get_worker_info()
        if info is not None and info.num_workers > 1:
            raise CorpusError(
                f"a StreamingCorpus in a DataLoader with num_workers={info.num_workers}: every worker would read "
                "the whole stream",
                hint="use num_workers=0 or 1 (Parquet decoding is already vectorised)",
            )
        per = self.global_batch_size // self.num_processes
        lo = self.process_index * per
        while self.num_epochs is None or self._state["epoch"] < self.num_epochs:
            epoch = self._state["epoch"]
            stream = self.epoch_stream(epoch)
            if self._state["stream"] is not None:
                stream.load_state_dict(self._state["stream"])
            for table in stream:
                step = self._state["step"]
                self._state = {"epoch": epoch, "step": step + 1, "stream": stream.state_dict()}
                yield StreamBatch(
                    step=step,
                    epoch=epoch,
                    dataset_index=int(table.column("dataset_index")[0].as_py()),
                    rows=_rows_of(table, lo, lo + per),
                    sample_keys=[step * self.global_batch_size + j for j in range(lo, lo + per)],
                    state=self.state_dict(),
                )
            self._state = {"epoch": epoch + 1, "step": self._state["step"], "stream": None}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        collate = self.collate_fn
        if collate is None:
            from .collators import LaBraMDataCollator

            collate = LaBraMDataCollator()
        for batch in self.iter_batches():
            out = dict(collate(batch.rows))
            out["sample_keys"] = torch.tensor(batch.sample_keys, dtype=torch.int64)
            if self.yield_state:
                out["stream_state"] = batch.state
            yield out

    # -- resumption ----------------------------------------------------------------------------------------------------
    def _fingerprint(self) -> dict[str, Any]:
        return {"seed": self.seed, "global_batch_size": self.global_batch_size, "shuffle_buffer": self.shuffle_buffer,
                "num_rows": list(self.num_rows), "weights": list(self.weights),
                "stopping_strategy": self.stopping_strategy}  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        """The state after the last batch yielded: ``{"epoch", "step", "stream", ...settings}`` (JSON-able)."""
        return json.loads(json.dumps({**self._state, **self._fingerprint()}))

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue right after the batch the state was saved at (same sources and settings required)."""
        mine = self._fingerprint()
        diffs = [f"{k}: saved {state.get(k)!r}, now {v!r}" for k, v in mine.items() if k in state and state[k] != v]
        if diffs:
            raise CorpusError(
                "cannot resume the stream: the saved state was made with different settings (" + "; ".join(diffs)
                + ")",
                hint="resume with the same sources, weights, seed, batch size and shuffle buffer",
            )
        if not {"epoch", "step", "stream"} <= set(state):
            raise CorpusError(f"not a StreamingCorpus state: keys {sorted(state)}")
        self._state = {"epoch": int(state["epoch"]), "step": int(state["step"]), "stream": state["stream"]}
