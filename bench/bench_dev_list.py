"""Issue 2: `anc dev list --json` over 1000 registered datasets within 1 s.

Set-up writes 1000 datasets in the layout `anc dev add` produces (folder, one small file,
dataset_metadata.json from the same `build_metadata`) and saves them in one commit, which
takes seconds instead of the ~4 min of 1000 separate `anc dev add` calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import median_of, report, timed

from agentic_neurodata_conversion.data_management import (
    DataLadRepositoryManager,
    TestDatasetManager,
)
from agentic_neurodata_conversion.data_management.test_datasets import (
    METADATA_FILE,
    build_metadata,
)
from agentic_neurodata_conversion.datalad_layer import dataset as dsops

N = 1000
TARGET = 1.0
ANC = Path(sys.executable).parent / "anc"


def populate(root: Path, n: int) -> None:
    manager = DataLadRepositoryManager(root)
    manager.initialize()
    base = TestDatasetManager(manager).test_data_path
    for i in range(n):
        folder = base / f"dataset-{i:04d}"
        folder.mkdir()
        (folder / "units.csv").write_text(f"unit,rate\n{i},{i / 10}\n")
        meta = build_metadata(
            folder.name,
            f"synthetic dataset {i}",
            f"/data/session-{i}",
            [{"path": "units.csv", "size": (folder / "units.csv").stat().st_size}],
            {"lab": "bench", "index": str(i)},
        )
        (folder / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    dsops.save(dsops.open_dataset(root), f"Add {n} datasets", paths=[base])


def run_list(root: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run(
        [str(ANC), "dev", "list", "--json", "-d", str(root)], check=True, capture_output=True
    ).stdout
    elapsed = time.perf_counter() - start
    assert len(json.loads(out)["datasets"]) == N
    return elapsed


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "devdata"
        report(
            f"set-up: {N} datasets written and saved once", timed(lambda: populate(root, N)), "s"
        )
        seconds = median_of(5, lambda: run_list(root))
        report(
            f"anc dev list --json, {N} datasets (process)",
            seconds,
            "s",
            f"target {TARGET} s, ratio {seconds / TARGET:.2f}",
        )
        manager = TestDatasetManager(DataLadRepositoryManager(root))
        report(
            "  of which get_available_datasets() in-process",
            median_of(5, lambda: timed(manager.get_available_datasets)),
            "s",
        )
    return 0 if seconds <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
