"""Issue 7: what monitoring adds to the wall time of a tracked conversion.

`convert()` of one synthetic SpikeGLX recording (64 ch x 30 s) as a whole process, with the
monitor (background sampler at the default 1 s interval, every timed step recorded, metrics
committed in reports/) and without, interleaved, PAIRS times each. Target: <= 3 %.
Also prints the cost of one resource sample, which bounds the sampler's share
independently of run-to-run noise.

Usage: python bench/bench_monitoring_overhead.py [PAIRS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import report

from agentic_neurodata_conversion.conversion.synthetic import write_spikeglx
from agentic_neurodata_conversion.monitoring.metrics import PerformanceCollector, ResourceSampler

PAIRS = int(sys.argv[1]) if len(sys.argv) > 1 else 4
CONVERT = (
    "import sys; from agentic_neurodata_conversion.conversion.pipeline import convert; "
    "r = convert(sys.argv[1], sys.argv[2], conversion_id=sys.argv[3], monitor=sys.argv[4] == '1'); "
    "assert r.status == 'completed', r.reason"
)


def run(source: Path, out: Path, name: str, monitored: bool) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CONVERT, str(source), str(out), name, "1" if monitored else "0"],
        check=True,
    )
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_spikeglx(root / "rec", channels=64, seconds=30.0)
        times: dict[bool, list[float]] = {True: [], False: []}
        for i in range(PAIRS):
            for monitored in (True, False) if i % 2 else (False, True):
                times[monitored].append(
                    run(root / "rec", root / "out", f"m{i}-{int(monitored)}", monitored)
                )
        subprocess.run(["chmod", "-R", "u+w", tmp], check=False)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    report("tracked conversion without monitoring (median)", off, "s")
    report("tracked conversion with monitoring (median)", on, "s")
    report("overhead: (with - without) / without", 100 * (on - off) / off, "%", "<= 3")
    report("run-to-run spread without (max - min)", max(times[False]) - min(times[False]), "s")
    collector = PerformanceCollector()
    sampler = ResourceSampler(collector.resource_history.append, interval_s=1.0)
    n = 50
    start = time.perf_counter()
    for _ in range(n):
        sampler.sample()
    one = (time.perf_counter() - start) / n
    report("one resource sample", one * 1000, "ms")
    report("sampler share at 1 s interval (sample / interval)", one * 100, "%", "<= 3")


if __name__ == "__main__":
    main()
