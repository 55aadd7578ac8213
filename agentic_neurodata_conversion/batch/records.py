"""What a batch run did: ``LAB/batch/<run>.json``, one entry per session.

The collector rewrites the run's file in every registration commit, so the record and the
registered conversions never disagree, even after a crash; ``anc status LAB`` and the next
run read these files only (never the conversions themselves).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

RECORD_DIR = "batch"
FORMAT = 1
# Session statuses. "skipped": not converted this run (completed before on an unchanged
# source, or failed on it as often as --retries allows); `previous` says which.
COMPLETED, FAILED, SKIPPED = "completed", "failed", "skipped"
# Run statuses.
RUNNING, FINISHED, INTERRUPTED = "running", "finished", "interrupted"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """Sortable by start time: the later run is the later name."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


@dataclass
class SessionRecord:
    name: str
    key: str  # what identifies the session's source: its input paths, joined
    status: str
    source: str
    fingerprint: str | None = None  # of the input files' sizes and times (fingerprint.py)
    settings: str | None = None  # of what the run applied to every session (--metadata)
    conversion_id: str | None = None
    path: str | None = None  # relative to LAB: the conversion, or a failed one's kept copy
    tag: str | None = None
    duration_s: float | None = None
    error: str | None = None
    attempts: int = 0  # attempts on this fingerprint, over all runs so far
    previous: str | None = None  # for a skipped session: completed | failed

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class BatchRecord:
    run: str
    sources: str
    started: str
    where: str  # the Dask cluster: "local, 2 workers", a scheduler address, "slurm, 10 jobs"
    command: list[str] = field(default_factory=list)
    status: str = RUNNING
    ended: str | None = None
    sessions: list[SessionRecord] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {COMPLETED: 0, FAILED: 0, SKIPPED: 0}
        for session in self.sessions:
            counts[session.status] = counts.get(session.status, 0) + 1
        return counts

    def to_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "run": self.run,
            "status": self.status,
            "started": self.started,
            "ended": self.ended,
            "sources": self.sources,
            "where": self.where,
            "command": self.command,
            "counts": self.counts,
            "sessions": [s.to_dict() for s in self.sessions],
        }
        return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json(cls, text: bytes | str, where: str = "batch record") -> BatchRecord:
        try:
            data = json.loads(text)
            return cls(
                run=data["run"],
                sources=data["sources"],
                started=data["started"],
                where=data["where"],
                command=list(data.get("command", [])),
                status=data["status"],
                ended=data.get("ended"),
                sessions=[SessionRecord.from_dict(s) for s in data["sessions"]],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{where} is not a batch record ({exc})",
                "restore it from git (`git checkout -- <file>`) or move it out of batch/",
            ) from None


def record_path(run: str) -> str:
    """The record's path in LAB, as git names it."""
    return f"{RECORD_DIR}/{run}.json"


def read_runs(lab: Path) -> list[BatchRecord]:
    """Every run recorded in LAB, oldest first."""
    folder = lab / RECORD_DIR
    if not folder.is_dir():
        return []
    return [
        BatchRecord.from_json(path.read_bytes(), str(path))
        for path in sorted(folder.glob("*.json"))
    ]


@dataclass
class History:
    """What earlier runs did with one source."""

    completed: SessionRecord | None = None  # the latest conversion of it
    # (fingerprint, settings) -> failed attempts
    failures: dict[tuple[str, str | None], int] = field(default_factory=dict)


def histories(runs: Iterable[BatchRecord]) -> dict[str, History]:
    """Per source key, its latest completed conversion and its failures per fingerprint."""
    found: dict[str, History] = {}
    for run in runs:
        for session in run.sessions:
            history = found.setdefault(session.key, History())
            if session.status == COMPLETED:
                history.completed = session
            elif session.status == FAILED and session.fingerprint:
                tried = (session.fingerprint, session.settings)
                history.failures[tried] = max(history.failures.get(tried, 0), session.attempts)
    return found


def source_key(inputs: Sequence[Path]) -> str:
    return "\n".join(sorted(str(p) for p in inputs))


def latest_sessions(runs: Iterable[BatchRecord]) -> list[tuple[str, SessionRecord]]:
    """Per source, its latest conversion or failure and the run that made it (a skip in a
    later run changes neither), in the order the sessions were first seen."""
    latest: dict[str, tuple[str, SessionRecord]] = {}
    for run in runs:
        for session in run.sessions:
            if session.status != SKIPPED or session.key not in latest:
                latest[session.key] = (run.run, session)
    return list(latest.values())
