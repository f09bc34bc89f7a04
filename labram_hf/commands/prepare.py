"""`labram prepare`: turn EEG recordings into a LaBraM window dataset (Arrow, ``datasets.load_from_disk``).

Examples::

    labram prepare recordings/ --output data/windows
    labram prepare "raw/**/*.edf" --output data/abn --labels csv:labels.csv --num-proc 4
    labram prepare night.edf --output data/sleep --labels annotations \\
        --label-map '{"Sleep stage W": "wake", "Sleep stage 2": "sleep"}' --window-seconds 4
    labram prepare headset_128hz.bdf --output data/bci --lowpass 45 --notch 60
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from . import UserError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="preprocess EEG recordings into a windowed dataset (Arrow, loads with datasets.load_from_disk)",
        description=(
            "Read EEG files (EDF, BDF, GDF, FIF, BrainVision, EEGLAB, eeghdf, ...), apply LaBraM's preprocessing "
            "(EEG channels of the LaBraM vocabulary, 0.1-75 Hz band-pass, mains notch, 200 Hz, microvolts/100) "
            "and save fixed-length windows as a Hugging Face dataset."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples::", 1)[1],
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="EEG files, directories (searched recursively) or globs")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="directory to write the dataset to")
    parser.add_argument("--window-seconds", type=float, default=10.0, help="window length in whole seconds (10)")
    parser.add_argument("--stride-seconds", type=float, default=None,
                        help="hop between windows (default: the window length, no overlap)")  # fmt: skip
    parser.add_argument("--labels", default="none", metavar="none|annotations|csv:PATH",
                        help="no labels (default), labels from the files' annotations (needs --label-map), or one "
                             "label per file from a CSV with columns path,label")  # fmt: skip
    parser.add_argument("--label-map", default=None, metavar="JSON|PATH",
                        help="annotation description -> class, as a JSON object or a JSON file")  # fmt: skip
    parser.add_argument("--straddle", choices=["majority", "drop", "any"], default="majority",
                        help="label of windows that straddle annotations (default: majority)")  # fmt: skip
    parser.add_argument("--background", default=None, metavar="CLASS",
                        help="class of windows touching no mapped annotation (default: drop them)")  # fmt: skip
    parser.add_argument("--notch", default="50", metavar="50|60|off", help="mains notch filter (default 50 Hz)")
    parser.add_argument("--lowpass", type=float, default=75.0, metavar="HZ",
                        help="low-pass edge (default 75 Hz; needs a sampling rate above twice this)")  # fmt: skip
    parser.add_argument("--highpass", type=float, default=0.1, metavar="HZ", help="high-pass edge (default 0.1 Hz)")
    parser.add_argument("--channels", default=None, metavar="LIST|tuh",
                        help="fixed channel selection in this order, comma-separated (or 'tuh' for the 23 TUAB/TUEV "
                             "channels); every file must have them all")  # fmt: skip
    parser.add_argument("--num-proc", type=int, default=1, metavar="N", help="worker processes (default 1)")
    parser.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                        help="stop at the first bad file (default) or skip it and list it in skipped_files.csv")  # fmt: skip
    parser.add_argument("--lenient-channels", action="store_true",
                        help="drop EEG channels unknown to LaBraM (with a warning) instead of failing")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace an existing non-empty output directory")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _notch(value: str) -> float | None:
    v = str(value).strip().lower()
    if v in ("off", "none", "no", "0"):
        return None
    try:
        f = float(v)
    except ValueError:
        raise UserError(f"--notch must be 50, 60 or off, got {value!r}", "use --notch off to disable it") from None
    if f <= 0:
        raise UserError(f"--notch must be positive, got {value!r}")
    return f


def _channels(value: str | None):
    if value is None:
        return None
    if value.strip().lower() == "tuh":
        from ..channels import TUH_CHANNELS

        return list(TUH_CHANNELS)
    names = [c.strip() for c in value.split(",") if c.strip()]
    if not names:
        raise UserError("--channels is empty")
    return names


def _labels(args):
    spec = args.labels.strip()
    if spec.lower() == "none":
        if args.label_map:
            raise UserError("--label-map needs --labels annotations")
        return None, None
    if spec.lower() == "annotations":
        if not args.label_map:
            raise UserError(
                "--labels annotations needs --label-map",
                'e.g. --label-map \'{"asleep": "sleep", "awake": "wake"}\' (annotation description -> class)',
            )
        from ..data.builder import DatasetBuildError, parse_label_map

        try:
            return "annotations", parse_label_map(args.label_map)
        except DatasetBuildError as err:
            raise UserError(str(err), "pass a JSON object or the path of a JSON file") from None
    if spec.lower().startswith("csv:"):
        path = Path(spec[4:]).expanduser()
        if not path.is_file():
            raise UserError(f"label CSV {path} not found", "--labels csv:PATH with columns path,label")
        return path, None
    raise UserError(f"--labels must be none, annotations or csv:PATH, got {spec!r}")


def _hint(message: str) -> str | None:
    low = message.lower()
    if "too low for a" in low and "low-pass" in low:
        return "lower the low-pass below half the sampling rate, e.g. --lowpass 45 for 128 Hz recordings"
    if "unknown eeg channel" in low:
        return "pass --lenient-channels to drop unknown channels, or rename them"
    if "no eeg channel recognised" in low:
        return "LaBraM needs 10-20/10-10 electrode names (Fp1, C3, 'EEG CZ-REF', ...)"
    if "too short" in low:
        return "use a shorter --window-seconds, or --on-error skip to leave such files out"
    if "not empty" in low:
        return "choose a new --output directory or pass --overwrite"
    if "no eeg files found" in low or "no such file" in low or "matches no file" in low:
        return "give EEG files, directories containing them, or a quoted glob such as 'data/**/*.edf'"
    if "nan" in low or "flat channel" in low or "cannot read" in low or "duplicate" in low:
        return "fix or remove the file, or pass --on-error skip to leave bad files out"
    return None


def run(args) -> int:
    from ..data.builder import DatasetBuildError, build_dataset

    labels, label_map = _labels(args)
    notch = _notch(args.notch)
    channels = _channels(args.channels)
    if args.num_proc < 1:
        raise UserError(f"--num-proc must be at least 1, got {args.num_proc}")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            ds = build_dataset(
                args.inputs,
                args.output,
                window_seconds=args.window_seconds,
                stride_seconds=args.stride_seconds,
                labels=labels,
                label_map=label_map,
                straddle=args.straddle,
                background=args.background,
                l_freq=args.highpass,
                h_freq=args.lowpass,
                notch=notch,
                strict_channels=not args.lenient_channels,
                channels=channels,
                num_proc=args.num_proc,
                on_error=args.on_error,
                overwrite=args.overwrite,
                progress=not args.quiet,
            )
        except (DatasetBuildError, ValueError) as err:
            _print_warnings(caught)
            msg = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise UserError(msg, _hint(msg)) from None
    _print_warnings(caught)
    out = Path(args.output)
    report = {}
    try:
        report = json.loads((out / "build_report.json").read_text())
    except (OSError, ValueError):
        pass
    skipped = report.get("files_skipped", 0)
    n_files = report.get("files_ok", "?")
    print(
        f"labram prepare: wrote {len(ds)} windows of {args.window_seconds:g} s from {n_files} file(s) to {out} "
        f"in {time.perf_counter() - t0:.1f} s" + (f"; {skipped} file(s) skipped, see {out / 'skipped_files.csv'}"
                                                   if skipped else "")  # fmt: skip
    )
    if "label" in ds.column_names:
        feat = ds.features["label"]
        names = getattr(feat, "names", None)
        counts: dict = {}
        for v in ds["label"]:
            counts[v] = counts.get(v, 0) + 1
        shown = ", ".join(f"{names[k] if names else k}: {c}" for k, c in sorted(counts.items()))
        print(f"labram prepare: labels {shown}")
    print(f"labram prepare: load it with datasets.load_from_disk({str(out)!r})")
    return 0


def _print_warnings(caught, limit: int = 20) -> None:
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    for msg in messages[:limit]:
        print(f"labram prepare: warning: {msg}", file=sys.stderr)
    if len(messages) > limit:
        print(f"labram prepare: warning: ... and {len(messages) - limit} more (every file's warnings are listed in "
              "build_report.json)", file=sys.stderr)  # fmt: skip
