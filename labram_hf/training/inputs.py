"""What the training stages read: window datasets, their preprocessing contract, batches and masks.

* :func:`load_window_dataset` opens a window dataset (``datasets.load_from_disk``);
* :func:`training_contract` / :func:`check_dataset_matches` apply the dataset contract of
  :mod:`labram_hf.data.contract`: a model is trained with the feature extractor and label schema of its *training*
  dataset, and validation/test datasets must have been prepared the same way;
* :class:`ShardedEpochBatches` is the batch sampler of the accelerate loop: global batches independent of the
  number of processes, exact resumption at any micro-batch; it yields *sample keys* (``epoch * N + index``) that
  :class:`KeyedWindows` turns back into rows and :class:`KeyedCollator` carries into the batch
  (``batch["sample_keys"]``), so per-sample random choices (masks, :func:`sample_masks`) depend on the sample only;
* :func:`training_batches` turns what a stage trains on into the :class:`TrainingBatches` the loop iterates: one
  window dataset (:class:`WindowBatches`, with :class:`ShardedEpochBatches`), a corpus of prepared datasets with
  different montages and window lengths (:class:`CorpusBatches` over
  :class:`~labram_hf.data.corpus.PretrainingCorpus`: one dataset per batch, DataLoader worker processes), or
  Parquet shards streamed from any fsspec path (:class:`StreamBatches` over
  :class:`~labram_hf.data.streaming.StreamingCorpus`). The corpus and the stream are *stateful*: the state that
  resumes right after the last batch used is saved with every checkpoint.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..constants import SAMPLING_RATE
from ..data.contract import (
    LABEL_SCHEMA_FILE,
    PREPROCESSOR_FILE,
    DatasetContractError,
    LabelSchema,
    check_same_contract,
    load_dataset_contract,
)
from ..errors import LaBraMError

__all__ = [
    "CorpusBatches",
    "KeyedCollator",
    "KeyedWindows",
    "ShardedEpochBatches",
    "StreamBatches",
    "TrainingArgumentError",
    "TrainingBatches",
    "WindowBatches",
    "check_dataset_matches",
    "collate_rows",
    "count_parameters",
    "load_feature_extractor",
    "load_window_dataset",
    "sample_masks",
    "to_device",
    "training_batches",
    "training_contract",
]


class TrainingArgumentError(LaBraMError):
    """Training arguments that cannot work together."""


def _local_paths(value: str | os.PathLike | None) -> list[Path]:
    """The local paths named by an argument: a directory, or a corpus spec ``dirA:2,dirB`` (weights stripped)."""
    if value is None:
        return []
    paths = []
    for entry in str(value).split(","):
        entry = entry.strip()
        head, _, tail = entry.rpartition(":")
        if head and tail.replace(".", "", 1).isdigit():
            entry = head
        if entry and "://" not in entry and os.path.exists(entry):
            paths.append(Path(entry).resolve())
    return paths


def check_output_dir(output_dir: str | os.PathLike, **inputs: str | os.PathLike | None) -> None:
    """Refuse an ``output_dir`` that is, or lies inside, one of the inputs (``flag=path`` pairs: datasets, corpus
    specs, model and tokenizer directories): checkpoints, the saved model and its ``preprocessor_config.json`` would
    be written among the input's files (and checkpoint rotation deletes directories there). A parent directory of
    the inputs is fine (nothing of theirs is touched)."""
    target = Path(output_dir).resolve()
    for flag, value in inputs.items():
        for source in _local_paths(value):
            if source.is_dir() and (target == source or source in target.parents):
                where = "is" if target == source else "lies inside"
                raise TrainingArgumentError(
                    f"--output-dir {output_dir} {where} the input --{flag.replace('_', '-')} {source}",
                    hint="write checkpoints and the trained model to a directory of their own",
                )


def load_pretrained(cls, path: str | os.PathLike, flag: str, **kwargs):
    """``cls.from_pretrained(path, **kwargs)``; a path that is neither a model directory nor a reachable Hub repo is a
    :class:`TrainingArgumentError` naming the flag (not transformers' traceback about the network)."""
    try:
        return cls.from_pretrained(str(path), **kwargs)
    except OSError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        kind = "directory without a saved model" if os.path.isdir(path) else "neither a local directory nor a reachable Hub repository"
        raise TrainingArgumentError(
            f"--{flag} {path}: {kind} ({reason})",
            hint=f"pass a directory written by labram-hf (save_pretrained, labram convert, a training stage) as --{flag}",
        ) from err


# ----------------------------------------------------------------------------------------------------------------------
# Datasets and their contract
# ----------------------------------------------------------------------------------------------------------------------


def load_window_dataset(path: str | os.PathLike, split: str | None = None):
    """``datasets.load_from_disk(path)``; for a ``DatasetDict`` the ``split`` (default ``"train"``) is returned."""
    import datasets

    ds = datasets.load_from_disk(os.fspath(path))
    if isinstance(ds, datasets.DatasetDict):
        split = split or ("train" if "train" in ds else next(iter(ds)))
        ds = ds[split]
    elif split not in (None, "train"):
        raise ValueError(f"{path} holds a single Dataset, not splits; cannot select split {split!r}")
    return ds


def load_feature_extractor(source):
    """A :class:`~labram_hf.LaBraMFeatureExtractor` from a directory holding ``preprocessor_config.json`` (a model or
    a prepared dataset), from such a JSON file, or an extractor object (returned as is)."""
    from ..feature_extraction_labram import LaBraMFeatureExtractor

    if isinstance(source, LaBraMFeatureExtractor):
        return source
    path = Path(os.fspath(source)).expanduser()
    if path.is_dir() and not (path / PREPROCESSOR_FILE).is_file():
        raise DatasetContractError(
            f"{path}: no {PREPROCESSOR_FILE} in this directory",
            hint="pass a model or dataset directory that holds one, or the JSON file itself",
        )
    if not path.exists():
        raise DatasetContractError(f"{path}: no such feature extractor file or directory")
    try:
        if path.is_file():
            return LaBraMFeatureExtractor.from_json_file(str(path))
        return LaBraMFeatureExtractor.from_pretrained(str(path))
    except (OSError, ValueError) as err:
        raise DatasetContractError(f"{path}: not a readable LaBraM feature extractor ({err})") from None


def _label_feature(dataset) -> Any:
    features = getattr(dataset, "features", None)
    return features.get("label") if features is not None else None


def _dataset_contract(path: str | os.PathLike, dataset) -> tuple[Any, LabelSchema]:
    extractor, schema = load_dataset_contract(path)
    if not (Path(os.fspath(path)) / LABEL_SCHEMA_FILE).is_file():
        schema = LabelSchema.from_feature(_label_feature(dataset))
    return extractor, schema


def training_contract(path: str | os.PathLike, dataset, feature_extractor=None) -> dict[str, Any]:
    """
    The contract a model trained on the dataset at ``path`` (loaded as ``dataset``) inherits.

    Returns ``{"feature_extractor", "label_schema", "reference"}``: the extractor to save with the model (the
    dataset's own, or ``feature_extractor`` when given: a path or an extractor), the dataset's label schema, and the
    dataset's recorded ``(extractor, schema)`` against which validation/test datasets are checked
    (:func:`check_dataset_matches`; its extractor is ``None`` for a dataset without a contract).

    Raises :class:`~labram_hf.data.contract.DatasetContractError` for a dataset without a recorded preprocessing
    (built by an older labram-hf) unless ``feature_extractor`` says how it was preprocessed.
    """
    try:
        extractor, schema = _dataset_contract(path, dataset)
    except DatasetContractError as err:
        if feature_extractor is None:
            raise DatasetContractError(
                f"{err} (training dataset)",
                hint="rebuild it with `labram prepare` / build_dataset (which record the preprocessing), or pass "
                "the extractor it was prepared with (--feature-extractor DIR_OR_JSON)",
            ) from None
        extractor, schema = None, LabelSchema.from_feature(_label_feature(dataset))
    chosen = load_feature_extractor(feature_extractor) if feature_extractor is not None else extractor
    return {"feature_extractor": chosen, "label_schema": schema, "reference": (extractor, schema)}


def check_dataset_matches(
    contract: Mapping[str, Any], path: str | os.PathLike, dataset, name: str = "validation"
) -> None:
    """Refuse the dataset at ``path`` when its preprocessing or label schema differs from the training dataset's
    (``contract`` from :func:`training_contract`); the error names every differing key with both values.

    A dataset without a recorded preprocessing is refused too, unless the training run was given an explicit
    extractor (then only the label schemas are compared)."""
    reference_extractor, reference_schema = contract["reference"]
    explicit = contract["feature_extractor"] is not reference_extractor
    try:
        other = _dataset_contract(path, dataset)
    except DatasetContractError as err:
        if not explicit:
            raise DatasetContractError(
                f"{err} ({name} dataset)",
                hint="rebuild it with `labram prepare` using the training dataset's settings",
            ) from None
        other = (None, LabelSchema.from_feature(_label_feature(dataset)))
    if reference_extractor is None or other[0] is None:  # no recorded preprocessing: only the labels compare
        check_same_contract((None, reference_schema), (None, other[1]), names=("training", name), keys=())
    else:
        check_same_contract((reference_extractor, reference_schema), other, names=("training", name))


# ----------------------------------------------------------------------------------------------------------------------
# Batching for the accelerate loop
# ----------------------------------------------------------------------------------------------------------------------


class ShardedEpochBatches(torch.utils.data.Sampler):
    """
    World-size-invariant batch sampler for the accelerate loop.

    Epoch e uses the permutation of ``torch.Generator().manual_seed(seed + e)`` over the dataset (or the identity
    with ``shuffle=False``); consecutive ``global_batch_size = per_device_batch_size * num_processes`` indices form a
    global micro-batch (the incomplete tail is dropped) and process r takes slice r of it. One process with a
    per-device batch of ``b * n`` therefore sees exactly the samples that n processes with ``b`` see together, step
    by step — the property behind the distributed equivalence tests — and a run can restart at any micro-batch
    (``start``), which makes resumption exact mid-epoch.

    As a ``batch_sampler`` of a :class:`torch.utils.data.DataLoader` it yields, for micro-batches ``start`` …
    ``start + num_batches - 1`` (endless when ``num_batches`` is ``None``), this process's *sample keys*
    ``epoch * num_samples + index`` (read them with :class:`KeyedWindows`). :meth:`iterate` yields
    ``(epoch, micro_batch_index, indices)`` instead.
    """

    def __init__(
        self,
        num_samples: int,
        per_device_batch_size: int,
        num_processes: int = 1,
        process_index: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        *,
        start: int = 0,
        num_batches: int | None = None,
    ):
        self.num_samples = int(num_samples)
        self.per_device_batch_size = int(per_device_batch_size)
        self.num_processes = int(num_processes)
        self.process_index = int(process_index)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.start = int(start)
        self.num_batches = None if num_batches is None else int(num_batches)
        self.global_batch_size = self.per_device_batch_size * self.num_processes
        if self.global_batch_size > self.num_samples:
            raise ValueError(
                f"global batch {self.global_batch_size} (= {per_device_batch_size} x {num_processes} processes) "
                f"exceeds the {num_samples} samples of the dataset"
            )

    @property
    def batches_per_epoch(self) -> int:
        return self.num_samples // self.global_batch_size

    def epoch_order(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.num_samples)
        return torch.randperm(self.num_samples, generator=torch.Generator().manual_seed(self.seed + epoch))

    def iterate(self, start_micro_batch: int = 0) -> Iterator[tuple[int, int, list[int]]]:
        """Endless stream of (epoch, global micro-batch index, this process's indices) from ``start_micro_batch``."""
        per_epoch = self.batches_per_epoch
        k = int(start_micro_batch)
        order, order_epoch = None, None
        while True:
            epoch, within = divmod(k, per_epoch)
            if epoch != order_epoch:
                order, order_epoch = self.epoch_order(epoch), epoch
            lo = within * self.global_batch_size + self.process_index * self.per_device_batch_size
            yield epoch, k, order[lo : lo + self.per_device_batch_size].tolist()
            k += 1

    def __iter__(self) -> Iterator[list[int]]:
        for n, (epoch, _, indices) in enumerate(self.iterate(self.start)):
            if self.num_batches is not None and n >= self.num_batches:
                return
            yield [epoch * self.num_samples + i for i in indices]

    def __len__(self) -> int:
        if self.num_batches is None:
            raise TypeError("an endless ShardedEpochBatches (num_batches=None) has no length")
        return self.num_batches


class KeyedWindows(torch.utils.data.Dataset):
    """Rows of ``reader`` (e.g. :class:`labram_hf.data.ArrowWindowDataset`) addressed by sample key
    (``epoch * len(reader) + index``); every row carries its ``sample_key``."""

    def __init__(self, reader):
        self.reader = reader
        self.num_rows = len(reader)

    def __len__(self) -> int:
        return self.num_rows

    def __getitems__(self, keys: Sequence[int]) -> list[dict[str, Any]]:
        rows = self.reader.__getitems__([int(k) % self.num_rows for k in keys])
        for row, key in zip(rows, keys):
            row["sample_key"] = int(key)
        return rows

    def __getitem__(self, key: int) -> dict[str, Any]:
        return self.__getitems__([key])[0]


class KeyedCollator:
    """Collate rows of :class:`KeyedWindows` with ``collate`` and add their keys as ``batch["sample_keys"]`` [B]."""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        keys = [row.pop("sample_key") for row in rows]
        batch = dict(self.collate(rows))
        batch["sample_keys"] = torch.tensor(keys, dtype=torch.int64)
        return batch


# ----------------------------------------------------------------------------------------------------------------------
# What the accelerate loop trains on: one dataset, a corpus of datasets, or a stream of Parquet shards
# ----------------------------------------------------------------------------------------------------------------------


class TrainingBatches:
    """The global micro-batches of a training run, in the order the loop uses them (base class).

    :func:`~labram_hf.training.train_loop` reads ``batches_per_epoch`` (global micro-batches per epoch, for
    ``num_epochs``), iterates :meth:`loader` ``(start, num_batches, ...)`` -- collated batches of this process with
    ``batch["sample_keys"]`` -- and, when ``stateful``, saves :meth:`state_after` of the last batch it used with
    every checkpoint and hands it back through :meth:`load_state_dict` when a run resumes.
    """

    #: ``"windows"`` (one dataset), ``"corpus"`` or ``"stream"``.
    kind: str = "windows"
    #: Whether the data order has a state to checkpoint (beyond the loop's step counter).
    stateful: bool = False

    def __init__(self, num_windows: int, batches_per_epoch: int, global_batch_size: int):
        self.num_windows = int(num_windows)
        self.batches_per_epoch = max(1, int(batches_per_epoch))
        self.global_batch_size = int(global_batch_size)

    def loader(self, start: int, num_batches: int, *, collate, num_workers: int = 0, prefetch_factor: int = 2,
               pin_memory: bool = False, seed: int = 0) -> Iterable[dict[str, Any]]:  # fmt: skip
        """Micro-batches ``start`` ... ``start + num_batches - 1`` of this process, collated by ``collate`` (rows ->
        batch), each with ``sample_keys`` (int64 [b])."""
        raise NotImplementedError

    def state_after(self, batch: dict[str, Any], keys: Sequence[int]) -> dict[str, Any] | None:
        """The state that resumes right after ``batch`` (``keys``: its sample keys); removes any entry of
        ``batch`` that only carried that state."""
        return None

    def load_state_dict(self, state: Mapping[str, Any], start: int) -> None:
        """Continue after the batch ``state`` was saved at; ``start`` is the micro-batch the loop resumes at."""

    def describe(self) -> str:
        return f"{self.num_windows} windows"

    def summary(self) -> dict[str, Any]:
        """What the run trained on (for ``train_summary.json``)."""
        return {"kind": self.kind, "windows": self.num_windows, "batches_per_epoch": self.batches_per_epoch}


def _data_loader(dataset, *, num_workers: int, prefetch_factor: int, pin_memory: bool, seed: int, **kwargs):
    return torch.utils.data.DataLoader(
        dataset,
        num_workers=num_workers,
        pin_memory=pin_memory,
        prefetch_factor=prefetch_factor if num_workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),  # keeps the global RNG (drop path) untouched
        **kwargs,
    )


