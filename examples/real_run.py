#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""End-to-end LaBraM on real EEG: tokenizer -> masked pre-training -> fine-tuning, sleep vs wake across recordings.

    python examples/real_run.py --output-dir runs/real            # ~ a few minutes on 2 CPU cores
    python examples/real_run.py --output-dir runs/real --both-directions

Data (``labram_hf.sample_data``, fetched from PyPI and cached): the ``absence`` and ``spasms`` clinical recordings
(200 Hz, 23 vocabulary electrodes) with their technician-annotated asleep/awake spans
(``sleep_wake_windows``), and the unlabelled ``tuh`` recording (256 Hz, TUH montage). All are preprocessed the
LaBraM way (0.1-75 Hz band-pass, 60 Hz notch - the recordings are American - 200 Hz, uV / 100).

Protocol (cross-subject, no test data anywhere before testing): the *train* recording's windows (80 % train, 20 %
validation for best-model selection, random split) are labelled; the self-supervised stages (tokenizer and
pre-training) use the train recording (all of it, labels unused) plus the unlabelled TUH recording. The other
recording is the test set. Compared in one table:

* LaBraM pre-trained here (tokenizer -> MEM -> fine-tune, ``examples/*.py`` run as subprocesses);
* (a) the same LaBraM fine-tuned from scratch (random init, same recipe and steps);
* (b) band power (log power in 1-4, 4-8, 8-13, 13-30, 30-45 Hz per channel, Welch) + standardisation + logistic
  regression (scikit-learn).

Writes ``results.json``, ``results.md`` (the table), ``curves.png`` (training curves) and every stage's
output under ``--output-dir``. Sizes are modest (a narrow 4-block model, a 256-code tokenizer) so the whole run
fits a few CPU minutes; these numbers say whether the pipeline learns, not what LaBraM-Base reaches.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from labram_hf.demo import all_windows, band_power_baseline, read_jsonl, save_windows

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--train-recording", default="absence", choices=["absence", "spasms"])
    p.add_argument("--both-directions", action="store_true", help="also train on the other recording")
    p.add_argument("--window-seconds", type=int, default=4)
    p.add_argument("--tokenizer-steps", type=int, default=150)
    p.add_argument("--pretrain-steps", type=int, default=150)
    p.add_argument("--finetune-epochs", type=float, default=8)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-layers", type=int, default=4, help="LaBraM blocks (width 100, 4 heads)")
    p.add_argument("--n-code", type=int, default=256)
    p.add_argument("--tokenizer-lr", type=float, default=1e-4)
    p.add_argument("--code-dim", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric-for-best-model", default="accuracy")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------------------------------


def preprocess_recordings(names):
    from labram_hf.channels import TUH_CHANNELS
    from labram_hf.preprocessing import preprocess_raw
    from labram_hf.sample_data import load_sample_raw

    out = {}
    for name in names:
        raw = load_sample_raw(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == "tuh":
                out[name] = preprocess_raw(raw, notch=60.0, channels=TUH_CHANNELS)
            else:
                out[name] = preprocess_raw(raw, notch=60.0, strict=False)
        print(f"preprocessed {name}: {out[name].values.shape} channels x samples at 200 Hz")
    return out


def labelled_windows(name, pre, window_seconds):
    from labram_hf.demo import labelled_windows as demo_labelled_windows
    from labram_hf.sample_data import load_sample_raw

    return demo_labelled_windows(load_sample_raw(name), pre, window_seconds)


# ----------------------------------------------------------------------------------------------------------------------
# stages
# ----------------------------------------------------------------------------------------------------------------------


def run(cmd, log_path):
    print("$ " + " ".join(cmd), flush=True)
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode:
        sys.stdout.write(open(log_path).read()[-5000:])
        raise SystemExit(f"stage failed ({proc.returncode}): see {log_path}")
    return time.perf_counter() - started


def direction(args, pre, train_name, test_name, out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    x_tr, y_tr, _ = labelled_windows(train_name, pre[train_name], args.window_seconds)
    x_te, y_te, _ = labelled_windows(test_name, pre[test_name], args.window_seconds)
    order = rng.permutation(len(x_tr))
    n_val = len(order) // 5
    val_idx, fit_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    ids_train = [pre[train_name].channel_ids] * len(x_tr)
    ids_test = [pre[test_name].channel_ids] * len(x_te)
    data = os.path.join(out, "data")
    save_windows(f"{data}/train", x_tr[fit_idx], [ids_train[0]] * len(fit_idx), y_tr[fit_idx], train_name)
    save_windows(f"{data}/val", x_tr[val_idx], [ids_train[0]] * len(val_idx), y_tr[val_idx], train_name)
    save_windows(f"{data}/test", x_te, ids_test, y_te, test_name)
    unl = [all_windows(pre[train_name], args.window_seconds), all_windows(pre["tuh"], args.window_seconds)]
    unl_ids = [pre[train_name].channel_ids] * len(unl[0]) + [pre["tuh"].channel_ids] * len(unl[1])
    save_windows(f"{data}/unlabelled", [w for u in unl for w in u], unl_ids, None, f"{train_name}+tuh")
    counts = {
        "train": np.bincount(y_tr[fit_idx], minlength=2).tolist(),
        "val": np.bincount(y_tr[val_idx], minlength=2).tolist(),
        "test": np.bincount(y_te, minlength=2).tolist(),
        "unlabelled": len(unl_ids),
    }
    print(f"{train_name} -> {test_name}: windows {counts}")

    py = sys.executable
    common = ["--report-to", "tensorboard", "--seed", str(args.seed)]
    tok_dir, mem_dir = f"{out}/tokenizer", f"{out}/pretrain"
    timings = {}
    timings["tokenizer"] = run([py, f"{HERE}/train_tokenizer.py", "--dataset-dir", f"{data}/unlabelled",
        "--output-dir", tok_dir, "--preset", "tiny", "--num-layers", "2", "--n-code", str(args.n_code),
        "--code-dim", str(args.code_dim), "--max-steps", str(args.tokenizer_steps), "--per-device-batch-size",
        str(args.batch_size), "--lr", str(args.tokenizer_lr), "--log-every", "10", *common], f"{out}/tokenizer.log")  # fmt: skip
    timings["pretrain"] = run([py, f"{HERE}/pretrain.py", "--dataset-dir", f"{data}/unlabelled", "--tokenizer",
        tok_dir, "--output-dir", mem_dir, "--preset", "tiny", "--num-layers", str(args.num_layers), "--max-steps",
        str(args.pretrain_steps), "--per-device-batch-size", str(args.batch_size), "--log-every", "10",
        *common], f"{out}/pretrain.log")  # fmt: skip
    results = {}
    for label, model in (("LaBraM (pre-trained here)", mem_dir), ("LaBraM from scratch", "scratch")):
        tag = "ft_pretrained" if model != "scratch" else "ft_scratch"
        cmd = [py, f"{HERE}/finetune.py", "--model", model, "--preset", "tiny", "--train-dataset", f"{data}/train",
               "--eval-dataset", f"{data}/val", "--test-dataset", f"{data}/test", "--output-dir", f"{out}/{tag}",
               "--num-epochs", str(args.finetune_epochs), "--batch-size", str(args.batch_size),
               "--metric-for-best-model", args.metric_for_best_model, "--logging-steps", "5",
               "--save-total-limit", "1", *common]  # fmt: skip
        if model == "scratch":  # same architecture as the pre-trained model
            cmd += ["--num-layers", str(args.num_layers)]
        timings[tag] = run(cmd, f"{out}/{tag}.log")
        with open(f"{out}/{tag}/results.json") as f:
            res = json.load(f)
        results[label] = {k.removeprefix("test_"): v for k, v in res["test"].items()
                          if k.removeprefix("test_") in ("accuracy", "balanced_accuracy", "auroc", "aupr")}  # fmt: skip
        results[label]["log_history"] = res["log_history"]
    started = time.perf_counter()
    results["Band power + logistic regression"] = band_power_baseline(x_tr[fit_idx], y_tr[fit_idx], x_te, y_te)[0]
    timings["band_power"] = time.perf_counter() - started
    curves = {
        "tokenizer": read_jsonl(Path(tok_dir) / "log.jsonl"),
        "pretrain": read_jsonl(Path(mem_dir) / "log.jsonl"),
    }
    return {"train": train_name, "test": test_name, "windows": counts, "results": results, "timings_s": timings,
            "curves": curves}  # fmt: skip


def plot(directions, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(directions), 3, figsize=(15, 4 * len(directions)), squeeze=False)
    for row, d in zip(axes, directions):
        tok = d["curves"]["tokenizer"]
        row[0].plot([r["step"] for r in tok], [r["loss"] for r in tok], label="total")
        for key in ("amplitude_loss", "phase_loss", "quantization_loss"):
            row[0].plot([r["step"] for r in tok], [r[key] for r in tok], label=key, alpha=0.7)
        ax2 = row[0].twinx()
        ax2.plot([r["step"] for r in tok], [r["codebook/used_codes"] for r in tok], "k:", label="used codes")
        ax2.set_ylabel("codes used per log window")
        row[0].set_title(f"tokenizer ({d['train']}+tuh)")
        row[0].legend(fontsize=7)
        mem = d["curves"]["pretrain"]
        row[1].plot([r["step"] for r in mem], [r["loss"] for r in mem], label="MEM loss (sum of 2 CE)")
        ax3 = row[1].twinx()
        ax3.plot([r["step"] for r in mem], [r["mlm_accuracy"] for r in mem], "g:", label="masked acc")
        row[1].set_title("masked EEG modelling")
        row[1].legend(fontsize=7)
        for label, style in (("LaBraM (pre-trained here)", "-"), ("LaBraM from scratch", "--")):
            hist = d["results"][label]["log_history"]
            tr = [(h["step"], h["loss"]) for h in hist if "loss" in h]
            ev = [(h["step"], h["eval_accuracy"]) for h in hist if "eval_accuracy" in h]
            if tr:
                row[2].plot(*zip(*tr), style, label=f"{label}: train loss")
            if ev:
                row[2].plot(*zip(*ev), style, marker="o", label=f"{label}: val accuracy")
        row[2].set_title(f"fine-tuning on {d['train']} (test: {d['test']})")
        row[2].legend(fontsize=7)
        for ax in row:
            ax.set_xlabel("optimiser step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def table(directions) -> str:
    lines = ["| train -> test | method | accuracy | balanced acc. | AUROC | AUPR |", "|---|---|---|---|---|---|"]
    for d in directions:
        for method, r in d["results"].items():
            lines.append(f"| {d['train']} -> {d['test']} | {method} | {r['accuracy']:.3f} | "
                         f"{r['balanced_accuracy']:.3f} | {r['auroc']:.3f} | {r['aupr']:.3f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    started = time.perf_counter()
    pre = preprocess_recordings(["absence", "spasms", "tuh"])
    pairs = [(args.train_recording, "spasms" if args.train_recording == "absence" else "absence")]
    if args.both_directions:
        pairs.append((pairs[0][1], pairs[0][0]))
    directions = [direction(args, pre, tr, te, os.path.join(args.output_dir, f"{tr}_to_{te}")) for tr, te in pairs]
    plot(directions, os.path.join(args.output_dir, "curves.png"))
    md = table(directions)
    summary = {
        "settings": vars(args),
        "total_seconds": time.perf_counter() - started,
        "directions": [{k: v for k, v in d.items() if k != "curves"} for d in directions],
    }
    for d in summary["directions"]:
        for r in d["results"].values():
            r.pop("log_history", None)
    with open(os.path.join(args.output_dir, "results.json"), "w") as f:
        json.dump(summary, f, indent=2, default=float)
    with open(os.path.join(args.output_dir, "results.md"), "w") as f:
        f.write(md + "\n")
    print(md)
    print(f"total {summary['total_seconds']:.0f} s; results in {args.output_dir}")
    return summary


if __name__ == "__main__":
    main()
