"""Command lines of the training stages: :class:`transformers.HfArgumentParser` over the stages' dataclasses."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import LaBraMError

__all__ = ["parse_arguments", "run_as_script", "stage_command"]

T = TypeVar("T")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the option help, the module docstring kept as written."""


def parse_arguments(cls: type[T], argv: Sequence[Any] | None = None, description: str | None = None) -> T:
    """Parse ``argv`` (default ``sys.argv[1:]``) into the dataclass ``cls``. Flags are the field names with dashes
    or underscores (``--dataset-dir`` = ``--dataset_dir``); invalid combinations exit with status 2 and the reason."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(cls, description=description, formatter_class=_HelpFormatter)
    try:
        (args,) = parser.parse_args_into_dataclasses(
            args=None if argv is None else [str(a) for a in argv], look_for_args_file=False
        )
    except LaBraMError as err:
        parser.error(str(err) + (f" ({err.hint})" if err.hint else ""))
    return args


def run_as_script(main) -> None:
    """Run a stage's ``main()`` as a command: a :class:`~labram_hf.errors.LaBraMError` (bad data, bad settings) is
    printed as one line plus its hint and exits with status 2 instead of a traceback."""
    import sys

    try:
        main()
    except LaBraMError as err:
        print(f"error: {err}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        raise SystemExit(2) from None


def stage_command(cls: type[T], stage: Callable[[T], Any], description: str | None):
    """The ``parse_args(argv)`` and ``main(argv)`` of a stage module: ``main`` parses the command line into ``cls``
    and runs ``stage`` with it (what ``examples/*.py`` call)."""

    def parse_args(argv: Sequence[Any] | None = None) -> T:
        return parse_arguments(cls, argv, description)

    def main(argv: Sequence[Any] | None = None):
        return stage(parse_args(argv))

    parse_args.__doc__ = f"{cls.__name__} from a command line (default ``sys.argv[1:]``)."
    main.__doc__ = f"Parse the command line into {cls.__name__} and run ``{stage.__name__}``."
    return parse_args, main
