"""Sharded builds: a window dataset written as Parquet shards of bounded size, resumable after a kill, publishable.

``labram prepare --shard-size 500MB`` (:func:`labram_hf.data.build_dataset` with ``shard_size=``) writes, instead of
an Arrow ``save_to_disk`` directory, the layout of :func:`labram_hf.data.streaming.write_shards`, which
:class:`~labram_hf.data.streaming.StreamingCorpus`, ``datasets.load_dataset(DIR, streaming=True)`` and the Hub
read::

    data/train-00000-of-00012.parquet ...   every shard at most --shard-size bytes; rows in input-file order
    shards.json                             {"split", "num_rows", "window_samples", "max_shard_bytes",
                                            "shards": [{"file", "num_rows", "num_bytes"}, ...], "file_groups"}
    preprocessor_config.json, label_schema.json, build_report.json (, channels.png)

File groups and resumption
--------------------------
The input files are cut into contiguous *file groups* of about ``--shard-size`` bytes of input (at least one file
each; the boundaries depend only on the files and the shard size, never on ``--num-proc``). Every group is built on
its own -- ``num_proc`` groups at a time -- and its windows are written as Parquet parts, a new part starting before
one would exceed the shard size. A finished group is renamed in one step into the shard cache beside the output,
``.OUTPUT.shard-cache/group-NNNNN-KEY/``, with a ``manifest.json`` naming its files and parts and holding the
build-report records of its files.

A group's KEY is a digest of its files (real path, size, modification time, and those of their annotation files),
their labels and every setting that changes the rows (window, stride, filters, channel policy, montage, bipolar,
channel selection, labels and label map, straddle and marker rules, trials, features, shard size, error policy and
the package version). A later build of the same output -- after a kill, a crash or a failed file -- reuses every
cached group whose key is unchanged instead of reading its files again, and deletes the other entries (changed
settings or files invalidate them). The cache is only touched while holding the output's lock
(:class:`labram_hf.outputs.OutputTarget`) and is deleted once the output is committed. Shards of a group are
byte-identical whether it was built now or reused, so a resumed build equals an uninterrupted one.

Publishing
----------
:func:`write_dataset_upload_folder` assembles the exact folder uploaded to a Hub *dataset* repository (the shards,
``shards.json``, the contract files, the channel images and a ``README.md`` dataset card whose ``configs`` make
``datasets.load_dataset(REPO)`` find the shards); :func:`push_dataset_folder` uploads it
(``labram prepare --push-to-hub REPO``; ``--dry-run DIR`` writes the folder instead).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DatasetBuildError
from .sources import file_size

logger = logging.getLogger("labram_hf.data")

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "FileGroup",
    "ShardBuild",
    "assemble_dataset_upload_folder",
    "build_shards",
    "finish_shards",
    "open_shards",
    "parse_shard_size",
    "plan_file_groups",
    "push_dataset_folder",
    "shard_cache_dir",
    "shard_files",
    "write_dataset_upload_folder",
]

#: ``--shard-size`` when ``--push-to-hub`` is given without it (the Hub's usual Parquet shard size).
DEFAULT_SHARD_SIZE = "500MB"
#: Bumped whenever the cached group layout changes (part of every group key).
_CACHE_FORMAT = 1
_GROUP_MANIFEST = "manifest.json"
#: Rows per Parquet row group: at most about this many bytes (the unit a streaming reader decodes at once).
_ROW_GROUP_BYTES = 32 * 2**20
#: Room kept in every shard for the Parquet footer, page headers and the schema metadata, plus a relative slack for
#: the encoding overhead per row (repetition/definition levels, snappy framing on incompressible samples).
_FOOTER_BYTES = 64 * 2**10
_ROW_SLACK = 0.02


# ----------------------------------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------------------------------


def parse_shard_size(value: Any) -> int:
    """Bytes from a shard size: an integer or a string such as ``"500MB"`` (10^6), ``"512MiB"`` (2^20) or
    ``"2GB"`` (the units of ``datasets``' ``max_shard_size``).

    Raises:
        DatasetBuildError: not a size, or not positive.
    """
    from datasets.utils.py_utils import convert_file_size_to_int

    text = str(value).strip()
    try:
        size = int(text) if text.isdigit() else int(convert_file_size_to_int(text.replace(" ", "")))
    except (TypeError, ValueError):
        raise DatasetBuildError(f"shard size {value!r} is not a size",
                                hint="e.g. --shard-size 500MB (also KB, GB, MiB, GiB, or a number of bytes)") from None  # fmt: skip
    if size < 1:
        raise DatasetBuildError(f"shard size {value!r} must be positive", hint="e.g. --shard-size 500MB")
    return size


def shard_cache_dir(target: str | os.PathLike) -> Path:
    """The cache of finished file groups of a sharded build of ``target``: ``.NAME.shard-cache`` beside it."""
    target = Path(os.path.abspath(os.fspath(target)))
    return target.parent / f".{target.name}.shard-cache"


def _identity(path: str | os.PathLike) -> list[Any]:
    """What identifies an input file's content cheaply: real path, size and modification time (ns)."""
    real = os.path.realpath(path)
    try:
        p = Path(real)
        if p.is_dir():  # a directory recording (.mff): every file below it
            stats = [q.stat() for q in p.rglob("*") if q.is_file()]
            return [real, sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)]
        st = p.stat()
        return [real, st.st_size, st.st_mtime_ns]
    except OSError:
        return [real, None, None]


