"""The error of the dataset builders (:class:`DatasetBuildError`) and how per-file failures are worded."""

from __future__ import annotations

from pathlib import Path

from ..errors import LaBraMError

__all__ = ["DatasetBuildError", "describe_error"]


class DatasetBuildError(LaBraMError):
    """A dataset could not be built; the message names the offending file (or input) and the cause."""


def describe_error(path: Path, err: BaseException) -> str:
    """``err`` as one message that names ``path`` (prefixed unless the message already names the file)."""
    text = str(err) or type(err).__name__
    if str(path) in text or path.name in text:
        return text
    return f"{path}: {text}"
