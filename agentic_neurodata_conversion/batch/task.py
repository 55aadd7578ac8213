"""One session's conversion, as a Dask task: run on a worker, in a subprocess of its own.

The subprocess (``python -m agentic_neurodata_conversion.batch.convert_one``) isolates the
worker from the readers' memory and crashes, may fork its own helpers (Dask's worker
processes are daemons, which may not), and runs in a process group of its own that a later
attempt can end (``claims``). The task returns a ``SessionOutcome``; only the collector
touches the superdataset.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..provenance.layout import conversion_folder, is_conversion
from . import claims

ENTRY = "agentic_neurodata_conversion.batch.convert_one"


@dataclass(frozen=True)
class SessionTask:
    """Everything a worker needs; plain values, so it pickles to any Dask worker."""

    lab: str
    run: str
    name: str
    key: str
    conversion_id: str
    fingerprint: str
    attempt: int  # 1 for the first attempt on this fingerprint
    source: str | None = None
    spec: str | None = None
    spec_session: str | None = None
    metadata_file: str | None = None
    path_metadata: dict[str, Any] = field(default_factory=dict)
    evidence: str = ""
    ria_url: str | None = None

    @property
    def folder(self) -> Path:
        return conversion_folder(self.lab, self.conversion_id)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


@dataclass
class SessionOutcome:
    name: str
    key: str
    conversion_id: str
    fingerprint: str
    attempt: int
    status: str  # completed | failed
    path: str | None = None  # the conversion dataset, absolute
    tag: str | None = None
    error: str | None = None
    duration_s: float = 0.0


def worker_environment() -> dict[str, str]:
    """This interpreter's bin first on PATH: git-annex, datalad and python come from there."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]
    env["PATH"] = os.pathsep.join([bin_dir, *rest])
    return env


def clear_leftover(task: SessionTask) -> None:
    """End a killed earlier attempt's processes and remove what it half made (ours: the
    conversion id is this task's own)."""
    from ..datalad_layer.dataset import remove_tree

    claims.end_claimed(Path(task.lab), task.conversion_id)
    if task.folder.exists():
        remove_tree(task.folder)


def run_session(task: SessionTask) -> SessionOutcome:
    """Convert one session; never raises for a failed conversion (it is an outcome)."""
    started = time.monotonic()
    lab = Path(task.lab)
    outcome = SessionOutcome(
        task.name, task.key, task.conversion_id, task.fingerprint, task.attempt, "failed"
    )
    try:
        clear_leftover(task)
        process = subprocess.Popen(
            [sys.executable, "-m", ENTRY],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=worker_environment(),
            cwd=task.lab,
            start_new_session=True,  # its own group: a later attempt can end all of it
        )
        claims.write_claim(
            lab,
            task.conversion_id,
            pgid=process.pid,
            started=psutil.Process(process.pid).create_time(),
        )
        stdout, stderr = process.communicate(task.to_json().encode())
        result = _last_json(stdout)
        if result is None:
            outcome.error = _crash_message(process.returncode, stderr)
        else:
            outcome.status = result["status"]
            outcome.tag = result.get("tag")
            outcome.error = result.get("error")
        if is_conversion(task.folder):
            outcome.path = str(task.folder)
    except Exception as exc:  # the task itself: still an outcome, the batch goes on
        outcome.error = f"{type(exc).__name__}: {exc}"
    # The claim stays until the collector has registered or set aside what this made.
    outcome.duration_s = round(time.monotonic() - started, 3)
    return outcome


def _last_json(stdout: bytes) -> dict[str, Any] | None:
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def _crash_message(returncode: int, stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    how = f"killed by signal {-returncode}" if returncode < 0 else f"exited {returncode}"
    return f"the conversion process {how}" + (f": {lines[-1].strip()}" if lines else "")
