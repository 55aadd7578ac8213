"""SIGKILL a writer mid-append and mid-checkpoint: the conversion reopens, nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentic_neurodata_conversion.provenance import journal as jmod
from agentic_neurodata_conversion.provenance.journal import iter_entries, verify_journal
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

from .conftest import annex_fsck

WRITER = r"""
import sys
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker
t = ConversionProvenanceTracker.open(sys.argv[1])
i = 0
while True:
    i += 1
    r = t.record_field(f"NWBFile.f{i % 7}", "x" * (i % 300), "auto_extracted", confidence=0.9)
    print(r.seq, flush=True)           # acknowledged: record() has returned
    if i % 40 == 0:
        print("checkpoint", flush=True)
        t.checkpoint(f"batch {i}")
        print("checkpointed", flush=True)
"""


def run_and_kill(path: Path, *, during_checkpoint: bool, rng: random.Random) -> set[int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    acked: set[int] = set()
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    want = rng.randint(50, 150)
    for line in proc.stdout:
        line = line.strip()
        if line.isdigit():
            acked.add(int(line))
        if during_checkpoint and line == "checkpoint" and len(acked) >= want:
            time.sleep(rng.uniform(0.0, 0.25))  # somewhere inside datalad save
            break
        if not during_checkpoint and len(acked) >= want:
            break
        assert time.monotonic() < deadline, "writer too slow"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return acked


@pytest.mark.parametrize("during_checkpoint", [False, True], ids=["mid-append", "mid-checkpoint"])
def test_sigkill_loses_nothing_acknowledged(tmp_path: Path, during_checkpoint: bool) -> None:
    rng = random.Random(7 if during_checkpoint else 3)
    t = ConversionProvenanceTracker("crash", tmp_path)
    path = t.path
    t.close()
    all_acked: set[int] = set()
    for _ in range(3):
        all_acked |= run_and_kill(path, during_checkpoint=during_checkpoint, rng=rng)
        reopened = ConversionProvenanceTracker.open(path)  # must not raise
        check = verify_journal(path)
        assert check.ok, check.problems
        present = {e["seq"] for e in iter_entries(path / jmod.JOURNAL_DIR)}
        assert all_acked <= present
        reopened.checkpoint("after crash")
        reopened.close()
    annex_fsck(path)
    out = subprocess.run(["git", "status", "--porcelain"], cwd=path, capture_output=True, text=True)
    assert out.stdout == ""


def test_torn_line_is_recorded_on_reopen(tmp_path: Path) -> None:
    t = ConversionProvenanceTracker("torn", tmp_path)
    t.record_field("a", 1, "auto_extracted")
    t.close()
    current = t.path / jmod.JOURNAL_DIR / jmod.CURRENT
    with open(current, "ab") as fh:
        fh.write(b'{"seq":99,"half')
    again = ConversionProvenanceTracker.open(t.path)
    recovery = [r for r in again.iter_records() if r.operation == "crash_recovery"]
    assert len(recovery) == 1 and recovery[0].evidence[0]["torn_bytes"] == b'{"seq":99,"half'
    assert verify_journal(t.path).ok
    again.close()


def test_stale_index_lock_is_removed_on_reopen(tmp_path: Path) -> None:
    t = ConversionProvenanceTracker("lock", tmp_path)
    t.close()
    (t.path / ".git" / "index.lock").write_text("")
    os.utime(t.path / ".git" / "index.lock")
    again = ConversionProvenanceTracker.open(t.path)
    assert not (t.path / ".git" / "index.lock").exists()
    again.checkpoint("works again")
    again.close()