def _settings_digest(split: str, features, opts, max_shard_bytes: int) -> str:
    """Digest of everything except the files that decides a group's rows and shards."""
    from .. import __version__

    fields = dataclasses.asdict(opts)
    for transient in ("report_dir", "progress"):  # where reports go and progress bars change no row
        fields.pop(transient, None)
    fields.pop("annotation_files", None)  # part of each file's identity instead
    payload = {"format": _CACHE_FORMAT, "version": __version__, "split": split, "features": features.to_dict(),
               "opts": fields, "max_shard_bytes": int(max_shard_bytes)}  # fmt: skip
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class FileGroup:
    """A contiguous run of input files built (and cached) as one unit; ``key`` identifies its inputs and settings."""

    index: int
    files: tuple[str, ...]
    labels: tuple[Any, ...]
    key: str

    @property
    def name(self) -> str:
        """Its directory in the shard cache."""
        return f"group-{self.index:05d}-{self.key[:16]}"


def plan_file_groups(
    files: Sequence[str | os.PathLike],
    labels: Sequence[Any],
    *,
    max_shard_bytes: int,
    settings_digest: str = "",
    annotation_files: Mapping[str, str] | None = None,
) -> list[FileGroup]:
    """Cut ``files`` into contiguous groups of at most ``max_shard_bytes`` bytes of input (a larger file is a group
    of its own); every group's key digests ``settings_digest`` and its files' identities and labels."""
    groups: list[FileGroup] = []
    run: list[int] = []
    total = 0

    def close() -> None:
        members = [os.fspath(files[i]) for i in run]
        ident = []
        for f in members:
            extra = (annotation_files or {}).get(os.path.realpath(f))
            ident.append([_identity(f), _identity(extra) if extra else None])
        payload = {"settings": settings_digest, "files": ident, "labels": [labels[i] for i in run]}
        key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        groups.append(FileGroup(len(groups), tuple(members), tuple(labels[i] for i in run), key))

    for i, f in enumerate(files):
        size = max(file_size(f), 1)
        if run and total + size > max_shard_bytes:
            close()
            run, total = [], 0
        run.append(i)
        total += size
    if run:
        close()
    return groups


# ----------------------------------------------------------------------------------------------------------------------
# Writing the Parquet parts of one group
# ----------------------------------------------------------------------------------------------------------------------


def _row_bytes(row: Mapping[str, Any]) -> int:
    """Arrow bytes of one row: the samples, the channel ids and list offsets, the strings, the scalars."""
    values = np.asarray(row["input_values"])
    n = values.nbytes + values.shape[0] * (8 + 4) + 64
    for v in row.values():
        if isinstance(v, str):
            n += len(v.encode())
    return n


