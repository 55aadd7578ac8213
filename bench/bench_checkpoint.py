"""Issue 3: a checkpoint of 10,000 new records plus a small file, on a fresh conversion and
on one already holding 1,000,000 records; repository growth per checkpoint.

Targets: <= 0.5 s, no slower at 1,000,000 records, growth in proportion to records added.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import disk_use, report

from agentic_neurodata_conversion.journal.records import ProvenanceRecord
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

BATCH = 10_000
BIG = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def records(n: int, start: int) -> list[ProvenanceRecord]:
    return [
        ProvenanceRecord(
            source="auto_extracted",
            operation="set_field",
            agent="bench",
            field=f"NWBFile.field{i % 40}",
            value=i,
            confidence=0.9,
            evidence=["recording.ap.meta:imSampRate"],
            reasoning=["read from the file header"],
        )
        for i in range(start, start + n)
    ]


def checkpoints(t: ConversionProvenanceTracker, rounds: int) -> tuple[float, float]:
    """Median checkpoint time and median .git growth per checkpoint (bytes); prints each."""
    times, growth = [], []
    for r in range(rounds):
        t.journal.append_many(records(BATCH, r * BATCH))
        (t.path / "reports" / "progress.txt").write_text(f"round {r}\n")
        before = disk_use(t.path / ".git")
        start = time.perf_counter()
        t.checkpoint(f"round {r}")
        times.append(time.perf_counter() - start)
        growth.append(disk_use(t.path / ".git") - before)
    print(
        f"  (each checkpoint at {t.journal.last_seq} records: {' '.join(f'{x:.3f}' for x in times)} s)"
    )
    return statistics.median(times), statistics.median(growth)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = ConversionProvenanceTracker("ckpt", Path(tmp))
        small_time, small_growth = checkpoints(t, 5)
        filled = t.journal.last_seq
        fill_start = time.perf_counter()
        while filled < BIG:
            t.journal.append_many(records(min(100_000, BIG - filled), filled))
            filled = t.journal.last_seq
            t.checkpoint(f"fill to {filled}")
        fill_time = time.perf_counter() - fill_start
        big_time, big_growth = checkpoints(t, 5)
        t.close()
    report(f"checkpoint of {BATCH} records + small file, fresh", small_time, "s", "<= 0.5")
    report(
        f"checkpoint of {BATCH} records + small file, at {filled} records", big_time, "s", "<= 0.5"
    )
    report("ratio: checkpoint time at large / fresh", big_time / small_time, "x", "~1 (no slower)")
    report("repository growth per checkpoint, fresh", small_growth / 1e6, "MB", "")
    report(f"repository growth per checkpoint, at {filled} records", big_growth / 1e6, "MB", "")
    report("ratio: growth at large / fresh", big_growth / small_growth, "x", "~1 (proportional)")
    report(f"(set-up: filled {filled} records with checkpoints in)", fill_time, "s", "")


if __name__ == "__main__":
    main()
