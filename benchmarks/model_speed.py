#!/usr/bin/env python
# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""Speed of LaBraM-Base: inference and training step, eager vs SDPA vs torch.compile (and int8 dynamic quantisation
vs fp32 inference on CPU), against the GEMM rate.

    python benchmarks/model_speed.py                                  # CPU, fp32 -> benchmarks/results/model_speed.json
    python benchmarks/model_speed.py --modes sdpa int8 --output benchmarks/results/model_speed_int8.json
    python benchmarks/model_speed.py --device cuda --dtype bf16 --peak-tflops 989 --modes eager sdpa compile

Workload: ``LaBraMForSequenceClassification`` at the base preset (D 200, 12 blocks, 10 heads), 23 channels x 10 s
(10 patches, 230 patch tokens + cls = 231 tokens), batch 16, two classes. Modes: ``eager`` (explicit softmax
attention), ``sdpa`` (``torch.nn.functional.scaled_dot_product_attention``) and ``compile`` (SDPA model under
``torch.compile``). The training step is forward + cross-entropy + backward + AdamW step (drop path 0.1 as in
fine-tuning). ``int8`` (CPU only, inference only): the SDPA model after
``torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)`` (int8 weights, activations
quantised on the fly; the temporal convolution, norms and attention products stay fp32). Its entry also records how
far its logits and probabilities are from the fp32 model's on the benchmark batch, and the summary
``int8_vs_fp32`` gives the speed ratio against the ``sdpa`` mode of the same run.

FLOPs are counted from the configuration (a multiply-add = 2 FLOPs), per sample and forward:
temporal conv (3 convolutions over every patch), per block qkv (2·N·D·3D), attention scores and weighted sum
(2 x 2·N²·D), output projection (2·N·D²), MLP (2 x 2·N·D·4D), and the head (2·D·classes). Norms, softmax, GELU and
the embeddings are not counted. Training = 3 x forward (backward ≈ 2 x forward), the usual convention.

Reference rates measured in the same run: (1) a large square fp32 GEMM (``--gemm-size``, default 2048) - "the
machine's GEMM rate" - and (2) the GEMMs of this model's shapes (tokens x 200 x 600 / 200 / 800 and back), which
is what the model can at best reach. Rates use the best iteration of ``--iters`` (and the best GEMM repetition),
because the machine may be shared; medians are stored too. On CUDA the reference is ``--peak-tflops`` (model FLOP utilisation, MFU) plus
the measured bf16 GEMM rate. Memory: CPU: peak resident set size of a fresh process per mode (and its growth over
the loaded model); CUDA: ``torch.cuda.max_memory_allocated``.

Against the original code (``--original DIR``, mode ``original``; CPU, fp32): DIR holds a copy of
``modeling_finetune.py`` from github.com/935963004/LaBraM (never part of this repository; see
``benchmarks/original_labram.py``). One fresh process builds the original ``labram_base_patch200_200`` with the
original README's fine-tuning flags and converts its weights into ``LaBraMForSequenceClassification`` (the largest
logit difference is recorded), then times both interleaved (A B C, C B A, ...; best and median of ``--iters``
calls, wall clock and process CPU time): inference (eval, no_grad; ours eager and ``torch.compile``-d) and the
training step (forward + cross-entropy + backward + AdamW step, drop path 0.1 in both; the original with the plain
``torch.optim.AdamW`` its recipe builds, ours with the fused AdamW, and a copy of ours with the plain AdamW to
separate the model's share from the optimiser's). ``vs_original`` in the JSON holds original time / our time
(> 1: ours is faster); ``profile_seconds_by_op_category`` splits one call of each (torch.profiler self CPU time)
into linear GEMMs, attention, LayerNorm, GELU, temporal convolution, copies, elementwise ops and the rest.

    python benchmarks/model_speed.py --threads 2 --modes original --original /tmp/labram_original --iters 8 \
        --warmup 1 --output benchmarks/results/model_speed_vs_original_cpu2.json

