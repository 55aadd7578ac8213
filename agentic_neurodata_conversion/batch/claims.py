"""Which process group converts a session right now, so that no source is converted twice
at once: a worker killed mid-conversion (SIGKILL) leaves its conversion subprocess running,
and the attempt that takes the session over ends that group and its half-made dataset first.

Claims are small JSON files in ``LAB/.git/anc-batch/claims/`` (inside .git: never part of
the superdataset's content). A claim names its host; a group on another host ends with its
job (SLURM, PBS and SGE kill a job's processes with it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

import psutil

WORK_AREA = Path(".git") / "anc-batch"
GONE_WAIT_S = 10.0


def work_area(lab: Path) -> Path:
    return lab / WORK_AREA


def claim_file(lab: Path, conversion_id: str) -> Path:
    return work_area(lab) / "claims" / f"{conversion_id}.json"


def write_claim(lab: Path, conversion_id: str, **fields: Any) -> None:
    path = claim_file(lab, conversion_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    claim = {"host": socket.gethostname(), "conversion_id": conversion_id, **fields}
    temporary.write_text(json.dumps(claim))
    os.replace(temporary, path)  # a reader sees the old claim or the new one, never half


def read_claim(lab: Path, conversion_id: str) -> dict[str, Any] | None:
    try:
        return json.loads(claim_file(lab, conversion_id).read_text())
    except (FileNotFoundError, ValueError):
        return None


def release(lab: Path, conversion_id: str) -> None:
    claim_file(lab, conversion_id).unlink(missing_ok=True)


def _group(pgid: int, started: float) -> list[psutil.Process]:
    """The live processes of group PGID, if its leader is the one the claim recorded."""
    try:
        if abs(psutil.Process(pgid).create_time() - started) > 1.0:
            return []  # the pid was reused: not ours
    except psutil.NoSuchProcess:
        pass  # the leader is gone; its children may not be
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if os.getpgid(process.pid) == pgid:
                members.append(process)
    return members


def end_claimed(lab: Path, conversion_id: str) -> bool:
    """End the process group an earlier run of this conversion left on this host (its
    worker was killed); True if it did."""
    claim = read_claim(lab, conversion_id)
    if not claim or claim.get("host") != socket.gethostname() or not claim.get("pgid"):
        return False
    members = _group(int(claim["pgid"]), float(claim.get("started", 0.0)))
    if not members:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(int(claim["pgid"]), signal.SIGKILL)
    psutil.wait_procs(members, timeout=GONE_WAIT_S)
    return True


def left_over(lab: Path) -> list[dict[str, Any]]:
    """The claims still in LAB: attempts whose outcome no collector handled (a crash)."""
    folder = work_area(lab) / "claims"
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        with contextlib.suppress(ValueError, OSError):
            found.append(json.loads(path.read_text()))
    return found
