"""Issue 15: `anc status LAB` on a lab superdataset holding 1,000 batch conversions.

The lab is built the way `anc batch` leaves it: 1,000 small datasets registered by the
collector (``datalad_layer.register``, batches of 50) and the run's record
``batch/<run>.json`` with one entry per session, committed with them. `anc status LAB`
(whole process, as a user runs it) is timed 5 times; the median is printed (goal <= 1 s),
beside `anc --help` for the interpreter's own start-up.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import report

from agentic_neurodata_conversion.batch.records import (
    COMPLETED,
    BatchRecord,
    SessionRecord,
    record_path,
    utc_now,
)
from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer.dataset import create_dataset
from agentic_neurodata_conversion.datalad_layer.git import call_git
from agentic_neurodata_conversion.datalad_layer.register import (
    read_subdataset,
    register_subdatasets,
)

ANC = str(Path(sys.executable).parent / "anc")


def small_dataset(path: Path, n: int) -> None:
    """A git repository with one commit and a DataLad id: what registration reads."""
    (path / ".datalad").mkdir(parents=True)
    (path / ".datalad" / "config").write_text(
        f'[datalad "dataset"]\n\tid = 00000000-0000-4000-8000-{n:012d}\n'
    )
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    call_git(path, "add", ".datalad/config")
    call_git(path, "commit", "-q", "-m", f"conversion {n}")


def build_lab(lab: Path, count: int, batch: int) -> float:
    create_dataset(lab, "bench lab", rules=annex.DEVELOPMENT_RULES)
    record = BatchRecord(
        "20261202T000000Z-0000", "raw/{subject_id}/{session_id}", utc_now(), "local"
    )
    seconds = 0.0
    for start in range(0, count, batch):
        subs = []
        for n in range(start, min(start + batch, count)):
            folder = lab / f"conversion_s{n:05d}-00000000"
            small_dataset(folder, n)
            subs.append(read_subdataset(folder))
            record.sessions.append(
                SessionRecord(
                    f"s{n:05d}",
                    f"/data/raw/sub-{n % 10}/ses-{n:05d}",
                    COMPLETED,
                    f"/data/raw/sub-{n % 10}/ses-{n:05d}",
                    "0" * 64,
                    conversion_id=f"s{n:05d}-00000000",
                    path=folder.name,
                    tag=f"conversion-s{n:05d}-00000000",
                    duration_s=7.0,
                    attempts=1,
                )
            )
        started = time.perf_counter()
        register_subdatasets(lab, subs, "bench", files={record_path(record.run): record.to_json()})
        seconds += time.perf_counter() - started
    return seconds


def median_process(command: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversions", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as tmp:
        lab = Path(tmp) / "lab"
        registration = build_lab(lab, args.conversions, args.batch)
        status = median_process([ANC, "status", str(lab)])
        status_json = median_process([ANC, "status", str(lab), "--json"])
        startup = median_process([ANC, "--help"])
    report(f"registration of {args.conversions} (batches of {args.batch})", registration, "s")
    report(f"anc status LAB ({args.conversions} conversions)", status, "s", "goal <= 1 s")
    report("anc status LAB --json", status_json, "s")
    report("anc --help (start-up alone)", startup, "s")


if __name__ == "__main__":
    main()
