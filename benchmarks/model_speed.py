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
                   choices=["eager", "sdpa", "compile", "int8"], help="int8: CPU only, inference only")
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

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=(device == "cuda") or None)

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


def main(argv=None):
    args = parse_args(argv)
    if args._child:
        print("RESULT " + json.dumps(run_child(args)))
        return None
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
    by_mode = {r["mode"]: r for r in results if "inference" in r}
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