With ``--threads 1`` the process CPU time of a call is the work itself, which other processes on a shared machine
disturb far less than the wall clock (``benchmarks/results/model_speed_vs_original_cpu1.json``).

The training step of every mode uses ``torch.optim.AdamW(fused=True)`` (CPU as well).

GPU timing is host-sync free inside the measured loop: inputs live on the device, no ``.item()``, the optimiser
is fused, CUDA events bracket the loop and one synchronisation ends it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--channels", type=int, default=23)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--preset", default="base")
    p.add_argument("--modes", nargs="+", default=["eager", "sdpa", "compile", "int8"],
                   choices=["eager", "sdpa", "compile", "int8", "original"],
                   help="int8: CPU only, inference only; original: the original code vs ours (needs --original)")
    p.add_argument("--original", default=None, metavar="DIR",
                   help="directory holding the original modeling_finetune.py (github.com/935963004/LaBraM): adds "
                        "the 'original' mode, the original and labram-hf with the same weights in one process, "
                        "interleaved (see benchmarks/original_labram.py)")
    p.add_argument("--no-original-compile", dest="original_compile", action="store_false",
                   help="in the 'original' mode, skip the torch.compile inference variant")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--gemm-size", type=int, default=2048)
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="accelerator peak for MFU (e.g. 989 for H100/H200 SXM dense bf16)")
    p.add_argument("--output", default=os.path.join(HERE, "results", "model_speed.json"))
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def model_flops(config, channels: int, patches: int, num_labels: int = 2) -> dict[str, float]:
    """Forward FLOPs per sample by component."""
    d, k = config.hidden_size, config.temporal_conv_channels
    L = channels * patches
    n = L + 1
    steps = 25  # temporal conv output steps per patch
    conv = 2 * L * steps * (15 * k + 3 * k * k + 3 * k * k)
    per_block = {
        "qkv": 2 * n * d * 3 * d,
        "attention": 2 * 2 * n * n * d,
        "proj": 2 * n * d * d,
        "mlp": 2 * 2 * n * d * config.intermediate_size,
    }
    out = {"temporal_conv": conv}
    for key, value in per_block.items():
        out[key] = value * config.num_hidden_layers
    out["head"] = 2 * d * num_labels
    out["total"] = sum(out.values())
    return out


def _sync(device):
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def gemm_rate(device: str, dtype, m: int, k: int, n: int, iters: int = 10) -> float:
    """Achieved FLOP/s of a [m, k] @ [k, n] matmul."""
    import torch

    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        _sync(device)
        times.append((time.perf_counter() - t0) / 5)
    return 2 * m * k * n / min(times)  # best of `iters` (robust to other load on a shared machine)


def model_gemm_rate(device: str, dtype, tokens: int, d: int, hidden: int) -> float:
    """FLOP/s of the block's GEMM shapes (forward), weighted by their FLOPs."""
    shapes = [(tokens, d, 3 * d), (tokens, d, d), (tokens, d, hidden), (tokens, hidden, d)]
    flops = [2 * m * k * n for m, k, n in shapes]
    seconds = [f / gemm_rate(device, dtype, *s) for f, s in zip(flops, shapes)]
    return sum(flops) / sum(seconds)


