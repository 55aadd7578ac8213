"""The conversion process of a batch task. ``child`` runs in a process forked from a
worker's fork server (``task.run_session``); ``python -m
agentic_neurodata_conversion.batch.convert_one`` is the same as a command (a ``SessionTask``
as JSON on stdin, the outcome as the last line of stdout), for a scheduler that runs
commands rather than Python calls.

A failure of the conversion is an outcome, not a crash: the error's one line is returned.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import AncError
from .task import SessionTask, worker_environment


def convert(task: SessionTask) -> dict[str, Any]:
    from ..conversion.workers import quiet_readers

    quiet_readers()
    if task.spec is not None:
        from ..conversion.converter import convert_spec

        (result,) = convert_spec(
            task.spec,
            task.lab,
            session=task.spec_session,
            conversion_id=task.conversion_id,
            standalone=True,
        )
    else:
        from ..conversion import metadata as md
        from ..conversion.pipeline import convert as convert_recording

        result = convert_recording(
            task.source,  # type: ignore[arg-type]
            task.lab,
            metadata_file=task.metadata_file,
            conversion_id=task.conversion_id,
            from_path=md.path_decisions(task.path_metadata, task.evidence),
            standalone=True,
        )
    if result.status != "completed":
        return {"status": "failed", "error": result.reason or f"conversion {result.status}"}
    if task.ria_url is not None:
        from ..datalad_layer.ria import publish

        publish(Path(result.path), task.ria_url)
    return {"status": "completed", "tag": result.tag}


def outcome_of(task: SessionTask) -> dict[str, Any]:
    try:
        return convert(task)
    except AncError as exc:
        return {"status": "failed", "error": str(exc)}
    except Exception as exc:  # a reader's own error: one line for the batch record
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}


def child(task_json: str, log: str, result: str) -> None:
    """One session in a forked process: its own process group, its output to LOG, its
    outcome written to RESULT (whole or not at all)."""
    os.setsid()  # first: the claim waits for this group
    # The preloaded modules' objects live as long as the process: out of the collector's
    # sight, its passes stay short and leave the pages shared with the server alone.
    gc.freeze()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for stream in (1, 2):  # the conversion's subprocesses inherit these too
        os.dup2(fd, stream)
    os.close(fd)
    task = SessionTask(**json.loads(task_json))
    os.chdir(task.lab)
    os.environ.update(worker_environment())
    try:
        outcome = outcome_of(task)
        temporary = f"{result}.tmp"
        Path(temporary).write_text(json.dumps(outcome))
        os.replace(temporary, result)
    finally:
        # multiprocessing ends a child with os._exit: run what a process exit would run
        # (DataLad closes its batched git-annex processes there).
        sys.stdout.flush()
        atexit._run_exitfuncs()


def main() -> int:
    task = SessionTask(**json.loads(sys.stdin.read()))
    outcome = outcome_of(task)
    sys.stdout.write("\n" + json.dumps(outcome) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
