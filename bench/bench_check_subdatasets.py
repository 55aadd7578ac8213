"""Issue 2: `anc check` of a dataset with 200 subdatasets within 2 s.

Side by side, in the same run: `datalad status` with its default full evaluation of every
subdataset's work tree (what `anc check` avoids: it reads .gitmodules and the index, and
asks git for the top-level status with --ignore-submodules=all).

Set-up: 200 independent `datalad create` calls in a process pool (one per core), then one
`save` that registers them all as subdatasets; about a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import median_of, report, timed

from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.datalad_layer.integrity import check_dataset_integrity

N = 200
MISSING = 10  # a few registered but not installed, so the check has something to find
TARGET = 2.0
BIN = Path(sys.executable).parent


def create_plain(path: str) -> None:
    dsops.dl().create(path=path, result_renderer="disabled")


def build(root: Path) -> None:
    sup = dsops.create_dataset(root)
    paths = [str(root / "subs" / f"sub-{i:03d}") for i in range(N)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(create_plain, paths, chunksize=8))
    dsops.save(sup, f"Register {N} subdatasets")
    for path in paths[:MISSING]:
        shutil.rmtree(path)
        os.mkdir(path)  # what an uninstalled subdataset looks like


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "super"
        report(f"set-up: superdataset with {N} subdatasets", timed(lambda: build(root)), "s")
        out = subprocess.run(
            [str(BIN / "anc"), "check", str(root), "--json"], capture_output=True, text=True
        ).stdout
        stats = json.loads(out)["statistics"]
        assert (stats["subdatasets"], stats["missing_subdatasets"]) == (N, MISSING), stats
        seconds = median_of(3, lambda: wall([str(BIN / "anc"), "check", str(root)]))
        report(
            f"anc check, {N} subdatasets (process)",
            seconds,
            "s",
            f"target {TARGET} s, ratio {seconds / TARGET:.2f}",
        )
        report(
            "  of which check_dataset_integrity() in-process",
            median_of(3, lambda: timed(lambda: check_dataset_integrity(root))),
            "s",
        )
        status = wall([str(BIN / "datalad"), "status", "-d", str(root)])
        report(
            "datalad status (full subdataset evaluation, 1 run)",
            status,
            "s",
            f"anc check is {status / seconds:.1f}x faster",
        )
    return 0 if seconds <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
