"""Issue 3: adding a 1 GiB NWB file produced on the same filesystem as an artifact.

Ours: the tracker takes the file over (rename) and git-annex hashes it with BLAKE3.
Seed: shutil.copy2 into the dataset, then `save` with DataLad's default backend (MD5E).
Targets: time <= 0.5x the seed's; added disk use <= 1.01x the file's size.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import disk_use, report

from agentic_neurodata_conversion.datalad_layer import dataset as dlayer
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

SIZE = int(float(sys.argv[1]) * 2**30) if len(sys.argv) > 1 else 2**30


def produce(path: Path) -> Path:
    """Write a file of SIZE random-ish bytes (as a converter would) and flush it."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for i in range(SIZE >> 20):
            fh.write(block[: (1 << 20) - 8] + i.to_bytes(8, "little"))
        fh.flush()
        os.fsync(fh.fileno())
    return path


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def ours(root: Path) -> tuple[float, int, int]:
    t = ConversionProvenanceTracker("big", root)
    src = produce(root / "session.nwb")
    before_ds, before_free = disk_use(t.path), free_bytes(root)
    start = time.perf_counter()
    t.save_conversion_artifact(src, "nwb_file", mode="move")
    elapsed = time.perf_counter() - start
    grown = disk_use(t.path) - before_ds
    total = before_free - free_bytes(root)
    t.close()
    return elapsed, grown, total


def seed_way(root: Path) -> tuple[float, int, int]:
    api = dlayer.dl()
    ds = api.create(path=str(root / "seed"), result_renderer="disabled")  # default: MD5E
    src = produce(root / "session.nwb")
    before_ds, before_free = disk_use(root / "seed"), free_bytes(root)
    start = time.perf_counter()
    (root / "seed" / "outputs").mkdir()
    shutil.copy2(src, root / "seed" / "outputs" / src.name)
    ds.save(
        message="Add nwb_file", path=[str(root / "seed" / "outputs")], result_renderer="disabled"
    )
    elapsed = time.perf_counter() - start
    return elapsed, disk_use(root / "seed") - before_ds, before_free - free_bytes(root)


def main() -> None:
    results = {}
    for name, fn in (("ours", ours), ("seed", seed_way)):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            results[name] = fn(Path(tmp))
    (t_ours, g_ours, d_ours), (t_seed, g_seed, d_seed) = results["ours"], results["seed"]
    gib = SIZE / 2**30
    report(f"add {gib:g} GiB NWB, ours (move + BLAKE3_256E)", t_ours, "s")
    report(f"add {gib:g} GiB NWB, seed (copy2 + save, MD5E)", t_seed, "s")
    report("ratio: time ours / seed", t_ours / t_seed, "x", "<= 0.5")
    report("dataset growth / file size, ours", g_ours / SIZE, "x", "<= 1.01")
    report("dataset growth / file size, seed", g_seed / SIZE, "x", "")
    report("disk consumed by the step / file size, ours", d_ours / SIZE, "x", "")
    report("disk consumed by the step / file size, seed", d_seed / SIZE, "x", "")


if __name__ == "__main__":
    main()
