"""`labram embed`: embeddings of EEG files per window (the backbone's pooled output), per channel or per patch,
written to Parquet or NPY.

Also home of what `labram embed` and `labram predict` share: their arguments, the checks made before any work (the
output path first), loading the model strictly, and applying preprocessing overrides with warnings.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
import textwrap
from pathlib import Path

from ..channels import CHANNEL_POLICIES
from . import UserError, parse_channels, parse_notch

WINDOW_HELP = (
    "window length in whole seconds (default: the window the model was trained on, from its "
    "preprocessor_config.json, else 10 s; at most the model's max_time_patches seconds)"
)

# Extractor field -> (option, what it is called in messages, unit).
_OVERRIDE_FLAGS: dict[str, tuple[str, str, str]] = {
    "notch_freq": ("--notch", "notch", "Hz"),
    "h_freq": ("--lowpass", "low-pass edge", "Hz"),
    "l_freq": ("--highpass", "high-pass edge", "Hz"),
    "window_seconds": ("--window-seconds", "window length", "s"),
    "stride_seconds": ("--stride-seconds", "stride", "s"),
    "channel_policy": ("--channel-policy", "channel policy", ""),
    "channels": ("--channels", "channel selection", ""),
    "montage": ("--montage", "montage", ""),
    "bipolar": ("--bipolar", "bipolar rule", ""),
}


def add_inference_arguments(parser: argparse.ArgumentParser, output_suffix: str) -> None:
    """Arguments shared by `labram embed` and `labram predict`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="EEG recordings, directories (recursive) or globs")
    parser.add_argument("--model", required=True, metavar="DIR", help="model directory (or a cached Hub id)")
    parser.add_argument("--output", "-o", required=True, metavar=f"OUT{output_suffix}", help="file to write")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="windows per forward pass (32)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--quiet", "-q", action="store_true", help="no per-file progress lines")
    group = parser.add_argument_group(
        "preprocessing overrides",
        "By default the model's own preprocessing is used (its preprocessor_config.json). These options, named as "
        "in `labram prepare`, override it; each one that differs from what the model was trained with prints a "
        "warning.",
    )
    group.add_argument("--window-seconds", type=float, default=None, metavar="S", help=WINDOW_HELP)
    group.add_argument("--stride-seconds", type=float, default=None, metavar="S",
                       help="hop between window starts (default: the model's, else the window length)")
    group.add_argument("--interpolate-pos-encoding", action="store_true",
                       help="accept windows longer than the model's max_time_patches seconds (16 s) by linearly "
                            "interpolating its temporal embeddings (interpolate_pos_encoding=True; an extension of "
                            "the original model, which was never trained on such windows: a warning says so)")
    group.add_argument("--notch", default=None, metavar="50|60|off", help="mains notch filter (Hz) or off")
    group.add_argument("--lowpass", type=float, default=None, metavar="HZ", help="low-pass edge (Hz)")
    group.add_argument("--highpass", type=float, default=None, metavar="HZ", help="high-pass edge (Hz)")
    group.add_argument("--channel-policy", choices=CHANNEL_POLICIES, default=None,
                       help="how recorded channels map onto LaBraM's electrodes: strict refuses unknown names, "
                            "lenient drops them with a warning, aliases/nearest/interpolate map more (see "
                            "`labram channels --help`)")  # fmt: skip
    group.add_argument("--lenient-channels", dest="channel_policy", action="store_const", const="lenient",
                       help="the same as --channel-policy lenient")  # fmt: skip
    group.add_argument("--montage", default=None, metavar="NAME|FILE",
                       help="electrode positions for the nearest/interpolate policies (an mne montage name or file)")
    group.add_argument("--bipolar", choices=["anode", "drop"], default=None,
                       help="bipolar derivations such as Fpz-Cz: use the first electrode's row, or drop them")
    group.add_argument("--channels", default=None, metavar="LIST|tuh",
                       help="fixed channel selection in this order, comma-separated (or 'tuh' for the 23 TUAB/TUEV "
                            "channels); every file must have them all")  # fmt: skip


