"""Issue 7: `anc storage analyze` over 200 conversion datasets, as a whole command.

Target: within 5 s, and without reading file contents. The 200 datasets (1 MB + 64 kB
annexed per dataset, every tenth session file shared, text in git, one absent file every
twentieth) are made once in bench/out/storage_200/ (~2 min on 2 cores) and reused.

Usage: python bench/bench_storage_analyze.py [N_DATASETS]
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
from _common import report

from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.monitoring import storage

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
OUT = Path(__file__).parent / "out" / f"storage_{N}"
TARGET_S = 5.0
SHARED = random.Random(7).randbytes(1_000_000)


def make(i: int) -> None:
    root = OUT / f"conversion_{i:04d}"
    ds = dsops.create_dataset(root, f"bench {i}", rules=annex.CONVERSION_RULES)
    files: dict[str, bytes] = {
        "outputs/session.nwb": SHARED if i % 10 == 0 else os.urandom(1_000_000),
        "outputs/extra.dat": os.urandom(64_000),
        "scripts/convert.py": f"# conversion {i}\nprint('convert')\n".encode(),
        "reports/validation.txt": b"No issues found\n",
        "provenance/journal/000001.jsonl": b'{"seq": 1, "op": "start"}\n' * 50,
        "inputs/source.json": json.dumps({"path": f"/data/rec{i}"}).encode(),
        "README.md": f"# conversion {i}\n".encode(),
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    dsops.save(ds, "conversion outputs")
    if i % 20 == 5:
        dsops.git(root, "annex", "drop", "--force", "outputs/extra.dat")
    (root / "outputs" / "partial.tmp").write_bytes(b"x" * 100)


def build() -> float:
    marker = OUT / ".complete"
    if marker.exists():
        return 0.0
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(make, range(N)))
    marker.touch()
    return time.perf_counter() - start


def run_cli() -> tuple[float, dict]:
    anc = Path(sys.executable).parent / "anc"
    start = time.perf_counter()
    proc = subprocess.run(
        [str(anc), "storage", "analyze", str(OUT), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - start, json.loads(proc.stdout)


def main() -> None:
    built = build()
    run_cli()  # warm the page cache like any second run
    times, result = [], {}
    for _ in range(3):
        seconds, result = run_cli()
        times.append(seconds)
    t = result["totals"]
    assert result["datasets"] == N, result["datasets"]
    # bytes this process reads (read() calls, git's pipes included) during an in-process scan
    me = psutil.Process()
    before = me.io_counters().read_chars
    storage.analyze(OUT)
    read = me.io_counters().read_chars - before
    median = statistics.median(times)
    report(
        f"anc storage analyze, {N} datasets (whole command, median of 3)",
        median,
        "s",
        f"<= {TARGET_S:g}",
    )
    report("ratio: time / target", median / TARGET_S, "x", "<= 1")
    report("per dataset", median / N * 1000, "ms", "")
    report("scan inside the command (its own `seconds`)", result["seconds"], "s", "")
    report("annexed content under the folder", t["annexed_bytes"] / 1e6, "MB", "")
    report(
        "bytes read by an in-process scan (git pipes, /proc)",
        read / 1e6,
        "MB",
        "<< annexed content",
    )
    report(
        "duplicate saving found",
        t["duplicate_saving_bytes"] / 1e6,
        "MB",
        f"{(N // 10 - 1 + (N % 10 > 0)) * len(SHARED) / 1e6:g} expected",
    )
    if built:
        report(f"(set-up: created {N} datasets)", built, "s", "")


if __name__ == "__main__":
    main()
