"""`anc verify --fresh-env`: a new virtual environment built from a conversion's lock file.

The lock (``scripts/requirements.lock``, committed with the script) pins every distribution
the conversion ran with; ``python -m venv`` and ``pip install --no-deps -r`` rebuild them in
a temporary folder, removed afterwards. Re-executing the run with that environment's
``python`` and matching byte for byte shows the outputs do not depend on this machine's
installation. Distributions from outside a package index are comments in the lock (the
script needs none of them), so the new environment holds only what an index has.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datalad_layer.run import committed_text
from ..environment import LOCK_NAME, normalize, read_lock
from ..errors import EnvironmentProblem, UsageError

LOCK = f"scripts/{LOCK_NAME}"
# --no-compile: bytecode is written at first import instead (saves ~30 s of ~140 s here);
# no version check and no prompt: nothing but the lock decides what is installed.
PIP_OPTIONS = ("--no-deps", "--no-compile", "--disable-pip-version-check", "--no-input")


@dataclass(frozen=True, slots=True)
class FreshEnvironment:
    """A virtual environment built from a lock: its interpreter and what it took."""

    folder: Path
    lock: str  # "scripts/requirements.lock at <commit>"
    python: str  # the new environment's Python version
    recorded_python: str | None  # the version the lock was written with
    distributions: int
    seconds: float

    @property
    def bin_dir(self) -> Path:
        return self.folder / "bin"

    def to_dict(self) -> dict[str, Any]:
        return {
            "used": True,
            "lock": self.lock,
            "python": self.python,
            "recorded_python": self.recorded_python,
            "distributions": self.distributions,
            "build_seconds": round(self.seconds, 3),
        }


def lock_at(root: Path, commit: str) -> str:
    """The lock file committed at COMMIT; a conversion made before locks were kept is refused."""
    text = committed_text(root, commit, LOCK)
    if text is None:
        raise UsageError(
            f"conversion {root.name} has no {LOCK} at its run commit {commit[:10]} "
            "(made before anc recorded the environment), so no fresh environment can be built",
            "verify it without --fresh-env, or convert it again to record its environment",
        )
    return text


@contextmanager
def fresh_environment(root: Path, commit: str) -> Iterator[FreshEnvironment]:
    """A new virtual environment from the lock at COMMIT, removed when the block ends."""
    text = lock_at(root, commit)
    workdir = Path(tempfile.mkdtemp(prefix="anc-fresh-env-"))
    try:
        yield build(text, workdir, f"{LOCK} at {commit[:10]}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def isolated_environ() -> dict[str, str]:
    """This process's variables without what would bring outside packages into a new
    environment's interpreter (PYTHONPATH, PYTHONHOME, the user site)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def build(lock_text: str, workdir: Path, label: str) -> FreshEnvironment:
    """``python -m venv`` in WORKDIR and ``pip install --no-deps`` of every pinned line."""
    started = time.perf_counter()
    lock = workdir / LOCK_NAME
    lock.write_text(lock_text)
    folder = workdir / "venv"
    environ = isolated_environ()
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(folder)], capture_output=True, text=True, env=environ
    )
    if made.returncode != 0:
        raise EnvironmentProblem(
            f"could not create a virtual environment: {_last_line(made.stderr)}",
            "install Python's venv module (Debian: apt-get install python3-venv)",
        )
    python = folder / "bin" / "python"
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", *PIP_OPTIONS, "-r", str(lock)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=environ,
    )
    if pip.returncode != 0:
        raise EnvironmentProblem(*pip_failure(pip.stdout + "\n" + pip.stderr, lock_text, label))
    version = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        env=environ,
    ).stdout.strip()
    return FreshEnvironment(
        folder,
        label,
        version,
        recorded_python(lock_text),
        len(read_lock(lock)),
        time.perf_counter() - started,
    )


def recorded_python(lock_text: str) -> str | None:
    """The Python version the lock's header names (``# Python 3.11.7 (...)``)."""
    found = re.search(r"^# Python (\S+) ", lock_text, re.MULTILINE)
    return found.group(1) if found else None


_REQUIREMENT = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"satisfies the requirement (\S+)"),
)


def pip_failure(output: str, lock_text: str, label: str) -> tuple[str, str]:
    """What pip could not install, in one line (the requirement and its line in the lock when
    pip names one), and the fix."""
    for pattern in _REQUIREMENT:
        found = pattern.search(output)
        if found:
            requirement = found.group(1)
            return (
                f"pip cannot install {requirement} ({_line_of(requirement, lock_text, label)}): "
                "no package index reachable here has it",
                "correct that line of the lock, or verify without --fresh-env",
            )
    errors = [ln[len("ERROR: ") :] for ln in output.splitlines() if ln.startswith("ERROR: ")]
    last = (errors[-1] if errors else _last_line(output))[:300]
    return (
        f"pip failed to install {label}: {last}",
        "run `python -m pip install --no-deps -r requirements.lock` in a new virtual "
        "environment to see why, or verify without --fresh-env",
    )


def _name(requirement: str) -> str:
    return normalize(re.split(r"[=<>!~ ;\[]", requirement, maxsplit=1)[0])


def _line_of(requirement: str, lock_text: str, label: str) -> str:
    name = _name(requirement)
    for number, line in enumerate(lock_text.splitlines(), start=1):
        text = line.strip()
        if text and not text.startswith("#") and _name(text) == name:
            return f"line {number} of {label}"
    return label


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"
