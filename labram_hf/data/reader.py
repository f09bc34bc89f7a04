"""Fast torch loading of window datasets: :class:`ArrowWindowDataset`, a zero-copy, batched view.

``datasets`` reads a row by converting it to Python objects (``dataset[i]``) or to tensors via its formatter; for
window datasets most of that time goes into re-assembling the nested ``input_values`` lists. The Arrow buffers of a
saved dataset are memory-mapped and laid out exactly like a NumPy ``[rows * channels, time]`` array, so this view
wraps them once as NumPy arrays and serves a batch as slices of them (``__getitems__``), which the collator copies
once into the batch tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["ArrowWindowDataset"]


def _index_mapping(dataset) -> np.ndarray | None:
    """The row mapping of a ``select``-ed / ``shuffle``-d dataset (``None`` when rows are in table order).

    ``datasets`` keeps it in the private ``Dataset._indices`` (an Arrow table of row numbers) and has no public
    accessor. The public alternative, ``dataset.flatten_indices()``, rewrites every selected row into a new Arrow
    file -- for a 60 GB TUAB training set a full copy of the data on every shuffle -- which this view exists to
    avoid. So the private attribute is read; should a ``datasets`` version hide it, a dataset whose length differs
    from its table's is refused with a clear message instead of being read in the wrong order.
    """
    indices = getattr(dataset, "_indices", None)
    if indices is None:
        if len(dataset) != dataset.data.num_rows:  # pragma: no cover - a datasets layout without _indices
            raise ValueError("cannot see this dataset's row mapping; call dataset.flatten_indices() first")
        return None
    return np.asarray(indices.column(0).to_numpy(), dtype=np.int64)


class ArrowWindowDataset:
    """A ``torch.utils.data.Dataset`` over a window dataset with zero-copy, batched reads.

    At construction the memory-mapped Arrow buffers of ``input_values`` and ``channel_ids`` are wrapped as NumPy
    views (no data is read); a row is then a slice of that view. ``DataLoader`` calls :meth:`__getitems__` with
    all indices of a batch, which returns the rows as read-only NumPy views in one Python call, and
    :class:`labram_hf.data.collators.LaBraMDataCollator` copies them once, straight into the batch tensor. Labels
    (column ``label``) come out as ``labels``.

    Args:
        dataset: a :class:`datasets.Dataset` built by :func:`build_dataset` (or ``load_from_disk``); ``select`` /
            ``shuffle`` index mappings are honoured.
        columns: columns to return (default: ``input_values``, ``channel_ids`` and ``label`` when present);
            other columns are read with ``dataset[index]`` semantics.
    """

    def __init__(self, dataset, columns: Sequence[str] | None = None):
        if columns is None:
            columns = [c for c in ("input_values", "channel_ids", "label") if c in dataset.column_names]
        self.dataset = dataset
        self.columns = list(columns)
        table = dataset.with_format(None).data  # memory-mapped pyarrow table
        n_rows = table.num_rows
        self._index = _index_mapping(dataset)
        self._values = self._channels = None
        if "input_values" in self.columns:
            self._values = _RowViews(table.column("input_values"), two_d=True)
        if "channel_ids" in self.columns:
            self._channels = _RowViews(table.column("channel_ids"), two_d=False)
        self._scalars: dict[str, list[Any] | np.ndarray] = {}
        for col in self.columns:
            if col in ("input_values", "channel_ids"):
                continue
            arr = table.column(col)
            try:
                self._scalars[col] = arr.to_numpy()
            except Exception:  # noqa: BLE001 - non-numeric columns
                self._scalars[col] = arr.to_pylist()
        self._n = n_rows if self._index is None else len(self._index)

    def __len__(self) -> int:
        return self._n

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers (spawn) get the dataset by file reference and rebuild the views, never the data
        return {"dataset": self.dataset, "columns": self.columns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["dataset"], state["columns"])

    def _rows(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
            raise IndexError(f"index out of range for {self._n} rows")
        idx = np.where(idx < 0, idx + self._n, idx)
        if self._index is not None:
            idx = self._index[idx]
        out: list[dict[str, Any]] = [{} for _ in range(len(idx))]
        if self._values is not None:
            for row, v in zip(out, self._values.get(idx)):
                row["input_values"] = v
        if self._channels is not None:
            for row, v in zip(out, self._channels.get(idx)):
                row["channel_ids"] = v
        for col, values in self._scalars.items():
            key = "labels" if col == "label" else col
            for row, i in zip(out, idx):
                row[key] = values[i]
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._rows([int(index)])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        return self._rows(indices)


class _RowViews:
    """Zero-copy NumPy views of the rows of a (chunked) list column: list<list<float32>> or list<int64>."""

    def __init__(self, column, two_d: bool):
        import pyarrow as pa

        self.views: list[np.ndarray] = []  # per chunk: [n_inner, T] (2-D column) or flat values
        starts: list[np.ndarray] = []
        stops: list[np.ndarray] = []
        chunk_ids: list[np.ndarray] = []
        for k, chunk in enumerate(column.chunks):
            storage = chunk.storage if isinstance(chunk, pa.ExtensionArray) else chunk
            outer = storage.offsets.to_numpy().astype(np.int64)
            child = storage.values
            if two_d:
                inner = child.offsets.to_numpy().astype(np.int64)
                flat = child.values.to_numpy(zero_copy_only=False)
                lengths = np.diff(inner[outer[0] : outer[-1] + 1])
                t = int(lengths[0]) if lengths.size else 0
                if lengths.size and not np.all(lengths == t):  # pragma: no cover - not produced by build_dataset
                    raise ValueError("input_values rows have channels of different lengths")
                lo = int(inner[outer[0]]) if lengths.size else 0
                n_inner = int(outer[-1] - outer[0])
                self.views.append(flat[lo : lo + n_inner * t].reshape(n_inner, t) if t else np.zeros((0, 0), "f4"))
                base = outer[0]
            else:
                self.views.append(child.to_numpy(zero_copy_only=False))
                base = 0
            starts.append(outer[:-1] - base)
            stops.append(outer[1:] - base)
            chunk_ids.append(np.full(len(outer) - 1, k, dtype=np.int64))
        self.starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        self.stops = np.concatenate(stops) if stops else np.zeros(0, np.int64)
        self.chunk = np.concatenate(chunk_ids) if chunk_ids else np.zeros(0, np.int64)
        self.single = len(self.views) == 1

    def get(self, idx: np.ndarray) -> list[np.ndarray]:
        starts, stops = self.starts[idx].tolist(), self.stops[idx].tolist()
        if self.single:
            view = self.views[0]
            return [view[a:b] for a, b in zip(starts, stops)]
        chunks = self.chunk[idx].tolist()
        return [self.views[c][a:b] for c, a, b in zip(chunks, starts, stops)]
