"""`labram embed`: per-window embeddings (the backbone's pooled output) of EEG files, written to Parquet."""

from __future__ import annotations

import argparse
import sys
import textwrap
import warnings
from pathlib import Path

from . import UserError

WINDOW_HELP = (
    "window length in whole seconds (default: the feature extractor's window_seconds if saved, else 10 s; at most "
    "the model's max_time_patches seconds)"
)


def add_inference_arguments(parser: argparse.ArgumentParser, output_suffix: str) -> None:
    """Arguments shared by `labram embed` and `labram predict`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="EEG recordings, directories (recursive) or globs")
    parser.add_argument("--model", required=True, metavar="DIR", help="model directory (or a cached Hub id)")
    parser.add_argument("--output", "-o", required=True, metavar=f"OUT{output_suffix}", help="file to write")
    parser.add_argument("--window-seconds", type=float, default=None, metavar="S", help=WINDOW_HELP)
    parser.add_argument(
        "--stride-seconds", type=float, default=None, metavar="S",
        help="step between window starts (default: the window length, i.e. no overlap)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="windows per forward pass (32)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--quiet", "-q", action="store_true", help="no per-file progress lines")


def _description(what: str) -> str:
    return textwrap.dedent(
        f"""\
        {what}

        Each recording is read (EDF, BDF, GDF, FIF, BrainVision, EEGLAB, .eeg.h5, ...), preprocessed with the
        feature extractor saved with the model (preprocessor_config.json; the original LaBraM recipe when absent:
        EEG channels known to LaBraM, 0.1-75 Hz band-pass, 50 Hz notch, 200 Hz, microvolts / 100), and cut into
        windows that lie fully inside it. Recordings shorter than one window are reported and skipped."""
    )


def prepare(args, task: str):
    """Validate the common arguments; returns (files, model, feature_extractor)."""
    import torch

    from ..data.builder import DatasetBuildError, resolve_inputs
    from ..inference import InferenceError, load_for_inference, resolve_window_seconds

    output = Path(args.output)
    if output.is_dir():
        raise UserError(f"--output {output} is a directory", hint="pass a file path")
    if output.exists() and not args.overwrite:
        raise UserError(f"output file {output} exists", hint="pass --overwrite to replace it")
    if args.batch_size <= 0:
        raise UserError(f"--batch-size must be positive, got {args.batch_size}")
    if args.stride_seconds is not None and args.stride_seconds <= 0:
        raise UserError(f"--stride-seconds must be positive, got {args.stride_seconds:g}")
    try:
        files = resolve_inputs(args.files)
    except DatasetBuildError as err:
        raise UserError(str(err), hint="pass EEG files, directories or quoted glob patterns") from None
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        torch.device(device)
    except RuntimeError:
        raise UserError(f"unknown --device {device!r}", hint="use cpu, cuda or cuda:N") from None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            model, fe = load_for_inference(args.model, task=task, device=device)
        for w in caught:
            if "pooling LayerNorm" in str(w.message):
                print(f"labram {task}: warning: {w.message}", file=sys.stderr)
        resolve_window_seconds(fe, model.config, args.window_seconds)
    except InferenceError as err:
        raise UserError(str(err), hint=err.hint) from None
    return files, model, fe


def progress_printer(task: str, quiet: bool):
    if quiet:
        return None

    def report(source: str, n: int) -> None:
        print(f"labram {task}: {source}: {n} window(s)", file=sys.stderr)

    return report


def report_skipped(task: str, table) -> None:
    for source in table.attrs.get("skipped", []):
        print(f"labram {task}: warning: {source}: shorter than one window, skipped", file=sys.stderr)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "embed",
        help="per-window embeddings of EEG files (Parquet)",
        description=_description(
            "Compute one embedding per window of each EEG file: the LaBraM backbone's pooler_output "
            "(LayerNorm of the mean patch token). Writes a Parquet table with the columns source, start, end "
            "(seconds) and embedding (a float32 vector of hidden_size values)."
        ),
        epilog="example: labram embed rec1.edf rec2.edf --model labram-base-hf --output embeddings.parquet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_inference_arguments(parser, ".parquet")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..inference import InferenceError, embed_files

    files, model, fe = prepare(args, "embed")
    try:
        table = embed_files(
            files, model, fe, window_seconds=args.window_seconds, stride_seconds=args.stride_seconds,
            batch_size=args.batch_size, progress=progress_printer("embed", args.quiet),
        )  # fmt: skip
    except InferenceError as err:
        raise UserError(str(err), hint=err.hint) from None
    report_skipped("embed", table)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    _write_parquet(table, output, model_source=str(args.model))
    print(f"labram embed: wrote {len(table)} embeddings of size {len(table['embedding'].iloc[0])} to {output}")
    return 0


def _write_parquet(table, output: Path, model_source: str) -> None:
    import json

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    dim = len(table["embedding"].iloc[0])
    vectors = np.stack(table["embedding"].to_numpy()).astype(np.float32).reshape(-1)
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors, type=pa.float32()), dim)
    arrow = pa.table(
        {
            "source": pa.array(table["source"].tolist(), type=pa.string()),
            "start": pa.array(table["start"].to_numpy(), type=pa.float64()),
            "end": pa.array(table["end"].to_numpy(), type=pa.float64()),
            "embedding": embedding,
        }
    )
    meta = {"model": model_source, "window_seconds": table.attrs.get("window_seconds"), "embedding": "pooler_output"}
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), b"labram": json.dumps(meta).encode()})
    tmp = output.with_name(f".{output.name}.tmp")
    pq.write_table(arrow, tmp)
    tmp.replace(output)
