"""Issue 7: what monitoring adds to the wall time of a conversion.

The same workload (a dataset, a series of timed saves, CPU-bound compression and a large
annexed output: ~10 s) runs with and without a ConversionMonitor (sampler at the default
1 s interval + collector recording every timed block), interleaved, PAIRS times each.
Target: <= 3 %. Also prints the cost of one resource sample, which bounds the sampler's
share independently of run-to-run noise. Swap `workload` for a tracked conversion later.

Usage: python bench/bench_monitoring_overhead.py [PAIRS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

from _common import report

from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.monitoring.metrics import (
    ConversionMonitor,
    PerformanceCollector,
    ResourceSampler,
)
from agentic_neurodata_conversion.timing import timed

PAIRS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SAVES = 10
CHUNK = os.urandom(1_000_000)


@timed("datalad.save")
def save(ds: object, message: str) -> None:
    dsops.save(ds, message)  # type: ignore[arg-type]


def workload(root: Path) -> None:
    ds = dsops.create_dataset(root, "overhead", rules=annex.CONVERSION_RULES)
    (root / "outputs").mkdir()
    for i in range(SAVES):
        with timed("stage.record"):
            (root / "outputs" / f"part{i}.json").write_text(f'{{"part": {i}}}\n' * 100)
            save(ds, f"part {i}")
    with timed("stage.compute"):
        text = b"".join(f"{i:08d} sample value\n".encode() for i in range(1_500_000))
        for level in (6, 9):
            zlib.compress(text, level)
    with timed("stage.write"), open(root / "outputs" / "session.nwb", "wb") as fh:
        for _ in range(300):
            fh.write(CHUNK)
    save(ds, "output")


def run(monitored: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "conversion_overhead"
        start = time.perf_counter()
        if monitored:
            with ConversionMonitor(root, interval_s=1.0):
                workload(root)
        else:
            workload(root)
        return time.perf_counter() - start


def main() -> None:
    run(False)  # warm imports and caches
    plain, monitored = [], []
    for i in range(PAIRS):
        order = (False, True) if i % 2 == 0 else (True, False)
        for mon in order:
            (monitored if mon else plain).append(run(mon))
    base, with_mon = statistics.median(plain), statistics.median(monitored)
    sampler = ResourceSampler(PerformanceCollector().record_snapshot)
    sampler.sample()
    start = time.perf_counter()
    for _ in range(50):
        sampler.sample()
    per_sample = (time.perf_counter() - start) / 50
    report(f"workload without monitoring (median of {PAIRS})", base, "s", "")
    report(f"workload with monitor + sampler at 1 s (median of {PAIRS})", with_mon, "s", "")
    report("overhead: (with - without) / without, medians", (with_mon - base) / base * 100, "%",
           "<= 3")
    # on a shared machine the fastest run is the one least disturbed by other work
    report("overhead: same on the fastest runs", (min(monitored) - min(plain)) / min(plain) * 100,
           "%", "<= 3")
    report("run-to-run spread without monitoring (max - min)", max(plain) - min(plain), "s", "")
    report("one resource sample", per_sample * 1000, "ms", "")
    report("sampler share at 1 s interval (sample / interval)", per_sample * 100, "%", "<= 3")


if __name__ == "__main__":
    main()