def run_child(args) -> dict:
    """Benchmark one mode in this (fresh) process."""
    import torch

    from labram_hf import LaBraMConfig, LaBraMForSequenceClassification

    if args.threads:
        torch.set_num_threads(args.threads)
    mode = args._child
    device = args.device
    torch.manual_seed(0)
    config = LaBraMConfig.from_preset(args.preset, num_labels=2)
    config._attn_implementation = "eager" if mode == "eager" else "sdpa"
    model = LaBraMForSequenceClassification(config).to(device)
    b, c, a = args.batch_size, args.channels, args.seconds
    values = torch.randn(b, c, a * 200, device=device) * 0.5
    ids = torch.arange(c, device=device).unsqueeze(0).expand(b, -1).contiguous()
    labels = torch.randint(0, 2, (b,), device=device)
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)

    def forward_eval(m):
        with torch.no_grad(), autocast:
            return m(input_values=values, channel_ids=ids).logits

    # fused AdamW (one kernel for every parameter; CPU too since torch 2.4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

    def train_step(m):
        with autocast:
            loss = m(input_values=values, channel_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    eval_model = train_model = model
    compile_seconds = {}
    if mode == "compile":
        eval_model = torch.compile(model)
        train_model = eval_model

    def timed(fn, m, label):
        started = time.perf_counter()
        for _ in range(args.warmup):
            fn(m)
        _sync(device)
        compile_seconds[label] = time.perf_counter() - started
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            start_evt, end_evt = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start_evt.record()
            for _ in range(args.iters):  # no host syncs inside
                fn(m)
            end_evt.record()
            torch.cuda.synchronize()
            per_iter = [start_evt.elapsed_time(end_evt) / 1000 / args.iters]
            mem = torch.cuda.max_memory_allocated() / 2**20
        else:
            per_iter = []
            for _ in range(args.iters):
                t0 = time.perf_counter()
                fn(m)
                per_iter.append(time.perf_counter() - t0)
            mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return statistics.median(per_iter), min(per_iter), mem

    model.eval()
    accuracy = None
    if mode == "int8":
        # int8 weights for every Linear (qkv, projections, MLP, head), activations quantised per batch on the fly
        eval_model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        reference, quantized = forward_eval(model), forward_eval(eval_model)
        accuracy = {
            "max_abs_logit_diff_vs_fp32": (reference - quantized).abs().max().item(),
            "fp32_logit_std": reference.std().item(),
            "max_abs_prob_diff_vs_fp32": (reference.softmax(-1) - quantized.softmax(-1)).abs().max().item(),
            "argmax_agreement_vs_fp32": (reference.argmax(-1) == quantized.argmax(-1)).float().mean().item(),
        }
    inf_median, inf_best, inf_mem = timed(forward_eval, eval_model, "inference_warmup_s")
    training = None
    if mode != "int8":  # a dynamically quantised model is for inference only
        model.train()
        tr_median, tr_best, tr_mem = timed(train_step, train_model, "training_warmup_s")
        training = {"seconds_per_step": tr_median, "best_seconds_per_step": tr_best,
                    "samples_per_second": b / tr_median, "peak_memory_mib": tr_mem}  # fmt: skip
    return {
        "mode": mode,
        "inference": {"seconds_per_batch": inf_median, "best_seconds_per_batch": inf_best,
                      "samples_per_second": b / inf_median, "peak_memory_mib": inf_mem},  # fmt: skip
        "training": training,
        "int8_accuracy": accuracy,
        "memory_after_model_load_mib": rss_loaded if device == "cpu" else None,
        "warmup_seconds": compile_seconds,
        "num_threads": torch.get_num_threads(),
    }


def _interleaved(functions: dict, warmup: int, iters: int) -> dict:
    """
    Time every function `iters` times, interleaved (A B C, then C B A, ...), so that load changes on a shared machine
    hit every variant alike. Wall-clock and process CPU seconds per call; the best and the median of each.
    """
    warmup_seconds = {}
    for name, function in functions.items():
        started = time.perf_counter()
        for _ in range(warmup):
            function()
        warmup_seconds[name] = time.perf_counter() - started
    wall = {name: [] for name in functions}
    cpu = {name: [] for name in functions}
    names = list(functions)
    for i in range(iters):
        for name in names if i % 2 == 0 else names[::-1]:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            functions[name]()
            wall[name].append(time.perf_counter() - wall_start)
            cpu[name].append(time.process_time() - cpu_start)
    return {
        name: {
            "best_seconds": min(wall[name]),
            "median_seconds": statistics.median(wall[name]),
            "seconds": wall[name],
            "best_cpu_seconds": min(cpu[name]),
            "median_cpu_seconds": statistics.median(cpu[name]),
            "warmup_seconds": warmup_seconds[name],
        }
        for name in functions
    }


def _speedups(timings: dict, baseline: str) -> dict:
    """baseline time / variant time (> 1: the variant is faster), from the best and from the median calls."""
    base = timings[baseline]
    return {
        name: {
            "best": base["best_seconds"] / t["best_seconds"],
            "median": base["median_seconds"] / t["median_seconds"],
            "best_cpu": base["best_cpu_seconds"] / t["best_cpu_seconds"],
        }
        for name, t in timings.items()
        if name != baseline
    }


# torch.profiler op names grouped for the time budget of the comparison with the original.
OP_CATEGORIES = {
    "linear_gemm": ("aten::mm", "aten::addmm"),
    "attention": ("aten::bmm", "aten::_softmax", "aten::_softmax_backward_data", "aten::_scaled_dot_product"),
    "layer_norm": ("aten::native_layer_norm",),
    "gelu": ("aten::gelu",),
    "temporal_conv": ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::native_group_norm"),
    "copies": ("aten::copy_", "aten::cat", "aten::clone", "aten::_to_copy"),
    "elementwise": ("aten::mul", "aten::add", "aten::div", "aten::addcmul", "aten::sum", "aten::fill_"),
}


def _profile_breakdown(function) -> dict:
    """Self CPU seconds of one call by op category (torch.profiler; its overhead inflates small ops a little)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        function()
    seconds = dict.fromkeys(list(OP_CATEGORIES) + ["other"], 0.0)
    for event in prof.key_averages():
        category = next(
            (name for name, prefixes in OP_CATEGORIES.items() if event.key.startswith(prefixes)), "other"
        )
        seconds[category] += event.self_cpu_time_total / 1e6
    seconds["total"] = sum(seconds.values())
    return seconds


def run_original_child(args) -> dict:
    """The original code vs labram-hf, same weights, same process, interleaved (CPU; see original_labram.py)."""
    import copy

    import torch

    sys.path.insert(0, HERE)
    from original_labram import OriginalUnavailable, build_original_and_ours, max_logit_difference, original_inputs

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.original is None:
        return {"mode": "original", "skipped": "no --original DIR given (the original code is not in this repository)"}
    if args.device != "cpu" or args.dtype != "fp32":
        return {"mode": "original", "skipped": "the comparison with the original runs on CPU in fp32 only"}
    try:
        pair = build_original_and_ours(args.original, preset=args.preset, num_labels=2, drop_path_rate=0.1)
    except OriginalUnavailable as err:
        return {"mode": "original", "skipped": str(err)}
    original, ours = pair.original, pair.ours
    torch.manual_seed(0)
    b, c, a = args.batch_size, args.channels, args.seconds
    values = torch.randn(b, c, a * 200) * 0.5
    ids = torch.arange(c).unsqueeze(0).expand(b, -1).contiguous()
    labels = torch.randint(0, 2, (b,))
    patches, input_chans = original_inputs(values, ids)
    logit_difference = max_logit_difference(pair, values, ids)

    # Inference: eval mode, no_grad; ours eager and (as the inference commands may) under torch.compile.
    inference_functions = {
        "original": lambda: original(patches, input_chans=input_chans),
        "ours": lambda: ours(input_values=values, channel_ids=ids).logits,
    }
    if args.original_compile:
        compiled = torch.compile(ours)
        inference_functions["ours_compiled"] = lambda: compiled(input_values=values, channel_ids=ids).logits
    with torch.no_grad():
        inference = _interleaved(inference_functions, args.warmup, args.iters)
        inference_profile = {name: _profile_breakdown(inference_functions[name]) for name in ("original", "ours")}

    # Training step: forward + cross-entropy + backward + AdamW step, drop path 0.1 in both. The original's recipe
    # builds a plain torch.optim.AdamW (per-parameter loop on CPU); ours uses the fused AdamW, and a copy of ours
    # with the plain AdamW separates the model's share of the gain from the optimiser's.
    ours_plain = copy.deepcopy(ours)
    for model in (original, ours, ours_plain):
        model.train()
    optimizers = {
        "original": torch.optim.AdamW(original.parameters(), lr=1e-4),
        "ours": torch.optim.AdamW(ours.parameters(), lr=1e-4, fused=True),
        "ours_plain_adamw": torch.optim.AdamW(ours_plain.parameters(), lr=1e-4),
    }
    criterion = torch.nn.CrossEntropyLoss()

    def step(name, loss):
        loss.backward()
        optimizers[name].step()
        optimizers[name].zero_grad(set_to_none=True)

    training_functions = {
        "original": lambda: step("original", criterion(original(patches, input_chans=input_chans), labels)),
        "ours": lambda: step("ours", ours(input_values=values, channel_ids=ids, labels=labels).loss),
        "ours_plain_adamw": lambda: step(
            "ours_plain_adamw", ours_plain(input_values=values, channel_ids=ids, labels=labels).loss
        ),
    }
    training = _interleaved(training_functions, args.warmup, args.iters)
    training_profile = {name: _profile_breakdown(training_functions[name]) for name in ("original", "ours")}
    return {
        "mode": "original",
        "original_source": pair.source,
        "timm": pair.timm,
        "max_abs_logit_diff_eval": logit_difference,
        "inference": inference,
        "training": training,
        "speedup_vs_original": {
            "inference": _speedups(inference, "original"),
            "training": _speedups(training, "original"),
        },
        "goals": {"inference": 1.4, "training": 1.6},
        "profile_seconds_by_op_category": {"inference": inference_profile, "training": training_profile},
        "num_threads": torch.get_num_threads(),
    }


def main(argv=None):
    args = parse_args(argv)
    if args._child == "original":
        print("RESULT " + json.dumps(run_original_child(args)))
        return None
    if args._child:
        print("RESULT " + json.dumps(run_child(args)))
        return None
    if args.original is not None and "original" not in args.modes:
        args.modes = list(args.modes) + ["original"]
    import torch

    from labram_hf import LaBraMConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    config = LaBraMConfig.from_preset(args.preset)
    flops = model_flops(config, args.channels, args.seconds)
    tokens = args.batch_size * (args.channels * args.seconds + 1)
    started = time.perf_counter()
    load_before = os.getloadavg()
    square = gemm_rate(args.device, dtype, args.gemm_size, args.gemm_size, args.gemm_size)
    shaped = model_gemm_rate(args.device, dtype, tokens, config.hidden_size, config.intermediate_size)
    print(f"GEMM {args.gemm_size}^3 {args.dtype}: {square / 1e9:.1f} GFLOP/s; model-shaped GEMMs: {shaped / 1e9:.1f} GFLOP/s")
    reference = square if args.peak_tflops is None else args.peak_tflops * 1e12

    results = []
    for mode in args.modes:
        if mode == "int8" and args.device != "cpu":
            print("int8: skipped (dynamic quantisation runs on CPU only)")
            results.append({"mode": mode, "skipped": "dynamic int8 quantisation runs on CPU only"})
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--_child", mode] + [
            a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("--_child")
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            results.append({"mode": mode, "error": proc.stderr[-2000:]})
            continue
        r = json.loads(line[7:])
        if mode == "original":
            if "skipped" in r:
                print(f"original: skipped ({r['skipped']})")
            else:
                for phase in ("inference", "training"):
                    for name, ratio in r["speedup_vs_original"][phase].items():
                        print(f"vs original  {phase:9s} {name:17s} {ratio['best']:.2f}x (best), "
                              f"{ratio['median']:.2f}x (median), {ratio['best_cpu']:.2f}x (best CPU time); "
                              f"goal {r['goals'][phase]}x")
                    for name, seconds in r["profile_seconds_by_op_category"][phase].items():
                        print(f"  profile {phase:9s} {name:9s} " + ", ".join(
                            f"{key} {value:.2f}" for key, value in seconds.items() if value >= 0.005))
            results.append(r)
            continue
        for phase, factor in (("inference", 1), ("training", 3)):
            if r[phase] is None:
                continue
            # rates from the best iteration (the GEMM reference is a best-of too); medians are kept alongside
            key = "best_seconds_per_batch" if phase == "inference" else "best_seconds_per_step"
            r[phase]["best_samples_per_second"] = args.batch_size / r[phase][key]
            sps = r[phase]["best_samples_per_second"]
            r[phase]["median_achieved_gflops"] = r[phase]["samples_per_second"] * flops["total"] * factor / 1e9
            achieved = sps * flops["total"] * factor
            r[phase]["achieved_gflops"] = achieved / 1e9
            r[phase]["fraction_of_square_gemm"] = achieved / square
            r[phase]["fraction_of_model_shaped_gemm"] = achieved / shaped
            if args.peak_tflops is not None:
                r[phase]["mfu"] = achieved / reference
        line = (f"{mode:8s} inference {r['inference']['best_samples_per_second']:7.1f} samples/s "
                f"({r['inference']['achieved_gflops']:.1f} GFLOP/s, {100 * r['inference']['fraction_of_square_gemm']:.0f}% "
                f"of GEMM, peak {r['inference']['peak_memory_mib']:.0f} MiB)")  # fmt: skip
        if r["training"] is not None:
            line += (f" | training {r['training']['best_samples_per_second']:6.1f} samples/s "
                     f"({r['training']['achieved_gflops']:.1f} GFLOP/s, {100 * r['training']['fraction_of_square_gemm']:.0f}% "
                     f"of GEMM, peak {r['training']['peak_memory_mib']:.0f} MiB)")  # fmt: skip
        if r.get("int8_accuracy"):
            acc = r["int8_accuracy"]
            line += (f" | vs fp32: max |logit diff| {acc['max_abs_logit_diff_vs_fp32']:.2e} "
                     f"(logit std {acc['fp32_logit_std']:.2e}), argmax agreement {acc['argmax_agreement_vs_fp32']:.2f}")
        print(line)
        results.append(r)

    # int8 against fp32 (the SDPA model it was made from), both measured in this run
    by_mode = {r["mode"]: r for r in results if "inference" in r and r["mode"] != "original"}
    int8_vs_fp32 = None
    if "int8" in by_mode and "sdpa" in by_mode:
        fp32, int8 = by_mode["sdpa"]["inference"], by_mode["int8"]["inference"]
        int8_vs_fp32 = {
            "fp32_mode": "sdpa",
            "speedup_best": fp32["best_seconds_per_batch"] / int8["best_seconds_per_batch"],
            "speedup_median": fp32["seconds_per_batch"] / int8["seconds_per_batch"],
            **by_mode["int8"]["int8_accuracy"],
        }
        print(f"int8 vs fp32 (sdpa) inference: {int8_vs_fp32['speedup_best']:.2f}x (best), "
              f"{int8_vs_fp32['speedup_median']:.2f}x (median)")

    out = {
        "workload": {"preset": args.preset, "batch_size": args.batch_size, "channels": args.channels,
                     "seconds": args.seconds, "tokens_per_sample": args.channels * args.seconds + 1,
                     "device": args.device, "dtype": args.dtype},  # fmt: skip
        "flops_per_sample_forward": flops,
        "gflop_per_batch": {"inference": flops["total"] * args.batch_size / 1e9,
                            "training": 3 * flops["total"] * args.batch_size / 1e9},  # fmt: skip
        "reference": {"square_gemm_gflops": square / 1e9, "gemm_size": args.gemm_size,
                      "model_shaped_gemm_gflops": shaped / 1e9, "peak_tflops": args.peak_tflops},  # fmt: skip
        "goals": {"inference_fraction_of_gemm": 0.8, "training_fraction_of_gemm": 0.75},
        "modes": results,
        "int8_vs_fp32": int8_vs_fp32,
        "vs_original": next((r.get("speedup_vs_original") for r in results if r["mode"] == "original"), None),
        "load_average_at_start": load_before,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
                    "torch": torch.__version__,
                    "cuda_device": torch.cuda.get_device_name(0) if args.device == "cuda" else None},  # fmt: skip
        "total_seconds": time.perf_counter() - started,
        "load_average_at_end": os.getloadavg(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(out, f, indent=2)
    print(f"wrote {args.output}")
    return out


if __name__ == "__main__":
    main()
