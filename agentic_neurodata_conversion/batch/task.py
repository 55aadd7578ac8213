"""One session's conversion, as a Dask task: run on a worker, in a process of its own.

Each worker keeps a fork server (multiprocessing's ``forkserver``) that has imported the
conversion code, DataLad, NeuroConv and nwbinspector once; every session is a child forked
from it, ready to convert. That saves the ~1.6 s of CPU a fresh interpreter spends on those
imports, per session (a sequential ``anc convert`` loop pays it every time). The child
isolates the worker from the readers' memory and crashes, may fork its own helpers, writes
its output to a log in ``LAB/.git/anc-batch/logs/`` and runs in a process group of its own
that a later attempt can end (``claims``). The task returns a ``SessionOutcome``; only the
collector touches the superdataset.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..provenance.layout import conversion_folder, is_conversion
from . import claims

# What a conversion imports, loaded once per worker by its fork server.
PRELOAD = (
    "agentic_neurodata_conversion.batch.convert_one",
    "agentic_neurodata_conversion.conversion.pipeline",
    "agentic_neurodata_conversion.conversion.converter",
    "datalad.api",
    "neuroconv.datainterfaces",
    "nwbinspector",
)
# How long a forked child may take to start its own session (a few ms as a rule).
SESSION_START_S = 30.0


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
    from . import convert_one

    started = time.monotonic()
    lab = Path(task.lab)
    outcome = SessionOutcome(
        task.name, task.key, task.conversion_id, task.fingerprint, task.attempt, "failed"
    )
    try:
        clear_leftover(task)
        log, result = session_files(lab, task.conversion_id)
        result.unlink(missing_ok=True)
        process = _fork_server().Process(
            target=convert_one.child,
            args=(task.to_json(), str(log), str(result)),
            name=f"anc-{task.conversion_id}",
        )
        process.start()
        assert process.pid is not None
        _wait_for_own_group(process)
        claims.write_claim(
            lab,
            task.conversion_id,
            pgid=process.pid,
            started=psutil.Process(process.pid).create_time(),
            worker=os.getpid(),
        )
        process.join()
        answer = _read_result(result)
        if answer is None:
            outcome.error = _crash_message(process.exitcode or 0, log)
        else:
            outcome.status = answer["status"]
            outcome.tag = answer.get("tag")
            outcome.error = answer.get("error")
            if outcome.status == "completed":
                log.unlink(missing_ok=True)  # a failure's log stays, for a look
        result.unlink(missing_ok=True)
        if is_conversion(task.folder):
            outcome.path = str(task.folder)
    except Exception as exc:  # the task itself: still an outcome, the batch goes on
        outcome.error = f"{type(exc).__name__}: {exc}"
    # The claim stays until the collector has registered or set aside what this made.
    outcome.duration_s = round(time.monotonic() - started, 3)
    return outcome


def session_files(lab: Path, conversion_id: str) -> tuple[Path, Path]:
    """A session process's log (its stdout and stderr) and its result (one JSON object)."""
    folder = claims.work_area(lab) / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{conversion_id}.log", folder / f"{conversion_id}.result.json"


def _fork_server() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))  # read when the server starts, once
    return context


def _wait_for_own_group(process: Any) -> None:
    """Until the child has its own process group (its first step), so that the claim names
    a group that holds the whole conversion."""
    deadline = time.monotonic() + SESSION_START_S
    while time.monotonic() < deadline and process.is_alive():
        try:
            if os.getpgid(process.pid) == process.pid:
                return
        except ProcessLookupError:
            return
        time.sleep(0.002)


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _crash_message(exitcode: int, log: Path) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    lines = [line for line in text.splitlines() if line.strip()]
    how = f"killed by signal {-exitcode}" if exitcode < 0 else f"exited {exitcode}"
    return f"the conversion process {how}" + (f": {lines[-1].strip()}" if lines else "")
