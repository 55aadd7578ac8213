"""Issue 3: record appends per second, against one `datalad save` per record.

Targets: >= 50,000 records/s with durability at checkpoint; >= 1,000/s with a sync per
record. Both sides are measured in this one run.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import report

from agentic_neurodata_conversion.datalad_layer import dataset as dlayer
from agentic_neurodata_conversion.journal.chain import Journal
from agentic_neurodata_conversion.journal.records import ProvenanceRecord
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

N_FAST, N_SYNC, N_SAVE = 50_000, 3_000, 30


def rate_tracker(root: Path, n: int, sync: bool, rounds: int = 3) -> float:
    """Median over ROUNDS of N `record_field` calls (after a short warm-up)."""
    t = ConversionProvenanceTracker(f"bench{int(sync)}", root, sync=sync)
    rates = []
    for r in range(rounds + 1):
        count = n if r else max(1, n // 10)  # round 0 warms caches and allocators up
        start = time.perf_counter()
        for i in range(count):
            t.record_field(
                f"NWBFile.field{i % 40}",
                i,
                "auto_extracted",
                confidence=0.9,
                evidence=["recording.ap.meta:imSampRate"],
                reasoning="read from the file header",
            )
        if r:
            rates.append(count / (time.perf_counter() - start))
    t.close()
    return statistics.median(rates)


def rate_journal(root: Path, n: int, rounds: int = 3) -> float:
    """Median over ROUNDS of N journal appends of records built beforehand (the append
    alone: lock, chain hash, encode, one write)."""
    journal = Journal(root / "journal-only" / "provenance" / "journal")
    rates = []
    for _ in range(rounds):
        records = [
            ProvenanceRecord(
                source="auto_extracted",
                operation="set_field",
                field=f"NWBFile.field{i % 40}",
                value=i,
                confidence=0.9,
                evidence=["recording.ap.meta:imSampRate"],
                reasoning=["read from the file header"],
            )
            for i in range(n)
        ]
        start = time.perf_counter()
        for record in records:
            journal.append(record)
        rates.append(n / (time.perf_counter() - start))
    journal.close()
    return statistics.median(rates)


def rate_save_per_record(root: Path, n: int) -> float:
    """The seed's way: one JSON file and one `datalad save` per record."""
    ds = dlayer.create_dataset(root / "seedlike")
    folder = root / "seedlike" / "provenance"
    folder.mkdir()
    start = time.perf_counter()
    for i in range(n):
        path = folder / f"record_{i:04d}.json"
        path.write_text(
            json.dumps({"operation": "set_field", "field": f"f{i}", "value": i}, indent=2)
        )
        dlayer.save(ds, f"record {i}", paths=[path])
    return n / (time.perf_counter() - start)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        appends = rate_journal(root, N_FAST)
        fast = rate_tracker(root, N_FAST, sync=False)
        synced = rate_tracker(root, N_SYNC, sync=True)
        baseline = rate_save_per_record(root, N_SAVE)
    report(
        "appends/s of built records, durability at checkpoint (median of 3)",
        appends,
        "rec/s",
        ">= 50000",
    )
    report(
        "records/s built and appended (tracker.record_field, median of 3)",
        fast,
        "rec/s",
        ">= 50000",
    )
    report("records/s, fsync per record (median of 3)", synced, "rec/s", ">= 1000")
    report("records/s, one datalad save per record (seed way)", baseline, "rec/s", "")
    report("ratio: checkpoint-durable vs save-per-record", fast / baseline, "x", "")
    report("ratio: fsync-per-record vs save-per-record", synced / baseline, "x", "")


if __name__ == "__main__":
    main()
