"""The one door to git and git-annex: run a command in a repository, or stream its output.

In the style of datalad-next's ``runners.git``: ``call_git`` runs a command to the end and
returns its stdout; ``iter_git`` yields its output split at a separator as it arrives, so a
caller reads git's batched output (``-z``, ``--json``) item by item instead of starting one
process per path. Both prepare the environment first (``runtime.prepare()``: git-annex on
PATH, a git identity), are timed as ``git.<verb>`` (``annex.<verb>`` for ``git annex``), and
fail the same way: a ``GitError`` naming the command, the repository and stderr's first
``fatal:``/``error:`` line (else its last), or ``DiskFull`` when that stderr says the disk
is full (raised even with ``check=False``: no caller can go on without the write that
failed).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence

from .. import runtime, timing
from ..errors import DiskFull, GitError, says_disk_full

Repo = str | os.PathLike[str] | None
# Options of git itself that take the next argument as their value (`git -C dir status`).
_OPTIONS_WITH_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})
READ_SIZE = 1 << 16


def verb_of(args: Sequence[str]) -> str:
    """The subcommand of ARGS, git's own options skipped: ``annex.find`` for git-annex."""
    words = iter(args)
    for word in words:
        if word in _OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            if word == "annex":
                sub = next((w for w in words if not w.startswith("-")), "")
                return f"annex.{sub}" if sub else "annex"
            return word
    return ""


def _timing_name(args: Sequence[str]) -> str:
    verb = verb_of(args)
    return verb if verb.startswith("annex") else f"git.{verb}"


def _command_text(args: Sequence[str]) -> str:
    """``git <verb>`` or ``git annex <verb>``, how messages name a command."""
    return "git " + verb_of(args).replace(".", " ", 1)


def _failed(
    repo: Repo, args: Sequence[str], code: int, stderr: bytes, stdout: bytes, check: bool
) -> None:
    """Raise DiskFull or (with CHECK) GitError for a command that exited with CODE."""
    text = stderr.decode(errors="replace")
    where = f" in {os.fspath(repo)}" if repo is not None else ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # git's own verdict ("fatal: cannot lock ref 'HEAD': ...") over the advice after it
    verdict = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    said = verdict[0] if verdict else lines[-1] if lines else f"exit {code}"
    error = GitError(
        f"{_command_text(args)} failed{where}: {said}",
        command=("git", *args),
        returncode=code,
        stderr=text,
        stdout=stdout,
    )
    if says_disk_full(text):
        holding = f" holding {os.fspath(repo)}" if repo is not None else ""
        raise DiskFull(
            f"no space left on the device{holding}: {_command_text(args)} failed",
            "free space there and retry",
        ) from error
    if check:
        raise error


def call_git(
    repo: Repo,
    *args: str,
    check: bool = True,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run ``git ARGS`` in REPO (None: no repository) to the end and return its stdout.

    INPUT is written to its stdin; ENV holds variables set for git on top of ours
    (``GIT_INDEX_FILE``). A non-zero exit raises GitError unless CHECK is false (the caller
    reads an empty or partial stdout then); disk full always raises DiskFull.
    """
    runtime.prepare()
    cwd = os.fspath(repo) if repo is not None else None
    with timing.timed(_timing_name(args)):
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            input=input,
            env={**os.environ, **env} if env else None,
            # never the caller's stdin: under the MCP stdio server that is the protocol
            stdin=subprocess.DEVNULL if input is None else None,
        )
    if proc.returncode != 0:
        _failed(repo, args, proc.returncode, proc.stderr, proc.stdout, check)
    return proc.stdout


def iter_git(
    repo: Repo,
    args: Iterable[str],
    sep: bytes = b"\0",
    *,
    check: bool = True,
    input: bytes | None = None,
) -> Iterator[bytes]:
    """Run ``git ARGS`` in REPO and yield its stdout split at SEP (NUL: ``-z``) as it arrives.

    The last item is yielded even without a trailing SEP; empty items between two SEPs are
    yielded too. A non-zero exit raises GitError after the output, unless CHECK is false (for
    commands that report per-path failures in their JSON records). A consumer that stops
    early (``break``, or closing the generator) closes the pipe and reaps the process.
    """
    args = list(args)
    runtime.prepare()
    cwd = os.fspath(repo) if repo is not None else None
    # stderr goes to a file, so a chatty stderr cannot fill its pipe and block git; stdin
    # comes from a file, so writing a large INPUT cannot block on git's full stdout.
    with (
        timing.timed(_timing_name(args)),
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() if input else contextlib.nullcontext(subprocess.DEVNULL) as stdin,
    ):
        if input:
            stdin.write(input)
            stdin.seek(0)
        with subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=err,
        ) as proc:
            assert proc.stdout is not None
            rest = b""
            try:
                for chunk in iter(lambda: proc.stdout.read(READ_SIZE), b""):
                    *items, rest = (rest + chunk).split(sep)
                    yield from items
                if rest:
                    yield rest
            except GeneratorExit:
                # Stopped early: leaving the `with` closes stdout (git ends on SIGPIPE at its
                # next write) and waits for it. Returning, not raising, ends the timing as a
                # success: nothing failed.
                return
            code = proc.wait()
        if code != 0:
            err.seek(0)
            _failed(repo, args, code, err.read(), b"", check)
