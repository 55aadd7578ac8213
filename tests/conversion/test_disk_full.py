"""A disk that fills up (a real tmpfs) while inputs are copied, the NWB is written, or a
checkpoint commits: one line naming the folder and the space, and a dataset that reopens."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.datalad_layer.integrity import check_dataset_integrity
from agentic_neurodata_conversion.errors import DiskFull
from agentic_neurodata_conversion.journal.chain import verify_journal
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

from .test_pipeline import run_fails

RunCli = Callable[..., tuple[int, str, str]]
MiB = 1 << 20


def status_of(root: Path) -> str:
    return json.loads((root / "provenance" / "conversion.json").read_text())["status"]


@pytest.mark.parametrize(
    ("stage", "mode", "disk_mib", "channels"),
    [("start", "copy", 3, 32), ("convert", "reference", 5, 64)],
)
@pytest.mark.slow
def test_a_full_disk_stops_the_conversion_resumably(
    stage: str,
    mode: str,
    disk_mib: int,
    channels: int,
    tmp_path: Path,
    write_recording: Callable[..., object],
    small_disk: Callable[[int], object],
    run_cli: RunCli,
) -> None:
    write_recording("spikeglx", tmp_path / "rec", channels=channels, seconds=3)
    disk = small_disk(disk_mib * MiB)
    out = disk.path / "out"  # type: ignore[attr-defined]
    err = run_fails(
        run_cli,
        "convert",
        str(tmp_path / "rec"),
        "--output",
        str(out),
        "--id",
        "full",
        "--input-mode",
        mode,
    )
    root = out / "conversion_full"
    assert err.startswith(f"error: no space left on the device holding {root} during {stage} (")
    assert "needed" in err and "free)" in err and f"`anc resume {root}`" in err
    # reopens, nothing half-written kept, the stop on the record
    assert status_of(root) == "interrupted"
    assert verify_journal(root).ok
    assert not list((root / "outputs").glob("*.nwb"))
    assert not list((root / "inputs").glob(".*anc-partial"))
    ConversionProvenanceTracker.open(root).close()
    disk.grow(200 * MiB)  # type: ignore[attr-defined]
    code, stdout, stderr = run_cli("resume", str(root))
    assert code == 0, stdout + stderr
    assert stdout.startswith("completed: ")
    assert check_dataset_integrity(root).is_valid


def test_a_commit_on_a_full_disk_loses_nothing_acknowledged(
    tmp_path: Path, small_disk: Callable[[int], object]
) -> None:
    disk = small_disk(8 * MiB)
    tracker = ConversionProvenanceTracker("c", disk.path)  # type: ignore[attr-defined]
    record = tracker.record_provenance("auto_extracted", "test", "before_the_full_disk")
    report = tracker.path / "reports" / "big.txt"
    report.write_text(os.urandom(MiB).hex())  # 2 MiB of text: git stores it itself
    filler = disk.path / "filler"  # type: ignore[attr-defined]
    free = disk.free()  # type: ignore[attr-defined]
    filler.write_bytes(b"\0" * max(0, free - 256 * 1024))
    with pytest.raises(DiskFull) as raised:
        tracker.checkpoint("with a big report")
    assert raised.value.message.startswith(f"no space left on the device holding {tracker.path}")
    tracker.close()
    filler.unlink()
    reopened = ConversionProvenanceTracker.open(tracker.path)
    reopened.checkpoint("after freeing space")
    ops = [r.operation for r in reopened.iter_records()]
    assert record.operation in ops and ops.count("checkpoint") >= 1
    assert verify_journal(reopened.path).ok
    assert check_dataset_integrity(reopened.path).is_valid
    reopened.close()
