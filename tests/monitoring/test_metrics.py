"""Timings (functions, methods, coroutines, blocks), collectors, the sampler, metrics files."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentic_neurodata_conversion import timing
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.errors import UsageError
from agentic_neurodata_conversion.monitoring import metrics
from agentic_neurodata_conversion.monitoring.datalad_timing import PerformanceAwareDataLadWrapper
from agentic_neurodata_conversion.monitoring.metrics import (
    ConversionMonitor,
    PerformanceCollector,
    PerformanceMetric,
    SystemResourceSnapshot,
    load_metrics,
    save_metrics,
    timed,
)


class Worker:
    @timed("op.method")
    def work(self, x: int) -> int:
        return x * 2

    @timed("op.fail")
    def fail(self) -> None:
        raise ValueError("boom")

    @staticmethod
    @timed("op.static")
    def static() -> str:
        return "s"

    @classmethod
    @timed("op.cls")
    def cls_method(cls) -> str:
        return cls.__name__


@timed("op.async")
async def async_job() -> int:
    await asyncio.sleep(0.01)
    return 7


@pytest.fixture
def collector():
    c = PerformanceCollector()
    c.attach()
    yield c
    c.detach()


def test_timed_works_on_functions_methods_coroutines_and_blocks(
    collector: PerformanceCollector,
) -> None:
    w = Worker()
    assert w.work(3) == 6 and Worker.static() == "s" and Worker.cls_method() == "Worker"
    with pytest.raises(ValueError, match="boom"):
        w.fail()
    assert asyncio.run(async_job()) == 7
    block = timed("stage.convert")
    with block, block:  # re-entered: both timed
        time.sleep(0.01)
    with pytest.raises(KeyError), timed("query.lookup"):
        raise KeyError("k")
    got = {(m.operation, m.ok) for m in collector.metrics}
    assert got == {
        ("op.method", True),
        ("op.fail", False),
        ("op.static", True),
        ("op.cls", True),
        ("op.async", True),
        ("stage.convert", True),
        ("query.lookup", False),
    }
    by_op = {m.operation: m for m in collector.metrics}
    assert by_op["op.fail"].error == "ValueError: boom"
    assert by_op["op.async"].value >= 0.01
    assert by_op["stage.convert"].metric_type == "stage_time"
    assert by_op["query.lookup"].metric_type == "query_time"
    assert by_op["op.method"].metric_type == "operation_time"
    assert len([m for m in collector.metrics if m.operation == "stage.convert"]) == 2
    assert w.work.__name__ == "work"  # functools.wraps kept the name


def test_nothing_listens_by_default_and_broken_listeners_are_harmless() -> None:
    assert not timing.listening()
    calls: list[str] = []

    def broken(name: str, seconds: float, error: BaseException | None) -> None:
        calls.append(name)
        raise RuntimeError("listener bug")

    timing.add_listener(broken)
    try:
        assert Worker().work(2) == 4
    finally:
        timing.remove_listener(broken)
    assert calls == ["op.method"] and not timing.listening()

    # without listeners a timed call costs little more than the call itself
    plain = Worker.work.__wrapped__  # type: ignore[attr-defined]
    w = Worker()
    n = 200_000
    t0 = time.perf_counter()
    for _ in range(n):
        plain(w, 1)
    bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        w.work(1)
    wrapped = time.perf_counter() - t0
    assert (wrapped - bare) / n < 2e-6  # < 2 µs per call


def test_collector_timers_direct_recording_summary_and_save(tmp_path: Path) -> None:
    c = PerformanceCollector()
    tid = c.start_timer("datalad.save")
    c.end_timer(tid, {"files": 3})
    with pytest.raises(KeyError, match="no running timer"):
        c.end_timer(tid)
    with c.timed("datalad.get"):  # recorded although c is not attached
        pass
    c.record_metric("query_time", "query.records", 0.5)
    summary = c.get_metrics_summary()
    assert summary["total_metrics"] == 3
    ops = summary["metric_types"]["operation_time"]
    assert ops["datalad.save"]["count"] == 1 and ops["datalad.get"]["errors"] == 0
    assert summary["metric_types"]["query_time"]["query.records"]["p95"] == 0.5
    assert metrics.default_collector() is metrics.default_collector()
    assert load_metrics(c.save(tmp_path / "reports")).metrics == c.metrics


def test_figures_throughput_and_query_percentiles() -> None:
    t0 = 1_700_000_000.0
    convs = [
        PerformanceMetric(
            t0, "conversion_time", "conversion", 100.0, context={"input_bytes": 200_000_000}
        ),
        PerformanceMetric(
            t0 + 1700, "conversion_time", "conversion", 100.0, context={"output_bytes": 100_000_000}
        ),
        PerformanceMetric(t0 + 3000, "conversion_time", "conversion", 5.0, ok=False),
    ]
    fig = metrics.throughput(convs)
    assert fig["conversions"] == 2
    assert fig["conversions_per_hour"] == pytest.approx(2 * 3600 / 1800)
    assert fig["mb_per_s"] == pytest.approx(300 / 200)
    queries = [PerformanceMetric(t0, "query_time", "query.x", v) for v in range(1, 101)]
    q = metrics.query_times(queries)
    assert q["count"] == 100 and q["p50_s"] == pytest.approx(50.5)
    assert q["p95_s"] == pytest.approx(95.05)
    assert math.isnan(metrics.percentile([], 50))


def test_metrics_file_round_trip_and_corrupt_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "metrics.jsonl"
    m = PerformanceMetric(1.0, "stage_time", "stage.a", 2.0, context={"k": "v"})
    s = SystemResourceSnapshot(1.0, 10.0, 100.0, 1000.0, 50.0, 20.0, 40.0, 0.1, 0.2)
    save_metrics(path, [m], [s])
    with path.open("a") as fh:
        fh.write("{not json\n")
        fh.write(json.dumps({"kind": "metric", "operation": "x"}) + "\n")
        fh.write(json.dumps({"kind": "resource", "timestamp": 1.0}) + "\n")
        fh.write(
            json.dumps(
                {
                    "kind": "metric",
                    "timestamp": 1,
                    "metric_type": "t",
                    "operation": "o",
                    "value": "slow",
                }
            )
            + "\n"
        )
        fh.write(json.dumps([1, 2]) + "\n")
    save_metrics(path, [m])  # appends after the damage: still read
    loaded = load_metrics(path)
    assert loaded.metrics == [m, m] and loaded.snapshots == [s]
    assert len(loaded.problems) == 5
    assert all(p.startswith(f"{path}:") for p in loaded.problems)
    assert "missing" in loaded.problems[1] and "numbers" in loaded.problems[3]
    missing = load_metrics(tmp_path / "nope.jsonl")
    assert missing.problems[0].endswith("cannot read (No such file or directory)")


def test_sampler_samples_in_the_background_and_counts_children(tmp_path: Path) -> None:
    c = PerformanceCollector(0.05, disk_path=tmp_path)
    own = metrics.ResourceSampler(lambda s: None).sample().memory_usage_mb
    # a child holding ~150 MB must show up in the process-tree memory
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; b = bytearray(150_000_000); b[::4096] = b'x' * "
            "len(b[::4096]); print('ready', flush=True); time.sleep(5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        c.start_collection()
        time.sleep(0.4)
        c.stop_collection()
    finally:
        child.kill()
        child.wait()
    snaps = c.resource_history
    assert len(snaps) >= 4
    assert max(s.memory_usage_mb for s in snaps) > own + 100
    s = snaps[-1]
    assert 0 <= s.cpu_percent <= 100 * 64 and 0 < s.memory_percent < 100
    assert s.memory_available_mb > 0 and s.disk_free_gb > 0 and s.io_read_mb >= 0
    peak = max(x.memory_usage_mb for x in snaps)
    assert c.resource_peaks["peak_memory_usage_mb"] == pytest.approx(peak, abs=0.001)


def test_snapshot_history_is_thinned_evenly_and_peaks_survive() -> None:
    c = PerformanceCollector(max_snapshots=8)
    for i in range(100):
        c.record_snapshot(
            SystemResourceSnapshot(
                float(i), 1.0, float(i == 37) * 999, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0
            )
        )
    times = [s.timestamp for s in c.resource_history]
    assert len(times) <= 8 and times[0] == 0.0
    gaps = {b - a for a, b in itertools.pairwise(times)}
    assert len(gaps) == 1  # evenly spaced
    assert c.resource_peaks["peak_memory_usage_mb"] == 999


def test_conversion_monitor_writes_metrics_that_are_committed(tmp_path: Path) -> None:
    root = tmp_path / "conversion_demo"
    ds = dsops.create_dataset(root, "monitored")
    wrapper = PerformanceAwareDataLadWrapper()  # reports to the attached collectors
    with ConversionMonitor(root, interval_s=0.05) as mon, timing.timed("conversion"):
        with mon.stage("write"):
            (root / "outputs").mkdir()
            (root / "outputs" / "x.nwb").write_bytes(b"\0" * 300_000)
        with mon.stage("save"), timing.timed("datalad.save"):
            wrapper.safe_save(ds, "add output")
        mon.annotate(input_bytes=600_000)
        time.sleep(0.15)
    dsops.save(ds, "add metrics", paths=[mon.metrics_path])
    tracked = dsops.git(root, "ls-files", "reports/metrics.jsonl").decode().strip()
    assert tracked == "reports/metrics.jsonl"
    assert dsops.git(root, "status", "--porcelain").decode() == ""
    loaded = load_metrics(mon.metrics_path)
    assert loaded.problems == [] and len(loaded.snapshots) >= 2
    ops = {m.operation for m in loaded.metrics}
    assert {"stage.write", "stage.save", "datalad.save", "wrapper.safe_save", "conversion"} <= ops
    [conv] = [m for m in loaded.metrics if m.metric_type == "conversion_time"]
    assert conv.ok and conv.context["conversion_id"] == "conversion_demo"
    assert conv.context["output_bytes"] == 300_000 and conv.context["input_bytes"] == 600_000
    assert conv.context["resources"]["peak_memory_usage_mb"] > 10
    assert not timing.listening()  # detached afterwards
    # the wrapper records into its own collector, apart from the monitor
    own = PerformanceCollector()
    PerformanceAwareDataLadWrapper(own).safe_save(ds, "nothing to save")
    with pytest.raises(UsageError):  # a non-empty folder needs force=True
        PerformanceAwareDataLadWrapper(own).safe_create_dataset(tmp_path)
    assert [(m.operation, m.ok) for m in own.metrics] == [
        ("wrapper.safe_save", True),
        ("wrapper.safe_create_dataset", False),
    ]


def test_conversion_monitor_records_a_failed_conversion(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), ConversionMonitor(tmp_path / "c", interval_s=0.05):
        raise RuntimeError("conversion crashed")
    conv = load_metrics(tmp_path / "c" / metrics.METRICS_FILE).metrics[-1]
    assert not conv.ok and conv.error == "RuntimeError: conversion crashed"


def test_monitor_for_tracker_commits_metrics_with_the_finalized_conversion(tmp_path: Path) -> None:
    from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

    with ConversionProvenanceTracker("mon1", tmp_path) as tracker:
        mon = ConversionMonitor.for_tracker(tracker, interval_s=0.05)
        with mon.stage("detect"):
            time.sleep(0.05)
        tracker.finalize_conversion("completed")
    root = tracker.conversion_repo_path
    tracked = dsops.git(root, "ls-files", metrics.METRICS_FILE).decode().strip()
    assert tracked == metrics.METRICS_FILE
    assert dsops.git(root, "status", "--porcelain", "--untracked-files=no").decode() == ""
    loaded = load_metrics(root / metrics.METRICS_FILE)
    ops = [m.operation for m in loaded.metrics]
    assert "stage.detect" in ops and ops[-1] == "conversion" and loaded.metrics[-1].ok
    assert not timing.listening()
