"""The ``labram`` console script.

Each sub-command lives in its own module under ``labram_hf.commands`` and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` (called with the parsed arguments, returns an exit code). User mistakes are raised
as :class:`labram_hf.commands.UserError` or any other :class:`labram_hf.errors.LaBraMError` and printed as one line
plus a hint, without a traceback (exit status 2).

The CLI answers ``--help`` and argument errors at once: this module, :mod:`labram_hf` itself and the command
modules import only the standard library at import time; torch, transformers, datasets and mne are imported by a
command's ``run`` when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .commands import COMMANDS
from .errors import LaBraMError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labram",
        description="LaBraM EEG foundation model tools: prepare data, convert checkpoints, run the demo, and more.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"labram_hf.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from transformers.utils import logging as hf_logging

    # transformers' load reports are noise in CLI output (problems are raised); restored afterwards, since main()
    # is also called in-process (tests, notebooks).
    verbosity, progress_bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        code = args.func(args)
    except LaBraMError as err:
        _print_error(args.command, " ".join(str(err).split()), err.hint)
        return 2
    except OSError as err:  # disk full, permissions changed mid-run, ...: the environment, not a bug
        _print_error(args.command, " ".join(str(err).split()) or type(err).__name__,
                     "check the paths, their permissions and the free disk space")  # fmt: skip
        return 2
    except KeyboardInterrupt:
        print(f"labram {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        hf_logging.set_verbosity(verbosity)
        if progress_bars:
            hf_logging.enable_progress_bar()
    return int(code or 0)


def _print_error(command: str, message: str, hint: str | None) -> None:
    print(f"labram {command}: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {' '.join(str(hint).split())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
