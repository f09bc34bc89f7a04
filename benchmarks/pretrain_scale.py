"""Pre-training at corpus scale: prepare, store, stream and train on >= 50 hours of real EEG.

The corpus is built from the REAL sample recordings (``labram_hf.sample_data``: the absence and spasms recordings,
30 + 37 minutes, exported once to EDF with their 21 known electrodes) as hard links with distinct names -- the
builder reads each path as its own file (it only merges paths that resolve to the same *path*) -- in three montage
groups with the original's window rule (channels x seconds ~ 256 tokens, :func:`window_seconds_for_channels`):

* ``m19x13``: the 19 10-20 electrodes without A1/A2, 13-s windows (247 tokens);
* ``m8x16``: 8 electrodes (Fp1 Fp2 C3 C4 O1 O2 Cz Pz), 16-s windows (128 tokens);
* ``m21x12``: all 21 electrodes, 12-s windows (252 tokens).

Each group is prepared as two datasets (halves ``a`` and ``b``); the half corpus (the three ``a`` datasets) and the
full corpus (all six) are the two sizes the memory measurements compare. Measured, in one run:

* **prepare**: :func:`labram_hf.data.build_dataset` wall time per dataset -> EEG hours per second per core
  (``--num-proc`` processes), and bytes on disk per EEG hour (Arrow; and Parquet shards from
  :func:`labram_hf.data.streaming.write_shards`);
* **data-path memory**: in a fresh child process per size, the pre-training data path alone
  (:class:`~labram_hf.data.corpus.PretrainingCorpus` + :class:`~labram_hf.training.inputs.CorpusBatches` with
  DataLoader workers; :class:`~labram_hf.data.streaming.StreamingCorpus` with one worker) reads ``--rss-batches``
  batches; peak RSS of the main process (``VmHWM``; ``getrusage(RUSAGE_SELF)`` would report the launching
  process's peak, which Linux carries across ``exec``) and of the largest DataLoader worker
  (``resource.getrusage(RUSAGE_CHILDREN)``, which counts the pages a forked worker shares with the main process),
  and the anonymous (``RssAnon``: what the data path allocates) and file-backed (``RssFile``: memory-mapped Arrow
  pages touched so far, page cache the kernel reclaims under pressure) parts of the main process and of every
  worker (``/proc/PID/status``, sampled after each batch);
* **training**: ``labram_hf.training`` pre-training (the :func:`~labram_hf.training.train_loop` of
  ``examples/pretrain.py``, :class:`~labram_hf.training.pretraining.MaskedModelingStep`) over the full corpus with
  DataLoader workers, in a child process: samples/s and tokens/s (steady state: from the end of step 1), and the
  fraction of the step time the loop spent blocked on the DataLoader (target < 5 %);
* **original** (``--original DIR``): the original ``engine_for_pretraining`` step body (frozen VQ-NSP
  ``get_codebook_indices``, ``NeuralTransformerForMEM`` forward on the mask and its complement, the two
  cross-entropies, backward, gradient clipping 3.0, AdamW) vs our step on the same batch and the same mask, with the
  same weights (converted with ``labram_hf.conversion``), interleaved in one process. DIR holds measurement copies of
  the original ``modeling_finetune.py``, ``modeling_pretrain.py``, ``modeling_vqnsp.py`` and
  ``norm_ema_quantizer.py`` (github.com/935963004/LaBraM; never part of this repository; see
  ``benchmarks/original_labram.py`` for einops / timm). The engine itself is not called: it ends every step with
  ``torch.cuda.synchronize()`` and needs the repository's ``utils``; on the CPU its ``NativeScaler`` is a plain
  backward + clip + step, which is what runs here.

Usage::

    python benchmarks/pretrain_scale.py --original /tmp/labram_original      # ~54 h corpus, writes the JSON below
    python benchmarks/pretrain_scale.py --hours 2 --steps 3 --rss-batches 10 --output /tmp/p.json   # smoke run

Writes ``benchmarks/results/pretrain_scale.json`` (``--output``). Not a test: the numbers depend on the machine and
its load (recorded). The work directory (``--work``, default a temporary one) holds ~2.5 GB for 50 h and is removed
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The 21 electrodes of the eeghdf sample recordings that LaBraM knows (``labram_hf.data._testing.EEGHDF_KNOWN``).
SOURCES = ("absence", "spasms")
M19 = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4", "T5", "T6", "Fz", "Cz",
       "Pz"]  # fmt: skip
M8 = ["Fp1", "Fp2", "C3", "C4", "O1", "O2", "Cz", "Pz"]
#: group -> (channel selection or None for all 21, window seconds)
GROUPS = {"m19x13": (M19, 13), "m8x16": (M8, 16), "m21x12": (None, 12)}
HALVES = ("a", "b")


# ----------------------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------------------


def machine_info() -> dict:
    import datasets
    import torch

    import labram_hf

    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "datasets": datasets.__version__,
        "labram_hf": getattr(labram_hf, "__version__", "?"),
    }


def disk_bytes(path: Path) -> int:
    """Bytes the files below ``path`` occupy (allocated blocks; hard links counted once)."""
    seen, total = set(), 0
    for root, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            if st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            total += st.st_blocks * 512
    return total


def proc_status(pid: int | str = "self") -> dict:
    """VmHWM / VmRSS / RssAnon / RssFile of a process (MiB; default: this one)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) / 1024
            if key == "PPid":
                out[key] = int(value)
    except (OSError, ValueError):  # pragma: no cover - not Linux, or the process just ended
        pass
    return out


