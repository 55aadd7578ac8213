"""Typed errors shared by every layer.

Each error carries a one-line ``message`` naming the problem and a ``hint`` naming the fix,
so front ends can print ``error: <message> (<hint>)`` without a traceback.
"""

from __future__ import annotations


class AncError(Exception):
    """Base of all errors this package raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(AncError):
    """Bad input from the caller: a wrong name, path, value or option."""

    exit_code = 2


class EnvironmentProblem(AncError):
    """The machine lacks something we need (git-annex, a git identity, a writable folder)."""

    exit_code = 3


class DataLadError(AncError):
    """A DataLad/git/git-annex operation failed."""


class LockHeld(DataLadError):
    """A git lock file is held by a live process (``datalad_layer.locks``).

    ``locks`` are the held locks, ``removed`` the stale ones removed before giving up.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.locks: list = []
        self.removed: list = []


class IntegrityError(AncError):
    """A dataset or journal failed an integrity check."""

    exit_code = 4


class ProvenanceError(AncError):
    """The provenance record refuses an operation (bad value, finalized conversion, ...)."""


class ConversionError(AncError):
    """A conversion step failed (format detection, NeuroConv, validation)."""