def _description(what: str) -> str:
    """``what`` (paragraphs separated by blank lines; lines starting with two spaces are list items), wrapped, then
    what `labram embed` and `labram predict` share."""
    lines = []
    for line in what.split("\n"):
        item = re.match(r"  \S+\s+", line)  # "  name     text": a list item, continued under its text
        if item:
            lines.append(textwrap.fill(line, 110, subsequent_indent=" " * item.end()))
        else:
            lines.append(textwrap.fill(line, 110) if line else "")
    return "\n".join(lines) + "\n\n" + textwrap.dedent(
        """\
        Each recording is read (EDF, BDF, GDF, FIF, BrainVision, EEGLAB, .eeg.h5, -epo.fif, ...), preprocessed with
        the feature extractor saved with the model (preprocessor_config.json: filters, channel policy, window and
        stride; the original LaBraM recipe when absent, with a warning: EEG channels known to LaBraM, 0.1-75 Hz
        band-pass, 50 Hz notch, 200 Hz, microvolts / 100, 10-s windows), and cut into windows that lie fully
        inside it (the trials of an epochs file are filtered and cut one by one; a trial shorter than a window is
        one window). Recordings shorter than one window are reported and skipped. The model is loaded strictly:
        missing or unknown weights are an error. The output is written beside its final path and moved into
        place at the end; it never replaces an input, and an existing file only with --overwrite."""
    )


# ------------------------------------------------------------------------------------------------------------------
# Checks that need no heavy import (made before anything is loaded)
# ------------------------------------------------------------------------------------------------------------------


def _positive(value: float | None, flag: str, example: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"{flag} must be a positive, finite number, got {value:g}", hint=f"e.g. {flag} {example}")
    return float(value)


def _notch(value: str | None):
    """An explicit ``--notch`` override (``OFF`` for off), or ``None`` when not given (the model's own)."""
    if value is None:
        return None
    freq = parse_notch(value)
    if freq is None:
        from ..inference import OFF

        return OFF
    return freq


def check_arguments(args) -> dict:
    """Validate the numbers and options (no heavy import); returns the preprocessing overrides."""
    if args.batch_size <= 0:
        raise UserError(f"--batch-size must be positive, got {args.batch_size}", hint="e.g. --batch-size 32")
    overrides = {
        "window_seconds": _positive(args.window_seconds, "--window-seconds", "10"),
        "stride_seconds": _positive(args.stride_seconds, "--stride-seconds", "5"),
        "notch_freq": _notch(args.notch),
        "h_freq": _positive(args.lowpass, "--lowpass", "75"),
        "l_freq": _positive(args.highpass, "--highpass", "0.1"),
        "channel_policy": args.channel_policy,
        "channels": parse_channels(args.channels),
        "montage": args.montage,
        "bipolar": args.bipolar,
    }
    if overrides["h_freq"] and overrides["l_freq"] and overrides["l_freq"] >= overrides["h_freq"]:
        raise UserError(f"--highpass {args.highpass:g} must be below --lowpass {args.lowpass:g}",
                        hint="e.g. --highpass 0.1 --lowpass 75")  # fmt: skip
    return overrides


def output_target(args, task: str, path: str | Path | None = None, what: str = "--output"):
    """An output file (``args.output`` by default), checked now, before anything is loaded: see
    :class:`labram_hf.outputs.OutputTarget`."""
    from ..outputs import OutputTarget

    literal_inputs = [f for f in args.files if Path(f).exists()]
    return OutputTarget(args.output if path is None else path, inputs=[*literal_inputs, *model_inputs(args.model)],
                        overwrite=args.overwrite, kind="file", what=what, command=task)  # fmt: skip


def companion_path(output: str | Path, tag: str, suffix: str | None = None) -> Path:
    """The file written beside ``output``: ``pred.csv`` -> ``pred_recordings.csv``, ``emb.npy`` -> ``emb_rows.csv``."""
    output = Path(output)
    return output.with_name(f"{output.stem}_{tag}{output.suffix if suffix is None else suffix}")


def model_inputs(model: str) -> list[Path]:
    """The model directory and every file in it (a new file may go there, an existing one is never replaced)."""
    path = Path(model)
    if not path.is_dir():
        return [path] if path.exists() else []
    return [path, *sorted(path.iterdir())]


# ------------------------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------------------------


def _format(field: str, value, unit: str) -> str:
    if value is None:
        return {"channels": "none (all EEG channels LaBraM knows)", "montage": "none (the recording's own)",
                "bipolar": "none (an error)"}.get(field, "off")  # fmt: skip
    if field == "channels":
        from ..channels import TUH_CHANNELS

        return "tuh" if list(value) == list(TUH_CHANNELS) else ",".join(value)
    if isinstance(value, float):
        return f"{value:g} {unit}".strip()
    return str(value)