def worker_status() -> dict[int, dict]:
    """:func:`proc_status` of this process's children (the DataLoader workers)."""
    me, out = os.getpid(), {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            status = proc_status(entry.name)
            if status.get("PPid") == me:
                out[int(entry.name)] = status
    return out


def run_child(mode: str, payload: dict, work: Path, timeout: float) -> dict:
    """Run this script as ``--child MODE`` in a fresh interpreter; returns the JSON it writes."""
    spec = work / f"child_{mode}_{int(time.time() * 1000)}.json"
    spec.write_text(json.dumps(payload))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode, "--child-spec", str(spec)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)  # fmt: skip
    result = spec.with_suffix(".out.json")
    if proc.returncode != 0 or not result.exists():
        return {"error": f"child {mode} failed ({proc.returncode})", "stderr": proc.stderr[-3000:]}
    return json.loads(result.read_text())


# ----------------------------------------------------------------------------------------------------------------------
# Corpus: sources, layout, prepare, shards
# ----------------------------------------------------------------------------------------------------------------------


def export_sources(work: Path) -> dict[str, tuple[Path, float]]:
    """The two eeghdf recordings exported once to EDF (21 known electrodes): name -> (path, seconds)."""
    import mne

    from labram_hf.data._testing import export_crop

    out = {}
    for name in SOURCES:
        dest = work / "src" / f"{name}.edf"
        if not dest.exists():
            export_crop(name, dest, 0.0, 1e9)
        raw = mne.io.read_raw_edf(dest, preload=False, verbose="error")
        out[name] = (dest, raw.n_times / raw.info["sfreq"])
    return out


def lay_out(work: Path, sources: dict, hours: float) -> dict[str, dict]:
    """Hard-linked copies per (group, half) directory; returns dataset name -> {files dir, hours, channels, window}."""
    pair_hours = sum(seconds for _, seconds in sources.values()) / 3600
    pairs = max(1, math.ceil(hours / (len(GROUPS) * len(HALVES)) / pair_hours))
    layout = {}
    for group, (channels, window) in GROUPS.items():
        for half in HALVES:
            name = f"{group}{half}"
            folder = work / "recordings" / name
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(pairs):
                for src, (path, _) in sources.items():
                    dest = folder / f"{name}_{k:03d}_{src}.edf"
                    if not dest.exists():
                        try:
                            os.link(path, dest)
                        except OSError:  # another file system: a real copy
                            shutil.copyfile(path, dest)
            layout[name] = {"recordings": str(folder), "files": pairs * len(sources), "hours": pairs * pair_hours,
                            "channels": channels, "window_seconds": window, "half": half}  # fmt: skip
    return layout


def prepare(work: Path, layout: dict, num_proc: int) -> dict:
    from labram_hf.data import build_dataset

    first = next(iter(layout.values()))  # untimed warm-up: imports, filter design, worker start
    one = sorted(Path(first["recordings"]).iterdir())[0]
    build_dataset([one], work / "warmup", channels=first["channels"], window_seconds=first["window_seconds"],
                  num_proc=1, overwrite=True, progress=False)  # fmt: skip
    shutil.rmtree(work / "warmup", ignore_errors=True)
    rows, total_seconds, total_hours, total_bytes = {}, 0.0, 0.0, 0
    for name, info in layout.items():
        out = work / "datasets" / name
        started = time.perf_counter()
        ds = build_dataset(info["recordings"], out, channels=info["channels"], window_seconds=info["window_seconds"],
                           num_proc=num_proc, overwrite=True, progress=False)  # fmt: skip
        seconds = time.perf_counter() - started
        size = disk_bytes(out)
        info["dataset"] = str(out)
        rows[name] = {"eeg_hours": info["hours"], "windows": len(ds), "seconds": seconds, "bytes": size,
                      "channels": len(ds[0]["channel_ids"]), "window_seconds": info["window_seconds"],
                      "eeg_hours_per_s": info["hours"] / seconds}  # fmt: skip
        total_seconds += seconds
        total_hours += info["hours"]
        total_bytes += size
        print(f"  prepared {name}: {info['hours']:.1f} h -> {len(ds)} windows in {seconds:.1f} s", flush=True)
    return {
        "num_proc": num_proc,
        "eeg_hours": total_hours,
        "seconds": total_seconds,
        "eeg_hours_per_s": total_hours / total_seconds,
        "eeg_hours_per_s_per_core": total_hours / total_seconds / num_proc,
        "bytes": total_bytes,
        "bytes_per_eeg_hour": total_bytes / total_hours,
        "datasets": rows,
    }


def shard(work: Path, layout: dict, max_shard_bytes: int) -> dict:
    from labram_hf.data.streaming import write_shards

    started, total = time.perf_counter(), 0
    for name, info in layout.items():
        out = work / "shards" / name
        files = write_shards(info["dataset"], out, max_shard_bytes=max_shard_bytes, overwrite=True)
        info["shards"] = str(out)
        info["shard_files"] = len(files)
        total += disk_bytes(out)
    seconds = time.perf_counter() - started
    hours = sum(info["hours"] for info in layout.values())
    return {"seconds": seconds, "eeg_hours_per_s": hours / seconds, "bytes": total, "bytes_per_eeg_hour": total / hours,
            "max_shard_bytes": max_shard_bytes, "files": sum(info["shard_files"] for info in layout.values())}


# ----------------------------------------------------------------------------------------------------------------------
# Children
# ----------------------------------------------------------------------------------------------------------------------


def child_rss(spec: dict) -> dict:
    """Read ``batches`` batches through the pre-training data path; report peak RSS and throughput."""
    import resource

    import torch

    from labram_hf.data.collators import LaBraMDataCollator
    from labram_hf.data.corpus import PretrainingCorpus
    from labram_hf.data.streaming import StreamingCorpus
    from labram_hf.training.inputs import CorpusBatches, StreamBatches

    torch.set_num_threads(1)
    before = proc_status()
    started = time.perf_counter()
    if spec["kind"] == "corpus":
        data = CorpusBatches(PretrainingCorpus(spec["sources"]), spec["batch_size"], seed=0)
        workers = spec["workers"]
    else:
        data = StreamBatches(StreamingCorpus(spec["sources"], spec["batch_size"], seed=0, yield_state=True,
                                             shuffle_buffer=spec["shuffle_buffer"]))  # fmt: skip
        workers = min(1, spec["workers"])
    opened = time.perf_counter() - started
    loader = data.loader(0, spec["batches"], collate=LaBraMDataCollator(), num_workers=workers, prefetch_factor=2)
    count, windows, checksum = 0, 0, 0.0
    peaks = {"VmHWM": 0.0, "RssAnon": 0.0, "RssFile": 0.0}  # the largest worker value seen
    started = time.perf_counter()
    sampling = 0.0
    for batch in loader:
        count += 1
        windows += batch["input_values"].shape[0]
        checksum += float(batch["input_values"][:, 0, :10].sum())
        tick = time.perf_counter()
        for status in worker_status().values():
            for key in peaks:
                peaks[key] = max(peaks[key], status.get(key, 0.0))
        sampling += time.perf_counter() - tick
    seconds = time.perf_counter() - started - sampling
    after = proc_status()
    del loader
    return {
        "kind": spec["kind"],
        "eeg_hours": spec["hours"],
        "sources": len(spec["sources"].split(",")),
        "windows_in_corpus": data.num_windows,
        "batches": count,
        "windows_read": windows,
        "workers": workers,
        "open_seconds": opened,
        "read_seconds": seconds,
        "windows_per_s": windows / seconds,
        "peak_rss_main_mib": after.get("VmHWM"),  # since exec (getrusage's RUSAGE_SELF keeps the parent's peak)
        "peak_rss_largest_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "worker_peaks_mib": peaks,  # sampled after every batch: VmHWM, and the anonymous / file-backed parts
        "main_after_imports_mib": before,
        "main_at_end_mib": after,
        "checksum": checksum,
    }


