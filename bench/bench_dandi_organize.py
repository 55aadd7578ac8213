"""Issue 17: `anc dandi organize` of 200 small conversions (goal <= 30 s), NWB content read once.

The conversions are made with the tracker (no NeuroConv: the organise step reads only what
a conversion records and its NWB file): each a DataLad dataset with its decided fields in
the journal, a small NWB file (written with pynwb: a subject, a device, an electrode group,
an ElectricalSeries) annexed in outputs/, finalized and tagged. They are built once into
--keep DIR (reused when there). `anc dandi organize DIR --output DANDISET` is then timed as
one whole process with dandi's metadata cache off (median of --runs runs); in one more run in this process every h5py file open
is counted per path (dandi's cache off), to show that no NWB file is opened twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import report

ANC = str(Path(sys.executable).parent / "anc")


def tiny_nwb(path: Path, subject: str, session: str) -> None:
    import numpy as np
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ecephys import ElectricalSeries
    from pynwb.file import Subject

    start = dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)
    nwb = NWBFile("bench session", f"bench-{session}", start, session_id=session)
    nwb.subject = Subject(subject_id=subject, species="Mus musculus", sex="F", age="P90D")
    device = nwb.create_device("probe")
    group = nwb.create_electrode_group("shank0", "shank", "VISp", device)
    for _ in range(4):
        nwb.add_electrode(group=group, location="VISp")
    region = nwb.create_electrode_table_region(list(range(4)), "all")
    data = np.zeros((100, 4), dtype="int16")
    nwb.add_acquisition(ElectricalSeries(name="es", data=data, electrodes=region, rate=1000.0))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def make_conversion(out: Path, n: int, scratch: Path) -> None:
    from agentic_neurodata_conversion.journal.records import ConfidenceLevel, ProvenanceSource
    from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

    cid = f"bench-{n:03d}"
    subject, session = f"mouse-{n // 4:03d}", f"s{n % 4}"
    fields = {
        "Subject.subject_id": subject,
        "Subject.species": "Mus musculus",
        "Subject.sex": "F",
        "Subject.age": "P90D",
        "NWBFile.session_id": session,
        "NWBFile.session_start_time": "2024-01-01T10:00:00+00:00",
    }
    tracker = ConversionProvenanceTracker(cid, out, checkpoint=False, register=False)
    for name, value in fields.items():
        tracker.record_field(
            name,
            value,
            ProvenanceSource.USER_PROVIDED,
            confidence=1.0,
            confidence_level=ConfidenceLevel.HUMAN_CONFIRMED,
        )
    nwb = scratch / f"{cid}.nwb"
    tiny_nwb(nwb, subject, session)
    tracker.save_conversion_artifact(nwb, "nwb_file", mode="move", commit=False)
    tracker.update_pipeline_state({"nwb": f"outputs/{cid}.nwb", "format": "spikeglx"})
    tracker.finalize_conversion("completed", fields)
    tracker.close()


def build(out: Path, count: int) -> None:
    done = {p.name for p in out.glob("conversion_*")} if out.exists() else set()
    scratch = Path(tempfile.mkdtemp(prefix="anc-bench-nwb-"))
    try:
        for n in range(count):
            if f"conversion_bench-{n:03d}" not in done:
                make_conversion(out, n, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def opens_per_file(lab: Path, dandiset: Path) -> Counter[str]:
    """Organise in this process, counting h5py file opens by path (dandi's cache of what
    it read off, so that every read is counted)."""
    os.environ["DANDI_CACHE"] = "ignore"
    import h5py

    from agentic_neurodata_conversion.dandi.organize import organize

    counts: Counter[str] = Counter()
    original = h5py.File.__init__

    def counting(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        path = name.name if hasattr(name, "read") else name  # dandi passes an open file
        counts[str(Path(str(path)).resolve())] += 1
        original(self, name, *args, **kwargs)

    h5py.File.__init__ = counting  # type: ignore[method-assign]
    try:
        organize([lab], dandiset)
    finally:
        h5py.File.__init__ = original  # type: ignore[method-assign]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="where the conversions are built (reused)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="anc-bench-dandi-"))
    lab = args.keep or base / "lab"
    started = time.perf_counter()
    build(lab, args.count)
    print(f"# {args.count} conversions ready in {time.perf_counter() - started:.1f} s ({lab})")
    try:
        times = []
        for run in range(args.runs):
            dandiset = base / f"dandiset-{run}"
            t0 = time.perf_counter()
            subprocess.run(
                [ANC, "dandi", "organize", str(lab), "--output", str(dandiset)],
                check=True,
                capture_output=True,
                env={**os.environ, "DANDI_CACHE": "ignore"},  # cold: every file read
            )
            times.append(time.perf_counter() - t0)
        assets = len(list((base / "dandiset-0").rglob("sub-*/*.nwb")))
        report(f"anc dandi organize, {args.count} conversions ({assets} assets)",
               statistics.median(times), "s", "goal <= 30 s")  # fmt: skip
        counts = opens_per_file(lab, base / "dandiset-count")
        nwb_opens = {p: c for p, c in counts.items() if p.endswith(".nwb")}
        report("NWB files opened", len(nwb_opens), "files")
        report("most opens of one NWB file", max(nwb_opens.values(), default=0), "opens",
               "goal 1")  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
