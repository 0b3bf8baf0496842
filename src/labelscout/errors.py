"""Exceptions raised by labelscout.

Library code raises these with a message that says what went wrong and where, and a
``hint`` that says what to do about it. The CLI, the web service and the workers turn
them into a one-line error (or an HTTP error) at the boundary and nowhere else.
"""
from __future__ import annotations

__all__ = ["LabelscoutError", "ConfigError", "InputError", "ModelWeightsMissing", "BadSampleError", "Cancelled"]


class LabelscoutError(Exception):
    """Base class of every error labelscout raises on purpose."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(LabelscoutError, ValueError):
    """A parameter or option has an invalid value."""


class InputError(LabelscoutError, ValueError):
    """The data given to labelscout cannot be used (empty folder, NaN embeddings, n > pool, ...)."""


class ModelWeightsMissing(LabelscoutError, FileNotFoundError):
    """Weights of a requested model are not available locally and cannot be downloaded."""


class BadSampleError(LabelscoutError):
    """One sample (file or video frame) cannot be read; ``reason`` is a short machine-readable code."""

    def __init__(self, message: str, reason: str, hint: str | None = None):
        super().__init__(message, hint)
        self.reason = reason


class Cancelled(LabelscoutError):
    """The caller asked a running job to stop (its reporter said so); finished work is kept."""