def child_train(spec: dict) -> dict:
    """Pre-train ``steps`` steps over the corpus with the training package; per-step time stamps via ``on_log``."""
    import torch

    from labram_hf import LaBraMTokenizerModel
    from labram_hf.training import train_loop
    from labram_hf.training.pretraining import (
        MaskedModelingStep,
        PretrainingArguments,
        build_model,
        start_pretraining,
    )

    torch.set_num_threads(spec["threads"])
    args = PretrainingArguments(
        corpus=spec["sources"], tokenizer=spec["tokenizer"], output_dir=spec["output_dir"], preset=spec["preset"],
        per_device_batch_size=spec["batch_size"], max_steps=spec["steps"], warmup_steps=1, log_every=1,
        report_to="none", num_workers=spec["workers"], seed=0, cpu=True,
    )  # fmt: skip
    accelerator, data, _ = start_pretraining(args)
    tokenizer = LaBraMTokenizerModel.from_pretrained(args.tokenizer).eval().requires_grad_(False)
    model = build_model(args, tokenizer.config.n_code)
    stamps: dict[int, float] = {}

    def on_log(step, logs, unwrapped):
        stamps[step] = time.perf_counter()

    step_fn = MaskedModelingStep(tokenizer, seed=args.seed)
    _, summary = train_loop(accelerator, args, model, data, step_fn, on_log=on_log)
    # tokens of every step, from the sampler's plan (the same seed and global batch)
    sampler = data.batch_sampler(args.per_device_batch_size, seed=args.seed)  # data: the PretrainingCorpus
    shapes = [(len(ds[0]["channel_ids"]), t // 200) for ds, t in zip(data.datasets, data.window_samples)]
    tokens = []
    for k in range(args.max_steps):
        channels, patches = shapes[sampler.global_batch(k).dataset_index]
        tokens.append(args.per_device_batch_size * channels * patches)
    steady = stamps[args.max_steps] - stamps[1]
    steps = args.max_steps - 1
    return {
        "preset": spec["preset"],
        "tokenizer_preset": spec["tokenizer_preset"],
        "batch_size": args.per_device_batch_size,
        "steps": args.max_steps,
        "workers": args.num_workers,
        "torch_threads": spec["threads"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": summary["train_seconds"],
        "first_batch_seconds": summary["first_batch_seconds"],
        "steady_seconds": steady,
        "seconds_per_step": steady / steps,
        "samples_per_s": steps * args.per_device_batch_size / steady,
        "tokens_per_s": sum(tokens[1:]) / steady,
        "mean_tokens_per_sample": sum(tokens) / len(tokens) / args.per_device_batch_size,
        "data_wait_seconds": summary["data_wait_seconds"],
        "data_wait_fraction": summary["data_wait_seconds"] / steady,
        "last_loss": summary["last_logs"]["loss"],
    }


def child_original(spec: dict) -> dict:
    """The original engine_for_pretraining step vs ours on the same batch, mask and weights (interleaved)."""
    import importlib

    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(HERE))
    from original_labram import OriginalUnavailable, import_original, original_inputs

    from labram_hf.conversion import build_model as convert_model
    from labram_hf.data.corpus import PretrainingCorpus
    from labram_hf.data.collators import LaBraMDataCollator
    from labram_hf.training import make_adamw, param_groups
    from labram_hf.training.pretraining import MaskedModelingStep

    torch.set_num_threads(spec["threads"])
    try:
        _, timm_note = import_original(spec["original"])
        modeling_pretrain = importlib.import_module("modeling_pretrain")
        modeling_vqnsp = importlib.import_module("modeling_vqnsp")
    except (OriginalUnavailable, ImportError) as err:
        return {"skipped": f"original code not importable from {spec['original']}: {err}"}
    torch.manual_seed(0)
    # the original pre-training recipe: drop path 0.1, layer scale 0.1, 8192 codes of 64
    original = modeling_pretrain.labram_base_patch200_1600_8k_vocab(drop_path_rate=0.1, init_values=0.1,
                                                                    vocab_size=8192)  # fmt: skip
    original_tokenizer = modeling_vqnsp.vqnsp_encoder_base_decoder_3x200x12(
        n_code=8192, code_dim=64, quantize_kmeans_init=False
    ).eval()
    ours, _ = convert_model(original.state_dict(), "pretraining")
    tokenizer, _ = convert_model(original_tokenizer.state_dict(), "tokenizer")
    tokenizer.requires_grad_(False)

    corpus = PretrainingCorpus(spec["sources"])
    first = corpus.batch_sampler(spec["batch_size"], seed=0).batch_for_step(0)
    rows = corpus.torch_dataset().__getitems__(first)
    batch = LaBraMDataCollator()(rows)
    values, ids = batch["input_values"], batch["channel_ids"]
    b, c, t = values.shape
    patches, input_chans = original_inputs(values, ids)  # [B, C, A, 200], [1 + C]
    step = MaskedModelingStep(tokenizer, seed=0)
    with torch.no_grad():
        codes = tokenizer.get_codebook_indices(values, ids)  # [B, C * A]
        codes_original = original_tokenizer.get_codebook_indices(patches, input_chans)
    mask = step.masks(first, codes, None, c)  # [B, C * A], True = masked; both models get this mask

    def original_step(model, optimizer):
        with torch.no_grad():
            input_ids = original_tokenizer.get_codebook_indices(patches, input_chans)
            labels, labels_sym = input_ids[mask], input_ids[~mask]
        x_rec, x_rec_sym = model(patches, input_chans, bool_masked_pos=mask)
        loss = F.cross_entropy(x_rec, labels) + F.cross_entropy(x_rec_sym, labels_sym)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        optimizer.step()
        optimizer.zero_grad()
        return float(loss)

    class FixedMask(MaskedModelingStep):
        def masks(self, keys, labels, channel_mask, num_channels):
            return mask

    ours_step_fn = FixedMask(tokenizer, seed=0)

    def our_step(model, optimizer):
        loss, _ = ours_step_fn(model, {"input_values": values, "channel_ids": ids}, first)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    # the same computation: in eval mode (no drop path) the two losses agree
    original.eval(), ours.eval()
    with torch.no_grad():
        x_rec, x_rec_sym = original(patches, input_chans, bool_masked_pos=mask)
        loss_original = float(F.cross_entropy(x_rec, codes_original[mask])
                              + F.cross_entropy(x_rec_sym, codes_original[~mask]))  # fmt: skip
        loss_ours = float(ours(input_values=values, channel_ids=ids, bool_masked_pos=mask, labels=codes).loss)
    original.train(), ours.train()
    opt_original = torch.optim.AdamW(original.parameters(), lr=5e-4, betas=(0.9, 0.98), weight_decay=0.05)
    opt_ours = make_adamw(param_groups(ours, 0.05, lr=5e-4), 5e-4, betas=(0.9, 0.98))
    times = {"original": [], "ours": []}
    for _ in range(spec["warmup"]):
        original_step(original, opt_original), our_step(ours, opt_ours)
    for _ in range(spec["iters"]):
        for name, fn, model, opt in (("original", original_step, original, opt_original),
                                     ("ours", our_step, ours, opt_ours)):  # fmt: skip
            started = time.perf_counter()
            fn(model, opt)
            times[name].append(time.perf_counter() - started)
    median = {k: statistics.median(v) for k, v in times.items()}
    tokens = b * c * (t // 200)
    return {
        "timm": timm_note,
        "batch": {"batch_size": b, "channels": c, "seconds": t / 200, "tokens": tokens},
        "same_codebook_ids_fraction": float((codes == codes_original).float().mean()),
        "eval_loss": {"original": loss_original, "ours": loss_ours},
        "torch_threads": spec["threads"],
        "iters": spec["iters"],
        "median_step_seconds": median,
        "samples_per_s": {k: b / v for k, v in median.items()},
        "tokens_per_s": {k: tokens / v for k, v in median.items()},
        "speedup_vs_original": median["original"] / median["ours"],
        "all_step_seconds": times,
        "optimizers": "original: torch.optim.AdamW over all parameters (timm's optimizer factory builds a plain "
        "AdamW); ours: labram_hf.training.make_adamw (fused) over param_groups (no decay on norms/biases/embeddings)",
    }


CHILDREN = {"rss": child_rss, "train": child_train, "original": child_original}


# ----------------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=50.0, help="EEG hours of the full corpus (at least; default 50)")
    p.add_argument("--work", default=None, help="work directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--num-proc", type=int, default=1, help="build_dataset processes (default 1)")
    p.add_argument("--no-streaming", dest="streaming", action="store_false", help="skip the Parquet shards")
    p.add_argument("--max-shard-bytes", type=int, default=256 * 2**20, help="Parquet shard size (default 256 MiB)")
    p.add_argument("--rss-batches", type=int, default=100, help="batches read per memory measurement")
    p.add_argument("--rss-batch-size", type=int, default=32)
    p.add_argument("--shuffle-buffer", type=int, default=256, help="rows per shuffle block of the stream")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers (the stream uses at most 1)")
    p.add_argument("--steps", type=int, default=12, help="training steps per training run")
    p.add_argument("--train", default="base:16,tiny:64,tiny:64:0",
                   help="training runs PRESET:BATCH[:WORKERS] (default: --workers), comma-separated (default "
                        "base:16,tiny:64,tiny:64:0; the tiny model stresses the data path, without workers "
                        "too)")  # fmt: skip
    p.add_argument("--threads", type=int, default=2, help="torch threads of the training runs")
    p.add_argument("--original", default=None, metavar="DIR",
                   help="directory with measurement copies of the original modeling_finetune.py, modeling_pretrain.py, "
                        "modeling_vqnsp.py and norm_ema_quantizer.py: adds the step comparison")  # fmt: skip
    p.add_argument("--original-batch", type=int, default=8)
    p.add_argument("--original-iters", type=int, default=9)
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "pretrain_scale.json"))
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--child-spec", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def save_tokenizers(work: Path, presets: set[str]) -> dict[str, str]:
    """Random (untrained) tokenizers: only their code ids matter for speed and memory."""
    import torch

    from labram_hf import LaBraMTokenizerModel
    from labram_hf.training import tokenizer_config

    out = {}
    for preset in presets:
        path = work / f"tokenizer_{preset}"
        if not (path / "config.json").exists():
            torch.manual_seed(0)
            LaBraMTokenizerModel(tokenizer_config(preset, kmeans_init=False)).save_pretrained(path)
        out[preset] = str(path)
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.child:
        spec = json.loads(Path(args.child_spec).read_text())
        result = CHILDREN[args.child](spec)
        Path(args.child_spec).with_suffix(".out.json").write_text(json.dumps(result, indent=1, default=float))
        return result

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="labram_pretrain_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict = {"machine": machine_info(), "settings": {k: v for k, v in vars(args).items()
                                                            if not k.startswith("child")}}  # fmt: skip
    try:
        print("exporting the sample recordings ...", flush=True)
        sources = export_sources(work)
        layout = lay_out(work, sources, args.hours)
        report["corpus"] = {
            "sources": {name: seconds for name, (_, seconds) in sources.items()},
            "groups": {g: {"channels": len(c) if c else 21, "window_seconds": w} for g, (c, w) in GROUPS.items()},
            "datasets": {n: {k: v for k, v in i.items() if k in ("files", "hours", "half")} for n, i in layout.items()},
            "eeg_hours": sum(i["hours"] for i in layout.values()),
            "recording_files": sum(i["files"] for i in layout.values()),
            "how": "hard links of the absence and spasms recordings (EDF, 21 known electrodes), distinct names",
        }
        print(f"corpus: {report['corpus']['eeg_hours']:.1f} h in {report['corpus']['recording_files']} files",
              flush=True)  # fmt: skip
        print("preparing ...", flush=True)
        report["prepare"] = prepare(work, layout, args.num_proc)
        if args.streaming:
            print("writing Parquet shards ...", flush=True)
            report["shards"] = shard(work, layout, args.max_shard_bytes)

        half = [n for n, i in layout.items() if i["half"] == "a"]
        hours = {"half": sum(layout[n]["hours"] for n in half), "full": sum(i["hours"] for i in layout.values())}
        sources = {
            # on disk: the three "a" datasets, then all six
            ("corpus", "half"): ",".join(layout[n]["dataset"] for n in half),
            ("corpus", "full"): ",".join(layout[n]["dataset"] for n in layout),
            # streamed: three sources either way (a stream holds buffers per source): "a" shards, then a glob over
            # the shards of both halves of each group
            ("stream", "half"): ",".join(layout[n]["shards"] for n in half) if args.streaming else "",
            ("stream", "full"): ",".join(str(work / "shards" / f"{g}[ab]" / "data" / "*.parquet") for g in GROUPS),
        }
        report["memory"] = {}
        for kind in ("corpus", "stream") if args.streaming else ("corpus",):
            for size in ("half", "full"):
                spec = {"kind": kind, "sources": sources[kind, size], "batch_size": args.rss_batch_size,
                        "batches": args.rss_batches, "workers": args.workers, "shuffle_buffer": args.shuffle_buffer,
                        "hours": hours[size]}  # fmt: skip
                print(f"data-path memory: {kind}, {size} ({spec['hours']:.1f} h) ...", flush=True)
                report["memory"][f"{kind}_{size}"] = run_child("rss", spec, work, timeout=1800)
        for kind in ("corpus", "stream") if args.streaming else ("corpus",):
            half, full = report["memory"].get(f"{kind}_half", {}), report["memory"].get(f"{kind}_full", {})
            if "peak_rss_main_mib" in half and "peak_rss_main_mib" in full:
                report["memory"][f"{kind}_growth_full_vs_half"] = {
                    "eeg_hours": full["eeg_hours"] / half["eeg_hours"],
                    "peak_rss_main": full["peak_rss_main_mib"] / half["peak_rss_main_mib"],
                    "peak_rss_largest_worker": full["peak_rss_largest_worker_mib"]
                    / max(half["peak_rss_largest_worker_mib"], 1e-9),
                    "rss_anon_main_at_end": full["main_at_end_mib"].get("RssAnon", 0)
                    / max(half["main_at_end_mib"].get("RssAnon", 1e-9), 1e-9),
                    "rss_anon_largest_worker": full["worker_peaks_mib"]["RssAnon"]
                    / max(half["worker_peaks_mib"]["RssAnon"], 1e-9),
                }

        runs = [(r.split(":") + [str(args.workers)])[:3] for r in args.train.split(",") if r.strip()]
        tokenizers = save_tokenizers(work, {"base" if p != "tiny" else "tiny" for p, _, _ in runs})
        report["training"] = []
        full_spec = ",".join(layout[n]["dataset"] for n in layout)
        for preset, batch, workers in runs:
            tok = "tiny" if preset == "tiny" else "base"
            spec = {"sources": full_spec, "tokenizer": tokenizers[tok], "tokenizer_preset": tok, "preset": preset,
                    "batch_size": int(batch), "steps": args.steps, "workers": int(workers), "threads": args.threads,
                    "output_dir": str(work / f"run_{preset}_{batch}_{workers}")}  # fmt: skip
            print(f"training: {preset}, batch {batch}, {args.steps} steps, {workers} workers ...", flush=True)
            report["training"].append(run_child("train", spec, work, timeout=3600))
        if args.original:
            print("original engine_for_pretraining step vs ours ...", flush=True)
            first_group = layout[next(iter(layout))]["dataset"]  # m19x13a: 19 channels x 13 s = 247 tokens
            spec = {"original": args.original, "sources": first_group, "batch_size": args.original_batch,
                    "threads": args.threads, "warmup": 1, "iters": args.original_iters}  # fmt: skip
            report["original"] = run_child("original", spec, work, timeout=3600)
        else:
            report["original"] = {"skipped": "no --original DIR given: the original code is not in this repository "
                                             "(see the module docstring)"}  # fmt: skip
    finally:
        report["total_seconds"] = time.perf_counter() - started
        report["machine"]["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(json.dumps({k: report[k] for k in ("prepare", "memory", "training", "original") if k in report},
                     indent=1, default=float)[:6000])  # fmt: skip
    print(f"wrote {args.output}")
    return report


if __name__ == "__main__":
    main()
