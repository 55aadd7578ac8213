"""Process-level set-up that must happen before DataLad is imported.

Two facts from these machines drive this module: git-annex is only found when the venv's
``bin/`` is on ``PATH`` (a user may call ``.venv/bin/anc`` without activating the venv), and a
fresh machine may have no git identity, which makes every commit fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from .errors import EnvironmentProblem

# Used when the machine has no git identity at all; written into each dataset we create so
# that plain `git commit` inside it works too. Users can override with git config.
FALLBACK_NAME = "anc (agentic-neurodata-conversion)"
FALLBACK_EMAIL = "anc@localhost"


def ensure_git_annex_on_path() -> str:
    """Put the interpreter's bin/ first on PATH unless it is there already.

    That makes the venv's git-annex (shipped by the PyPI wheel) and its `python` the ones
    DataLad and `datalad run` commands find, even when the venv is not activated.
    """
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path
    found = shutil.which("git-annex")
    if not found:
        raise EnvironmentProblem(
            "git-annex is not installed",
            "install it with `pip install git-annex` in this environment (make demo does this)",
        )
    return found


def _git_config(key: str) -> str | None:
    """KEY from the user's and the system's git config, never from a repository's.

    Asked from inside a dataset, plain ``git config`` would find the local identity we write
    into datasets when the machine has none, and the fallback would then be missing from
    everything else (a ``datalad rerun`` in a fresh clone fails with "Author identity
    unknown"). A GIT_DIR that does not exist leaves only the global and system files.
    """
    env = {**os.environ, "GIT_DIR": os.devnull + "/no-repository"}
    try:
        out = subprocess.run(
            ["git", "config", "--get", key], capture_output=True, text=True, check=False, env=env
        )
    except FileNotFoundError as exc:
        raise EnvironmentProblem("git is not installed", "install git and retry") from exc
    value = out.stdout.strip()
    return value or None


@cache
def git_identity() -> tuple[str, str, bool]:
    """Return (name, email, is_fallback) and make sure git subprocesses can commit.

    When no identity is configured, the fallback identity is exported through the
    GIT_AUTHOR_*/GIT_COMMITTER_* variables for this process and its children.
    """
    name = os.environ.get("GIT_AUTHOR_NAME") or _git_config("user.name")
    email = os.environ.get("GIT_AUTHOR_EMAIL") or _git_config("user.email")
    if name and email:
        return name, email, False
    name = name or FALLBACK_NAME
    email = email or FALLBACK_EMAIL
    for role in ("AUTHOR", "COMMITTER"):
        os.environ.setdefault(f"GIT_{role}_NAME", name)
        os.environ.setdefault(f"GIT_{role}_EMAIL", email)
    return name, email, True


def prepare() -> None:
    """Everything DataLad needs from the process environment; cheap and idempotent."""
    ensure_git_annex_on_path()
    git_identity()
