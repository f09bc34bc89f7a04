"""Sub-commands of the ``labram`` console script (see :mod:`labram_hf.cli`)."""

from __future__ import annotations

import math

from ..errors import LaBraMError

# Module names under labram_hf.commands, in the order `labram --help` lists them.
COMMANDS: list[str] = ["demo", "prepare", "convert", "embed", "predict", "push", "export_onnx", "channels"]


class UserError(LaBraMError):
    """A mistake in the user's input: printed as one line (plus an optional hint), never as a traceback."""


# Flag values shared by several commands, checked before anything heavy is imported.


def parse_notch(value: str) -> float | None:
    """``--notch``: a positive, finite frequency in Hz, or ``off`` (``None``)."""
    text = str(value).strip().lower()
    if text in ("off", "none", "no", "0"):
        return None
    try:
        freq = float(text)
    except ValueError:
        raise UserError(f"--notch must be 50, 60 or off, got {value!r}", hint="use --notch off to disable it") from None
    if not math.isfinite(freq) or freq <= 0:
        raise UserError(f"--notch must be a positive, finite frequency or off, got {value!r}",
                        hint="e.g. --notch 60, or --notch off")  # fmt: skip
    return freq


def parse_channels(value: str | None) -> list[str] | None:
    """``--channels``: comma-separated names, or ``tuh`` for the 23 TUAB/TUEV channels."""
    if value is None:
        return None
    if value.strip().lower() == "tuh":
        from ..channels import TUH_CHANNELS

        return list(TUH_CHANNELS)
    names = [c.strip() for c in value.split(",") if c.strip()]
    if not names:
        raise UserError("--channels is empty", hint="e.g. --channels Fp1,Fp2,C3,C4 or --channels tuh")
    return names


def check_repo_id(repo_id: str, flag: str, example: str) -> None:
    """A Hub repository id ``ORG/NAME`` for ``flag`` (huggingface_hub's own validation, plus exactly one ``/``)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise UserError(f"invalid {flag} {repo_id!r}: {' '.join(str(err).split())[:200]}",
                        hint=f"use ORG/NAME, e.g. {example}") from None  # fmt: skip
    if repo_id.count("/") != 1:
        raise UserError(f"invalid {flag} {repo_id!r}: expected ORG/NAME", hint=f"e.g. {example}")
