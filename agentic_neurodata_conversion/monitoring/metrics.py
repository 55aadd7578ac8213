"""Timings and resource samples: collect them, save them as JSON Lines, derive figures.

A ``PerformanceCollector`` receives timings (from ``timing.timed`` blocks anywhere in the
package once it is attached, or directly through ``collector.timed``) and resource snapshots
from a ``ResourceSampler`` daemon thread. ``ConversionMonitor`` ties both to one conversion
dataset and appends them to its ``reports/metrics.jsonl``, which the tracker then commits.

A metric's ``timestamp`` is when the timed block started (Unix seconds); ``value`` is its
duration. MB means 10**6 bytes.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import psutil

from .. import timing

METRICS_FILE = "reports/metrics.jsonl"
MB = 1_000_000


def metric_type_of(name: str) -> str:
    """The metric type a timing name stands for (see ``timing`` for the naming rule)."""
    if name == "conversion" or name.startswith("conversion."):
        return "conversion_time"
    if name.startswith("stage."):
        return "stage_time"
    if name.startswith("query."):
        return "query_time"
    return "operation_time"


@dataclass
class PerformanceMetric:
    """One measurement; for timings ``value`` is seconds and ``timestamp`` the start time."""

    timestamp: float
    metric_type: str
    operation: str
    value: float
    unit: str = "s"
    context: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    error: str | None = None


@dataclass
class SystemResourceSnapshot:
    """Resources at one instant; I/O figures are deltas since the previous snapshot.

    ``memory_usage_mb`` is the resident memory of this process and its children (conversions
    run in child processes under ``datalad run``); ``memory_percent`` is system-wide.
    """

    timestamp: float
    cpu_percent: float
    memory_usage_mb: float
    memory_available_mb: float
    memory_percent: float
    disk_free_gb: float
    disk_percent: float
    io_read_mb: float
    io_write_mb: float


@dataclass
class LoadedMetrics:
    """The content of one metrics file; ``problems`` names each skipped line."""

    path: Path
    metrics: list[PerformanceMetric]
    snapshots: list[SystemResourceSnapshot]
    problems: list[str]


# ---------------------------------------------------------------------------- sampling


class ResourceSampler:
    """Samples resources every INTERVAL_S seconds in a daemon thread and calls SINK.

    One sample costs about 2 ms (psutil reads /proc), i.e. 0.2 % of a core at 1 s.
    DISK_PATH chooses the file system whose free space is watched.
    """

    def __init__(
        self,
        sink: Callable[[SystemResourceSnapshot], None],
        interval_s: float = 1.0,
        disk_path: str | Path = ".",
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.sink = sink
        self.interval_s = interval_s
        self.disk_path = str(disk_path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process = psutil.Process(os.getpid())
        self._last_io: tuple[int, int] | None = None

    def _io_totals(self) -> tuple[int, int] | None:
        try:
            io = psutil.disk_io_counters()
        except (OSError, RuntimeError):  # containers without /proc/diskstats
            return None
        return (io.read_bytes, io.write_bytes) if io else None

    def _tree_rss(self) -> int:
        rss = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            try:
                rss += child.memory_info().rss
            except psutil.Error:  # the child ended between listing and reading
                continue
        return rss

    def sample(self) -> SystemResourceSnapshot:
        """Take one snapshot now (also usable without the thread)."""
        vm = psutil.virtual_memory()
        try:
            disk = psutil.disk_usage(self.disk_path)
            free_gb, disk_pct = disk.free / 1e9, disk.percent
        except OSError:
            free_gb, disk_pct = math.nan, math.nan
        io = self._io_totals()
        read_mb = write_mb = 0.0
        if io is not None and self._last_io is not None:
            read_mb = max(0, io[0] - self._last_io[0]) / MB
            write_mb = max(0, io[1] - self._last_io[1]) / MB
        self._last_io = io
        return SystemResourceSnapshot(
            timestamp=time.time(),
            cpu_percent=psutil.cpu_percent(interval=None),
            memory_usage_mb=self._tree_rss() / MB,
            memory_available_mb=vm.available / MB,
            memory_percent=vm.percent,
            disk_free_gb=free_gb,
            disk_percent=disk_pct,
            io_read_mb=read_mb,
            io_write_mb=write_mb,
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sink(self.sample())
            except psutil.Error:  # a transient /proc read failure; try again next tick
                continue

    def start(self) -> None:
        if self._thread is not None:
            return
        psutil.cpu_percent(interval=None)  # the first call only sets the reference point
        self._last_io = self._io_totals()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="anc-resource-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and take one final sample, so short runs have at least one snapshot."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.sink(self.sample())


# ---------------------------------------------------------------------------- collecting


class PerformanceCollector:
    """Holds metrics and resource snapshots of one process or one conversion.

    Snapshots are kept bounded: past MAX_SNAPSHOTS every other one is dropped and later ones
    are kept at half the rate, so a long run keeps an even series; peaks are tracked apart
    so thinning never hides them.
    """

    def __init__(
        self,
        collection_interval: float = 1.0,
        *,
        max_metrics: int = 100_000,
        max_snapshots: int = 600,
        disk_path: str | Path = ".",
    ) -> None:
        self.collection_interval = collection_interval
        self.metrics_buffer: deque[PerformanceMetric] = deque(maxlen=max_metrics)
        self.max_snapshots = max_snapshots
        self.disk_path = disk_path
        self._snapshots: list[SystemResourceSnapshot] = []
        self._stride = 1
        self._seen = 0
        self._peaks: dict[str, float] = {}
        self._cpu_sum = 0.0
        self._lock = threading.Lock()
        self._timers: dict[str, tuple[str, float, float]] = {}
        self._timer_seq = 0
        self._sampler: ResourceSampler | None = None

    # timings
    def record_metric(
        self,
        metric_type: str,
        operation: str,
        value: float,
        unit: str = "s",
        context: dict[str, Any] | None = None,
        *,
        ok: bool = True,
        error: str | None = None,
        timestamp: float | None = None,
    ) -> PerformanceMetric:
        metric = PerformanceMetric(
            timestamp=time.time() if timestamp is None else timestamp,
            metric_type=metric_type,
            operation=operation,
            value=value,
            unit=unit,
            context=dict(context or {}),
            ok=ok,
            error=error,
        )
        self.metrics_buffer.append(metric)
        return metric

    def record_timing(self, name: str, seconds: float, error: BaseException | None) -> None:
        """The ``timing`` listener: one finished timed block."""
        self.record_metric(
            metric_type_of(name),
            name,
            seconds,
            ok=error is None,
            error=None if error is None else f"{type(error).__name__}: {error}"[:500],
            timestamp=time.time() - seconds,
        )

    def timed(self, operation: str) -> timing.timed:
        """A decorator/context manager recording into this collector only."""
        return timing.timed(operation, listener=self.record_timing)

    def start_timer(self, operation: str) -> str:
        """Start timing OPERATION; returns the id to pass to ``end_timer``."""
        with self._lock:
            self._timer_seq += 1
            timer_id = f"{operation}#{self._timer_seq}"
            self._timers[timer_id] = (operation, time.time(), time.perf_counter())
        return timer_id

    def end_timer(
        self, timer_id: str, context: dict[str, Any] | None = None, error: str | None = None
    ) -> PerformanceMetric:
        with self._lock:
            try:
                operation, started, t0 = self._timers.pop(timer_id)
            except KeyError:
                raise KeyError(f"no running timer {timer_id!r}") from None
        return self.record_metric(
            metric_type_of(operation),
            operation,
            time.perf_counter() - t0,
            context=context,
            ok=error is None,
            error=error,
            timestamp=started,
        )

    def attach(self) -> None:
        """Receive every ``timing.timed`` block of the process from now on."""
        timing.add_listener(self.record_timing)

    def detach(self) -> None:
        timing.remove_listener(self.record_timing)

    # resources
    def record_snapshot(self, snap: SystemResourceSnapshot) -> None:
        with self._lock:
            self._seen += 1
            self._track_peaks(snap)
            if (self._seen - 1) % self._stride:
                return
            self._snapshots.append(snap)
            if len(self._snapshots) > self.max_snapshots:
                self._snapshots = self._snapshots[::2]
                self._stride *= 2

    def _track_peaks(self, s: SystemResourceSnapshot) -> None:
        p = self._peaks
        p["peak_memory_usage_mb"] = max(p.get("peak_memory_usage_mb", 0.0), s.memory_usage_mb)
        p["peak_memory_percent"] = max(p.get("peak_memory_percent", 0.0), s.memory_percent)
        p["peak_cpu_percent"] = max(p.get("peak_cpu_percent", 0.0), s.cpu_percent)
        if not math.isnan(s.disk_free_gb):
            p["min_disk_free_gb"] = min(p.get("min_disk_free_gb", math.inf), s.disk_free_gb)
        p["io_read_mb"] = p.get("io_read_mb", 0.0) + s.io_read_mb
        p["io_write_mb"] = p.get("io_write_mb", 0.0) + s.io_write_mb
        self._cpu_sum += s.cpu_percent
        p["mean_cpu_percent"] = self._cpu_sum / self._seen

    @property
    def resource_history(self) -> list[SystemResourceSnapshot]:
        with self._lock:
            return list(self._snapshots)

    @property
    def resource_peaks(self) -> dict[str, float]:
        """Peak memory and CPU, lowest free disk and I/O totals over all snapshots."""
        with self._lock:
            return {k: round(v, 3) for k, v in self._peaks.items()}

    def start_collection(self) -> None:
        """Start sampling resources in the background every ``collection_interval`` s."""
        if self._sampler is None:
            self._sampler = ResourceSampler(
                self.record_snapshot, self.collection_interval, self.disk_path
            )
        self._sampler.start()

    def stop_collection(self) -> None:
        if self._sampler is not None:
            self._sampler.stop()

    # reading
    @property
    def metrics(self) -> list[PerformanceMetric]:
        return list(self.metrics_buffer)

    def get_metrics_summary(self, hours: float | None = None) -> dict[str, Any]:
        """Per metric type and operation: count, errors, total, mean, min, max, p50, p95."""
        cutoff = -math.inf if hours is None else time.time() - hours * 3600
        return summarize([m for m in self.metrics if m.timestamp >= cutoff])

    def save(self, folder: str | Path, filename: str = "metrics.jsonl") -> Path:
        """Append everything collected to FOLDER/FILENAME."""
        return save_metrics(Path(folder) / filename, self.metrics, self.resource_history)


_default: PerformanceCollector | None = None


def default_collector() -> PerformanceCollector:
    """The process-wide collector; it records nothing until ``attach()``-ed."""
    global _default
    if _default is None:
        _default = PerformanceCollector()
    return _default


def timed(operation: str, collector: PerformanceCollector | None = None) -> timing.timed:
    """Decorator or context manager timing OPERATION with success or error.

    Without COLLECTOR the timing goes to every attached collector (free when none is);
    with one, only to that collector.
    """
    if collector is None:
        return timing.timed(operation)
    return collector.timed(operation)


# ---------------------------------------------------------------------------- files


def save_metrics(
    path: str | Path,
    metrics: Iterable[PerformanceMetric],
    snapshots: Iterable[SystemResourceSnapshot] = (),
) -> Path:
    """Append METRICS and SNAPSHOTS to the JSON Lines file PATH (created with its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"kind": "metric", **asdict(m)}, default=str) for m in metrics]
    lines += [json.dumps({"kind": "resource", **asdict(s)}) for s in snapshots]
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
    return path


_METRIC_FIELDS = {f.name for f in fields(PerformanceMetric)}
_SNAPSHOT_FIELDS = {f.name for f in fields(SystemResourceSnapshot)}


def _metric_from(obj: dict[str, Any]) -> PerformanceMetric:
    missing = {"timestamp", "metric_type", "operation", "value"} - obj.keys()
    if missing:
        raise ValueError(f"missing {', '.join(sorted(missing))}")
    m = PerformanceMetric(**{k: v for k, v in obj.items() if k in _METRIC_FIELDS})
    if not isinstance(m.value, int | float) or not isinstance(m.timestamp, int | float):
        raise ValueError("timestamp and value must be numbers")
    if not isinstance(m.context, dict):
        raise ValueError("context must be an object")
    return m


def _snapshot_from(obj: dict[str, Any]) -> SystemResourceSnapshot:
    missing = _SNAPSHOT_FIELDS - obj.keys()
    if missing:
        raise ValueError(f"missing {', '.join(sorted(missing))}")
    snap = SystemResourceSnapshot(**{k: obj[k] for k in _SNAPSHOT_FIELDS})
    if not all(isinstance(getattr(snap, k), int | float) for k in _SNAPSHOT_FIELDS):
        raise ValueError("resource fields must be numbers")
    return snap