def override_warnings(changed: dict, args) -> list[str]:
    """One message per override that contradicts the saved preprocessing, naming both values."""
    given = {"notch_freq": args.notch, "h_freq": args.lowpass, "l_freq": args.highpass,
             "window_seconds": args.window_seconds, "stride_seconds": args.stride_seconds,
             "channel_policy": args.channel_policy, "channels": args.channels, "montage": args.montage,
             "bipolar": args.bipolar}  # fmt: skip
    messages = []
    for field, (old, _new) in changed.items():
        flag, what, unit = _OVERRIDE_FLAGS[field]
        value = given[field]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        messages.append(f"{flag} {shown} overrides the model's {what} {_format(field, old, unit)} "
                        "(what it was trained with)")  # fmt: skip
    return messages


def prepare(args, task: str, target=None):
    """Check everything that can be checked before the work; returns ``(files, model, fe, output_target)``.

    ``target``: the output, when the command has checked it already."""
    import warnings

    overrides = check_arguments(args)
    target = target or output_target(args, task)

    from ..data.builder import DatasetBuildError, resolve_inputs
    from ..inference import (
        AssumedPreprocessingWarning,
        InferenceWarning,
        load_for_inference,
        resolve_stride_seconds,
        resolve_window_seconds,
        with_overrides,
    )
    from ..outputs import check_not_overlapping

    try:
        files = resolve_inputs(args.files)
    except DatasetBuildError as err:
        raise UserError(str(err), hint=err.hint or "pass EEG files, directories or quoted glob patterns") from None
    check_not_overlapping(target.target, files, "--output", inside_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InferenceWarning)
        model, fe = load_for_inference(args.model, task=task, device=args.device)
    assumed = False
    for w in caught:
        if issubclass(w.category, InferenceWarning):
            print(f"labram {task}: warning: {w.message}", file=sys.stderr)
            assumed = assumed or issubclass(w.category, AssumedPreprocessingWarning)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    fe, changed = with_overrides(fe, **overrides)
    if not assumed:
        for message in override_warnings(changed, args):
            print(f"labram {task}: warning: {message}", file=sys.stderr)
    if fe.l_freq is not None and fe.h_freq is not None and fe.l_freq >= fe.h_freq:
        raise UserError(f"the high-pass edge {fe.l_freq:g} Hz must be below the low-pass edge {fe.h_freq:g} Hz",
                        hint="change --highpass or --lowpass")  # fmt: skip
    with warnings.catch_warnings():  # the long-window warning is printed once, during the run
        warnings.simplefilter("ignore", UserWarning)
        window = resolve_window_seconds(fe, model.config, interpolate_pos_encoding=args.interpolate_pos_encoding)
    resolve_stride_seconds(fe, window)
    return files, model, fe, target


