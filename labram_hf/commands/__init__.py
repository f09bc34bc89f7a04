"""Sub-commands of the ``labram`` console script (see :mod:`labram_hf.cli`)."""

from __future__ import annotations

from ..errors import LaBraMError

# Module names under labram_hf.commands, in the order `labram --help` lists them.
COMMANDS: list[str] = ["demo", "prepare", "convert", "embed", "predict", "push", "export_onnx", "channels"]


class UserError(LaBraMError):
    """A mistake in the user's input: printed as one line (plus an optional hint), never as a traceback."""
