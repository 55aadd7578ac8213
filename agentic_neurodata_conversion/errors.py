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


class GitError(DataLadError):
    """A git or git-annex command exited non-zero (``datalad_layer.git``).

    ``command`` is the argument list, ``returncode`` the exit code, ``last_line`` the last
    non-empty line of its stderr (what the message quotes), ``stderr`` all of it and
    ``stdout`` what it printed before failing (a ``--json`` command's per-path records).
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        command: tuple[str, ...] = (),
        returncode: int = 1,
        stderr: str = "",
        stdout: bytes = b"",
    ) -> None:
        super().__init__(message, hint)
        self.command = command
        self.returncode = returncode
        self.stderr = stderr
        self.stdout = stdout
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        self.last_line = lines[-1] if lines else ""


class RunFailed(DataLadError):
    """A command run by ``datalad run`` or ``rerun`` failed (``datalad_layer.run``).

    ``results`` are DataLad's result records (the failed run's holds the exit code),
    ``what`` names the run for a caller that words its own error.
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        results: list | None = None,
        what: str = "",
        exit_code: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.results = results or []
        self.what = what
        self.exit_code = exit_code


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


class Interrupted(AncError):
    """SIGINT or SIGTERM ended a long command; ``message`` says where and how to go on."""

    exit_code = 130

    def __str__(self) -> str:
        return self.message


class DiskFull(AncError):
    """A write ran out of space; ``message`` names the folder and the space needed."""

    exit_code = 5


_NO_SPACE = ("No space left on device", "Disk quota exceeded")


def says_disk_full(text: str) -> bool:
    """True when TEXT (an error message, a command's stderr) says the disk or quota is full."""
    return any(phrase in text for phrase in _NO_SPACE)


def is_disk_full(exc: BaseException | None) -> bool:
    """True when EXC, or an error it was raised from, says the disk (or quota) is full.

    Disk full arrives in many shapes: OSError ENOSPC, shutil.Error's list of per-file
    errors, and the stderr line of a git, git-annex or HDF5 failure quoted in a message.
    """
    import errno

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if says_disk_full(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