def load_metrics(path: str | Path) -> LoadedMetrics:
    """Read a metrics file; corrupt lines are skipped and named in ``problems``."""
    path = Path(path)
    out = LoadedMetrics(path, [], [], [])
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        out.problems.append(f"{path}: cannot read ({exc.strerror or exc})")
        return out
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            kind = obj.pop("kind", None)
            if kind == "metric":
                out.metrics.append(_metric_from(obj))
            elif kind == "resource":
                out.snapshots.append(_snapshot_from(obj))
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, TypeError) as exc:
            out.problems.append(f"{path}:{number}: {exc}")
    return out


# ---------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], q: float) -> float:
    """The Q-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(metrics: Iterable[PerformanceMetric]) -> dict[str, Any]:
    """Group METRICS by type and operation with count, errors, total, mean, min, max, p50, p95."""
    groups: dict[str, dict[str, list[PerformanceMetric]]] = defaultdict(lambda: defaultdict(list))
    total = 0
    for m in metrics:
        groups[m.metric_type][m.operation].append(m)
        total += 1
    types: dict[str, Any] = {}
    for mtype, ops in groups.items():
        types[mtype] = {}
        for op, ms in sorted(ops.items()):
            values = [m.value for m in ms]
            types[mtype][op] = {
                "count": len(values),
                "errors": sum(not m.ok for m in ms),
                "total": sum(values),
                "mean": sum(values) / len(values),
                "min": min(values),
                "max": max(values),
                "p50": percentile(values, 50),
                "p95": percentile(values, 95),
            }
    return {"total_metrics": total, "metric_types": types}


def conversion_bytes(metric: PerformanceMetric) -> int:
    """Bytes a conversion processed: its input size if recorded, else its output size."""
    ctx = metric.context
    return int(ctx.get("input_bytes") or ctx.get("output_bytes") or 0)


def throughput(conversions: Sequence[PerformanceMetric]) -> dict[str, float | int]:
    """Conversions per hour over the observed window and MB per second of conversion time.

    Only successful conversions count. The window runs from the first start to the last
    end, so parallel conversions raise the rate; one conversion gives 3600 / its duration.
    """
    done = [c for c in conversions if c.metric_type == "conversion_time" and c.ok]
    if not done:
        return {"conversions": 0, "conversions_per_hour": 0.0, "mb_per_s": 0.0}
    start = min(c.timestamp for c in done)
    end = max(c.timestamp + c.value for c in done)
    busy = sum(c.value for c in done)
    window = max(end - start, 1e-9)
    return {
        "conversions": len(done),
        "conversions_per_hour": len(done) * 3600 / window,
        "mb_per_s": sum(conversion_bytes(c) for c in done) / MB / max(busy, 1e-9),
    }


def query_times(metrics: Iterable[PerformanceMetric]) -> dict[str, float | int]:
    """Count, p50 and p95 (seconds) of the ``query.*`` timings."""
    values = [m.value for m in metrics if m.metric_type == "query_time"]
    return {"count": len(values), "p50_s": percentile(values, 50), "p95_s": percentile(values, 95)}


# ---------------------------------------------------------------------------- conversions


def tree_bytes(folder: Path) -> int:
    """Bytes of the files under FOLDER, annexed ones counted by their object (stat, no read)."""
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:  # annexed content not present: a dangling symlink
                continue
    return total


class ConversionMonitor:
    """Times one conversion, samples resources meanwhile and writes ``reports/metrics.jsonl``.

    While running, its collector is attached, so every ``timing.timed`` block of the process
    (DataLad operations, ``stage(...)`` blocks, queries) is recorded; its own ``conversion``
    record (with id, bytes and resource peaks) replaces a ``timed("conversion")`` block
    recorded meanwhile. Concurrent conversions
    are meant to run in separate processes; two monitors in one process both see all timings.
    The file is written by ``stop()`` (or on leaving the ``with`` block); commit it after.
    """

    def __init__(
        self,
        dataset_path: str | Path,
        conversion_id: str | None = None,
        *,
        interval_s: float = 1.0,
        max_snapshots: int = 600,
    ) -> None:
        self.dataset_path = Path(dataset_path)
        self.conversion_id = conversion_id or self.dataset_path.name
        self.collector = PerformanceCollector(
            interval_s, max_snapshots=max_snapshots, disk_path=self.dataset_path
        )
        self.context: dict[str, Any] = {"conversion_id": self.conversion_id}
        self._timer: str | None = None

    @property
    def metrics_path(self) -> Path:
        return self.dataset_path / METRICS_FILE

    def start(self) -> ConversionMonitor:
        self.collector.attach()
        self.collector.start_collection()
        self._timer = self.collector.start_timer("conversion")
        return self

    @staticmethod
    def stage(name: str) -> timing.timed:
        """Time a pipeline stage: ``with monitor.stage("convert"): ...``."""
        return timing.timed(f"stage.{name}")

    def annotate(self, **context: Any) -> None:
        """Add to the conversion record, e.g. ``input_bytes`` for the MB/s figure."""
        self.context.update(context)

    @property
    def running(self) -> bool:
        return self._timer is not None

    def stop(self, error: BaseException | str | None = None) -> Path:
        """Finish the conversion record and append all metrics to the dataset's file."""
        if self._timer is None:
            raise RuntimeError("ConversionMonitor.stop() without start()")
        self.collector.stop_collection()
        self.collector.detach()
        self.context.setdefault("output_bytes", tree_bytes(self.dataset_path / "outputs"))
        self.context["resources"] = self.collector.resource_peaks
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        err = None if error is None else error[:500]
        record = self.collector.end_timer(self._timer, self.context, err)
        self._timer = None
        # a `timed("conversion")` block seen meanwhile is the same run: keep one record of it
        kept = [
            m for m in self.collector.metrics if m.metric_type != "conversion_time" or m is record
        ]
        return save_metrics(self.metrics_path, kept, self.collector.resource_history)

    @classmethod
    def for_tracker(
        cls, tracker: Any, *, interval_s: float = 1.0, max_snapshots: int = 600
    ) -> ConversionMonitor:
        """Start monitoring a ``ConversionProvenanceTracker``'s conversion until its finalize.

        A finalize hook stops the monitor and writes the metrics file before finalize's
        commit, so the metrics are committed with the conversion.
        """
        monitor = cls(
            tracker.conversion_repo_path,
            tracker.conversion_id,
            interval_s=interval_s,
            max_snapshots=max_snapshots,
        )

        def finish(t: Any) -> None:
            if monitor.running:
                failed = t.session.status != "completed"
                monitor.stop(t.session.error or t.session.status if failed else None)

        tracker.add_finalize_hook(finish)
        return monitor.start()

    def __enter__(self) -> ConversionMonitor:
        return self.start()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.stop(exc)