def _rows_to_table(rows: list[dict[str, Any]], features):
    """The Arrow table of ``rows`` with the schema of ``features`` (its ``huggingface`` metadata included, so
    ``datasets`` reads the columns back as Array2D / ClassLabel); the samples are copied once, without Python
    lists."""
    import pyarrow as pa
    from datasets import Array2D

    schema = features.arrow_schema
    columns = []
    for field in schema:
        feature = features[field.name]
        if isinstance(feature, Array2D):
            arrays = [np.asarray(r[field.name], dtype=feature.dtype) for r in rows]  # each [C_i, T]
            width = feature.shape[1]
            counts = np.array([a.shape[0] for a in arrays], dtype=np.int32)
            flat = np.concatenate([a.reshape(-1) for a in arrays])  # [sum C_i * T]
            row_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)  # [rows + 1] into channels
            channel_offsets = (np.arange(int(counts.sum()) + 1, dtype=np.int64) * width).astype(np.int32)
            inner = pa.ListArray.from_arrays(pa.array(channel_offsets), pa.array(flat))
            storage = pa.ListArray.from_arrays(pa.array(row_offsets), inner).cast(field.type.storage_type)
            columns.append(pa.ExtensionArray.from_storage(field.type, storage))
        else:
            columns.append(pa.array([r[field.name] for r in rows], type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


class _PartWriter:
    """Writes rows into ``part-NNNNN.parquet`` files of at most ``max_bytes`` each (plain encoding, snappy)."""

    def __init__(self, folder: Path, features, max_bytes: int):
        self.folder, self.features, self.max_bytes = folder, features, int(max_bytes)
        self.parts: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._pending_bytes = 0
        self._rows_in_part = 0
        self._writer = None
        self._sink = None
        strings = [f.name for f in features.arrow_schema if str(f.type) == "string"]
        self._options = {"compression": "snappy", "use_dictionary": strings or False}

    def add(self, row: dict[str, Any]) -> None:
        need = int(_row_bytes(row) * (1 + _ROW_SLACK))
        if need + _FOOTER_BYTES > self.max_bytes:
            raise DatasetBuildError(
                f"{row.get('source', 'a recording')}: one window takes about {need} bytes, more than the shard size "
                f"of {self.max_bytes} bytes",
                hint="raise --shard-size (shard_size=)",
            )
        written = self._sink.tell() if self._sink is not None else 0
        if self._rows_in_part and written + self._pending_bytes + need + _FOOTER_BYTES > self.max_bytes:
            self._finish_part()
        self._pending.append(row)
        self._pending_bytes += need
        self._rows_in_part += 1
        if self._pending_bytes >= _ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._pending:
            return
        if self._writer is None:
            name = f"part-{len(self.parts):05d}.parquet"
            self._sink = pa.OSFile(str(self.folder / name), "wb")
            self._writer = pq.ParquetWriter(self._sink, self.features.arrow_schema, **self._options)
            self.parts.append({"file": name, "num_rows": 0, "num_bytes": 0})
        table = _rows_to_table(self._pending, self.features)
        self._writer.write_table(table, row_group_size=table.num_rows)  # one row group
        self.parts[-1]["num_rows"] += table.num_rows
        self._pending, self._pending_bytes = [], 0

    def _finish_part(self) -> None:
        self._flush()
        if self._writer is None:
            return
        self._writer.close()
        self._sink.close()
        self._writer = self._sink = None
        part = self.parts[-1]
        part["num_bytes"] = (self.folder / part["file"]).stat().st_size
        if part["num_bytes"] > self.max_bytes:  # the size estimate is conservative; this would be a bug
            raise DatasetBuildError(f"shard {part['file']} came out at {part['num_bytes']} bytes, over the shard "
                                    f"size of {self.max_bytes}", hint="raise --shard-size")  # fmt: skip
        self._rows_in_part = 0

    def close(self) -> list[dict[str, Any]]:
        self._finish_part()
        return self.parts

    def abort(self) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
            if self._sink is not None:
                self._sink.close()
        except Exception:  # noqa: BLE001 - the folder is removed anyway
            pass


def _build_group(group: FileGroup, features, opts, cache: str, max_shard_bytes: int) -> dict[str, Any]:
    """Build one file group into the shard cache (runs in a worker process or in-process); returns its manifest.

    The group is written into ``NAME.tmp-PID`` and renamed to ``NAME`` once complete, so the cache only ever holds
    finished groups (a kill leaves at most a ``.tmp-PID`` folder, removed by the next build).
    """
    from .build import _generate, _read_records

    final = Path(cache) / group.name
    tmp = Path(cache) / f"{group.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    writer = _PartWriter(tmp, features, max_shard_bytes)
    try:
        group_opts = dataclasses.replace(opts, report_dir=str(tmp))
        for row in _generate(list(group.files), list(group.labels), group_opts):
            writer.add(row)
        parts = writer.close()
        records = _read_records(tmp)
        for report in tmp.glob("*.jsonl"):
            report.unlink()
        manifest = {"key": group.key, "index": group.index, "files": list(group.files), "parts": parts,
                    "num_rows": sum(p["num_rows"] for p in parts), "records": records}  # fmt: skip
        (tmp / _GROUP_MANIFEST).write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
        os.rename(tmp, final)
    except BaseException:
        writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _cached_manifest(folder: Path, group: FileGroup) -> dict[str, Any] | None:
    """The manifest of a finished group in the cache, if it matches ``group`` and all its parts are there."""
    try:
        manifest = json.loads((folder / _GROUP_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("key") != group.key or manifest.get("files") != list(group.files):
        return None
    for part in manifest.get("parts", []):
        p = folder / part["file"]
        if not p.is_file() or p.stat().st_size != part["num_bytes"]:
            return None
    return manifest


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or no hard links
        shutil.copy2(src, dst)


# ----------------------------------------------------------------------------------------------------------------------
# The build
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class ShardBuild:
    """What :func:`build_shards` produced: the per-file records, the rows, and the manifest to write."""

    records: list[dict[str, Any]]
    num_rows: int
    manifests: list[dict[str, Any]]
    groups: list[FileGroup]
    reused: int
    files_processed: int


def build_shards(
    split: str,
    files: Sequence[str | os.PathLike],
    labels: Sequence[Any],
    features,
    opts,
    *,
    cache: Path,
    max_shard_bytes: int,
    num_proc: int = 1,
) -> ShardBuild:
    """Build every file group of one split into ``cache``, reusing the finished groups of an earlier build.

    Must run while the output's lock is held (the cache belongs to that output). Cache entries that are not
    finished groups of this build (other settings, changed files, ``.tmp`` folders of killed runs) are deleted
    first. Groups run in-process with ``num_proc=1`` (else in a process pool, ``num_proc`` at a time); the first
    failure stops the build, after the groups already running have finished (and are cached).
    """
    digest = _settings_digest(split, features, opts, max_shard_bytes)
    groups = plan_file_groups([os.fspath(f) for f in files], list(labels), max_shard_bytes=max_shard_bytes,
                              settings_digest=digest, annotation_files=opts.annotation_files)  # fmt: skip
    cache.mkdir(parents=True, exist_ok=True)
    by_name = {g.name: g for g in groups}
    manifests: dict[int, dict[str, Any]] = {}
    for entry in sorted(cache.iterdir()):
        group = by_name.get(entry.name)
        manifest = _cached_manifest(entry, group) if group is not None and entry.is_dir() else None
        if manifest is not None:
            manifests[group.index] = manifest
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    reused = len(manifests)
    todo = [g for g in groups if g.index not in manifests]
    if reused:
        logger.info("reusing %d of %d finished file group(s) from an earlier build", reused, len(groups))
    worker_opts = dataclasses.replace(opts, progress=False)
    bar = None
    if opts.progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="file groups", unit="group", leave=False)
    try:
        n_proc = max(1, min(int(num_proc or 1), len(todo)))
        if n_proc == 1:
            for group in todo:
                manifests[group.index] = _build_group(group, features, worker_opts, str(cache), max_shard_bytes)
                if bar is not None:
                    bar.update(1)
        else:
            _run_pool(todo, features, worker_opts, cache, max_shard_bytes, n_proc, manifests, bar)
    finally:
        if bar is not None:
            bar.close()
    ordered = [manifests[g.index] for g in groups]
    return ShardBuild(
        records=[rec for m in ordered for rec in m["records"]],
        num_rows=sum(int(m["num_rows"]) for m in ordered),
        manifests=ordered,
        groups=groups,
        reused=reused,
        files_processed=sum(len(g.files) for g in todo),
    )


def _run_pool(todo, features, opts, cache: Path, max_shard_bytes: int, n_proc: int, manifests: dict, bar) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=n_proc)
    try:
        futures = {pool.submit(_build_group, g, features, opts, str(cache), max_shard_bytes): g for g in todo}
        for future in as_completed(futures):
            try:
                manifests[futures[future].index] = future.result()
            except BrokenProcessPool as err:
                raise DatasetBuildError(f"a worker process died while building file group "
                                        f"{futures[future].index} ({err})",
                                        hint="check the free memory; run again to reuse the finished groups") from None  # fmt: skip
            if bar is not None:
                bar.update(1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # groups already running finish (and stay cached)


def finish_shards(build: ShardBuild, work: Path, split: str, features, max_shard_bytes: int, cache: Path) -> dict:
    """Put the shards of ``build`` into ``work/data`` (hard links into the cache where possible) under their final
    names and write ``shards.json``; returns the report facts."""
    from .streaming import SHARDS_MANIFEST

    total = sum(len(m["parts"]) for m in build.manifests)
    (work / "data").mkdir(exist_ok=True)
    shards, group_info = [], []
    for group, manifest in zip(build.groups, build.manifests):
        names = []
        for part in manifest["parts"]:
            name = f"data/{split}-{len(shards):05d}-of-{total:05d}.parquet"
            _link_or_copy(cache / group.name / part["file"], work / name)
            shards.append({"file": name, "num_rows": int(part["num_rows"]), "num_bytes": int(part["num_bytes"])})
            names.append(name)
        group_info.append({"files": len(group.files), "rows": int(manifest["num_rows"]), "shards": names})
    feature = features["input_values"]
    info = {
        "split": split,
        "num_rows": build.num_rows,
        "window_samples": getattr(feature, "shape", (None, None))[-1],
        "max_shard_bytes": int(max_shard_bytes),
        "shards": shards,
        "file_groups": group_info,
    }
    (work / SHARDS_MANIFEST).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return {
        "shards": {
            "max_shard_bytes": int(max_shard_bytes),
            "num_shards": len(shards),
            "file_groups": len(build.groups),
            "file_groups_reused": build.reused,
            "files_processed": build.files_processed,
        }
    }


def shard_files(dataset_dir: str | os.PathLike) -> list[Path]:
    """The shard files of a sharded build (from its ``shards.json``)."""
    from .streaming import SHARDS_MANIFEST

    root = Path(dataset_dir)
    try:
        info = json.loads((root / SHARDS_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DatasetBuildError(f"{root}: not a sharded dataset ({SHARDS_MANIFEST} unreadable: {err})",
                                hint="build it with labram prepare --shard-size SIZE") from None  # fmt: skip
    return [root / s["file"] for s in info["shards"]]


def open_shards(dataset_dir: str | os.PathLike, features=None):
    """A streaming :class:`datasets.IterableDataset` over the shards of a sharded build (nothing is copied)."""
    import datasets

    files = [str(f) for f in shard_files(dataset_dir)]
    return datasets.load_dataset("parquet", data_files={"train": files}, split="train", streaming=True,
                                 features=features)  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------------
# Publishing on the Hub
# ----------------------------------------------------------------------------------------------------------------------


def _dataset_card(dataset_dir: Path, repo_id: str | None, images: Iterable[str]) -> str:
    from huggingface_hub import DatasetCardData

    from .contract import LABEL_SCHEMA_FILE, PREPROCESSOR_FILE
    from .streaming import SHARDS_MANIFEST

    info = json.loads((dataset_dir / SHARDS_MANIFEST).read_text(encoding="utf-8"))
    split = info.get("split", "train")
    fe = json.loads((dataset_dir / PREPROCESSOR_FILE).read_text(encoding="utf-8"))
    schema = {}
    if (dataset_dir / LABEL_SCHEMA_FILE).is_file():
        schema = json.loads((dataset_dir / LABEL_SCHEMA_FILE).read_text(encoding="utf-8"))
    data = DatasetCardData(
        configs=[{"config_name": "default", "data_files": [{"split": split, "path": f"data/{split}-*"}]}],
        tags=["eeg", "labram", "labram-hf"],
    )
    name = repo_id or dataset_dir.name
    rate = fe.get("sampling_rate", 200)
    samples = info.get("window_samples")
    settings = {k: fe.get(k) for k in ("l_freq", "h_freq", "notch_freq", "channel_policy", "montage", "bipolar",
                                       "channels", "window_seconds", "stride_seconds") if k in fe}  # fmt: skip
    labels = "none"
    if schema.get("kind") == "class":
        labels = ", ".join(f"{i}: {n}" for i, n in enumerate(schema.get("names") or []))
    elif schema.get("kind") == "int":
        labels = "integers"
    lines = [
        "---", data.to_yaml(), "---", "", f"# {name}", "",
        "EEG windows prepared for [LaBraM](https://github.com/935963004/LaBraM) with labram-hf "
        "(`labram prepare`).", "",
        f"* rows: {info.get('num_rows')} windows of {samples} samples ({samples / rate if samples else '?'} s at "
        f"{rate} Hz), in {len(info.get('shards', []))} Parquet shard(s) of at most {info.get('max_shard_bytes')} "
        "bytes",
        f"* columns: `input_values` [channels, time] in model units, `channel_ids` (LaBraM vocabulary), "
        f"{'`label`, ' if schema.get('kind') in ('class', 'int') else ''}`source`, `start`",
        f"* labels: {labels}",
        f"* preprocessing (`preprocessor_config.json`): {json.dumps(settings)}", "",
        "```python", "from datasets import load_dataset", "",
        f'ds = load_dataset("{name}", split="{split}", streaming=True)', "",
        "from labram_hf.data.streaming import StreamingCorpus", "",
        f'stream = StreamingCorpus("hf://datasets/{name}", global_batch_size=64)', "```",
    ]  # fmt: skip
    for image in images:
        lines += ["", f"![channel mapping]({image})"]
    return "\n".join(lines) + "\n"


def write_dataset_upload_folder(dataset_dir: str | os.PathLike, folder: str | os.PathLike,
                                repo_id: str | None = None) -> Path:  # fmt: skip
    """Write the upload folder of a sharded build into the existing empty ``folder``: ``data/*.parquet`` (hard links
    where possible), ``shards.json``, ``preprocessor_config.json``, ``label_schema.json``, the ``channels*.png``
    images and a ``README.md`` dataset card. ``build_report.json`` stays local (it names local paths)."""
    from .contract import LABEL_SCHEMA_FILE, PREPROCESSOR_FILE
    from .streaming import SHARDS_MANIFEST

    dataset_dir, folder = Path(dataset_dir), Path(folder)
    files = shard_files(dataset_dir)
    (folder / "data").mkdir(exist_ok=True)
    for f in files:
        _link_or_copy(f, folder / "data" / f.name)
    for name in (SHARDS_MANIFEST, PREPROCESSOR_FILE, LABEL_SCHEMA_FILE):
        if (dataset_dir / name).is_file():
            shutil.copy2(dataset_dir / name, folder / name)
    images = sorted(p.name for p in dataset_dir.glob("channels*.png"))
    for name in images:
        shutil.copy2(dataset_dir / name, folder / name)
    (folder / "README.md").write_text(_dataset_card(dataset_dir, repo_id, images), encoding="utf-8")
    return folder


def assemble_dataset_upload_folder(dataset_dir: str | os.PathLike, output_dir: str | os.PathLike, *,
                                   repo_id: str | None = None, overwrite: bool = False,
                                   inputs: Iterable[str | os.PathLike] = ()) -> Path:  # fmt: skip
    """:func:`write_dataset_upload_folder` into ``output_dir``, written safely (:class:`~labram_hf.outputs.
    OutputTarget`: never over the dataset or an input, an existing folder only with ``overwrite``)."""
    from ..outputs import OutputTarget

    target = OutputTarget(output_dir, inputs=[dataset_dir, *inputs], overwrite=overwrite, kind="dir",
                          what="upload folder", command="prepare")  # fmt: skip
    with target as out:
        write_dataset_upload_folder(dataset_dir, out.work, repo_id=repo_id)
        return out.commit()


def push_dataset_folder(folder: str | os.PathLike, repo_id: str, *, private: bool = False,
                        commit_message: str | None = None, api=None) -> str:  # fmt: skip
    """Create (or reuse) the dataset repository ``repo_id`` and upload ``folder`` as one commit; returns the commit
    URL. ``api`` defaults to :class:`huggingface_hub.HfApi` (token from ``hf auth login`` or ``HF_TOKEN``)."""
    from ..hub import push_folder

    return push_folder(folder, repo_id, private=private, api=api, repo_type="dataset",
                       commit_message=commit_message or "Upload LaBraM window dataset with labram-hf")  # fmt: skip