class WindowBatches(TrainingBatches):
    """One window dataset, batched by :class:`ShardedEpochBatches` (world-size invariant, resumable at any
    micro-batch from the loop's step counter alone)."""

    kind = "windows"

    def __init__(self, dataset, per_device_batch_size: int, num_processes: int = 1, process_index: int = 0,
                 seed: int = 0, shuffle: bool = True):  # fmt: skip
        global_batch = int(per_device_batch_size) * int(num_processes)
        super().__init__(len(dataset), len(dataset) // global_batch, global_batch)
        self.dataset = dataset
        self.per_device_batch_size = int(per_device_batch_size)
        self.num_processes, self.process_index = int(num_processes), int(process_index)
        self.seed, self.shuffle = int(seed), bool(shuffle)

    def loader(self, start, num_batches, *, collate, num_workers=0, prefetch_factor=2, pin_memory=False, seed=0):
        from ..data import ArrowWindowDataset

        sampler = ShardedEpochBatches(self.num_windows, self.per_device_batch_size, self.num_processes,
                                      self.process_index, self.seed, shuffle=self.shuffle, start=start,
                                      num_batches=num_batches)  # fmt: skip
        rows = KeyedWindows(ArrowWindowDataset(self.dataset, columns=["input_values", "channel_ids"]))
        return _data_loader(rows, batch_sampler=sampler, collate_fn=KeyedCollator(collate), num_workers=num_workers,
                            prefetch_factor=prefetch_factor, pin_memory=pin_memory, seed=seed)  # fmt: skip


class CorpusBatches(TrainingBatches):
    """A :class:`~labram_hf.data.corpus.PretrainingCorpus` batched by its
    :class:`~labram_hf.data.corpus.CorpusBatchSampler`: every global batch from one dataset (one channel count and
    window length), mixed by weight, the same global batches for any number of processes; rows are read by
    DataLoader worker processes. The sampler state (the next global step plus the settings it depends on) is
    checkpointed, so a resumed run refuses a different corpus, weights, seed or batch size."""

    kind = "corpus"
    stateful = True

    def __init__(self, corpus, per_device_batch_size: int, num_processes: int = 1, process_index: int = 0,
                 seed: int = 0):  # fmt: skip
        global_batch = int(per_device_batch_size) * int(num_processes)
        self.corpus = corpus
        self._settings = dict(seed=int(seed), num_processes=int(num_processes), process_index=int(process_index))
        self.sampler = corpus.batch_sampler(global_batch, **self._settings)  # validates the corpus for this batch
        super().__init__(corpus.total_rows, self.sampler.batches_per_epoch, global_batch)

    def loader(self, start, num_batches, *, collate, num_workers=0, prefetch_factor=2, pin_memory=False, seed=0):
        sampler = self.corpus.batch_sampler(self.global_batch_size, start=start, num_batches=num_batches,
                                            **self._settings)  # fmt: skip
        rows = KeyedWindows(self.corpus.torch_dataset())  # reads sample key k as row k % total rows
        return _data_loader(rows, batch_sampler=sampler, collate_fn=KeyedCollator(collate), num_workers=num_workers,
                            prefetch_factor=prefetch_factor, pin_memory=pin_memory, seed=seed)  # fmt: skip

    def state_after(self, batch, keys):
        return self.sampler.state_after(keys)

    def load_state_dict(self, state, start):
        probe = self.corpus.batch_sampler(self.global_batch_size, **self._settings)
        probe.load_state_dict(state)  # refuses another corpus, weights, seed or global batch size
        if int(state["step"]) != int(start):
            raise TrainingArgumentError(
                f"the checkpoint's corpus position (global batch {state['step']}) does not match its loop position "
                f"(micro-batch {start})",
                hint="resume with the same --gradient-accumulation-steps as the interrupted run",
            )

    def describe(self) -> str:
        return self.corpus.describe(self.global_batch_size)

    def summary(self) -> dict[str, Any]:
        datasets = [
            {"path": name, "weight": weight, "windows": rows, "window_seconds": samples / SAMPLING_RATE,
             "batches_per_epoch": int(count)}
            for name, weight, rows, samples, count in zip(self.corpus.names, self.corpus.weights,
                                                          self.corpus.num_rows, self.corpus.window_samples,
                                                          self.sampler.batches_per_dataset)
        ]  # fmt: skip
        return {**super().summary(), "weighting": self.corpus.weighting, "datasets": datasets}


class StreamBatches(TrainingBatches):
    """A :class:`~labram_hf.data.streaming.StreamingCorpus` (Parquet shards read with ``datasets`` streaming, on any
    fsspec path) in a DataLoader with at most one worker process. Every batch carries the stream state that resumes
    right after it, and the state of the last batch used is checkpointed.

    ``batches_per_epoch`` is the sum of the sources' full batches (the exact count of an epoch depends on the
    interleaving); give ``max_steps`` for an exact run length."""

    kind = "stream"
    stateful = True

    def __init__(self, stream):
        self.stream = stream
        active = [stream.num_rows[i] // stream.global_batch_size for i in stream.active]
        super().__init__(sum(stream.num_rows), sum(active), stream.global_batch_size)

    def loader(self, start, num_batches, *, collate, num_workers=0, prefetch_factor=2, pin_memory=False, seed=0):
        at = int(self.stream.state_dict()["step"])
        if at != int(start):
            raise TrainingArgumentError(f"the stream is at global batch {at}, the loop starts at micro-batch {start}",
                                        hint="resume from a checkpoint saved by a streaming run")  # fmt: skip
        self.stream.yield_state = True
        if self.stream.collate_fn is None:
            self.stream.collate_fn = collate
        workers = min(1, int(num_workers))  # more workers would each read the whole stream
        loader = _data_loader(self.stream, batch_size=None, num_workers=workers, prefetch_factor=prefetch_factor,
                              pin_memory=pin_memory, seed=seed)  # fmt: skip
        return itertools.islice(loader, int(num_batches))  # the stream itself is endless

    def state_after(self, batch, keys):
        return batch.pop("stream_state")

    def load_state_dict(self, state, start):
        self.stream.load_state_dict(state)  # refuses other sources, weights, seed, batch size or shuffle buffer
        if int(state["step"]) != int(start):
            raise TrainingArgumentError(
                f"the checkpoint's stream position (global batch {state['step']}) does not match its loop position "
                f"(micro-batch {start})",
                hint="resume with the same --gradient-accumulation-steps as the interrupted run",
            )

    def describe(self) -> str:
        lines = [f"{path}: {rows} windows, weight {w:g}" for path, rows, w in
                 zip(self.stream.paths, self.stream.num_rows, self.stream.weights)]  # fmt: skip
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        sources = [{"path": p, "windows": n, "weight": w, "files": len(f)}
                   for p, n, w, f in zip(self.stream.paths, self.stream.num_rows, self.stream.weights,
                                         self.stream.files)]  # fmt: skip
        return {**super().summary(), "shuffle_buffer": self.stream.shuffle_buffer, "sources": sources}


def training_batches(data, per_device_batch_size: int, num_processes: int = 1, process_index: int = 0, seed: int = 0,
                     shuffle: bool = True) -> TrainingBatches:  # fmt: skip
    """The :class:`TrainingBatches` of ``data``: a window dataset (:class:`datasets.Dataset`), a
    :class:`~labram_hf.data.corpus.PretrainingCorpus`, a :class:`~labram_hf.data.streaming.StreamingCorpus` (built
    for this global batch and process), or a :class:`TrainingBatches` (returned as is)."""
    if isinstance(data, TrainingBatches):
        return data
    from ..data.corpus import PretrainingCorpus
    from ..data.streaming import StreamingCorpus

    if isinstance(data, (PretrainingCorpus, StreamingCorpus)) and not shuffle:
        raise TrainingArgumentError("no_shuffle applies to a single dataset; a corpus is always drawn in its "
                                    "seeded order", hint="drop --no-shuffle")  # fmt: skip
    if isinstance(data, PretrainingCorpus):
        return CorpusBatches(data, per_device_batch_size, num_processes, process_index, seed)
    if isinstance(data, StreamingCorpus):
        expected = (int(per_device_batch_size) * int(num_processes), int(num_processes), int(process_index))
        got = (data.global_batch_size, data.num_processes, data.process_index)
        if got != expected:
            raise TrainingArgumentError(
                f"the StreamingCorpus was built for global batch {got[0]}, {got[1]} process(es), process {got[2]}; "
                f"this run has {expected[0]} (= {per_device_batch_size} x {num_processes}), process {expected[2]}",
                hint="build it with global_batch_size=per_device_batch_size * num_processes and this process's "
                "num_processes / process_index",
            )
        return StreamBatches(data)
    return WindowBatches(data, per_device_batch_size, num_processes, process_index, seed, shuffle)


def sample_masks(
    sample_keys: Iterable[int],
    num_tokens: int | Sequence[int],
    mask_ratio: float = 0.5,
    seed: int = 0,
    max_tokens: int | None = None,
) -> torch.Tensor:
    """
    The original per-sample random masking (uniform noise, argsort, keep ``int(L (1 - ratio))`` lowest, mask the
    rest; :func:`labram_hf.data.collators.random_masking`), drawn for each sample from its own generator seeded by
    ``(seed, key)``. Masks therefore depend only on the sample key (e.g. ``epoch * N + index``), never on batch
    composition, process count or resumption. ``num_tokens`` is L, or each sample's real token count (padded
    channels at the end, never masked). Returns bool [B, max_tokens], True = masked.
    """
    from ..data.collators import random_masking

    keys = [int(k) for k in sample_keys]
    counts = [int(num_tokens)] * len(keys) if isinstance(num_tokens, int) else [int(c) for c in num_tokens]
    width = max(counts) if max_tokens is None else int(max_tokens)
    rows = []
    for key, count in zip(keys, counts):
        gen = torch.Generator().manual_seed((int(seed) * 1_000_003 + key) % (2**62))
        rows.append(random_masking(torch.tensor([count]), mask_ratio=mask_ratio, generator=gen, max_tokens=width))
    return torch.cat(rows, dim=0)


def collate_rows(rows: Sequence[Mapping[str, Any]], with_labels: bool = False) -> dict[str, torch.Tensor]:
    """Rows -> batch with :class:`labram_hf.data.LaBraMDataCollator` (pads channel sets with a ``channel_mask``)."""
    from ..data.collators import LaBraMDataCollator

    rows = rows if with_labels else [{k: v for k, v in r.items() if k not in ("label", "labels")} for r in rows]
    return LaBraMDataCollator()(rows)


def to_device(batch: Mapping[str, Any], device) -> dict[str, Any]:
    """Move the tensors of ``batch`` to ``device`` (asynchronously from pinned memory)."""
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
