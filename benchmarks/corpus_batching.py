"""Batching a heterogeneous pre-training corpus: one dataset per batch vs. mixed batches padded to a common shape.

Three corpora shaped like the original pre-training groups (channels x seconds ~ 256 tokens):
64 channels x 4 s, 32 channels x 8 s and 19 channels x 13 s (synthetic float32 windows with real LaBraM channel
ids; the values do not matter for either measurement). Two batching strategies, with the same mixing weights
(proportional to size) and the same global batch size:

* ``homogeneous``: :class:`labram_hf.data.corpus.CorpusBatchSampler` -- every batch from one corpus, read with
  :class:`~labram_hf.data.corpus.CorpusDataset` and collated by :class:`~labram_hf.data.LaBraMMaskingCollator`;
* ``mixed``: every batch draws its rows from all corpora (by the same weights) and pads them to the largest channel
  count (masked with ``channel_mask``) and the longest window (zero patches -- the model has no time mask, so this
  is the best such a batch can do); this is "token packing across datasets" within LaBraM's ``[B, C, T]`` input.

Reported, in one run: the padding waste (padded / all token slots) and the training throughput of a small LaBraM
masked-EEG-modelling model on the CPU (real tokens per second over forward + backward + AdamW step), and their
ratios. The strategies run in alternating rounds (median step time per strategy), so load from other processes
affects both alike; the load average is recorded.

Usage::

    python benchmarks/corpus_batching.py                  # writes benchmarks/results/corpus_batching.json
    python benchmarks/corpus_batching.py --rounds 1 --steps 2 --output /tmp/c.json   # smoke run

Not a test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: (channels, seconds, windows) of the three corpora.
CORPORA = ((64, 4, 96), (32, 8, 96), (19, 13, 64))


def make_datasets(seed: int = 0):
    """Three in-memory window datasets with the features of :func:`labram_hf.data.build_dataset`."""
    import datasets

    from labram_hf.data.builder import make_features

    rng = np.random.default_rng(seed)
    out = []
    for channels, seconds, windows in CORPORA:
        t = seconds * 200
        ids = np.arange(1, channels + 1, dtype=np.int64)  # vocabulary ids (0 is the cls/pad row)
        rows = {
            "input_values": [rng.standard_normal((channels, t), dtype=np.float32) for _ in range(windows)],
            "channel_ids": [ids] * windows,
            "source": [f"synthetic_{channels}ch"] * windows,
            "start": np.arange(windows, dtype=np.float32) * seconds,
        }
        out.append(datasets.Dataset.from_dict(rows, features=make_features(t)))
    return out


def mixed_batches(corpus, batch_size: int, seed: int):
    """Endless mixed batches: rows drawn across corpora by the same weights, padded to the common [C, A] grid."""
    import torch

    from labram_hf.data.collators import random_masking

    reader = corpus.torch_dataset()
    weights = np.asarray(corpus.sampling_weights(batch_size), dtype=np.float64)
    p = np.repeat(weights / weights.sum() / np.asarray(corpus.num_rows), corpus.num_rows)  # per-row probability
    c_max = max(c for c, _, _ in CORPORA)
    t_max = max(s for _, s, _ in CORPORA) * 200
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    while True:
        rows = reader.__getitems__(rng.choice(len(reader), size=batch_size, replace=False, p=p).tolist())
        values = torch.zeros(batch_size, c_max, t_max)
        ids = torch.zeros(batch_size, c_max, dtype=torch.int64)
        channel_mask = torch.zeros(batch_size, c_max, dtype=torch.bool)
        real = torch.zeros(batch_size, c_max, t_max // 200, dtype=torch.bool)  # real (channel, patch) tokens
        for b, row in enumerate(rows):
            c, t = row["input_values"].shape
            values[b, :c, :t] = torch.from_numpy(np.array(row["input_values"]))
            ids[b, :c] = torch.from_numpy(np.array(row["channel_ids"]))
            channel_mask[b, :c] = True
            real[b, :c, : t // 200] = True
        token_mask = real.reshape(batch_size, -1)  # [B, C*A], channel-major
        counts = token_mask.sum(1)
        # mask half of each sample's real tokens (padded time patches are real to the model, but never masked)
        order = torch.argsort((~token_mask).int(), dim=1, stable=True)  # real positions first
        masked_sorted = random_masking(counts, mask_ratio=0.5, generator=gen, max_tokens=token_mask.shape[1])
        masked = torch.zeros_like(token_mask).scatter(1, order, masked_sorted)
        yield {"input_values": values, "channel_ids": ids, "channel_mask": channel_mask,
               "bool_masked_pos": masked}, int(token_mask.sum()), token_mask.numel()  # fmt: skip


def homogeneous_batches(corpus, batch_size: int, seed: int):
    from labram_hf.data import LaBraMMaskingCollator

    sampler = corpus.batch_sampler(batch_size, seed=seed)
    reader = corpus.torch_dataset()
    collate = LaBraMMaskingCollator(seed=seed)
    for keys in sampler:
        batch = collate(reader.__getitems__(keys))
        b, c, t = batch["input_values"].shape
        yield batch, b * c * (t // 200), b * c * (t // 200)


def train_steps(model, optimizer, batches, steps: int, vocab: int, gen) -> tuple[list[float], int, int]:
    """Time ``steps`` training steps; returns per-step seconds, real tokens and token slots processed."""
    import torch

    times, real, slots = [], 0, 0
    for _ in range(steps):
        batch, n_real, n_slots = next(batches)
        labels = torch.randint(0, vocab, batch["bool_masked_pos"].shape, generator=gen)
        start = time.perf_counter()
        out = model(**batch, labels=labels)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        real += n_real
        slots += n_slots
    return times, real, slots


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per strategy and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--hidden-size", type=int, default=200)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "corpus_batching.json"))
    args = parser.parse_args(argv)

    import datasets
    import torch

    from labram_hf import LaBraMConfig, LaBraMForMaskedEEGModeling
    from labram_hf.data.corpus import PretrainingCorpus

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    load_start = list(os.getloadavg())
    corpus = PretrainingCorpus(make_datasets(args.seed))
    vocab = 64
    config = LaBraMConfig(hidden_size=args.hidden_size, num_hidden_layers=args.layers, num_attention_heads=4,
                          intermediate_size=4 * args.hidden_size, temporal_conv_channels=args.hidden_size // 25,
                          vocab_size=vocab, drop_path_rate=0.0)  # fmt: skip
    model = LaBraMForMaskedEEGModeling(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(args.seed)
    streams = {"homogeneous": homogeneous_batches(corpus, args.batch_size, args.seed),
               "mixed": mixed_batches(corpus, args.batch_size, args.seed)}  # fmt: skip
    for batches in streams.values():  # warm-up (allocator, kernels)
        train_steps(model, optimizer, batches, 2, vocab, gen)
    results = {name: {"step_seconds": [], "real_tokens": 0, "token_slots": 0} for name in streams}
    for _ in range(args.rounds):
        for name, batches in streams.items():
            times, real, slots = train_steps(model, optimizer, batches, args.steps, vocab, gen)
            results[name]["step_seconds"] += times
            results[name]["real_tokens"] += real
            results[name]["token_slots"] += slots
    for r in results.values():
        r["padding_waste"] = 1.0 - r["real_tokens"] / r["token_slots"]
        r["seconds_total"] = sum(r["step_seconds"])
        r["median_step_seconds"] = statistics.median(r["step_seconds"])
        r["real_tokens_per_second"] = r["real_tokens"] / r["seconds_total"]
        r["steps"] = len(r["step_seconds"])
    hom, mix = results["homogeneous"], results["mixed"]
    report = {
        "benchmark": "corpus_batching",
        "corpora": [{"channels": c, "seconds": s, "windows": n, "tokens_per_window": c * s} for c, s, n in CORPORA],
        "settings": {"batch_size": args.batch_size, "steps_per_round": args.steps, "rounds": args.rounds,
                     "torch_threads": args.threads, "model": {"hidden_size": args.hidden_size,
                                                              "num_hidden_layers": args.layers,
                                                              "vocab_size": vocab}},  # fmt: skip
        "results": results,
        "ratios": {
            "throughput_homogeneous_over_mixed": hom["real_tokens_per_second"] / mix["real_tokens_per_second"],
            "padding_waste_mixed": mix["padding_waste"],
            "padding_waste_homogeneous": hom["padding_waste"],
            "padded_tokens_per_real_token_mixed": mix["token_slots"] / mix["real_tokens"],
        },
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "datasets": datasets.__version__, "cpu_count": os.cpu_count(),
                    "load_average_at_start": load_start, "load_average_at_end": list(os.getloadavg())},  # fmt: skip
    }
    for r in results.values():
        r["step_seconds"] = [round(s, 5) for s in r["step_seconds"]]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    ratio = report["ratios"]
    print(f"padding waste: homogeneous {hom['padding_waste']:.1%}, mixed {mix['padding_waste']:.1%}")
    print(f"throughput (real tokens/s): homogeneous {hom['real_tokens_per_second']:.0f}, mixed "
          f"{mix['real_tokens_per_second']:.0f} -> x{ratio['throughput_homogeneous_over_mixed']:.2f}")  # fmt: skip
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
