"""`labram channels`: show how a recording's channels map onto LaBraM's electrode vocabulary.

Prints one line per recorded channel (recorded name -> vocabulary row, and how: exact, alias, anode, nearest with
its distance, interpolated, or dropped with the reason) and optionally draws the mapping on a head (``--plot``).
Nothing is preprocessed; the same options of ``labram prepare`` give the same mapping.

Examples::

    labram channels recording.edf
    labram channels sleep.edf --bipolar anode
    labram channels egi.edf --channel-policy nearest --montage GSN-HydroCel-129 --plot mapping.png
    labram channels biosemi.bdf --channel-policy interpolate --montage biosemi64 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..channels import CHANNEL_POLICIES, TUH_CHANNELS
from ..errors import LaBraMError
from . import UserError


def add_channel_arguments(parser: argparse.ArgumentParser) -> None:
    """The channel options shared by ``labram channels`` and ``labram prepare``: ``--channel-policy``,
    ``--montage`` and ``--bipolar`` (see :func:`channel_kwargs`)."""
    parser.add_argument("--channel-policy", choices=CHANNEL_POLICIES, default=None,
                        help="how recorded channels map onto the vocabulary: strict (exact names, default), lenient "
                             "(drop unknown names), aliases (also synonyms such as LM, F7-T3), nearest (unknown "
                             "names by electrode position), interpolate (missing 10-20 electrodes by spherical "
                             "splines)")  # fmt: skip
    parser.add_argument("--montage", default=None, metavar="NAME|FILE",
                        help="electrode positions for nearest/interpolate: an mne montage name (GSN-HydroCel-129, "
                             "biosemi64, standard_1005, ...) or a montage file; default: the recording's own")  # fmt: skip
    parser.add_argument("--bipolar", choices=["anode", "drop"], default=None,
                        help="bipolar derivations such as Fpz-Cz: use the row of the first electrode (anode) or "
                             "drop them; default: an error")  # fmt: skip


def channel_kwargs(args: argparse.Namespace) -> dict:
    """``channel_policy``, ``montage`` and ``bipolar`` keyword arguments from the parsed options."""
    return {"channel_policy": args.channel_policy, "montage": args.montage, "bipolar": args.bipolar}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "channels",
        help="show how a recording's channels map onto LaBraM's electrodes (table, optional PNG)",
        description=__doc__.split("Examples::", 1)[0].split("\n", 1)[1].strip(),
        epilog="examples:\n" + __doc__.split("Examples::", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="an EEG recording (EDF, BDF, FIF, BrainVision, EEGLAB, ...)")
    add_channel_arguments(parser)
    parser.add_argument("--channels", default=None, metavar="LIST|tuh",
                        help="explicit electrode selection, comma-separated, or 'tuh' for the 23 TUH channels")  # fmt: skip
    parser.add_argument("--plot", default=None, metavar="PNG", help="also draw the mapping on a head into this image")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --plot file")
    parser.add_argument("--json", action="store_true", help="print the table as JSON instead of text")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..io import read_raw
    from ..montage import describe_mapping, format_mapping, map_channels, plot_mapping
    from ..outputs import OutputTarget

    channels = None
    if args.channels:
        channels = list(TUH_CHANNELS) if args.channels.strip().lower() == "tuh" else [
            c.strip() for c in args.channels.split(",") if c.strip()]  # fmt: skip
    if args.montage and args.channel_policy not in ("nearest", "interpolate"):
        raise UserError("--montage is only used with --channel-policy nearest or interpolate",
                        hint="add --channel-policy nearest (or interpolate)")  # fmt: skip
    target = None
    if args.plot:
        suffix = Path(args.plot).suffix.lower()
        if suffix not in (".png", ".svg", ".pdf"):
            raise UserError(f"--plot {args.plot}: unsupported image type {suffix or '(none)'}",
                            hint="use a .png (or .svg/.pdf) file name")  # fmt: skip
        target = OutputTarget(args.plot, inputs=[args.file], overwrite=args.overwrite, kind="file", what="--plot",
                              command="channels")  # fmt: skip
    status = 0
    try:
        raw = read_raw(args.file, preload=False)
        common = dict(ch_types=raw.get_channel_types(), info=raw.info, channels=channels, source=args.file,
                      warn=False, **channel_kwargs(args))  # fmt: skip
        mapping = map_channels(raw.ch_names, check=False, **common)
        problem = None
        try:  # the same mapping, checked as preprocessing checks it
            map_channels(raw.ch_names, **common)
        except LaBraMError as err:
            problem = err
        if args.json:
            print(json.dumps(describe_mapping(mapping), indent=1))
        else:
            print(format_mapping(mapping))
            kinds: dict[str, int] = {}
            for row in mapping.rows:
                kinds[row.how] = kinds.get(row.how, 0) + 1
            counts = ", ".join(f"{v} {k}" for k, v in kinds.items())
            tmpl = f"; positions compared with the {mapping.template} template" if mapping.template else ""
            print(f"\n{len(mapping.ids)} model channel(s) under channel_policy={mapping.policy!r} ({counts}){tmpl}")
            for msg in mapping.messages:
                print(f"note: {msg}")
        if problem is not None:  # the table is shown, then the error as the CLI shows errors
            print(f"labram channels: error: preprocessing would stop here: {problem}", file=sys.stderr)
            if problem.hint:
                print(f"hint: {problem.hint}", file=sys.stderr)
            status = 2
        if target is not None:
            with target as out:
                plot_mapping(mapping, out.work, format=Path(args.plot).suffix[1:].lower())
                written = out.commit()
            if not args.json:
                print(f"labram channels: wrote {written}")
    except UserError:
        raise
    except LaBraMError as err:
        raise UserError(str(err), hint=err.hint) from err
    return status
