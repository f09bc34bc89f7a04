"""`labram export-onnx`: export a LaBraM classifier (logits) or backbone (pooled embedding) to ONNX."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from . import UserError
from .embed import model_inputs


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-onnx",
        help="export a model directory to ONNX (dynamic batch, channels and time)",
        description=textwrap.dedent(
            """\
            Export a LaBraM model to a single ONNX file with inputs input_values float32 [batch, channels, time]
            (microvolts / 100 at 200 Hz; time a multiple of 200 samples, at most max_time_patches patches) and
            channel_ids int64 [batch, channels] (LaBraM vocabulary positions, see labram_hf.channel_ids), all
            three axes dynamic. The output is `logits` for a fine-tuned classifier or `pooler_output` (the
            embedding) otherwise; --output picks one explicitly. The PyTorch model's input checks are not part of
            the graph. The model is loaded strictly (missing or unknown weights are an error). The file is written
            beside OUT.onnx and moved into place when complete; it never replaces the model, and an existing file
            only with --overwrite.

            Exporters: torchscript (default; the legacy TorchScript tracer of torch.onnx.export, needs only onnx)
            or dynamo (torch.export-based; needs the onnxscript package)."""
        ),
        epilog="example: labram export-onnx my-classifier model.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model_dir", metavar="DIR", help="model directory (from labram convert or save_pretrained)")
    parser.add_argument("output_path", metavar="OUT.onnx", help="ONNX file to write")
    parser.add_argument("--output", choices=["auto", "logits", "pooler_output"], default="auto",
                        help="graph output (auto: logits for classifiers, else pooler_output)")  # fmt: skip
    parser.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript",
                        help="torch.onnx exporter (default: torchscript)")  # fmt: skip
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset version (default 18)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch check")
    parser.set_defaults(func=run)


def run(args) -> int:
    import sys
    import warnings

    from ..outputs import OutputTarget

    out = Path(args.output_path)
    if out.suffix.lower() != ".onnx":
        raise UserError(f"output file {out} should end in .onnx", hint="e.g. model.onnx")
    if not 14 <= args.opset <= 23:
        raise UserError(f"--opset {args.opset} is not supported", hint="use an opset between 14 and 23 (default 18)")
    target = OutputTarget(out, inputs=model_inputs(args.model_dir), overwrite=args.overwrite, kind="file",
                          what="output file", command="export-onnx")  # fmt: skip

    from ..inference import InferenceWarning
    from ..onnx_export import OnnxExportError, export_onnx

    with target, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InferenceWarning)
        try:
            export_onnx(args.model_dir, target.work, output=args.output, exporter=args.exporter, opset=args.opset)
        except OnnxExportError as err:
            raise UserError(str(err), hint=err.hint) from None
        for w in caught:
            if issubclass(w.category, InferenceWarning):
                print(f"labram export-onnx: warning: {w.message}", file=sys.stderr)
        diff = None if args.no_check else check_against_torch(args.model_dir, target.work, args.output)
        target.commit()
    message = f"labram export-onnx: wrote {out}"
    if diff is not None:
        message += f" (onnxruntime vs PyTorch: max |diff| {diff:.2e})"
    print(message)
    return 0


def check_against_torch(model_dir, onnx_path, output: str = "auto") -> float:
    """Run one random input through onnxruntime and PyTorch; returns the largest absolute difference."""
    import numpy as np
    import torch

    from ..onnx_export import load_for_export

    try:
        import onnxruntime as ort
    except ImportError:
        return float("nan")
    model, output = load_for_export(model_dir, output)
    config = model.config
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(1, 7, 3 * config.patch_size, generator=generator)
    ids = torch.randint(0, config.num_electrodes, (1, 7), generator=generator)
    with torch.no_grad():
        result = model(input_values=values, channel_ids=ids)
    expected = (result.logits if output == "logits" else result.pooler_output).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {"input_values": values.numpy(), "channel_ids": ids.numpy()})[0]
    return float(np.abs(actual - expected).max())
