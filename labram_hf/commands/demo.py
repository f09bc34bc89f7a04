"""`labram demo`: the end-to-end demo on real EEG."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the end-to-end demo on real EEG recordings")
    parser.add_argument("--output", default="demo-output", help="directory for everything the demo writes")
    parser.set_defaults(func=run)


def run(args) -> int:
    print("labram demo: not yet — the end-to-end demo lands with the product issue. Output would go to", args.output)
    return 0
