"""The one error type of labram-hf.

Every user-facing problem (a bad file, a bad argument, an output that would destroy something, a model directory
that cannot be used) raises a subclass of :class:`LaBraMError`: a :class:`ValueError` whose message names the file or
value and the cause, with an optional ``hint`` saying what to do. The ``labram`` CLI prints such errors as one line
plus the hint and exits with status 2; anything else is a bug and keeps its traceback.

This module imports nothing but the standard library: it is also shipped as remote code beside the feature
extractor.
"""

from __future__ import annotations

__all__ = ["LaBraMError"]


class LaBraMError(ValueError):
    """A user-facing problem: ``str(err)`` says what and where, ``err.hint`` (may be ``None``) what to do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint
