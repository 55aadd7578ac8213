"""`anc batch` end to end: real Dask workers, real DataLad, real NeuroConv conversions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentic_neurodata_conversion.batch import claims
from agentic_neurodata_conversion.batch.cluster import ClusterRequest
from agentic_neurodata_conversion.batch.records import read_runs
from agentic_neurodata_conversion.batch.run import BatchOptions, run_batch
from agentic_neurodata_conversion.conversion import synthetic
from agentic_neurodata_conversion.datalad_layer.git import call_git

pytestmark = pytest.mark.slow

SIZE = {"channels": 32, "seconds": 0.2}
ANC = [sys.executable, "-m", "agentic_neurodata_conversion.cli.main"]


def make_sessions(raw: Path, good: int, bad: int = 0) -> list[Path]:
    """RAW/<subject>/<session>: GOOD SpikeGLX recordings, then BAD folders that are not one
    (a torn .meta, an empty folder)."""
    folders = []
    for n in range(good + bad):
        folder = raw / f"m{n % 3 + 1}" / f"s{n:02d}"
        folder.mkdir(parents=True)
        if n < good:
            synthetic.write_spikeglx(folder, seed=n, **SIZE)
        elif (n - good) % 2 == 0:
            synthetic.write_spikeglx(folder, seed=n, **SIZE)
            meta = next(folder.glob("*.meta"))
            meta.write_text(meta.read_text()[:40])  # torn: the reader refuses it
        folders.append(folder)
    return folders


def registered(lab: Path) -> dict[str, str]:
    """Subdataset path -> recorded commit, from LAB's HEAD (what a clone gets)."""
    out = call_git(lab, "ls-tree", "-r", "HEAD").decode()
    return {
        line.split("\t")[1]: line.split()[2]
        for line in out.splitlines()
        if line.split()[1] == "commit"
    }


def datalad_status(lab: Path) -> list[dict]:
    import datalad.api as dl

    return [
        r
        for r in dl.status(dataset=str(lab), result_renderer="disabled", return_type="list")
        if r.get("state") != "clean"
    ]


def batch(pattern: str, lab: Path, **options: object) -> object:
    return run_batch(pattern, lab, ClusterRequest(workers=2), BatchOptions(**options))


def test_twelve_sessions_two_failing_then_rerun_then_fix(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    folders = make_sessions(raw, good=10, bad=2)
    lab = tmp_path / "lab"
    pattern = f"{raw}/{{subject_id}}/{{session_id}}"

    first = batch(pattern, lab, retries=0)
    counts = first.counts
    assert counts == {"completed": 10, "failed": 2, "skipped": 0}, first.sessions
    subs = registered(lab)
    assert len(subs) == 10
    for session in first.sessions:
        if session.status == "completed":
            assert session.path in subs
            tags = call_git(lab / session.path, "tag", "--list").decode().split()
            assert tags == [f"conversion-{session.conversion_id}"]
            assert (
                call_git(lab / session.path, "rev-parse", "HEAD").decode().strip()
                == subs[session.path]
            )
        else:
            assert session.error and session.path is None
    assert datalad_status(lab) == []
    recorded = json.loads((lab / "batch" / f"{first.run}.json").read_text())
    assert recorded["counts"] == counts and recorded["status"] == "finished"
    assert call_git(lab, "status", "--porcelain").decode() == ""

    # The path fields are recorded metadata with their source.
    one = next(s for s in first.sessions if s.status == "completed")
    journal = "".join(
        p.read_text() for p in sorted((lab / one.path / "provenance").rglob("*.jsonl"))
    )
    field = next(
        json.loads(line)
        for line in journal.splitlines()
        if '"Subject.subject_id"' in line and "set_metadata_field" in line
    )
    assert field["source"] == "auto_extracted" and "path pattern" in field["evidence"][0]

    second = batch(pattern, lab, retries=0)
    assert second.counts == {"completed": 0, "failed": 0, "skipped": 12}
    assert registered(lab) == subs

    empty = folders[-1]
    assert not any(empty.iterdir())
    synthetic.write_spikeglx(empty, seed=99, **SIZE)  # the fix
    third = batch(pattern, lab, retries=0)
    converted = [s for s in third.sessions if s.status == "completed"]
    assert [s.name for s in converted] == ["m3_s11"]
    assert third.counts == {"completed": 1, "failed": 0, "skipped": 11}
    assert len(registered(lab)) == 11
    assert datalad_status(lab) == []
    assert [r.run for r in read_runs(lab)] == [first.run, second.run, third.run]


def test_a_killed_worker_leaves_every_session_converted_once(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    make_sessions(raw, good=4)
    lab = tmp_path / "lab"
    run = subprocess.Popen(
        [*ANC, "batch", f"{raw}/{{subject_id}}/{{session_id}}", "--output", str(lab), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    killed = _kill_a_worker_mid_conversion(lab, run)
    stdout, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr.decode()
    record = json.loads(stdout)
    assert killed
    assert record["counts"] == {"completed": 4, "failed": 0, "skipped": 0}
    subs = registered(lab)
    assert sorted(subs) == sorted(s["path"] for s in record["sessions"])
    # nothing else made: no half conversion beside the registered ones, no claim left
    assert sorted(p.name for p in lab.glob("conversion_*")) == sorted(Path(p).name for p in subs)
    assert claims.left_over(lab) == []
    assert datalad_status(lab) == []


def _kill_a_worker_mid_conversion(lab: Path, run: subprocess.Popen) -> bool:
    """SIGKILL the Dask worker running a conversion, once one is half-way (its dataset made)."""
    import psutil

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None:
        for claim in claims.left_over(lab) if lab.is_dir() else ():
            folder = lab / f"conversion_{claim['conversion_id']}"
            if not (folder / ".git").exists():
                continue
            try:
                worker = psutil.Process(claim["worker"])
            except psutil.Error:
                continue
            if worker is not None and "python" in worker.name():
                worker.send_signal(signal.SIGKILL)
                return True
        time.sleep(0.1)
    return False


def test_clone_of_lab_from_the_ria_store_gets_the_nwb(tmp_path: Path) -> None:
    import datalad.api as dl

    raw = tmp_path / "raw"
    make_sessions(raw, good=2)
    lab = tmp_path / "lab"
    store = f"ria+file://{tmp_path / 'store'}"
    record = batch(f"{raw}/{{subject_id}}/{{session_id}}", lab, ria_url=store)
    assert record.counts["completed"] == 2
    lab_id = (lab / ".datalad" / "config").read_text().split("id = ")[1].split()[0]
    clone = tmp_path / "clone"
    dl.clone(f"{store}#{lab_id}", str(clone), result_renderer="disabled")
    dl.get(dataset=str(clone), path=str(clone), recursive=True, result_renderer="disabled")
    for session in record.sessions:
        nwb = f"outputs/{session.conversion_id}.nwb"
        theirs = (clone / session.path / nwb).resolve()  # the annex object, named by its key
        assert theirs.is_file()
        assert theirs.name == _annex_key(lab / session.path, nwb)


def _annex_key(dataset: Path, path: str) -> str:
    return call_git(dataset, "annex", "lookupkey", path).decode().strip()


def test_a_failure_is_retried_within_the_run_then_left_until_its_source_changes(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    make_sessions(raw, good=0, bad=2)  # a torn .meta, an empty folder: refused quickly
    lab = tmp_path / "lab"
    pattern = f"{raw}/{{subject_id}}/{{session_id}}"
    first = batch(pattern, lab, retries=1)
    assert first.counts == {"completed": 0, "failed": 2, "skipped": 0}
    assert [s.attempts for s in first.sessions] == [2, 2]  # one entry per session
    second = batch(pattern, lab, retries=1)
    assert {(s.status, s.previous) for s in second.sessions} == {("skipped", "failed")}
    third = batch(pattern, lab, retries=2)  # one more try allowed: tried once more
    assert [s.attempts for s in third.sessions if s.status == "failed"] == [3, 3]
