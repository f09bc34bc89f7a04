"""A pre-training corpus made of several prepared window datasets (montages and window lengths may differ).

LaBraM was pre-trained on many EEG corpora with different montages. The original groups recordings by montage,
picks a window length per group so that channels x seconds is about 256 tokens (4 s at 64 channels, 8 s at 32;
:func:`window_seconds_for_channels`) and gives every group its own data loader, so that **each batch comes from one
montage group** (LABRAM_REFERENCE.md §10). This module does the same for datasets written by
:func:`labram_hf.data.build_dataset` / ``labram prepare``:

* :class:`PretrainingCorpus` opens the datasets (``datasets.load_from_disk``), checks that they fit together (same
  filters and sampling rate; one window length per dataset, a whole number of 1-s patches, at most 16) and holds a
  mixing weight per dataset. Sources come from a spec string ``"dirA:2,dirB,dirC:0.5"``, a list of paths or of
  ``(path, weight)`` pairs, or a plain list file (one ``path[:weight]`` per line, ``#`` comments; relative paths are
  relative to the file) -- no JSON or YAML involved.
* :class:`CorpusBatchSampler` decides, for every global step, which dataset the batch comes from and which of its
  rows -- a pure function of ``(seed, epoch, step)``, independent of the number of processes -- and is a
  ``batch_sampler`` for :class:`torch.utils.data.DataLoader` (picklable, any ``num_workers``) with exact
  mid-epoch resumption (:meth:`~CorpusBatchSampler.state_dict` / :meth:`~CorpusBatchSampler.load_state_dict`).
* :class:`CorpusDataset` is the torch ``Dataset`` over the concatenated datasets; it reads rows with the
  zero-copy :class:`~labram_hf.data.ArrowWindowDataset` views and the usual collators batch them (channel sets of
  different size within one dataset are padded with a ``channel_mask``).

Why shape-homogeneous batches and not token packing across datasets
------------------------------------------------------------------
The model takes ``input_values [B, C, T]``: a batch mixing datasets must be padded to the largest channel count
*and* the longest window. Channel padding is masked (``channel_mask``), time padding cannot be (the model and the
original have no time mask), and every padded token still costs attention and MLP compute.
``benchmarks/corpus_batching.py`` measured both strategies in one run on three corpora shaped like the original's
groups (64 ch x 4 s, 32 ch x 8 s, 19 ch x 13 s: 256, 256 and 247 tokens per window), weights proportional to size,
batch 8, a small LaBraM masked-EEG-modelling model (hidden 200, 4 blocks), forward + backward + AdamW on one CPU
thread (``benchmarks/results/corpus_batching.json``):

* padding waste: homogeneous batches 0 %; mixed batches padded to the common 64 x 13 grid 69.6 % of all token
  slots (3.3 slots per real token);
* training throughput in real tokens per second: homogeneous 4.7x the mixed batches (608 vs 130 tokens/s on a
  shared 2-core machine; the ratio is what counts): a mixed batch runs 833-token sequences instead of <= 257-token
  ones, and attention grows with the square of the length.

Homogeneous batches therefore waste nothing and train several times faster; mixing happens *between* batches,
by the weights. (True sequence packing -- several windows in one flat sequence with per-token channel/time ids and
block-diagonal attention -- would avoid the padding but is not what LaBraM's embedding layout supports, and its
attention over the packed sequence is not cheaper than over separate 256-token windows.)

Epochs, mixing and resumption (:class:`CorpusBatchSampler`)
----------------------------------------------------------
* Global batch ``B`` rows; every one from one dataset. ``W`` processes each take a contiguous slice of ``B / W``
  rows (``B % W == 0``), so the global batches are the same for any ``W``.
* Every dataset's rows are consumed in *passes*: pass ``p`` of dataset ``i`` is a permutation seeded by
  ``(seed, i, p)``, cut into ``N_i // B`` full batches (the tail is dropped).
* An **epoch** is a fixed number of batches: by default ``sum_i N_i // B`` (the number of full batches in the
  corpus). Epoch ``e`` contains exactly ``n_i`` batches of dataset ``i`` -- ``n_i`` apportions the epoch's
  batches by the mixing weights (largest remainders) -- in an order seeded by ``(seed, e)``. With the default
  weights (proportional to each dataset's windows, counted in whole batches) ``n_i = N_i // B``: an epoch is then
  one pass over every dataset, like the original's per-group loaders. Datasets weighted up start their next pass
  within the epoch; datasets weighted down continue their pass in the next epoch.
* Global step ``k`` is batch ``k % E`` of epoch ``k // E``; it is computed from ``(seed, k)`` alone, so a run
  restarted at step ``k`` (``start=k`` or ``load_state_dict``) continues with exactly the batch it would have
  drawn.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..constants import MAX_TIME_PATCHES, PATCH_SIZE, SAMPLING_RATE
from ..errors import LaBraMError

logger = logging.getLogger("labram_hf.data")

__all__ = [
    "CORPUS_CONTRACT_KEYS",
    "TOKENS_PER_WINDOW",
    "CorpusBatch",
    "CorpusBatchSampler",
    "CorpusDataset",
    "CorpusError",
    "CorpusSource",
    "PretrainingCorpus",
    "apportion",
    "parse_corpus_spec",
    "window_seconds_for_channels",
]

#: The original's token budget per window: channels x seconds ~ 256 (LABRAM_REFERENCE.md §10).
TOKENS_PER_WINDOW: int = 256

#: Preprocessing settings every dataset of a corpus must share (window length and channel selection may differ).
CORPUS_CONTRACT_KEYS: tuple[str, ...] = ("sampling_rate", "patch_size", "l_freq", "h_freq", "notch_freq")


class CorpusError(LaBraMError):
    """A pre-training corpus that cannot be used as given (the message names the dataset or value)."""


def window_seconds_for_channels(
    num_channels: int, tokens: int = TOKENS_PER_WINDOW, max_seconds: int = MAX_TIME_PATCHES
) -> int:
    """The original's window length for a montage group: the most whole seconds with ``channels x seconds <=
    tokens`` (at least 1, at most ``max_seconds``). 64 channels -> 4 s, 32 -> 8 s, 19 -> 13 s, 23 -> 11 s."""
    if int(num_channels) < 1:
        raise CorpusError(f"a montage needs at least one channel, got {num_channels}")
    return int(min(max_seconds, max(1, tokens // int(num_channels))))


# ----------------------------------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusSource:
    """One dataset of a corpus: its directory (or URL for streaming) and its weight (``None``: the default)."""

    path: str
    weight: float | None = None


def _parse_weight(text: str, item: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        raise CorpusError(f"corpus entry {item!r}: weight {text!r} is not a number",
                          hint="write PATH or PATH:WEIGHT, e.g. windows/tuh:2") from None  # fmt: skip
    if not math.isfinite(weight) or weight < 0:
        raise CorpusError(f"corpus entry {item!r}: weight {weight} must be a finite number >= 0")
    return weight


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split_item(item: str, base: Path | None) -> CorpusSource:
    item = item.strip()
    path, weight = item, None
    whole = Path(item).expanduser() if base is None else base / Path(item).expanduser()
    if ":" in item and not whole.exists():
        head, tail = item.rsplit(":", 1)
        if _is_number(tail.strip()) or "/" not in tail and "\\" not in tail and tail.strip():
            path, weight = head.strip(), _parse_weight(tail.strip(), item)
    if not path:
        raise CorpusError(f"corpus entry {item!r} has no path")
    if base is not None and "://" not in path and not Path(path).expanduser().is_absolute():
        path = str(base / path)
    return CorpusSource(path, weight)


def parse_corpus_spec(spec: Any) -> list[CorpusSource]:
    """The sources of a corpus from any of its spellings.

    * ``"dirA:2,dirB,dirC:0.5"``: comma-separated ``PATH[:WEIGHT]`` (a path that exists as written is never split
      at a colon; URLs such as ``hf://datasets/org/name`` keep their ``://``);
    * the path of a plain text *file*: one or more ``PATH[:WEIGHT]`` per line (comma-separated), blank lines and
      ``#`` comments ignored, relative paths relative to the file;
    * a list of paths, of ``(path, weight)`` pairs, of :class:`CorpusSource`, or a mapping path -> weight.
    """
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        as_path = Path(text).expanduser()
        if as_path.is_file():
            try:
                lines = as_path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as err:
                raise CorpusError(f"{as_path}: cannot read this corpus list ({err})") from None
            out = []
            for line in lines:
                line = line.split("#", 1)[0].strip()
                out.extend(_split_item(i, as_path.parent) for i in line.split(",") if i.strip())
            if not out:
                raise CorpusError(f"{as_path}: the corpus list names no dataset",
                                  hint="write one dataset directory per line, optionally PATH:WEIGHT")  # fmt: skip
            return out
        items = [i for i in text.split(",") if i.strip()]
        if not items:
            raise CorpusError("the corpus spec names no dataset", hint='e.g. "windows/a:2,windows/b"')
        return [_split_item(i, None) for i in items]
    if isinstance(spec, Mapping):
        return [CorpusSource(os.fspath(p), None if w is None else _parse_weight(str(w), f"{p}:{w}"))
                for p, w in spec.items()]  # fmt: skip
    if isinstance(spec, Iterable):
        out = []
        for item in spec:
            if isinstance(item, CorpusSource):
                out.append(item)
            elif isinstance(item, (str, os.PathLike)):
                out.append(CorpusSource(os.fspath(item)))
            elif isinstance(item, Sequence) and len(item) == 2:
                path, weight = item
                out.append(CorpusSource(os.fspath(path), None if weight is None else
                                        _parse_weight(str(weight), f"{path}:{weight}")))  # fmt: skip
            else:
                raise CorpusError(f"corpus entry {item!r} is neither a path nor a (path, weight) pair")
        if not out:
            raise CorpusError("the corpus has no dataset")
        return out
    raise CorpusError(f"cannot read a corpus from {type(spec).__name__} {spec!r}",
                      hint='pass "dirA:2,dirB", a list of paths or (path, weight) pairs, or a list file')  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------------
# Batch schedule
# ----------------------------------------------------------------------------------------------------------------------


def apportion(total: int, weights: Sequence[float]) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainders; ties to the lower index)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise CorpusError(f"mixing weights must be finite, >= 0 and not all 0, got {list(map(float, w))}")
    quota = total * w / w.sum()
    counts = np.floor(quota).astype(np.int64)
    rest = int(total - counts.sum())
    if rest > 0:
        order = sorted(range(w.size), key=lambda i: (-(quota[i] - counts[i]), i))
        for i in order[:rest]:
            counts[i] += 1
    return counts


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in key])


@dataclass(frozen=True)
class CorpusBatch:
    """The global batch of one step: the dataset it comes from and its ``B`` rows.

    ``rows`` index the dataset itself, ``indices`` the concatenation of all datasets (``offset + rows``).
    """

    step: int
    epoch: int
    dataset_index: int
    rows: np.ndarray
    indices: np.ndarray


class CorpusBatchSampler(torch.utils.data.Sampler):
    """Batches of one dataset at a time, mixed by weight, independent of the number of processes, resumable.

    Args:
        num_rows: rows (windows) of every dataset, in corpus order.
        global_batch_size: ``B``, rows per global batch (all processes together).
        weights: mixing weights (any scale; ``None``: proportional to ``num_rows[i] // B``, the datasets' full
            batches). A dataset with weight 0 is never drawn.
        seed: the only source of randomness.
        num_processes, process_index: this process's slice is rows ``[r * B / W, (r + 1) * B / W)`` of every
            global batch.
        batches_per_epoch: ``E`` (default: ``sum_i num_rows[i] // B``).
        start: the first global step to yield (resumption; see :meth:`load_state_dict`).
        num_batches: how many batches one iteration yields (``None``: endless, and ``len()`` is undefined).
        return_keys: yield *sample keys* ``step * total_rows + index`` (default) instead of bare concatenated
            indices. Keys are unique per drawn row (``sample_masks`` seeds per-sample masks with them, like the keys
            of :class:`labram_hf.training.ShardedEpochBatches`); :class:`CorpusDataset` (and ``KeyedWindows``)
            read a key as row ``key % total_rows``.

    A DataLoader draws batches ahead of the training loop (``prefetch_factor`` per worker), so the sampler's own
    :meth:`state_dict` counts batches *handed out*. To checkpoint a loop, save the state of the last batch it
    *used*: :meth:`state_after` ``(batch["sample_keys"])``, or simply the loop's step counter (``start=``).
    """

    def __init__(
        self,
        num_rows: Sequence[int],
        global_batch_size: int,
        *,
        weights: Sequence[float] | None = None,
        seed: int = 0,
        num_processes: int = 1,
        process_index: int = 0,
        batches_per_epoch: int | None = None,
        start: int = 0,
        num_batches: int | None = None,
        return_keys: bool = True,
    ):
        self.num_rows = [int(n) for n in num_rows]
        self.global_batch_size = int(global_batch_size)
        self.seed = int(seed)
        self.num_processes = int(num_processes)
        self.process_index = int(process_index)
        self.return_keys = bool(return_keys)
        self.num_batches = None if num_batches is None else int(num_batches)
        b = self.global_batch_size
        if not self.num_rows:
            raise CorpusError("a corpus needs at least one dataset")
        if b < 1:
            raise CorpusError(f"global_batch_size must be >= 1, got {global_batch_size}")
        if self.num_processes < 1 or not 0 <= self.process_index < self.num_processes:
            raise CorpusError(f"process_index {process_index} is not in [0, num_processes={num_processes})")
        if b % self.num_processes:
            raise CorpusError(
                f"the global batch of {b} rows does not split evenly over {self.num_processes} processes",
                hint="choose a global batch size that is a multiple of the number of processes",
            )
        self.per_process = b // self.num_processes
        self.full_batches = [n // b for n in self.num_rows]
        if weights is None:
            weights = [float(f) for f in self.full_batches]
            if sum(weights) == 0:
                raise CorpusError(f"no dataset has {b} rows for one full batch (rows: {self.num_rows})",
                                  hint="use a smaller global batch")  # fmt: skip
        self.weights = [float(w) for w in weights]
        if len(self.weights) != len(self.num_rows):
            raise CorpusError(f"{len(self.weights)} weights for {len(self.num_rows)} datasets")
        for i, (w, f) in enumerate(zip(self.weights, self.full_batches)):
            if w > 0 and f == 0:
                raise CorpusError(
                    f"dataset {i} has {self.num_rows[i]} rows, fewer than one global batch of {b}",
                    hint="give it weight 0, use a smaller batch, or prepare more windows for it",
                )
        self.batches_per_epoch = (
            int(batches_per_epoch) if batches_per_epoch is not None else int(sum(self.full_batches))
        )
        if self.batches_per_epoch < 1:
            raise CorpusError(f"batches_per_epoch must be >= 1, got {batches_per_epoch}")
        self.batches_per_dataset = apportion(self.batches_per_epoch, self.weights)  # n_i per epoch
        self.offsets = np.concatenate([[0], np.cumsum(self.num_rows)]).astype(np.int64)
        self.total_rows = int(self.offsets[-1])
        self.start = int(start)
        self._next = self.start
        self._epoch_cache: tuple[int, np.ndarray, np.ndarray] | None = None
        self._pass_cache: dict[int, tuple[int, np.ndarray]] = {}

    # -- the plan ------------------------------------------------------------------------------------------------------
    def epoch_schedule(self, epoch: int) -> np.ndarray:
        """Dataset index of every batch of ``epoch`` (exactly ``batches_per_dataset[i]`` batches of dataset i)."""
        return self._epoch(epoch)[1].copy()

    def _epoch(self, epoch: int) -> tuple[int, np.ndarray, np.ndarray]:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            labels = np.repeat(np.arange(len(self.num_rows)), self.batches_per_dataset)
            schedule = labels[_rng(self.seed, 0, epoch).permutation(labels.size)]
            rank = np.empty_like(schedule)  # how many earlier batches of the same dataset this epoch
            for i in range(len(self.num_rows)):
                where = np.flatnonzero(schedule == i)
                rank[where] = np.arange(where.size)
            self._epoch_cache = (epoch, schedule, rank)
        return self._epoch_cache

    def _pass(self, dataset: int, pass_index: int) -> np.ndarray:
        cached = self._pass_cache.get(dataset)
        if cached is None or cached[0] != pass_index:
            cached = (pass_index, _rng(self.seed, 1, dataset, pass_index).permutation(self.num_rows[dataset]))
            self._pass_cache[dataset] = cached
        return cached[1]

    def global_batch(self, step: int) -> CorpusBatch:
        """Dataset and rows of global step ``step`` (all ``B`` rows, before the per-process slice)."""
        step = int(step)
        if step < 0:
            raise CorpusError(f"step must be >= 0, got {step}")
        epoch, within = divmod(step, self.batches_per_epoch)
        _, schedule, rank = self._epoch(epoch)
        dataset = int(schedule[within])
        count = epoch * int(self.batches_per_dataset[dataset]) + int(rank[within])  # earlier batches of `dataset`
        pass_index, j = divmod(count, self.full_batches[dataset])
        b = self.global_batch_size
        rows = self._pass(dataset, pass_index)[j * b : (j + 1) * b]
        return CorpusBatch(step, epoch, dataset, rows, rows + self.offsets[dataset])

    def batch_for_step(self, step: int) -> list[int]:
        """This process's items (keys or indices, see ``return_keys``) of global step ``step``."""
        lo = self.process_index * self.per_process
        indices = self.global_batch(step).indices[lo : lo + self.per_process]
        if self.return_keys:
            indices = indices + int(step) * self.total_rows
        return indices.tolist()

    def step_of(self, keys: Sequence[int] | torch.Tensor) -> int:
        """The global step a batch of sample keys was drawn at."""
        first = int(keys[0])
        return first // self.total_rows

    # -- iteration -----------------------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        self._next = step
        while self.num_batches is None or step < self.start + self.num_batches:
            items = self.batch_for_step(step)
            step += 1
            self._next = step
            yield items

    def __len__(self) -> int:
        if self.num_batches is None:
            raise TypeError("an endless CorpusBatchSampler (num_batches=None) has no length")
        return self.num_batches

    # -- resumption ----------------------------------------------------------------------------------------------------
    def _fingerprint(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "global_batch_size": self.global_batch_size,
            "num_rows": list(self.num_rows),
            "weights": list(self.weights),
            "batches_per_epoch": self.batches_per_epoch,
        }

    def state_dict(self) -> dict[str, Any]:
        """``{"step": next global step, ...the settings the stream depends on}`` (the process count is not one)."""
        return {"step": int(self._next), **self._fingerprint()}

    def state_after(self, keys: Sequence[int] | torch.Tensor) -> dict[str, Any]:
        """The state that resumes right after the batch with these sample keys (``batch["sample_keys"]``)."""
        if not self.return_keys:
            raise CorpusError("state_after needs sample keys; this sampler yields bare indices (return_keys=False)")
        return {"step": self.step_of(keys) + 1, **self._fingerprint()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue at ``state["step"]``; refuses a state saved with another seed, batch size, corpus or weights."""
        mine = self._fingerprint()
        diffs = [f"{k}: saved {state.get(k)!r}, now {v!r}" for k, v in mine.items() if k in state and state[k] != v]
        if diffs:
            raise CorpusError(
                "cannot resume the corpus batches: the saved sampler state was made with different settings ("
                + "; ".join(diffs) + ")",
                hint="resume with the same corpus, weights, seed and global batch size (the number of processes "
                "may change)",
            )
        if "step" not in state:
            raise CorpusError(f"not a CorpusBatchSampler state (no 'step'): {sorted(state)}")
        self.start = self._next = int(state["step"])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_epoch_cache"] = None
        state["_pass_cache"] = {}
        return state


# ----------------------------------------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------------------------------------


def _reader_class():
    try:
        from .reader import ArrowWindowDataset
    except ImportError:  # pragma: no cover - before the reader module existed
        from .builder import ArrowWindowDataset
    return ArrowWindowDataset


class CorpusDataset(torch.utils.data.Dataset):
    """The rows of several window datasets as one torch ``Dataset`` (concatenated in corpus order).

    ``__getitems__`` takes indices into the concatenation -- or the sample keys of :class:`CorpusBatchSampler`,
    read as ``key % len(self)`` -- and returns the rows of :class:`~labram_hf.data.ArrowWindowDataset` (read-only
    NumPy views; ``input_values`` [C, T], ``channel_ids`` [C]) in the same order. With ``with_keys`` each row also
    carries ``sample_key`` (what it was asked for) and ``dataset_index``.
    """

    def __init__(self, datasets: Sequence[Any], columns: Sequence[str] = ("input_values", "channel_ids"),
                 with_keys: bool = False):  # fmt: skip
        reader = _reader_class()
        self.columns = list(columns)
        self.readers = [d if isinstance(d, reader) else reader(d, columns=self.columns) for d in datasets]
        self.offsets = np.concatenate([[0], np.cumsum([len(r) for r in self.readers])]).astype(np.int64)
        self.with_keys = bool(with_keys)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        keys = np.asarray(indices, dtype=np.int64).reshape(-1)
        flat = keys % len(self)
        source = np.searchsorted(self.offsets, flat, side="right") - 1
        rows: list[dict[str, Any] | None] = [None] * flat.size
        for i in np.unique(source).tolist():
            where = np.flatnonzero(source == i)
            for pos, row in zip(where.tolist(), self.readers[i].__getitems__((flat[where] - self.offsets[i]).tolist())):
                if self.with_keys:
                    row["sample_key"] = int(keys[pos])
                    row["dataset_index"] = int(i)
                rows[pos] = row
        return rows  # type: ignore[return-value]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]


def _window_samples(dataset, name: str) -> int:
    feature = dataset.features.get("input_values")
    shape = getattr(feature, "shape", None)
    if not shape or shape[-1] is None:
        if len(dataset) == 0:
            raise CorpusError(f"{name}: the dataset has no windows")
        shape = (None, len(dataset[0]["input_values"][0]))
    return int(shape[-1])


class PretrainingCorpus:
    """Several prepared window datasets used together for pre-training, each with a mixing weight.

    Args:
        sources: a spec (see :func:`parse_corpus_spec`: ``"dirA:2,dirB,dirC:0.5"``, a list file, a list of paths
            or ``(path, weight)`` pairs), or in-memory :class:`datasets.Dataset` objects (with ``weights=``).
        weights: weights for in-memory datasets (or to override the spec's).
        weighting: how a weight is read.
            ``"windows"`` (default): a dataset is drawn in proportion to ``weight x its windows`` (whole batches),
            so without weights the mix is proportional to size and ``dirA:2`` draws dirA twice as often as its size
            alone would (an up-sampling factor; a missing weight is 1).
            ``"absolute"``: batches are drawn in proportion to the weights alone (a missing weight is 1).
        split: the split to use for datasets saved as a ``DatasetDict`` (default: ``"train"``).
        check_contract: refuse datasets prepared with different filters or sampling rates
            (:data:`CORPUS_CONTRACT_KEYS`; read from each dataset's ``preprocessor_config.json``).

    Every dataset must have ``input_values`` and ``channel_ids`` columns and one window length that is a whole
    number of 1-s patches, at most 16.
    """

    def __init__(
        self,
        sources: Any,
        *,
        weights: Sequence[float | None] | None = None,
        weighting: str = "windows",
        split: str | None = None,
        check_contract: bool = True,
    ):
        if weighting not in ("windows", "absolute"):
            raise CorpusError(f"weighting must be 'windows' or 'absolute', got {weighting!r}")
        self.weighting = weighting
        in_memory = isinstance(sources, Sequence) and not isinstance(sources, str) and bool(sources) and all(
            hasattr(s, "column_names") for s in sources)  # fmt: skip
        if in_memory:
            self.datasets = list(sources)
            self.names = [f"dataset {i}" for i in range(len(self.datasets))]
            self.paths: list[str | None] = [None] * len(self.datasets)
            given: list[float | None] = [None] * len(self.datasets)
        else:
            parsed = parse_corpus_spec(sources)
            self.paths = [s.path for s in parsed]
            self.names = list(self.paths)
            given = [s.weight for s in parsed]
            self.datasets = [self._load(s.path, split) for s in parsed]
        if weights is not None:
            if len(weights) != len(self.datasets):
                raise CorpusError(f"{len(weights)} weights for {len(self.datasets)} datasets")
            given = [None if w is None else _parse_weight(str(w), f"{n}:{w}") for n, w in zip(self.names, weights)]
        self.weights = [1.0 if w is None else float(w) for w in given]
        if not any(w > 0 for w in self.weights):
            raise CorpusError(f"every dataset of the corpus has weight 0: {dict(zip(self.names, self.weights))}")
        self.num_rows = [len(d) for d in self.datasets]
        self.window_samples = []
        for name, ds in zip(self.names, self.datasets):
            missing = [c for c in ("input_values", "channel_ids") if c not in ds.column_names]
            if missing:
                raise CorpusError(f"{name}: not a window dataset (no column {', '.join(missing)})",
                                  hint="prepare it with `labram prepare` / build_dataset")  # fmt: skip
            t = _window_samples(ds, name)
            if t % PATCH_SIZE or not 1 <= t // PATCH_SIZE <= MAX_TIME_PATCHES:
                raise CorpusError(
                    f"{name}: windows of {t} samples are not 1 to {MAX_TIME_PATCHES} whole patches of {PATCH_SIZE}",
                    hint="prepare it with a whole number of seconds per window, at most 16",
                )
            self.window_samples.append(t)
        if check_contract and not in_memory:
            self._check_contracts()

    @staticmethod
    def _load(path: str, split: str | None):
        import datasets

        p = Path(path).expanduser()
        if not p.is_dir():
            raise CorpusError(f"{path}: no such dataset directory",
                              hint="pass directories written by `labram prepare` / build_dataset")  # fmt: skip
        try:
            ds = datasets.load_from_disk(str(p))
        except (FileNotFoundError, ValueError, OSError) as err:
            raise CorpusError(
                f"{path}: not a saved dataset ({err})",
                hint="pass directories written by `labram prepare` / build_dataset",
            ) from None
        if isinstance(ds, datasets.DatasetDict):
            name = split or ("train" if "train" in ds else None)
            if name not in ds:
                raise CorpusError(f"{path}: has splits {list(ds)}, not {split or 'train'!r}",
                                  hint="pass split= to choose one")  # fmt: skip
            ds = ds[name]
        return ds

    def _check_contracts(self) -> None:
        from .contract import DatasetContractError, LabelSchema, check_same_contract, load_dataset_contract

        reference = None
        for path in self.paths:
            try:
                extractor, _ = load_dataset_contract(path)
            except DatasetContractError as err:
                logger.warning("%s; its preprocessing cannot be compared with the other datasets", err)
                continue
            if reference is None:
                reference = (path, extractor)
                continue
            try:
                check_same_contract((reference[1], LabelSchema()), (extractor, LabelSchema()),
                                    names=(reference[0], path), keys=CORPUS_CONTRACT_KEYS)  # fmt: skip
            except DatasetContractError as err:
                raise CorpusError(
                    f"the corpus mixes differently preprocessed datasets: {err}",
                    hint="prepare every dataset with the same filters and sampling rate",
                ) from None

    # -- views ---------------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.datasets)

    @property
    def total_rows(self) -> int:
        return int(sum(self.num_rows))

    def sampling_weights(self, global_batch_size: int) -> list[float]:
        """The weights the sampler mixes with (see ``weighting``)."""
        if self.weighting == "absolute":
            return list(self.weights)
        return [w * (n // int(global_batch_size)) for w, n in zip(self.weights, self.num_rows)]

    def batch_sampler(self, global_batch_size: int, **kwargs) -> CorpusBatchSampler:
        """A :class:`CorpusBatchSampler` over this corpus (``kwargs``: seed, num_processes, process_index,
        batches_per_epoch, start, num_batches, return_keys)."""
        b = int(global_batch_size)
        for name, n, w in zip(self.names, self.num_rows, self.weights):
            if w > 0 and n < b:
                raise CorpusError(
                    f"{name}: {n} windows, fewer than one global batch of {b}",
                    hint=f"give it weight 0 ({name}:0), use a smaller batch, or prepare more windows",
                )
        weights = self.sampling_weights(b)
        if not any(w > 0 for w in weights):
            raise CorpusError(f"no dataset with a weight > 0 has {b} windows for one full batch")
        return CorpusBatchSampler(self.num_rows, b, weights=weights, **kwargs)

    def torch_dataset(self, columns: Sequence[str] = ("input_values", "channel_ids"), with_keys: bool = False):
        """The :class:`CorpusDataset` to pair with :meth:`batch_sampler` in a ``DataLoader``."""
        return CorpusDataset(self.datasets, columns=columns, with_keys=with_keys)

    def describe(self, global_batch_size: int | None = None) -> str:
        """A table of the datasets: windows, channels x seconds = tokens, weight (and batches per epoch)."""
        lines = []
        sampler = self.batch_sampler(global_batch_size) if global_batch_size else None
        for i, (name, ds, n, t, w) in enumerate(
            zip(self.names, self.datasets, self.num_rows, self.window_samples, self.weights)
        ):
            channels = len(ds[0]["channel_ids"]) if n else 0
            seconds = t / SAMPLING_RATE
            line = (f"{name}: {n} windows, {channels} ch x {seconds:g} s = {channels * t // PATCH_SIZE} tokens, "
                    f"weight {w:g}")  # fmt: skip
            if sampler is not None:
                line += f", {int(sampler.batches_per_dataset[i])} of {sampler.batches_per_epoch} batches per epoch"
            lines.append(line)
        return "\n".join(lines)