@contextlib.contextmanager
def printed_warnings(task: str):
    """Print the warnings raised inside (e.g. dropped channels) as ``labram TASK: warning: ...``, once each."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            yield
        finally:
            messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
            for message in dict.fromkeys(" ".join(m.split()) for m in messages):
                print(f"labram {task}: warning: {message}", file=sys.stderr)


def progress_printer(task: str, quiet: bool):
    if quiet:
        return None

    def report(source: str, n: int) -> None:
        print(f"labram {task}: {source}: {n} window(s)", file=sys.stderr)

    return report


def report_skipped(task: str, table) -> None:
    for source in table.attrs.get("skipped", []):
        print(f"labram {task}: warning: {source}: shorter than one window, skipped", file=sys.stderr)


# ------------------------------------------------------------------------------------------------------------------
# labram embed
# ------------------------------------------------------------------------------------------------------------------


#: Output formats of `labram embed`, by suffix.
EMBED_FORMATS = (".parquet", ".npy")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "embed",
        help="embeddings of EEG files per window, channel or patch (Parquet or NPY)",
        description=_description(
            "Compute LaBraM embeddings of every window of each EEG file, at one of three levels (--level):\n"
            "  window   one vector per window: the backbone's pooler_output (LayerNorm -- the original fc_norm -- "
            "of the mean patch token);\n"
            "  patch    one vector per channel and second: fc_norm applied to each patch token of "
            "last_hidden_state (the original's patch-token output; the cls token is left out);\n"
            "  channel  one vector per channel: the mean of that channel's patch vectors over the window.\n"
            "Patch tokens are channel-major: token c*A + a of a window with A patches is patch a of channel c, and "
            "patch rows are written in this order.\n\n"
            "The output's suffix decides the format. .parquet: one row per window / channel / patch with the "
            "columns source, start, end (the window, seconds), channel (vocabulary name; channel and patch "
            "levels), patch (the second within the window; patch level) and embedding (float32, hidden_size "
            "values); the schema metadata 'labram' records the model, level and window length. .npy: the float32 "
            "array [rows, hidden_size], and beside it OUT_rows.csv with the other columns, row i describing row i "
            "of the array. Epochs files (-epo.fif) add trial and event columns."
        ),
        epilog="examples:\n  labram embed rec1.edf rec2.edf --model labram-base-hf --output embeddings.parquet\n"
        "  labram embed rec1.edf --model labram-base-hf --level patch --output patches.npy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_inference_arguments(parser, ".parquet|.npy")
    parser.add_argument("--level", choices=("window", "patch", "channel"), default="window",
                        help="one embedding per window (default), per channel and window, or per channel and "
                             "second (patch)")  # fmt: skip
    parser.set_defaults(func=run)


def check_embed_output(output: str) -> str:
    """The output format (``.parquet`` / ``.npy``) from the suffix; anything else is a :class:`UserError`."""
    suffix = Path(output).suffix.lower()
    if suffix not in EMBED_FORMATS:
        raise UserError(f"--output {output}: unknown format {suffix or '(no suffix)'!r}",
                        hint="end the file name in .parquet (a table) or .npy (an array + OUT_rows.csv)")  # fmt: skip
    return suffix


def run(args) -> int:
    from ..inference import embed_files

    target = output_target(args, "embed")  # first: an output that would replace an input is refused as such
    suffix = check_embed_output(args.output)
    rows_target = None
    if suffix == ".npy":  # the row metadata beside the array, checked now as well
        rows_target = output_target(args, "embed", companion_path(args.output, "rows", ".csv"), "rows file")
    files, model, fe, target = prepare(args, "embed", target)
    with target as out, printed_warnings("embed"):
        progress = progress_printer("embed", args.quiet)
        table = embed_files(files, model, fe, batch_size=args.batch_size, progress=progress, level=args.level,
                            interpolate_pos_encoding=args.interpolate_pos_encoding)  # fmt: skip
        report_skipped("embed", table)
        if suffix == ".parquet":
            _write_parquet(table, out.work, model_source=str(args.model))
            written = [out.commit()]
        else:
            with rows_target as rows_out:
                _write_npy(table, out.work, rows_out.work)
                written = [out.commit(), rows_out.commit()]
    size = len(table["embedding"].iloc[0])
    print(f"labram embed: wrote {len(table)} embeddings of size {size} ({args.level} level) to "
          + " and ".join(map(str, written)))  # fmt: skip
    return 0


def _metadata(table, model_source: str) -> dict:
    return {"model": model_source, "level": table.attrs.get("level", "window"),
            "window_seconds": table.attrs.get("window_seconds"), "embedding": table.attrs.get("embedding"),
            "token_order": table.attrs.get("token_order")}  # fmt: skip


def _write_parquet(table, path: Path, model_source: str) -> None:
    import json

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    dim = len(table["embedding"].iloc[0])
    vectors = np.stack(table["embedding"].to_numpy()).astype(np.float32).reshape(-1)  # [rows * dim]
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors, type=pa.float32()), dim)
    columns = {}
    for name in table.columns.drop("embedding"):
        values = table[name]
        if name in ("source", "channel", "event"):
            columns[name] = pa.array(values.astype(str).tolist(), type=pa.string())
        elif name in ("patch", "trial"):
            columns[name] = pa.array(values.to_numpy(dtype=np.int64), type=pa.int64())
        else:
            columns[name] = pa.array(values.to_numpy(dtype=np.float64), type=pa.float64())
    arrow = pa.table({**columns, "embedding": embedding})
    meta = _metadata(table, model_source)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), b"labram": json.dumps(meta).encode()})
    pq.write_table(arrow, path)


def _write_npy(table, path: Path, rows_path: Path) -> None:
    import numpy as np

    vectors = np.stack(table["embedding"].to_numpy()).astype(np.float32)  # [rows, hidden_size]
    with open(path, "wb") as handle:  # a file object: np.save would append .npy to the work file's name
        np.save(handle, vectors)
    table.drop(columns="embedding").to_csv(rows_path, index=False, float_format="%.6g")
