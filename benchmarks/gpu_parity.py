"""Parity of the port on a GPU: the reference fixtures run on CUDA in float32 (TF32 off), eager and SDPA attention,
plus the agreement of tokenizer ids between fp32 and a bf16-loaded tokenizer (codebook kept in fp32).

    python benchmarks/gpu_parity.py [--output benchmarks/results/gpu_parity.json]

Not a test (CI has no GPU); run by hand or on a lent GPU machine. Writes the max differences per output.
"""

import argparse
import json
import os
from pathlib import Path

import torch

import labram_hf  # noqa: F401  (registers the Auto classes)
from labram_hf.conversion import build_model

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "reference"


def max_diff(a, b):
    return (a.detach().float().cpu() - b.float()).abs().max().item()


def run_fixture(name, attn, device):
    fixture = torch.load(FIXTURES / f"{name}.pt", weights_only=True)
    model, kind = build_model(fixture["state_dict"])
    model.set_attn_implementation(attn)
    model = model.to(device).eval()
    x = fixture["input"].flatten(2).to(device)
    ids = (fixture["input_chans"][1:] - 1).to(device)
    out = {}
    with torch.no_grad():
        if kind == "classifier":
            res = model(x, ids, output_hidden_states=True)
            out["embeddings"] = max_diff(res.hidden_states[0], fixture["embeddings"])
            out["hidden_states"] = max_diff(torch.stack(res.hidden_states[1:]), fixture["hidden_states"])
            out["logits"] = max_diff(res.logits, fixture["logits"])
        elif kind == "pretraining":
            mask = fixture["bool_masked_pos"].to(device)
            res = model(x, ids, bool_masked_pos=mask, labels=fixture["labels"].to(device))
            out["logits_all"] = max_diff(res.logits, fixture["logits_all"])
            out["x_rec_sym"] = max_diff(res.symmetric_logits[~mask], fixture["x_rec_sym"])
            out["loss"] = max_diff(res.loss, fixture["loss"])
        else:
            res = model(x, ids)
            out["tokens_equal"] = bool(torch.equal(res.token_ids.cpu(), fixture["tokens"]))
            out["to_quantizer_features"] = max_diff(res.encoder_features, fixture["to_quantizer_features"])
            out["rec_amplitude"] = max_diff(res.amplitude_reconstruction, fixture["rec_amplitude"])
            out["target_angle"] = max_diff(res.phase_target, fixture["target_angle"])
            out["loss"] = max_diff(res.loss, fixture["loss"])
    return out


def bf16_token_agreement(device, tmp="/tmp/labram_gpu_tok"):
    from labram_hf import LaBraMTokenizerConfig, LaBraMTokenizerModel

    torch.manual_seed(0)
    model = LaBraMTokenizerModel(LaBraMTokenizerConfig.from_preset("base", kmeans_init=False))
    model.save_pretrained(tmp)
    fp32 = LaBraMTokenizerModel.from_pretrained(tmp).to(device).eval()
    bf16 = LaBraMTokenizerModel.from_pretrained(tmp, dtype=torch.bfloat16).to(device).eval()
    x = torch.randn(16, 23, 2000, device=device)
    ids = torch.arange(23, device=device)
    a = fp32.get_codebook_indices(x, ids)
    b = bf16.get_codebook_indices(x, ids)
    return {
        "codebook_dtype_bf16_model": str(bf16.quantizer.codebook.dtype),
        "token_agreement_bf16_vs_fp32": (a == b).float().mean().item(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "gpu_parity.json"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_parity.py needs a CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda"
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for name in ("finetune", "pretrain", "tokenizer"):
        for attn in ("eager", "sdpa"):
            results[f"{name}/{attn}"] = run_fixture(name, attn, device)
    results["bf16"] = bf16_token_agreement(device)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
