"""Sub-commands of the ``labram`` console script (see :mod:`labram_hf.cli`)."""

from __future__ import annotations

# Module names under labram_hf.commands, in the order `labram --help` lists them.
COMMANDS: list[str] = ["demo", "prepare", "convert", "embed", "predict", "push", "export_onnx"]


class UserError(Exception):
    """A mistake in the user's input: printed as one line (plus an optional hint), never as a traceback."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint
